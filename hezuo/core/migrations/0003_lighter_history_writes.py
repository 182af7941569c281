"""History rows cost less to write: before/after as `json` on PostgreSQL (DocumentField: kept as written,
not parsed into `jsonb`), and no database constraint on the content-type foreign keys (docs/decisions.md)."""

import django.db.models.deletion
from django.db import migrations, models

import hezuo.core.fields


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0002_history_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="changerecord",
                    name="after",
                    field=hezuo.core.fields.DocumentField(blank=True, null=True, verbose_name="after"),
                ),
                migrations.AlterField(
                    model_name="changerecord",
                    name="before",
                    field=hezuo.core.fields.DocumentField(blank=True, null=True, verbose_name="before"),
                ),
            ],
            database_operations=[
                hezuo.core.fields.DocumentColumns(model_name="changerecord", fields=["before", "after"])
            ],
        ),
        migrations.AlterField(
            model_name="changerecord",
            name="content_type",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="contenttypes.contenttype",
            ),
        ),
        migrations.AlterField(
            model_name="changerecord",
            name="parent_type",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="contenttypes.contenttype",
            ),
        ),
    ]
