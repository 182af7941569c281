"""Import and export pages: upload, preview (dry run), column mapping, commit, progress, my imports, error
report, templates and exports of any filtered list. Every query goes through the scoping chokepoint;
what a role may not do answers 404."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from hezuo.core.models import ChangeRecord
from hezuo.core.scoping import ADD, EXPORT, VIEW, can, get_scoped_or_404, sees_personal_data

from . import conf, jobs
from .exporting import CSV_TYPE, XLSX_TYPE, csv_lines, export_queryset, rows_for, write_xlsx
from .forms import CommitForm, MappingForm, UploadForm
from .models import ImportJob
from .readers import human_size, too_big_message
from .specs import KINDS

PER_PAGE = 25


def _kind_or_404(name: str) -> Any:
    kind = KINDS.get(name)
    if kind is None:
        raise Http404
    return kind


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    """My imports (city staff: every import; district staff: their district's)."""
    if not can(request.user, ImportJob, VIEW):
        raise Http404
    qs = ImportJob.objects.restrict(request.user, VIEW).select_related("user", "district")
    kind = request.GET.get("kind", "")
    if kind in KINDS:
        qs = qs.filter(kind=kind)
    if request.GET.get("mine") == "1":
        qs = qs.filter(user_id=request.user.pk or 0)
    page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "transfer/job_list.html",
        {
            "page": page,
            "kinds": KINDS,
            "kind": kind,
            "mine": request.GET.get("mine") == "1",
            "can_import": bool(jobs.importable_kinds(request.user)),
        },
    )


@login_required
def upload(request: HttpRequest) -> HttpResponse:
    kinds = jobs.importable_kinds(request.user)
    if not kinds:
        raise Http404
    limit = conf.max_bytes()
    if request.method == "POST":
        # refuse an oversized upload before Django reads the body
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > limit + 64 * 1024:
            messages.error(request, too_big_message(length))
            return redirect("transfer:upload")
        form = UploadForm(request.POST, request.FILES, kinds=kinds)
        if form.is_valid():
            upload_file = form.cleaned_data["file"]
            if upload_file.size > limit:
                form.add_error("file", too_big_message(upload_file.size))
            else:
                job = jobs.create_job(request.user, upload_file, form.cleaned_data["kind"])
                jobs.start(job, jobs.CHECK)
                return redirect("transfer:job_detail", pk=job.pk)
    else:
        initial = {"kind": request.GET.get("kind")} if request.GET.get("kind") in kinds else {}
        form = UploadForm(kinds=kinds, initial=initial)
    return render(
        request,
        "transfer/upload.html",
        {
            "form": form,
            "kinds": [KINDS[k] for k in kinds],
            "max_size": human_size(limit),
            "max_rows": f"{conf.max_rows():,}",
        },
    )


def _job(request: HttpRequest, pk: int) -> ImportJob:
    return get_scoped_or_404(ImportJob.objects.select_related("user", "district"), request.user, VIEW, pk=pk)


def _own_job(request: HttpRequest, pk: int) -> ImportJob:
    job = _job(request, pk)
    if job.user_id != request.user.pk or not can(request.user, ImportJob, ADD):
        raise Http404
    return job


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    own = job.user_id == request.user.pk
    kind = KINDS[job.kind]
    problems = job.problems
    shown = problems[:500]
    mapping_form = None
    if (
        own
        and not job.is_active
        and job.status in (ImportJob.Status.CHECKED, ImportJob.Status.INVALID)
        and job.headers
    ):
        mapping_form = MappingForm(job=job)
    return render(
        request,
        "transfer/job_detail.html",
        {
            "job": job,
            "kind": kind,
            "own": own,
            "problems": shown,
            "more_problems": len(problems) - len(shown),
            "mapping_form": mapping_form,
            "commit_form": CommitForm(),
            "progress": job.progress(),
            "show_mapping": bool(job.unmatched or job.missing),
            "can_see_changes": can(request.user, ChangeRecord, VIEW),
        },
    )


@login_required
def job_progress(request: HttpRequest, pk: int) -> JsonResponse:
    job = _job(request, pk)
    data = job.progress()
    data.update(status=job.status, active=job.is_active)
    return JsonResponse(data)


@login_required
@require_POST
def job_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    job = _own_job(request, pk)
    if job.is_active or job.status == ImportJob.Status.DONE:
        raise Http404
    form = MappingForm(request.POST, job=job)
    if form.is_valid():
        mapping = form.mapping()
        job.mapping = mapping
        job.save(update_fields=["mapping"])
        jobs.remember_mapping(job, mapping, request.user)
        messages.info(
            request, _("The column mapping was saved; it will be applied to files with the same headers.")
        )
        jobs.start(job, jobs.CHECK)
    return redirect("transfer:job_detail", pk=job.pk)


@login_required
@require_POST
def job_commit(request: HttpRequest, pk: int) -> HttpResponse:
    job = _own_job(request, pk)
    if not job.can_commit:
        messages.error(
            request, _("This file cannot be imported: check it again and correct its errors first.")
        )
        return redirect("transfer:job_detail", pk=job.pk)
    form = CommitForm(request.POST)
    confirmed = form.is_valid() and form.cleaned_data["confirm_warnings"]
    if job.warning_count and not confirmed:
        messages.error(request, _("Confirm the warnings first: tick the box under them."))
        return redirect("transfer:job_detail", pk=job.pk)
    job.confirmed_warnings = bool(confirmed)
    job.save(update_fields=["confirmed_warnings"])
    job = jobs.start(job, jobs.COMMIT, background=job.estimated_rows > conf.sync_rows())
    if job.status == ImportJob.Status.DONE:
        messages.success(
            request,
            _("Imported: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.")
            % {"created": job.created, "updated": job.updated, "unchanged": job.unchanged},
        )
    return redirect("transfer:job_detail", pk=job.pk)


@login_required
def job_errors(request: HttpRequest, pk: int) -> FileResponse:
    job = _job(request, pk)
    if not job.error_count:
        raise Http404
    handle = jobs.error_report(job)
    stem = job.filename.rsplit(".", 1)[0]
    return FileResponse(handle, as_attachment=True, filename=f"{stem}-错误.xlsx", content_type=XLSX_TYPE)


@login_required
def template(request: HttpRequest, kind: str) -> FileResponse:
    spec = _kind_or_404(kind)
    if kind not in jobs.importable_kinds(request.user) and not can(request.user, spec.model, EXPORT):
        raise Http404
    handle = write_xlsx(spec, [], notes=True)
    return FileResponse(
        handle, as_attachment=True, filename=f"导入模板-{spec.sheet_title}.xlsx", content_type=XLSX_TYPE
    )


@login_required
def export(request: HttpRequest, kind: str) -> HttpResponseBase:
    """The filtered cooperative list (or the records under the listed cooperatives) with the template's
    columns, as .xlsx or .csv."""
    spec = _kind_or_404(kind)
    if not can(request.user, spec.model, EXPORT):
        raise Http404
    params = {k: v for k, v in request.GET.items() if k not in ("format", "page", "per_page", "sort")}
    qs = export_queryset(spec, request.user, params)
    limit = settings.HEZUO_EXPORT_MAX_ROWS
    if qs.count() > limit:
        messages.error(request, _("The export is limited to %(n)d rows; narrow the filters.") % {"n": limit})
        return redirect("registry:cooperative_list")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    masked = not sees_personal_data(request.user)
    if request.GET.get("format") == "csv":
        response = StreamingHttpResponse(
            csv_lines(spec, rows_for(spec, qs.iterator(chunk_size=2000), for_csv=True, masked=masked)),
            content_type=CSV_TYPE,
        )
        response["Content-Disposition"] = _disposition(f"{spec.sheet_title}-{stamp}.csv")
        return response
    handle = write_xlsx(spec, rows_for(spec, qs.iterator(chunk_size=2000), masked=masked))
    return FileResponse(
        handle, as_attachment=True, filename=f"{spec.sheet_title}-{stamp}.xlsx", content_type=XLSX_TYPE
    )


def _disposition(filename: str) -> str:
    from urllib.parse import quote

    return f"attachment; filename=\"export.csv\"; filename*=UTF-8''{quote(filename)}"
