"""Recording a visit: the visit, its photos and their history in one transaction (the phone form's service).

Photos arrive checked and re-encoded (forms.process_photo). Their files are written inside the transaction;
if anything fails, the files already written are removed again, so nothing is partly written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from hezuo.core.context import change_context
from hezuo.core.services import save_record

from .models import Visit, VisitPhoto


def sent_before(user: Any, cooperative: Any, token: Any) -> Visit | None:
    """The visit already saved from the form opened with `token` (the same visit sent again), if the user
    may see it."""
    if token is None:
        return None
    from hezuo.core.scoping import VIEW, restrict

    found = Visit.objects.filter(client_token=token, cooperative=cooperative)
    return restrict(found, user, VIEW).first()


def record_visit(
    user: Any, cooperative: Any, values: dict[str, Any], photos: Sequence[Any] = (), *, reason: str = ""
) -> Visit:
    """Create a visit by `user` to `cooperative` with `values` (the form's fields) and `photos`. Raises
    ValidationError naming the field, or PermissionDenied (out of scope); writes nothing then."""
    visit = Visit(cooperative=cooperative, visitor=user, **values)
    written: list[VisitPhoto] = []
    try:
        with transaction.atomic(), change_context(user=user, reason=reason):
            save_record(visit)  # the same token twice at once: the unique constraint refuses the second
            for position, upload in enumerate(photos):
                photo = VisitPhoto(visit=visit, position=position)
                photo.image.save(upload.name, upload, save=False)
                written.append(photo)
                save_record(photo)
    except BaseException:
        for photo in written:
            photo.image.delete(save=False)
        raise
    return visit
