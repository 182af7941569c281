"""Background tasks of imports (the django-tasks API: the database queue by default, a worker runs them)."""

from __future__ import annotations

from django_tasks import task


@task()
def run_import_job(job_id: int, phase: str) -> None:
    """Check or commit one import job; the job row holds the outcome, its progress file the progress."""
    from .jobs import execute
    from .models import ImportJob

    job = ImportJob.objects.filter(pk=job_id).select_related("user").first()
    if job is None:
        return
    execute(job, phase)
