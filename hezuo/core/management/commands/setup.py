from django.core.management import call_command
from django.core.management.base import BaseCommand

from hezuo.geo.models import Division


class Command(BaseCommand):
    help = "Migrate the database and load the shipped divisions when none are loaded (idempotent)."

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database migrated")
        if not Division.objects.exists():
            call_command("load_divisions", stdout=self.stdout)
        else:
            self.stdout.write(f"divisions: {Division.objects.count()} already loaded")
        from hezuo.rating.services import ensure_default_rubric

        if ensure_default_rubric() is not None:
            self.stdout.write("rating: provisional rubric loaded and published for 2022-2025")
        from hezuo.targets.loader import ensure_shipped_plans

        for plan in ensure_shipped_plans():
            targets = plan.targets.filter(retired_at__isnull=True).count()
            self.stdout.write(f"targets: plan {plan.code} ({targets} targets)")
        from hezuo.compliance.checklist import ensure_checklist

        if ensure_checklist() is not None:
            self.stdout.write("compliance: checklist K01-K23 loaded")
