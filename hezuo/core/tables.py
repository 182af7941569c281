"""Table base: per-user column choice (NetBox-style) on top of django-tables2, with a fast cell path.

django-tables2 renders each cell through signature inspection and attribute computation (about 0.5 ms a
cell, the largest cost of a list page). `BaseTable.fast_rows()` renders the common column kinds (plain,
linked, boolean, date, `render_<name>` methods) with per-column work done once per page, and falls back to
django-tables2's own cell rendering for any other column type, so results are identical.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import django_tables2 as tables
from django.db.models import QuerySet
from django.db.models.sql.where import WhereNode
from django.utils import formats, timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django_tables2.rows import BoundRow

# column classes whose cells fast_rows() renders itself; subclasses of these with their own render() are not
_FAST_TYPES: tuple[type, ...] = (
    tables.Column,
    tables.BooleanColumn,
    tables.DateColumn,
    tables.DateTimeColumn,
)
_DATE_FORMAT = re.compile(r'\|date:"([^"]+)"')
_RENDER_ARGS = ("value", "record", "column", "bound_column", "bound_row", "table")


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

    # fast rendering ---------------------------------------------------------------------------
    def _cell_plan(self) -> list[tuple[Any, Callable[[Any, Any], Any] | None, str | None]]:
        plan = []
        for bound in self.columns:
            column = bound.column
            td_attrs = (column.attrs or {}).get("td", {}) or {}
            td_class = td_attrs.get("class", "") if isinstance(td_attrs, dict) else ""
            method = getattr(self, f"render_{bound.name}", None)
            fast = type(column) in _FAST_TYPES and not callable(td_class)
            plan.append((bound, self._renderer(bound, method) if fast else None, td_class if fast else None))
        return plan

    def _renderer(self, bound: Any, method: Callable[..., Any] | None) -> Callable[[Any, Any], Any]:
        column = bound.column
        accessor = bound.accessor
        empty = column.empty_values
        default = bound.default
        link = column.link
        names: tuple[str, ...] = ()
        # DateColumn/DateTimeColumn keep their format inside their template code
        found = _DATE_FORMAT.search(getattr(column, "template_code", "") or "")
        date_format = found.group(1) if found else None
        if method is not None:
            params = inspect.signature(method).parameters
            names = tuple(n for n in _RENDER_ARGS if n in params)

        def value_of(record: Any) -> Any:
            field = str(accessor)
            if "__" not in field and "." not in field:
                display = getattr(record, f"get_{field}_display", None)
                if display is not None:
                    return display()
            return accessor.resolve(record, quiet=True)

        def render(record: Any, row: Any) -> Any:
            value = value_of(record)
            if value in empty or (date_format and value is None):
                content: Any = default
            elif method is not None:
                available = {
                    "value": value,
                    "record": record,
                    "column": column,
                    "bound_column": bound,
                    "bound_row": row,
                    "table": self,
                }
                content = method(**{n: available[n] for n in names})
            elif isinstance(column, tables.BooleanColumn):
                content = format_html(
                    '<span class="{}">{}</span>', "true" if value else "false", "✔" if value else "✘"
                )
            elif date_format and isinstance(value, dt.date):
                if isinstance(value, dt.datetime):
                    value = timezone.localtime(value) if timezone.is_aware(value) else value
                content = formats.date_format(value, date_format)
            else:
                content = value
            if link is not None and value not in empty and value is not None:
                return link(
                    conditional_escape(content), record=record, bound_column=bound, value=value, table=self
                )
            return conditional_escape(content)

        return render

    def _page_rows(self) -> Any:
        """The current page's rows. For a queryset page, the ordering runs first on the ids alone (a narrow
        sort, without the joined tables), then one query fetches the page's records with their joins."""
        rows = self.paginated_rows
        page_qs = getattr(rows, "data", None)  # the page's slice of the queryset (django-tables2 BoundRows)
        if not isinstance(page_qs, QuerySet):
            page_qs = getattr(page_qs, "data", None)  # a TableQuerysetData, in other paths
        if not isinstance(page_qs, QuerySet) or page_qs.query.high_mark is None:
            return rows
        ids = list(page_qs.values_list("pk", flat=True))
        full = page_qs._chain()  # type: ignore[attr-defined]
        full.query.clear_limits()
        full.query.clear_ordering(force=True)
        # the ids were chosen by the filters (and the user's scope) a moment ago: fetch them by id alone,
        # with the same joins and annotations, instead of evaluating every filter again
        full.query.where = WhereNode()
        by_pk = {obj.pk: obj for obj in full.filter(pk__in=ids)}
        records = [by_pk[pk] for pk in ids if pk in by_pk]
        # the page's slice now holds its records: the pagination's len(page) must not query them again
        page_qs._result_cache = records
        return [BoundRow(record, table=self) for record in records]

    def fast_rows(self) -> Iterator[list[tuple[str, SafeString]]]:
        """The current page's rows as lists of (td class, cell html)."""
        plan = self._cell_plan()
        for row in self._page_rows():
            cells = []
            for bound, render, td_class in plan:
                if render is None:
                    cells.append(
                        (
                            bound.attrs.get("td", {}).get("class", ""),
                            mark_safe(conditional_escape(row.get_cell(bound.name))),
                        )
                    )
                else:
                    cells.append((td_class or "", mark_safe(render(row.record, row))))
            yield cells

    class Meta:
        attrs = {"class": "table table-sm table-hover align-middle mb-0"}
        template_name = "core/table.html"
