from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from hezuo.core.context import change_context
from hezuo.geo.loader import load_divisions


class Command(BaseCommand):
    help = (
        "Load administrative divisions from a CSV (code,name,level,parent_code); default: the shipped city."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", type=Path)
        parser.add_argument("--city-code")
        parser.add_argument("--city-name")

    def handle(self, *args, **options):
        try:
            with change_context(source="cli", reason="load divisions"):
                result = load_divisions(options["file"], options["city_code"], options["city_name"])
        except (ValidationError, OSError) as exc:
            message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            raise CommandError(f"nothing loaded: {message}") from exc
        self.stdout.write(
            f"divisions: {result.created} created, {result.updated} updated, {result.unchanged} unchanged"
        )
