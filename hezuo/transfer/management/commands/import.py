"""`hezuo import FILE --kind KIND --user NAME [--dry-run]`: the web import from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hezuo.transfer.engine import run_import
from hezuo.transfer.specs import KINDS


class Command(BaseCommand):
    help = "Import a .xlsx or .csv file (cooperatives, facts, titles, memberships, sponsorships) as a user."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--kind", required=True, choices=sorted(KINDS))
        parser.add_argument("--user", required=True, help="the user the import acts as (their scope applies)")
        parser.add_argument("--dry-run", action="store_true", help="check only: report what would change")
        parser.add_argument("--confirm-warnings", action="store_true", help="import rows that have warnings")
        parser.add_argument("--max-problems", type=int, default=50, help="problems to print (default 50)")

    def handle(self, *args: Any, **options: Any) -> None:
        from hezuo.accounts.models import User

        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user named {options['user']!r}")

        def progress(done: int, total: int) -> None:
            if options["verbosity"] > 1:
                self.stderr.write(f"  {done}/{total} rows")

        outcome = run_import(
            path,
            options["kind"],
            user,
            filename=path.name,
            dry_run=options["dry_run"],
            confirm_warnings=options["confirm_warnings"],
            progress=progress,
        )
        for notice in outcome.notices:
            self.stdout.write(f"note: {notice}")
        problems = [*outcome.errors, *outcome.warnings][: options["max_problems"]]
        for problem in problems:
            where = f"row {problem.row}" if problem.row else "file"
            column = f" [{problem.column}]" if problem.column else ""
            self.stdout.write(f"{problem.level}: {where}{column}: {problem.message}")
        if outcome.fatal:
            raise CommandError(outcome.fatal)
        verb = "would be" if options["dry_run"] else "were"
        self.stdout.write(
            f"{outcome.rows} rows: {outcome.created} {verb} created, {outcome.updated} {verb} updated, "
            f"{outcome.unchanged} unchanged; {outcome.error_count} errors, {outcome.warning_count} warnings"
        )
        if outcome.error_count:
            raise CommandError(
                "nothing was written: the file has errors"
                if not options["dry_run"]
                else "the file has errors"
            )
        if outcome.written:
            self.stdout.write(f"request id {outcome.request_id}")
