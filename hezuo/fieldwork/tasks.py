"""Background tasks of fieldwork (django-tasks API; the database queue by default)."""

from __future__ import annotations

from typing import Any

from django_tasks import task


@task()
def detect_task(run_id: int | None = None) -> dict[str, Any]:
    """Run the shell/dormant detection: a run started from a page (run_id), or the nightly run (none)."""
    from .models import DetectionRun
    from .runs import run_detection, summary

    run = DetectionRun.objects.get(pk=run_id) if run_id else None
    return summary(run_detection(run=run))
