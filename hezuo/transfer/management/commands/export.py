"""`hezuo export --kind KIND [--district CODE ...filters] -o FILE`: the filtered list, with the import
template's columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hezuo.core.scoping import sees_personal_data
from hezuo.transfer.exporting import csv_lines, export_queryset, rows_for, write_xlsx
from hezuo.transfer.specs import KINDS

FILTERS = (
    "district",
    "town",
    "industry",
    "operating_status",
    "title",
    "member",
    "sponsored",
    "abnormal",
    "registered_from",
    "registered_to",
    "q",
)


class Command(BaseCommand):
    help = (
        "Export cooperatives (or the records under them) with the import template's columns (.xlsx or .csv)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--kind", required=True, choices=sorted(KINDS))
        parser.add_argument("-o", "--output", required=True, type=Path, help="file to write (.xlsx or .csv)")
        parser.add_argument(
            "--user", help="export as this user (their scope applies); default: the whole city"
        )
        parser.add_argument("--retired", action="store_true", help="include retired records")
        for name in FILTERS:
            parser.add_argument(
                f"--{name.replace('_', '-')}",
                dest=name,
                help=f"the cooperative list's {name} filter" if name != "q" else "free-text search",
            )

    def handle(self, *args: Any, **options: Any) -> None:
        from hezuo.accounts.models import User

        kind = KINDS[options["kind"]]
        if options["user"]:
            user = User.objects.filter(username=options["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"no active user named {options['user']!r}")
        else:
            user = User(
                username="cli", role="city", is_active=True
            )  # the operator: the whole city, never saved
        params = {name: options[name] for name in FILTERS if options.get(name)}
        if options["retired"]:
            params["retired"] = "1"
        qs = export_queryset(kind, user, params)
        output: Path = options["output"]
        records = qs.iterator(chunk_size=2000)
        masked = not sees_personal_data(user)
        if output.suffix.lower() == ".csv":
            with output.open("wb") as handle:
                for chunk in csv_lines(kind, rows_for(kind, records, for_csv=True, masked=masked)):
                    handle.write(chunk)
        elif output.suffix.lower() in (".xlsx", ".xlsm"):
            spooled = write_xlsx(kind, rows_for(kind, records, masked=masked))
            output.write_bytes(spooled.read())
        else:
            raise CommandError("the output file must end in .xlsx or .csv")
        self.stdout.write(f"{qs.count()} rows written to {output}")
