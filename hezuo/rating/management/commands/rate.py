"""`hezuo rate --year Y`: rate every cooperative with facts for a year under the year's published rubric."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hezuo.core.context import change_context
from hezuo.geo.models import Division


class Command(BaseCommand):
    help = (
        "Rate every active cooperative with facts for a year (provisional results; confirmed ratings are "
        "left as they are). Nothing is written when no cooperative has facts for the year."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, required=True, help="the fiscal year to rate")
        parser.add_argument("--district", help="a district code: rate only this district")
        parser.add_argument(
            "--load-default-rubric",
            action="store_true",
            help="load the shipped provisional rubric first if it is not loaded",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from hezuo.rating.models import RatingRun
        from hezuo.rating.services import RatingError, ensure_default_rubric, execute_run

        if options["load_default_rubric"]:
            ensure_default_rubric()
        district = None
        if options.get("district"):
            district = Division.objects.filter(
                code=options["district"], level=Division.Level.DISTRICT
            ).first()
            if district is None:
                raise CommandError(f"unknown district code {options['district']}")
        started = time.perf_counter()
        with change_context(source="cli"):
            try:
                run = _start(options["year"], district)
            except RatingError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
            run = execute_run(run.pk)
        seconds = time.perf_counter() - started
        if run.status != RatingRun.Status.DONE:
            raise CommandError(f"rating failed: {run.message}")
        self.stdout.write(
            f"rated {run.done} cooperatives for {run.year} with {run.rubric} in {seconds:.1f} s: "
            f"{run.created} new, {run.updated} updated, {run.skipped_confirmed} confirmed left as they are, "
            f"{run.undecided} undecided for missing data"
        )


def _start(year: int, district: Any) -> Any:
    from django.db.models import Q

    from hezuo.core.services import save_record
    from hezuo.rating.models import RatingRun
    from hezuo.rating.services import check_can_rate, facts_query

    where = Q(cooperative__district=district) if district is not None else None
    rubric = check_can_rate(year, where)
    run = RatingRun(year=year, rubric=rubric, district=district, total=facts_query(year, where).count())
    save_record(run)
    return run
