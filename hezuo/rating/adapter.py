"""Between the ORM and the engine: a cooperative's facts and status for a year as the engine's plain inputs,
read in batches; and the bulk writes of the annual rating.

Reading streams by keyset (cooperative id) in batches, three queries per batch whatever its size: the
year's facts joined with the cooperative, the year before's facts, the titles held in the year. The
queries are built by the ORM and run on a plain cursor: rows come back as tuples of database values, with
no model instance or field converter per value (engine.RowRater makes the inputs from them).

Writing: BulkInsert inserts many rows of one model by the backend's fastest means (SQLite: one prepared
INSERT executed for every row; PostgreSQL: COPY), ids given by the writer, defaults for the fields left
out. It is used where the rating writes tens of thousands of rows; everything else goes through the ORM.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any, cast

from django.db import connections, models
from django.db.models import F, Q
from django.db.models.functions import Cast

from hezuo.registry.choices import TITLE_RANK
from hezuo.registry.models import Cooperative, DemonstrationTitle, YearlyFact

from .engine import ROW_STATUS, CoopInput

SKIP = {"id", "cooperative", "year", "created_at", "updated_at", "retired_at"}
FACT_FIELDS: tuple[str, ...] = tuple(f.name for f in YearlyFact._meta.concrete_fields if f.name not in SKIP)
DECIMAL_FACTS: tuple[str, ...] = tuple(
    name for name in FACT_FIELDS if isinstance(YearlyFact._meta.get_field(name), models.DecimalField)
)
DATE_FACTS: tuple[str, ...] = tuple(
    name
    for name in FACT_FIELDS
    if isinstance(YearlyFact._meta.get_field(name), models.DateField)
    and not isinstance(YearlyFact._meta.get_field(name), models.DateTimeField)
)
COOP_FIELDS: tuple[str, ...] = (
    "name",
    "credit_code",
    "registration_date",
    "industry",
    "operating_status",
    "suspended_since",
    "on_abnormal_list",
    "abnormal_listed_on",
    "serious_violation",
    "illegal_finance",
    "subsidy_fraud",
    "brands",
    "cert_green",
    "cert_organic",
    "cert_geographic",
    "has_traceability",
    "district_id",
)
PREVIOUS_FIELDS = ("revenue", "member_transactions", "assembly_held", "financial_statements")
RANKS: dict[str, int] = {str(level): rank for level, rank in TITLE_RANK.items()}  # a title level's rank


def _plain(values: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    out = {}
    for name in names:
        value = values[name]
        out[name] = float(value) if isinstance(value, Decimal) else value
    return out


def coop_input(
    coop: dict[str, Any],
    year: int,
    facts: dict[str, Any] | None,
    previous: dict[str, Any] | None,
    title_rank: int,
) -> CoopInput:
    return CoopInput(
        cooperative_id=coop["id"],
        year=year,
        credit_code=coop["credit_code"] or "",
        registration_date=coop["registration_date"],
        industry=coop["industry"],
        operating_status=coop["operating_status"],
        suspended_since=coop["suspended_since"],
        on_abnormal_list=coop["on_abnormal_list"],
        abnormal_listed_on=coop["abnormal_listed_on"],
        serious_violation=coop["serious_violation"],
        illegal_finance=coop["illegal_finance"],
        subsidy_fraud=coop["subsidy_fraud"],
        has_brand=bool((coop["brands"] or "").strip()),
        cert_green=coop["cert_green"],
        cert_organic=coop["cert_organic"],
        cert_geographic=coop["cert_geographic"],
        has_traceability=coop["has_traceability"],
        title_rank=title_rank,
        facts=facts,
        previous=previous,
    )


def _titles(ids: list[int], year: int) -> dict[int, int]:
    ranks: dict[int, int] = {}
    rows = (
        DemonstrationTitle.objects.filter(cooperative_id__in=ids)
        .current(year)
        .values_list("cooperative_id", "level")
    )
    for coop_id, level in rows:
        ranks[coop_id] = max(ranks.get(coop_id, 0), RANKS.get(level, 0))
    return ranks


def _previous(ids: list[int], year: int) -> dict[int, dict[str, Any]]:
    rows = YearlyFact.objects.filter(cooperative_id__in=ids, year=year - 1, retired_at__isnull=True).values(
        "cooperative_id", *PREVIOUS_FIELDS
    )
    return {row["cooperative_id"]: _plain(row, PREVIOUS_FIELDS) for row in rows}


def input_for(cooperative: Cooperative, year: int) -> CoopInput:
    """One cooperative's inputs for a year (its facts may be absent: then every fact is missing)."""
    coop = {name: getattr(cooperative, name) for name in COOP_FIELDS}
    coop["id"] = cooperative.pk
    fact = (
        YearlyFact.objects.filter(cooperative=cooperative, year=year, retired_at__isnull=True)
        .values(*FACT_FIELDS)
        .first()
    )
    return coop_input(
        coop,
        year,
        _plain(fact, FACT_FIELDS) if fact else None,
        _previous([cooperative.pk], year).get(cooperative.pk),
        _titles([cooperative.pk], year).get(cooperative.pk, 0),
    )


# ---------------------------------------------------------------------------------------------------
# reading many


def fetch(qs: models.QuerySet[Any]) -> list[tuple[Any, ...]]:
    """The rows of a values_list() query as the database driver returns them (no field converters)."""
    sql, params = qs.query.sql_with_params()
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def facts_query(year: int, where: Q | None = None) -> models.QuerySet[YearlyFact]:
    """The facts of `year` of the active cooperatives (optionally filtered by `where` on YearlyFact)."""
    qs = YearlyFact.objects.filter(year=year, retired_at__isnull=True, cooperative__retired_at__isnull=True)
    return qs.filter(where) if where is not None else qs


DECIMALS = set(DECIMAL_FACTS)
DATES = {"registration_date", "suspended_since", "abnormal_listed_on", *DATE_FACTS}
COOP_COLUMNS: tuple[str, ...] = ("id", "name", *ROW_STATUS)
FACT_COLUMNS: tuple[str, ...] = ("cooperative_id", *FACT_FIELDS)


def _columns(names: Sequence[str], vendor: str) -> list[Any]:
    """The columns to select: decimals as floats (the engine's numbers); on SQLite, dates as their ISO
    text (the driver's date converter costs more per value than the engine's date.fromisoformat)."""
    columns: list[Any] = []
    for name in names:
        if name in DECIMALS:
            columns.append(Cast(F(name), models.FloatField()))
        elif name in DATES and vendor == "sqlite":
            columns.append(Cast(F(name), models.CharField()))
        else:
            columns.append(name)
    return columns


def _facts(year: int, where: Q | None) -> models.QuerySet[YearlyFact]:
    facts = YearlyFact.objects.filter(year=year, retired_at__isnull=True)
    return facts.filter(where) if where is not None else facts


def read_batches(
    year: int, *, where: Q | None = None, batch_size: int = 2000
) -> Iterator[list[tuple[Any, ...]]]:
    """Every active cooperative with facts for the year (optionally filtered by `where` on YearlyFact), in
    batches of rows laid out as engine.RowRater reads them: (cooperative id, name, *engine.ROW_STATUS,
    *FACT_FIELDS, title rank, the year before's PREVIOUS_FIELDS or None).

    Four single-table queries per batch, each an index range scan: the next facts by cooperative id, then
    for their id range the cooperatives, the year before's facts and the titles. (Joining the facts with
    the cooperatives in one query lets PostgreSQL merge-join from the first cooperative on every batch.)"""
    reader = _Reader(year, where)
    last = 0
    while True:
        batch, end = reader.read(last, None, batch_size)
        if end is None:
            return
        yield batch
        last = end


def batch_bounds(
    year: int, *, where: Q | None = None, batch_size: int = 2000
) -> Iterator[tuple[int, int | None]]:
    """The ranges (after, upto] of cooperative ids that read_batches() would read as batches, without
    reading them (one index scan per range): read_range() reads each, anywhere (the annual rating's
    worker processes read their own). The last range is open (upto None) when it holds fewer."""
    facts = _facts(year, where)
    last = 0
    while True:
        ids = fetch(
            facts.filter(cooperative_id__gt=last)
            .order_by("cooperative_id")
            .values_list("cooperative_id")[batch_size - 1 : batch_size]
        )
        if not ids:
            if fetch(facts.filter(cooperative_id__gt=last).values_list("cooperative_id")[:1]):
                yield last, None
            return
        yield last, ids[0][0]
        last = ids[0][0]


def read_range(year: int, after: int, upto: int | None, *, where: Q | None = None) -> list[tuple[Any, ...]]:
    """The rows of read_batches() for the cooperatives whose id is in (after, upto] (upto None: no end)."""
    return _Reader(year, where).read(after, upto, None)[0]


class _Reader:
    def __init__(self, year: int, where: Q | None) -> None:
        self.year = year
        self.facts = _facts(year, where)
        vendor = connections[self.facts.db].vendor
        self.fact_columns = _columns(FACT_COLUMNS, vendor)
        self.coop_columns = _columns(COOP_COLUMNS, vendor)
        self.previous_columns = _columns(PREVIOUS_FIELDS, vendor)

    def read(
        self, after: int, upto: int | None, limit: int | None
    ) -> tuple[list[tuple[Any, ...]], int | None]:
        """The rows of the cooperatives after `after` (to `upto`, at most `limit` facts), and the last
        cooperative id read (None: nothing to read)."""
        year = self.year
        facts = self.facts.filter(cooperative_id__gt=after)
        if upto is not None:
            facts = facts.filter(cooperative_id__lte=upto)
        query = facts.order_by("cooperative_id").values_list(*self.fact_columns)
        rows = fetch(query[:limit] if limit is not None else query)
        if not rows:
            return [], None
        first, last = rows[0][0], rows[-1][0]
        coops = {
            row[0]: row
            for row in fetch(
                Cooperative.objects.filter(pk__gte=first, pk__lte=last, retired_at__isnull=True)
                .order_by()  # no default ordering (a sort, and a join for some models)
                .values_list(*self.coop_columns)
            )
        }
        span = Q(cooperative_id__gte=first, cooperative_id__lte=last)
        previous = {
            row[0]: row[1:]
            for row in fetch(
                YearlyFact.objects.filter(span, year=year - 1, retired_at__isnull=True)
                .order_by()
                .values_list("cooperative_id", *self.previous_columns)
            )
        }
        ranks: dict[int, int] = {}
        for coop_id, level in fetch(
            DemonstrationTitle.objects.filter(span)
            .current(year)
            .order_by()
            .values_list("cooperative_id", "level")
        ):
            ranks[coop_id] = max(ranks.get(coop_id, 0), RANKS.get(level, 0))
        batch = []
        seen = 0
        for row in rows:
            coop_id = row[0]
            coop = coops.get(coop_id)  # None: retired
            if coop is None or coop_id == seen:  # a filter across a multi-valued relation may repeat a row
                continue
            seen = coop_id
            batch.append((*coop, *row[1:], ranks.get(coop_id, 0), previous.get(coop_id)))
        return batch, last


# ---------------------------------------------------------------------------------------------------
# writing many


class BulkInsert:
    """INSERT many rows of one model, the fastest way the backend offers, inside the caller's transaction
    (on PostgreSQL, whose commit then does not wait for the disk: synchronous_commit off in it).

    `fields` names the fields each row gives, in order (database-ready values: see prepare()); the other
    fields take their defaults. With `ids`, each row starts with its primary key, taken from new_ids().
    """

    def __init__(
        self, model: type[models.Model], fields: Sequence[str], *, ids: bool = False, using: str = "default"
    ):
        self.using = using
        meta = model._meta
        given = [cast(models.Field[Any, Any], meta.get_field(name)) for name in fields]
        rest = [f for f in meta.concrete_fields if not f.primary_key and f not in given]
        self.table = meta.db_table
        self.pk_column: str = meta.pk.column  # type: ignore[union-attr]
        self.constants = tuple(f.get_db_prep_save(f.get_default(), self.connection) for f in rest)
        columns = [self.pk_column] if ids else []
        columns += [str(f.column) for f in given] + [str(f.column) for f in rest]
        quote = self.connection.ops.quote_name
        names = ", ".join(quote(c) for c in columns)
        if self.connection.vendor == "postgresql":
            self.sql = f"COPY {quote(self.table)} ({names}) FROM STDIN"
        else:
            marks = ", ".join(["%s"] * len(columns))
            self.sql = f"INSERT INTO {quote(self.table)} ({names}) VALUES ({marks})"
        self.fields = {f.name: f for f in given}

    @property
    def connection(self) -> Any:
        """The calling thread's connection (writer threads each have theirs)."""
        return connections[self.using]

    def prepare(self, name: str, value: Any) -> Any:
        """A value made database-ready by its field (for values the same on every row: times, ids…)."""
        return self.fields[name].get_db_prep_save(value, self.connection)

    def new_ids(self, count: int) -> list[int]:
        """`count` unused primary keys (the caller's transaction must hold the table's write lock on SQLite:
        Django opens SQLite transactions IMMEDIATE)."""
        if count == 0:
            return []
        quote = self.connection.ops.quote_name
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [quote(self.table), self.pk_column, count],
                )
                return [row[0] for row in cursor.fetchall()]
            cursor.execute(f"SELECT MAX({quote(self.pk_column)}) FROM {quote(self.table)}")
            top = cursor.fetchone()[0] or 0
            if self.connection.vendor == "sqlite":  # AUTOINCREMENT: never reuse the ids of deleted rows
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [self.table])
                row = cursor.fetchone()
                top = max(top, row[0] if row else 0)
        return list(range(top + 1, top + 1 + count))

    def insert(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        constants = self.constants
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                # the transaction's commit does not wait for its WAL to reach the disk: rows of a re-runnable
                # bulk job (see docs/decisions.md); a crash loses at most the last moment's commits, whole
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
                with cursor.copy(self.sql) as copy:
                    write = copy.write_row
                    for row in rows:
                        write(row + constants)
            else:
                cursor.executemany(self.sql, [row + constants for row in rows])


class NewRatingHistory:
    """The change records of new ratings, written by the database itself: one INSERT ... SELECT per batch
    over the ratings just inserted (joined with their cooperatives for the labels), instead of a row of
    fourteen values sent from here per rating.

    Each record is the one core.services.record_bulk would write for the rating (the same columns; the
    after-snapshot the same JSON text as engine.RowRater's, which is core.services.snapshot(rating):
    the snapshot's fixed text, `parts`, around its six varying values, the decimals written as
    format(d.normalize(), "f") writes them). `constants` are the values the same on every record, in the
    order of the columns before object_id: time, user, user name, request id, source, action, content type;
    then parent type and message."""

    def __init__(
        self,
        parts: Sequence[str],
        using: str = "default",
    ) -> None:
        from hezuo.core.models import ChangeRecord
        from hezuo.core.services import CHANGE_COLUMNS

        from .models import Rating

        self.using = using
        self.parts = tuple(parts)
        connection = connections[using]
        q = connection.ops.quote_name
        meta = ChangeRecord._meta
        self.fields = {name: cast(models.Field[Any, Any], meta.get_field(name)) for name in CHANGE_COLUMNS}
        names = ", ".join(q(field.column) for field in self.fields.values())
        postgres = connection.vendor == "postgresql"
        if postgres:
            param = "%s::text"

            def decimal(column: str) -> str:  # numeric(6, 2): 28.50 -> 28.5, 100.00 -> 100
                return f"trim_scale(r.{q(column)})::text"

            label = f"to_json(c.{q('name')})::text"
            stars = f"coalesce(r.{q('stars')}::text, 'null')"
            where = f"r.{q('id')} = ANY(%s)"
            as_json = "::json"
        else:
            param = "%s"

            def decimal(column: str) -> str:  # what RowRater writes: f"{value:.2f}".rstrip("0").rstrip(".")
                return f"rtrim(rtrim(printf('%%.2f', r.{q(column)}), '0'), '.')"

            label = f"json_quote(c.{q('name')})"
            stars = f"coalesce(r.{q('stars')}, 'null')"
            where = f"r.{q('id')} BETWEEN %s AND %s"
            as_json = ""
        # the seven fixed texts (parameters) around the six values, as RowRater wrote them in Python
        values = [
            f"'{{\"id\":' || r.{q('cooperative_id')} || ',\"label\":' || {label} || '}}'",
            f"'\"' || {decimal('score')} || '\"'",
            f"'\"' || {decimal('score_max')} || '\"'",
            stars,
            f"r.{q('stars_low')}",
            f"r.{q('missing_count')}",
        ]
        after = "(" + " || ".join(f"{param} || {value}" for value in values) + f" || {param}){as_json}"
        self.postgres = postgres
        self.sql = (
            f"INSERT INTO {q(meta.db_table)} ({names}) "
            f"SELECT %s, %s, %s, %s, %s, %s, %s, r.{q('id')},"
            f" substr(c.{q('name')} || ' ' || r.{q('year')}, 1, 200), %s, r.{q('cooperative_id')}, %s, NULL,"
            f" {after}"
            f" FROM {q(Rating._meta.db_table)} r"
            f" JOIN {q(Cooperative._meta.db_table)} c ON c.{q('id')} = r.{q('cooperative_id')}"
            f" WHERE {where} ORDER BY r.{q('id')}"
        )

    def insert(self, ids: Sequence[int], constants: Sequence[Any], parent: Sequence[Any]) -> None:
        """Write the records of the ratings `ids` (just inserted in this transaction; on SQLite consecutive,
        as BulkInsert.new_ids gives them)."""
        if not ids:
            return
        where: list[Any] = [list(ids)] if self.postgres else [ids[0], ids[-1]]
        with connections[self.using].cursor() as cursor:
            cursor.execute(self.sql, [*constants, *parent, *self.parts, *where])
