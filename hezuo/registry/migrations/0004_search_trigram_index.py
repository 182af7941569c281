"""On PostgreSQL, a trigram index makes the contiguous search (LIKE '%term%') an index scan.

It needs the pg_trgm extension; where the database user may not create it, the index is skipped (search
still works, by a sequential scan) and a warning says how to add it.
"""

import logging

from django.db import migrations, transaction

log = logging.getLogger(__name__)

INDEX = "coop_search_trgm_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {INDEX} ON registry_cooperative USING gin (search_text gin_trgm_ops)"
            )
    except Exception as exc:  # noqa: BLE001 - permissions vary by deployment
        log.warning("search index skipped (%s); as a superuser run: CREATE EXTENSION pg_trgm; then migrate", exc)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("registry", "0003_list_indexes")]

    operations = [migrations.RunPython(create, drop)]
