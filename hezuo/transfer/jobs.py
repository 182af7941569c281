"""Import jobs: create one from an upload, check it (dry run), commit it; small files at once, large ones as a
background task (django-tasks). Also the error report: the rows as given plus a column with the reasons."""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import conf
from .engine import Outcome, header_score, run_import
from .exporting import XLSX_TYPE  # noqa: F401 - re-exported for views
from .models import HeaderMapping, ImportJob
from .readers import FileProblem, open_table
from .specs import fingerprint, get_kind

logger = logging.getLogger(__name__)
CHECK, COMMIT = "check", "commit"
REASONS_HEADER = "错误原因"
ROW_HEADER = "原始行号"
REPORT_ALL_ROWS = 20_000  # larger files: the error report holds the rows with errors only


def importable_kinds(user: Any) -> list[str]:
    """The kinds this user may import: those whose records the user may add or change."""
    from hezuo.core.scoping import ADD, CHANGE, can

    from .specs import KINDS

    if not can(user, ImportJob, ADD):
        return []
    return [
        name for name, kind in KINDS.items() if can(user, kind.model, ADD) or can(user, kind.model, CHANGE)
    ]


def create_job(user: Any, upload: Any, kind: str, filename: str | None = None) -> ImportJob:
    """Store the uploaded file and the job that will check it."""
    filename = (filename or getattr(upload, "name", "") or "import").split("/")[-1].split("\\")[-1][:255]
    job = ImportJob(
        user=user if getattr(user, "pk", None) else None,
        district_id=getattr(user, "district_id", None),
        cooperative_id=getattr(user, "cooperative_id", None)
        if getattr(user, "role", "") == "cooperative"
        else None,
        kind=kind,
        filename=filename,
        size=getattr(upload, "size", 0) or 0,
    )
    job.file.save(filename, upload if isinstance(upload, File) else File(upload, name=filename), save=False)
    job.save()
    return job


def remembered_mapping(kind: str, headers: list[str]) -> dict[str, str] | None:
    saved = HeaderMapping.objects.filter(kind=kind, fingerprint=fingerprint(kind, headers)).first()
    return dict(saved.mapping) if saved is not None else None


def remember_mapping(job: ImportJob, mapping: dict[str, str], user: Any) -> None:
    HeaderMapping.objects.update_or_create(
        kind=job.kind,
        fingerprint=fingerprint(job.kind, job.headers),
        defaults={
            "headers": job.headers,
            "mapping": mapping,
            "updated_by": user if getattr(user, "pk", None) else None,
        },
    )


def estimate_rows(job: ImportJob) -> int:
    """Rows in the file, from the sheet's dimension or a line count (cheap); raises FileProblem."""
    table = open_table(job.path, job.filename, header_score(get_kind(job.kind)))
    try:
        return table.estimated_rows
    finally:
        table.close()


def start(job: ImportJob, phase: str, *, background: bool | None = None) -> ImportJob:
    """Run a phase now (small files) or enqueue it as a background task (large files)."""
    if background is None:
        try:
            job.estimated_rows = estimate_rows(job)
        except FileProblem as exc:
            finish_fatal(job, str(exc))
            return job
        background = job.estimated_rows > conf.sync_rows()
    job.status = ImportJob.Status.CHECKING if phase == CHECK else ImportJob.Status.IMPORTING
    job.save(update_fields=["status", "estimated_rows"])
    if background:
        from .tasks import run_import_job

        job.set_progress(0, job.estimated_rows, job.status)
        result = run_import_job.enqueue(job.pk, phase)
        ImportJob.objects.filter(pk=job.pk).update(task_id=str(result.id)[:64])
        job.refresh_from_db()
        return job
    execute(job, phase)
    return job


def finish_fatal(job: ImportJob, message: str) -> None:
    job.status = ImportJob.Status.INVALID
    job.message = message
    job.finished_at = timezone.now()
    job.save()


def execute(job: ImportJob, phase: str) -> ImportJob:
    """Run one phase of the job (in the request or in a task worker) and store its outcome."""
    user = job.user
    dry_run = phase == CHECK
    job.status = ImportJob.Status.CHECKING if dry_run else ImportJob.Status.IMPORTING
    job.save(update_fields=["status"])

    def progress(done: int, total: int) -> None:
        job.set_progress(done, total, job.status)

    try:
        outcome = run_import(
            job.path,
            job.kind,
            user,
            filename=job.filename,
            dry_run=dry_run,
            mapping=job.mapping or None,
            mapping_for=lambda headers: remembered_mapping(job.kind, headers),
            confirm_warnings=job.confirmed_warnings,
            progress=progress,
        )
    except Exception as exc:
        logger.exception("import job %s failed", job.pk)
        job.status = ImportJob.Status.FAILED
        job.message = _("The import failed unexpectedly and nothing was written: %(error)s") % {"error": exc}
        job.finished_at = timezone.now()
        job.save()
        return job
    store(job, outcome)
    with contextlib.suppress(OSError):
        job.progress_path.unlink(missing_ok=True)
    return job


def store(job: ImportJob, outcome: Outcome) -> None:
    job.sheet = outcome.sheet[:100]
    job.header_row = outcome.header_row
    job.rows = outcome.rows
    job.headers = outcome.headers
    job.unmatched = outcome.unmatched
    job.missing = outcome.missing
    if not job.mapping:
        job.mapping = outcome.mapping
    job.notices = outcome.notices[:200]
    job.error_count = outcome.error_count
    job.warning_count = outcome.warning_count
    job.problems = [p.as_dict() for p in [*outcome.errors, *outcome.warnings]]
    job.error_rows = sorted(outcome.error_rows)
    job.message = outcome.fatal
    job.finished_at = timezone.now()
    if outcome.dry_run:
        job.to_create, job.to_update, job.to_keep = outcome.created, outcome.updated, outcome.unchanged
        job.status = ImportJob.Status.CHECKED if outcome.ok else ImportJob.Status.INVALID
    else:
        job.created, job.updated, job.unchanged = outcome.created, outcome.updated, outcome.unchanged
        job.request_id = outcome.request_id if outcome.written else None
        job.status = ImportJob.Status.DONE if outcome.written else ImportJob.Status.FAILED
        if not outcome.written and not job.message:
            job.message = _("Nothing was written: the file has errors.")
    with transaction.atomic():
        job.save()


def reasons_by_row(job: ImportJob) -> dict[int, list[str]]:
    reasons: dict[int, list[str]] = defaultdict(list)
    for problem in job.problems:
        if problem.get("level") == "error" and problem.get("row"):
            column = problem.get("column") or ""
            reasons[int(problem["row"])].append(
                f"{column}：{problem['message']}" if column else problem["message"]
            )
    return reasons


def error_report(job: ImportJob) -> Any:
    """An .xlsx of the file's rows as given, with the reasons in a last column and the rows with errors in
    red: correct them there and upload the file again. Files over REPORT_ALL_ROWS rows get the rows with
    errors only."""
    import tempfile

    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill

    reasons = reasons_by_row(job)
    wanted = set(reasons) | set(job.error_rows)
    everything = job.rows <= REPORT_ALL_ROWS
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=get_kind(job.kind).sheet_title[:31])
    bold = Font(bold=True)
    red = PatternFill("solid", fgColor="F8D7DA")
    table = open_table(Path(job.path), job.filename, header_score(get_kind(job.kind)))
    try:
        width = len(table.headers)
        header = [WriteOnlyCell(sheet, value=h) for h in table.headers]
        for extra in (REASONS_HEADER, ROW_HEADER):
            header.append(WriteOnlyCell(sheet, value=extra))
        for head in header:
            head.font = bold
        sheet.append(header)
        for number, cells in table.rows():
            bad = number in wanted
            if not bad and not everything:
                continue
            values: list[Any] = list(cells[:width]) + [""] * max(0, width - len(cells))
            if bad:
                marked = []
                for value in values:
                    out = WriteOnlyCell(sheet, value=value)
                    out.fill = red
                    marked.append(out)
                reason = WriteOnlyCell(
                    sheet, value="；".join(reasons.get(number, [])) or _("see the import page")
                )
                reason.fill = red
                sheet.append([*marked, reason, number])
            else:
                sheet.append([*values, "", number])
    finally:
        table.close()
    handle = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115 - returned to the caller
    workbook.save(handle)
    handle.seek(0)
    return handle
