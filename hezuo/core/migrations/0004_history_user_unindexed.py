"""The history's user column loses its index (nothing looks the history up by user id; every write paid for
it). Only the index is dropped, by name, so SQLite does not rebuild the table (an AlterField would)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _user_indexes(schema_editor, table):
    with schema_editor.connection.cursor() as cursor:
        found = schema_editor.connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, info in found.items()
        if info["columns"] == ["user_id"] and info["index"] and not info["primary_key"] and not info["unique"]
    ]


def drop_index(apps, schema_editor):
    model = apps.get_model("core", "ChangeRecord")
    for name in _user_indexes(schema_editor, model._meta.db_table):
        schema_editor.execute(schema_editor._delete_index_sql(model, name))


def create_index(apps, schema_editor):
    model = apps.get_model("core", "ChangeRecord")
    if not _user_indexes(schema_editor, model._meta.db_table):
        field = model._meta.get_field("user")
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_lighter_history_writes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="changerecord",
                    name="user",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="user",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_index, create_index)],
        ),
    ]
