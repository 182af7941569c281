"""The `hezuo` console script: the operator's commands (Django's management commands underneath)."""

from __future__ import annotations

import os
import sys

COMMANDS = [
    ("setup", "migrate the database and load the shipped divisions (idempotent)"),
    ("demo", "generate the demo city (--size N, --seed S); `make demo` runs setup, demo and serve"),
    ("serve", "serve the site (development server and a task worker; production: gunicorn, see README)"),
    ("rate", "rate every cooperative with facts for a year: --year Y [--district CODE]"),
    ("import", "import a .xlsx/.csv file: --kind KIND --user NAME [--dry-run]"),
    ("export", "export a filtered list in the import template's columns: --kind KIND -o FILE"),
    ("detect", "raise shell/dormant flags by the detection rules: [--year Y] [--district CODE]"),
    ("digest", "email each user a digest of overdue visits and tasks: [--dry-run] [--date D] [--user NAME]"),
    ("progress", "write a plan's progress table as Excel: --plan CODE [--targets-only] --xlsx FILE"),
    ("load_plan", "load a plan and its targets from a YAML file (nothing partly written)"),
    ("load_checklist", "load a version of the K01-K23 compliance checklist from a YAML file"),
    ("load_divisions", "load a city's divisions from a CSV (code,name,level,parent_code)"),
    ("createsuperuser", "create a city-staff superuser"),
    ("check", "check the configuration (add --deploy under production settings)"),
]


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hezuo.settings")
    if not argv or (argv[0] in {"-h", "--help", "help"} and len(argv) == 1):
        print("usage: hezuo COMMAND [options]\n\ncommands:")
        width = max(len(name) for name, _ in COMMANDS)
        for name, text in COMMANDS:
            print(f"  {name.ljust(width)}  {text}")
        print("\nEvery Django management command also works (hezuo help --all lists them);")
        print("`hezuo COMMAND --help` describes one.")
        return
    if argv[:2] == ["help", "--all"]:
        argv = ["help"]
    if argv[0] == "serve":
        # the demo is used by the federation's staff: the product's own error pages, not Django's debug
        # pages (which list every URL); DEBUG=1 brings them back for development
        os.environ.setdefault("DEBUG", "0")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["hezuo", *argv])


if __name__ == "__main__":
    main()
