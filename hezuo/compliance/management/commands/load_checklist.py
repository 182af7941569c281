"""`manage.py load_checklist [FILE]`: load (and activate) a compliance checklist (K01–K23) from YAML."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Load the compliance checklist (K01–K23) shipped in hezuo/compliance/data, or the given file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="a checklist YAML (default: the shipped one)")
        parser.add_argument("--no-activate", action="store_true", help="load it without activating it")

    def handle(self, *args: Any, **options: Any) -> None:
        from hezuo.compliance.checklist import DEFAULT_CHECKLIST, load_checklist

        try:
            checklist, created = load_checklist(
                options["file"] or DEFAULT_CHECKLIST, activate=not options["no_activate"]
            )
        except (OSError, ValidationError) as exc:
            messages = getattr(exc, "messages", [str(exc)])
            raise CommandError("; ".join(str(m) for m in messages)) from exc
        state = "loaded" if created else "already loaded"
        self.stdout.write(f"compliance: checklist {checklist.version} {state} ({len(checklist.items)} items)")
