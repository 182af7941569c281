"""`hezuo digest`: send the daily digest of overdue work to each user (Django's email backend)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Send each user with overdue visits or tasks a digest by email (--dry-run prints them instead)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="print the digests, send nothing")
        parser.add_argument("--date", help="compose as of this date (YYYY-MM-DD; default today)")
        parser.add_argument("--user", action="append", default=[], help="only this user name (repeatable)")

    def handle(self, *args: Any, **options: Any) -> None:
        from hezuo.accounts.models import User
        from hezuo.core.context import change_context
        from hezuo.fieldwork.reminders import recipients, send_digests

        today = None
        if options["date"]:
            try:
                today = dt.date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(f"--date: not a date (YYYY-MM-DD): {options['date']}") from exc
        users = None
        if options["user"]:
            found = {u.username: u for u in recipients().filter(username__in=options["user"])}
            missing = sorted(set(options["user"]) - set(found))
            if missing:
                known = set(User.objects.filter(username__in=missing).values_list("username", flat=True))
                raise CommandError(
                    "; ".join(
                        f"{name}: {'gets no digest (role)' if name in known else 'no such user'}"
                        for name in missing
                    )
                )
            users = list(found.values())
        with change_context(source="cli"):
            result = send_digests(today, dry_run=options["dry_run"], users=users)
        if options["dry_run"]:
            for user, digest in result.digests:
                self.stdout.write(f"=== {user.username} <{user.email or '-'}>")
                self.stdout.write(f"Subject: {digest.subject}")
                self.stdout.write(digest.body)
        for key, value in result.summary().items():
            self.stdout.write(f"{key}: {value}")
