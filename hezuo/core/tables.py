"""Table base: per-user column choice (NetBox-style) on top of django-tables2."""

from __future__ import annotations

from typing import Any, ClassVar

import django_tables2 as tables


class BaseTable(tables.Table):
    # columns always shown (e.g. the name that links to the record)
    fixed: ClassVar[tuple[str, ...]] = ()
    # columns shown until the user chooses; None = all
    defaults: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    @classmethod
    def column_choices(cls) -> list[tuple[str, str]]:
        """(name, header) of every column the user may choose, headers as the table shows them."""
        model = cls._meta.model
        # binding to (empty) model data resolves headers from the model's field labels
        bound = cls(model._default_manager.none() if model is not None else []).columns
        return [
            (column.name, str(column.header)) for column in bound.iterall() if column.name not in cls.fixed
        ]

    @classmethod
    def default_columns(cls) -> list[str]:
        if cls.defaults is None:
            return [name for name, _ in cls.column_choices()]
        return list(cls.defaults)

    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle mb-0"}
        template_name = "core/table.html"
