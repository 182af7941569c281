"""`hezuo load_plan FILE`: load a plan and its targets from a YAML file (idempotent; bad entries named)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from hezuo.targets.loader import load_plan_file


class Command(BaseCommand):
    help = (
        "Load a plan and its targets from a YAML file (the shape of hezuo/targets/data/plan-2023-2025.yaml)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            plan = load_plan_file(options["file"], source="cli")
        except (ValidationError, OSError) as exc:
            messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            raise CommandError("plan refused:\n  " + "\n  ".join(messages)) from exc
        self.stdout.write(f"plan {plan.code}: {plan.targets.filter(retired_at__isnull=True).count()} targets")
