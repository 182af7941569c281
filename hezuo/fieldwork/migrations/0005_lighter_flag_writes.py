"""Flags cost less to write: the evidence as `json` on PostgreSQL (DocumentField: kept as written, not
parsed into `jsonb`), and no database constraint on the rule set and run foreign keys (docs/decisions.md)."""

import django.db.models.deletion
from django.db import migrations, models

import hezuo.core.fields


class Migration(migrations.Migration):
    dependencies = [
        ("fieldwork", "0004_visit_location_photos"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="flag",
                    name="evidence",
                    field=hezuo.core.fields.DocumentField(default=dict, verbose_name="evidence"),
                ),
            ],
            database_operations=[hezuo.core.fields.DocumentColumns(model_name="flag", fields=["evidence"])],
        ),
        migrations.AlterField(
            model_name="flag",
            name="ruleset",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                to="fieldwork.ruleset",
                verbose_name="rule set",
            ),
        ),
        migrations.AlterField(
            model_name="flag",
            name="run",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                to="fieldwork.detectionrun",
                verbose_name="run",
            ),
        ),
    ]
