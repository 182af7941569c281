"""`hezuo demo`: fill the database with the seeded demo city and print the demo logins."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from hezuo.registry.demo import DEFAULT_SEED, DEFAULT_SIZE, demo_logins, ensure_demo_users, generate
from hezuo.registry.models import Cooperative


class Command(BaseCommand):
    help = (
        "Generate the demo city: cooperatives with yearly facts, titles, federation memberships, "
        "sponsorships, the system's organisations and the demo users (seeded and deterministic)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--size", type=int, default=DEFAULT_SIZE, help="number of cooperatives (default 3800)"
        )
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default 2025)")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing when cooperatives already exist (the demo users are still ensured)",
        )
        parser.add_argument("--no-users", action="store_true", help="do not create the demo users")
        parser.add_argument(
            "--no-activity",
            action="store_true",
            help="only the registry: no ratings, detection, visits, campaign or cases",
        )

    def activity(self, seed: int) -> None:
        """The apps' demo activity, in app order: each app with a `demo` module offering `activity(seed, say)`
        (ratings, then fieldwork, then rectification), so the demo city has a year of work behind it."""
        import importlib

        from django.apps import apps

        for config in apps.get_app_configs():
            if not config.name.startswith("hezuo.") or config.label == "registry":
                continue
            try:
                module = importlib.import_module(f"{config.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.demo":
                    raise
                continue
            if hasattr(module, "activity"):
                self.stdout.write(f"{config.verbose_name}…")
                module.activity(seed, say=self.stdout.write)

    def handle(self, *args: Any, **options: Any) -> None:
        size, seed = options["size"], options["seed"]
        users = not options["no_users"]
        if options["if_empty"] and Cooperative.objects.exists():
            self.stdout.write(
                f"cooperatives already exist ({Cooperative.objects.count()}): no demo data generated"
            )
            if users:
                created, assigned = ensure_demo_users(seed)
                if created:
                    self.stdout.write(f"demo users created: {created}, counselor assignments: {assigned}")
        else:
            verbosity = options["verbosity"]

            def progress(done: int, total: int) -> None:
                if verbosity >= 1:
                    self.stdout.write(f"  {done}/{total} cooperatives written")

            self.stdout.write(f"generating a demo city of {size} cooperatives (seed {seed})…")
            result = generate(size, seed, users=users, progress=progress)
            for key, value in result.as_dict().items():
                if isinstance(value, dict):
                    per_year = ", ".join(f"{year}: {n}" for year, n in sorted(value.items()))
                    self.stdout.write(f"  member households: {per_year}")
                else:
                    self.stdout.write(f"  {key.replace('_', ' ')}: {value}")
            if users and not options["no_activity"]:
                self.activity(seed)
        if users:
            self.print_logins()

    def print_logins(self) -> None:
        logins = demo_logins()
        if not logins:
            return
        self.stdout.write("")
        self.stdout.write(f"demo logins (password: {settings.HEZUO_DEMO_PASSWORD}):")
        width = max(len(name) for name, _ in logins)
        for name, description in logins:
            self.stdout.write(f"  {name.ljust(width)}  {description}")
