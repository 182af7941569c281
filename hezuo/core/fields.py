"""Model fields shared by the apps."""

from __future__ import annotations

import json
from typing import Any

from django.db import models
from django.db.migrations.operations.base import Operation


class DocumentField(models.JSONField):
    """A JSON document that is only ever stored and read back whole (never searched inside): on PostgreSQL
    the `json` type, which keeps the text as given (checked to be JSON), rather than `jsonb`, whose parsing
    into its binary form cost a third of the server's work writing ratings. Other databases: as JSONField.

    Nothing may query inside it (no `field__key` lookups, no equality, DISTINCT or GROUP BY on it: PostgreSQL
    has no equality operator for `json`). On PostgreSQL the keys come back in the order they were written
    (as on SQLite), where `jsonb` sorted them."""

    def db_type(self, connection: Any) -> str | None:
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if connection.vendor != "postgresql":
            return super().get_db_prep_value(value, connection, prepared)
        if not prepared:
            value = self.get_prep_value(value)
        if isinstance(value, models.Value) and isinstance(value.output_field, models.JSONField):
            value = value.value
        elif hasattr(value, "as_sql"):  # an expression
            return value
        from psycopg.types.json import Json

        return Json(value, dumps=_compact if self.encoder is None else _compact_with(self.encoder))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or isinstance(value, str):
            return super().from_db_value(value, expression, connection)
        return value  # the driver's json loader has parsed it already


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _compact_with(encoder: type[json.JSONEncoder]) -> Any:
    return encoder(separators=(",", ":"), ensure_ascii=False).encode


class DocumentColumns(Operation):
    """The database side of turning JSONFields into DocumentFields (in a migration's
    SeparateDatabaseAndState, whose state side alters the fields): on PostgreSQL the columns become `json`
    in one ALTER TABLE (one rewrite of the table, however many columns), and `jsonb` again when unapplied;
    on other databases the columns do not change."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, fields: list[str]) -> None:
        self.model_name = model_name
        self.fields = list(fields)

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [], {"model_name": self.model_name, "fields": self.fields})

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        self._alter(app_label, schema_editor, to_state, "json")

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        self._alter(app_label, schema_editor, to_state, "jsonb")

    def _alter(self, app_label: str, schema_editor: Any, state: Any, to: str) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        meta = state.apps.get_model(app_label, self.model_name)._meta
        quote = schema_editor.quote_name
        columns = [quote(meta.get_field(name).column) for name in self.fields]
        schema_editor.execute(
            f"ALTER TABLE {quote(meta.db_table)} "
            + ", ".join(f"ALTER COLUMN {c} TYPE {to} USING {c}::{to}" for c in columns)
        )

    def describe(self) -> str:
        return f"Store {', '.join(self.fields)} of {self.model_name} as json on PostgreSQL"
