"""Background tasks of the rating (django-tasks API; the database queue by default)."""

from __future__ import annotations

from typing import Any

from django_tasks import task


@task()
def rate_year_task(run_id: int) -> dict[str, Any]:
    """Rate a year as recorded by a RatingRun; the run row carries the progress the page polls."""
    from .services import execute_run

    run = execute_run(run_id)
    return {
        "run": run.pk,
        "status": run.status,
        "done": run.done,
        "created": run.created,
        "updated": run.updated,
    }
