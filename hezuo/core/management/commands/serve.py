"""Serve the site for a demo or development: the development server plus a background-task worker."""

import subprocess
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve at 127.0.0.1:8000 with a task worker beside it (production: see README, gunicorn)."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-worker", action="store_true", help="do not start the task worker")

    def handle(self, *args, **options):
        worker = None
        if not options["no_worker"]:
            worker = subprocess.Popen([sys.executable, "-m", "hezuo.cli", "db_worker"])
        try:
            call_command("runserver", options["addrport"], use_reloader=False)
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=10)
