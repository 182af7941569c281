"""Table base: per-user column choice (NetBox-style) on top of django-tables2, with a fast cell path.

django-tables2 renders each cell through signature inspection and attribute computation (about 0.5 ms a
cell, the largest cost of a list page). `BaseTable.fast_rows()` renders the common column kinds (plain,
linked, boolean, date, `render_<name>` methods) with per-column work done once per page, and falls back to
django-tables2's own cell rendering for any other column type, so results are identical.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import django_tables2 as tables
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.db.models.sql.where import WhereNode
from django.utils import dateformat, formats, timezone
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
# a search matching more rows than this is counted and paged by two queries (see _page_with_count): ordering
# the page among thousands of collected ids costs about what a second scan costs. Measured at 100,000
# cooperatives: SQLite's second scan is cheap (its LIKE is), PostgreSQL's is not ("ninghai", 12,803 matches:
# 120 ms with the count, 70 ms with the ids; "xs", 55,994 matches, costs the same both ways)
CAPPED_ROWS = {"sqlite": 5000, "postgresql": 15000}
DEFAULT_CAPPED_ROWS = 5000
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

        # a date format's name resolves once per page, not once per cell (same result)
        resolved_format = formats.get_format(date_format) if date_format else None
        field = str(accessor)
        plain = "__" not in field and "." not in field
        display_name = f"get_{field}_display"
        # Django's get_<field>_display() depends on the value alone (and the language, fixed for the page):
        # it is computed once per distinct value of the page instead of once per cell
        displays: dict[tuple[type, Any], Any] = {}

        def value_of(record: Any) -> Any:
            if plain:
                display = getattr(record, display_name, None)
                if display is not None:
                    if not _standard_display(type(record), display_name):
                        return display()
                    raw = getattr(record, field)
                    key = (type(record), raw)
                    try:
                        return displays[key]
                    except KeyError:
                        found = displays[key] = display()
                        return found
                    except TypeError:  # an unhashable value
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
                content = dateformat.format(value, str(resolved_format))
            else:
                content = value
            if link is not None and value not in empty and value is not None:
                return link(
                    conditional_escape(content), record=record, bound_column=bound, value=value, table=self
                )
            return conditional_escape(content)

        return render

    # pagination -------------------------------------------------------------------------------
    def paginate(
        self,
        paginator_class: type[Paginator] = Paginator,
        per_page: int | None = None,
        page: Any = 1,
        *args: Any,
        **kwargs: Any,
    ) -> BaseTable:
        """As django-tables2's, but for a search (see `_costly()`) the filters run once for the count and the
        page instead of twice: the ids of its matches are collected, their number is the count and the
        page is ordered among them (see `_collect_matches()`)."""
        per_page = per_page or self._meta.per_page
        self.paginator = paginator_class(self.rows, per_page, *args, **kwargs)
        self._matches: list[Any] | None = None
        qs = getattr(self.data, "data", None)
        if isinstance(qs, QuerySet) and _costly(qs):
            matches = self._collect_matches(qs)
            if matches is not None:  # else: too many to order at once: the usual count and page query
                self.paginator.__dict__["count"] = len(matches)  # Paginator.count is a cached_property
                self.data._length = len(matches)  # TableQuerysetData's len()
                self._matches = matches  # _page_rows() orders the page among them, once its slice is known
        self.page = self.paginator.page(page)
        return self

    def _collect_matches(self, qs: QuerySet) -> list[Any] | None:
        """The ids of every row `qs` keeps, when they are at most CAPPED_ROWS (per database), else None.

        They are collected unordered (a broad search finds CAPPED_ROWS + 1 of them in the first part of the
        table and stops there), so that they give the count, and the page is ordered among them alone (by the
        primary key index; the filters do not run again): one scan instead of two (the count and the page).
        A broad search is counted and paged the usual way instead: ordering a page among tens of thousands
        of ids costs more than a second scan, and a window count over every match more still (PostgreSQL
        spills 100,000 rows to disk: 240 ms against 2 × 70 ms; SQLite: 122 ms against a 26 ms count and the
        page). On PostgreSQL the planner's estimate tells a broad search without collecting anything."""
        # django-tables2 paginates twice when a view configures a table made with a request (once in
        # Table.__init__, once in the view's RequestConfig): each query runs once (the ordering is set again
        # in between, a new queryset: the query's SQL tells whether it is the same)
        if qs.query.is_empty():
            return []  # a filter that can match nothing (a value out of reach or invalid): no SQL to run
        cache: dict[Any, Any] = self.__dict__.setdefault("_count_cache", {})
        connection = connections[qs.db]
        cap = CAPPED_ROWS.get(connection.vendor, DEFAULT_CAPPED_ROWS)
        query = qs.order_by().values_list("pk", flat=True)[: cap + 1]
        try:
            if connection.vendor == "postgresql" and self._planner_estimate(qs, cache) > cap:
                return (
                    None  # a broad search: collecting the first matches would only add to the count and page
                )
            sql, params = query.query.sql_with_params()
        except EmptyResultSet:  # e.g. an empty `pk__in`: nothing can match
            return []
        key = (qs.db, sql, tuple(map(repr, params)))
        if key not in cache:
            cache[key] = list(query)
        matches: list[Any] = cache[key]
        return matches if len(matches) <= cap else None

    @staticmethod
    def _among(qs: QuerySet, matches: list[Any]) -> QuerySet:
        """`qs` (unsliced) restricted to the collected matches' ids, which its filters chose: they need not
        run again; the annotations (a search's rank) and the ordering stay."""
        rows = qs
        if len(qs.query.alias_map) <= 1:
            rows = qs._chain()  # type: ignore[attr-defined]
            rows.query.where = WhereNode()
        connection = connections[qs.db]
        meta = qs.model._meta
        column = f"{connection.ops.quote_name(meta.db_table)}.{connection.ops.quote_name(meta.pk.column)}"
        # the ids as one parameter (an IN list of thousands of parameters costs more to build than to run)
        if connection.vendor == "postgresql":
            return rows.extra(where=[f"{column} = ANY(%s)"], params=[list(matches)])
        if connection.vendor == "sqlite" and all(type(pk) is int for pk in matches):
            return rows.extra(
                where=[f"{column} IN (SELECT value FROM json_each(%s))"], params=[json.dumps(matches)]
            )
        return rows.filter(pk__in=matches)

    @staticmethod
    def _planner_estimate(qs: QuerySet, cache: dict[Any, Any]) -> float:
        """PostgreSQL's estimate of the number of rows (its statistics know how common a searched text is:
        "xs", 55,994 matches: 75,023 estimated; "nhbp", 1,596: 2,030). It only chooses how to count: the
        rows and the count are exact either way."""
        sql, params = qs.order_by().values_list("pk", flat=True).query.sql_with_params()
        key = ("estimate", qs.db, sql, tuple(map(repr, params)))
        if key not in cache:
            with connections[qs.db].cursor() as cursor:
                cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
                plan = cursor.fetchone()[0]
            if isinstance(plan, str):
                plan = json.loads(plan)
            cache[key] = float(plan[0]["Plan"]["Plan Rows"])
        return cache[key]

    def _page_rows(self) -> Any:
        """The current page's rows. For a queryset page, the ordering runs first on the ids alone (a narrow
        sort, without the joined tables), then one query fetches the page's records with their joins."""
        rows = self.paginated_rows
        page_qs = getattr(rows, "data", None)  # the page's slice of the queryset (django-tables2 BoundRows)
        if not isinstance(page_qs, QuerySet):
            page_qs = getattr(page_qs, "data", None)  # a TableQuerysetData, in other paths
        if not isinstance(page_qs, QuerySet) or page_qs.query.high_mark is None:
            return rows
        matches = getattr(self, "_matches", None)
        low, high = page_qs.query.low_mark, page_qs.query.high_mark
        if matches is not None:
            # paginate() collected the ids of every match: the page is ordered among them
            unsliced = page_qs._chain()  # type: ignore[attr-defined]
            unsliced.query.clear_limits()
            ids = list(self._among(unsliced, matches).values_list("pk", flat=True)[low:high])
        else:
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


def _costly(qs: QuerySet) -> bool:
    """Whether the count and the page should come from one pass of the filters: a search (an annotation:
    its rank) scans every row, for the count and again for the page. A plain filter (scope, district, a
    registration year) counts from an index and finds its page by walking an index in order.

    Measured and left out: `COUNT(*) OVER ()` beside the page for subquery filters (federation member,
    sponsored, a title). On SQLite it saves 9 ms on member=yes as city staff (17 + 18 ms → 26 ms), but
    costs more than the count on an exclusion (member=no); PostgreSQL plans a LIMIT over a window as if it
    could stop early and walks the ordering index through every row (284 ms at 100,000 cooperatives, against
    a 49 ms hash semi-join count and a page that stops early). And django-tables2 paginates a table made
    with a request twice, the first time with the default page size, so the window's page could not be the
    one shown without a second query."""
    query = qs.query
    if query.distinct or query.group_by is not None or query.combinator:
        return False  # the matches' ids would not be the rows
    if any(getattr(a, "contains_aggregate", False) for a in query.annotations.values()):
        return False
    return bool(query.annotations)


_STANDARD_DISPLAY: dict[tuple[type, str], bool] = {}


def _standard_display(model: type, name: str) -> bool:
    """Whether `model.<name>` is Django's own get_<field>_display (a partialmethod of the model base)."""
    key = (model, name)
    if key not in _STANDARD_DISPLAY:
        found = inspect.getattr_static(model, name, None)
        _STANDARD_DISPLAY[key] = isinstance(found, functools.partialmethod) and (
            getattr(found.func, "__name__", "") == "_get_FIELD_display"
        )
    return _STANDARD_DISPLAY[key]
