"""`hezuo progress --plan CODE [--targets-only] --xlsx FILE`: the plan's progress table as Excel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hezuo.accounts.models import User
from hezuo.targets.export import xlsx_bytes
from hezuo.targets.models import Plan
from hezuo.targets.progress import compute


class Command(BaseCommand):
    help = "Write a plan's progress table (targets and actuals, or targets only) as an Excel workbook."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--plan", required=True, help="the plan's code, e.g. zhuzhendi-2023-2025")
        parser.add_argument("--xlsx", required=True, help="the file to write")
        parser.add_argument("--targets-only", action="store_true", help="the plan's annex table, no actuals")
        parser.add_argument(
            "--user", default="", help="compute as this user (their scope); default: the whole city"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        plan = Plan.objects.filter(code=options["plan"], retired_at__isnull=True).first()
        if plan is None:
            known = ", ".join(Plan.objects.values_list("code", flat=True)) or "none loaded"
            raise CommandError(f"no plan {options['plan']!r} (plans: {known})")
        if options["user"]:
            user = User.objects.filter(username=options["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"no active user {options['user']!r}")
        else:
            user = User(username="cli", role="city", is_active=True)  # unsaved: the whole city, read only
        result = compute(plan, user, targets_only=options["targets_only"])
        path = Path(options["xlsx"])
        path.write_bytes(xlsx_bytes(result, targets_only=options["targets_only"]))
        self.stdout.write(
            f"wrote {path} ({len(result.rows)} districts, years {', '.join(map(str, result.years))})"
        )
