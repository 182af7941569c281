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


@task()
def digest_task(dry_run: bool = False) -> dict[str, int]:
    """The daily digest: each user with something overdue gets one email (see reminders.send_digests)."""
    from hezuo.core.context import change_context

    from .reminders import send_digests

    with change_context(source="task"):
        return send_digests(dry_run=dry_run).summary()
