"""`hezuo detect`: run the shell/dormant detection rules and raise flags (criteria §7.4)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from hezuo.geo.models import Division


class Command(BaseCommand):
    help = "Run the shell/dormant detection rules over the cooperatives and raise flags with their evidence."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, help="fiscal year to screen (default: the last full year)")
        parser.add_argument("--district", help="district code (default: the whole city)")
        parser.add_argument("--load-rules", metavar="FILE", help="load (and activate) a rule-set YAML first")
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args: Any, **options: Any) -> None:
        from hezuo.fieldwork.runs import load_ruleset, run_detection, summary

        if options["load_rules"]:
            try:
                ruleset = load_ruleset(options["load_rules"])
            except (OSError, ValidationError) as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"rule set: {ruleset.version}")
        district = None
        if options["district"]:
            district = Division.objects.filter(code=options["district"], level="district").first()
            if district is None:
                raise CommandError(f"no district with code {options['district']}")
        run = run_detection(year=options["year"], district=district, batch_size=options["batch_size"])
        for key, value in summary(run).items():
            self.stdout.write(f"{key}: {value}")
