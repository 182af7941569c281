"""City staff's view of the whole change log (NetBox's changelog list)."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from .history import field_changes
from .models import ChangeRecord
from .scoping import VIEW, can


@login_required
def change_list(request: HttpRequest) -> HttpResponse:
    if not can(request.user, ChangeRecord, VIEW):
        raise Http404
    qs = ChangeRecord.objects.select_related("content_type", "user")
    request_id = request.GET.get("request_id", "").strip()
    if request_id:
        try:
            qs = qs.filter(request_id=uuid.UUID(request_id))
        except ValueError:
            qs = qs.none()  # not a request id: nothing matches
    user_name = request.GET.get("user", "").strip()
    if user_name:
        qs = qs.filter(user_name=user_name)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    entries = [(record, field_changes(record, request.user)) for record in page.object_list]
    return render(
        request, "core/change_list.html", {"page": page, "entries": entries, "request_id": request_id}
    )
