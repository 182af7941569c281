"""The one way records change: atomic service functions that validate, save and write the history.

Views, API, imports and commands call these; none of them saves a domain record itself.
`save_record` also re-reads the saved row through the acting user's scope and rolls the whole
change back if the user could no longer reach it (moving a cooperative out of one's district).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .context import ChangeContext, current_context
from .models import ChangeRecord, RecordModel
from .scoping import ADD, CHANGE, RETIRE, can, restrict


class ScopeViolation(PermissionDenied):
    """The change would put the record outside the acting user's scope."""


# Follow-up work other apps attach to changes of a model (e.g. the star rating's monitoring re-evaluates a
# cooperative when its facts change). Registered explicitly in an AppConfig.ready(), never by signals;
# run after the transaction commits, so a rolled-back change triggers nothing.
_AFTER_CHANGE: dict[str, list[Callable[[models.Model], Any]]] = defaultdict(list)
_AFTER_BULK: dict[str, list[Callable[[list[int]], Any]]] = defaultdict(list)


def after_change(
    *model_labels: str,
) -> Callable[[Callable[[models.Model], Any]], Callable[[models.Model], Any]]:
    """Register `fn(obj)` to run after each committed single-record change of these models."""

    def register(fn: Callable[[models.Model], Any]) -> Callable[[models.Model], Any]:
        for label in model_labels:
            _AFTER_CHANGE[label.lower()].append(fn)
        return fn

    return register


def after_bulk_change(
    *model_labels: str,
) -> Callable[[Callable[[list[int]], Any]], Callable[[list[int]], Any]]:
    """Register `fn(pks)` to run after a committed bulk change (imports) of these models."""

    def register(fn: Callable[[list[int]], Any]) -> Callable[[list[int]], Any]:
        for label in model_labels:
            _AFTER_BULK[label.lower()].append(fn)
        return fn

    return register


# after-change hooks run once the change is committed, and cannot undo it: a hook that fails is logged
# (django.db.backends.base) and the change stands, rather than the user who made it seeing an error for a
# change that was saved (robust on_commit callbacks)
def _notify(obj: models.Model) -> None:
    for fn in _AFTER_CHANGE.get(obj._meta.label_lower, ()):
        transaction.on_commit(partial(fn, obj), robust=True)


def notify_bulk(model: type[models.Model], pks: Sequence[Any], *, using: str | None = None) -> None:
    """For writers that insert rows without record_bulk (the rating, the detection): run the hooks other
    apps registered for bulk changes of `model` (after_bulk_change) once the transaction commits."""
    for fn in _AFTER_BULK.get(model._meta.label_lower, ()):
        transaction.on_commit(partial(fn, list(pks)), using=using, robust=True)


def _notify_bulk(objs: Sequence[models.Model]) -> None:
    if not objs:
        return
    hooks = _AFTER_BULK.get(objs[0]._meta.label_lower, ())
    if hooks:
        pks = [obj.pk for obj in objs]
        for fn in hooks:
            transaction.on_commit(partial(fn, pks), robust=True)


def _json_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        # plain and canonical: 100000.00 and 100000 both give "100000" (never "1E+5"), 12.50 gives "12.5"
        return format(value.normalize(), "f")
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "name") and hasattr(value, "storage"):  # a file field: its stored name
        return value.name or None
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def snapshot(obj: models.Model) -> dict[str, Any]:
    """A JSON-safe picture of the record's fields, as the change history stores it.

    Foreign keys are stored as {"id": ..., "label": ...} so that the history stays readable
    even when the target is renamed later.
    """
    exclude = set(getattr(obj, "history_exclude", ()))
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in exclude or field.primary_key:
            continue
        if isinstance(field, models.ForeignKey):
            fk_id = getattr(obj, field.attname)
            if fk_id is None:
                data[field.name] = None
            else:
                target = getattr(obj, field.name, None)
                data[field.name] = {"id": fk_id, "label": str(target) if target is not None else str(fk_id)}
        else:
            data[field.name] = _json_value(field.value_from_object(obj))
    return data


def _parent_ref(obj: models.Model) -> tuple[ContentType | None, int | None]:
    parent = obj.history_parent_object() if isinstance(obj, RecordModel) else None
    if parent is None:
        return None, None
    return ContentType.objects.get_for_model(parent), parent.pk


def _record(
    obj: models.Model,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    ctx: ChangeContext,
) -> ChangeRecord:
    parent_type, parent_id = _parent_ref(obj)
    user, user_name = actor(ctx)
    return ChangeRecord(
        time=timezone.now(),
        user=user,
        user_name=user_name,
        request_id=ctx.request_id,
        source=ctx.source,
        action=action,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=obj.pk,
        object_repr=str(obj)[:200],
        parent_type=parent_type,
        parent_id=parent_id,
        message=(ctx.reason or "")[:500],
        before=before,
        after=after,
    )


def _check_scope(obj: models.Model, user: Any, action: str) -> None:
    if user is None or not getattr(user, "pk", None):
        return  # system work (commands, demo data) acts with no user scope
    if not can(user, obj, action):
        raise PermissionDenied(_("You may not do this."))
    qs = restrict(type(obj)._default_manager.filter(pk=obj.pk), user, action)
    if not qs.exists():
        raise ScopeViolation(_("This change would put the record outside your scope."))


def _check_reachable(obj: models.Model, user: Any) -> None:
    """The stored row must be within the user's scope before the change (no pulling a record in)."""
    if user is None or not getattr(user, "pk", None):
        return
    qs = restrict(type(obj)._default_manager.filter(pk=obj.pk), user, CHANGE)
    if not qs.exists():
        raise PermissionDenied(_("You may not do this."))


@transaction.atomic
def save_record(
    obj: RecordModel,
    *,
    before: dict[str, Any] | None = None,
    validate: bool = True,
    ctx: ChangeContext | None = None,
) -> ChangeRecord | None:
    """Create (when `obj.pk` is None) or update `obj`, and record the change.

    `before` is the snapshot taken before the caller changed the instance (required for updates
    whose instance was modified in memory, e.g. by a bound ModelForm). Returns the change record,
    or None when an update changed nothing.
    """
    ctx = ctx or current_context()
    creating = obj.pk is None
    if not creating and before is None:
        fresh = type(obj)._default_manager.get(pk=obj.pk)
        before = snapshot(fresh)
    if not creating:
        _check_reachable(obj, ctx.user)
    if validate:
        obj.full_clean()
    obj.save()
    _check_scope(obj, ctx.user, ADD if creating else CHANGE)
    after = snapshot(obj)
    if creating:
        record = _record(obj, ChangeRecord.Action.CREATE, None, after, ctx)
    else:
        if before == after:
            return None
        record = _record(obj, ChangeRecord.Action.UPDATE, before, after, ctx)
    record.save()
    _notify(obj)
    return record


@transaction.atomic
def retire_record(obj: RecordModel, *, ctx: ChangeContext | None = None) -> ChangeRecord:
    """Retire (soft-delete) a record. Nothing is hard-deleted."""
    ctx = ctx or current_context()
    _check_scope(obj, ctx.user, RETIRE)
    if obj.retired_at is not None:
        raise ValidationError(_("This record is already retired."))
    before = snapshot(obj)
    obj.retired_at = timezone.now()
    obj.save(update_fields=["retired_at", "updated_at"])
    record = _record(obj, ChangeRecord.Action.RETIRE, before, snapshot(obj), ctx)
    record.save()
    _notify(obj)
    return record


@transaction.atomic
def restore_record(obj: RecordModel, *, ctx: ChangeContext | None = None) -> ChangeRecord:
    ctx = ctx or current_context()
    _check_scope(obj, ctx.user, RETIRE)
    before = snapshot(obj)
    obj.retired_at = None
    obj.save(update_fields=["retired_at", "updated_at"])
    record = _record(obj, ChangeRecord.Action.RESTORE, before, snapshot(obj), ctx)
    record.save()
    _notify(obj)
    return record


class _SnapshotPlan:
    """What `snapshot()` reads of one model, worked out once: (name, attname, is_fk, field) per field, and
    a function made for the model that builds the snapshot of an instance holding all of these fields."""

    def __init__(self, model: type[models.Model]) -> None:
        exclude = set(getattr(model, "history_exclude", ()))
        self.fields: list[tuple[str, str, bool, Any]] = []
        for f in model._meta.concrete_fields:
            if f.name in exclude or f.primary_key:
                continue
            # value_from_object is getattr(obj, attname) unless a field overrides it
            plain = type(f).value_from_object is models.Field.value_from_object
            self.fields.append((f.name, f.attname, isinstance(f, models.ForeignKey), None if plain else f))
        self.build = self._compile()

    def _compile(self) -> Callable[[models.Model, dict[str, Any]], dict[str, Any]]:
        """`_fast_snapshot` unrolled for the model: one dict display, no loop over the fields."""
        names: dict[str, Any] = {
            "P": _JSON_PLAIN,
            "J": _json_value,
            "FK": _fk_snapshot,
            "D": decimal.Decimal,
            "DATE": dt.date,
        }
        reads, items = [], []
        for n, (name, attname, is_fk, special) in enumerate(self.fields):
            reads.append(f"    v{n} = s[{attname!r}]")
            if is_fk:
                items.append(f"{name!r}: None if v{n} is None else FK(obj, {name!r}, v{n})")
            elif special is not None:
                names[f"F{n}"] = special
                items.append(f"{name!r}: J(F{n}.value_from_object(obj))")
            else:
                # _json_value's two common cases written out: a Decimal and a date (not a datetime)
                items.append(
                    f"{name!r}: v{n} if v{n}.__class__ in P else format(v{n}.normalize(), 'f') "
                    f"if v{n}.__class__ is D else v{n}.isoformat() if v{n}.__class__ is DATE else J(v{n})"
                )
        source = "def build(obj, s):\n" + "\n".join(reads) + "\n    return {" + ", ".join(items) + "}\n"
        exec(compile(source, f"<snapshot of {self.fields and self.fields[0][0]}>", "exec"), names)
        return names["build"]


def _fk_snapshot(obj: models.Model, name: str, fk_id: Any) -> dict[str, Any]:
    cached = obj._state.fields_cache.get(name, _MISSING)
    target = getattr(obj, name, None) if cached is _MISSING else cached
    return {"id": fk_id, "label": str(target) if target is not None else str(fk_id)}


_PLANS: dict[type[models.Model], _SnapshotPlan] = {}
_JSON_PLAIN = (str, int, bool, float, type(None))


def _plan(model: type[models.Model]) -> _SnapshotPlan:
    plan = _PLANS.get(model)
    if plan is None:
        plan = _PLANS[model] = _SnapshotPlan(model)
    return plan


def fast_snapshot(obj: models.Model) -> dict[str, Any]:
    """`snapshot(obj)`, the same dict, through the model's unrolled plan (for records snapshotted in bulk)."""
    return _fast_snapshot(obj, _plan(type(obj)))


def _fast_snapshot(obj: models.Model, plan: _SnapshotPlan) -> dict[str, Any]:
    """`snapshot(obj)`, the same dict, without walking the model's fields for every record."""
    state = obj.__dict__
    try:
        return plan.build(obj, state)
    except KeyError:  # a deferred field: read through the attributes
        pass
    data: dict[str, Any] = {}
    for name, attname, is_fk, special in plan.fields:
        value = state[attname] if attname in state else getattr(obj, attname)
        if is_fk:
            if value is None:
                data[name] = None
            else:
                cached = obj._state.fields_cache.get(name, _MISSING)
                target = getattr(obj, name, None) if cached is _MISSING else cached
                data[name] = {"id": value, "label": str(target) if target is not None else str(value)}
            continue
        if special is not None:
            value = special.value_from_object(obj)
        data[name] = value if value.__class__ in _JSON_PLAIN else _json_value(value)
    return data


_MISSING = object()
# the history's JSON as the database stores it: compact, and Chinese text as UTF-8 rather than \u escapes
# (what json.dumps gives, read back as the same values)
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _json_encoder(encoder: type[json.JSONEncoder] | None) -> Callable[[Any], str]:
    if encoder is None:
        return _COMPACT_JSON
    return encoder(ensure_ascii=False, separators=(",", ":")).encode


def history_encoder() -> Callable[[Any], str]:
    """The function that encodes a snapshot as the history stores it (compact JSON text), for records whose
    snapshots are made elsewhere (see record_bulk's `afters`)."""
    return _json_encoder(ChangeRecord._meta.get_field("after").encoder)  # type: ignore[attr-defined]


def insert_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: bool = False,
    using: str | None = None,
) -> list[Any]:
    """INSERT prepared values (as `Field.get_db_prep_save` gives them) into `model`'s table, many rows per
    statement. With `returning`, the new primary keys in the order of `rows`. Runs in the caller's
    transaction; no signals, no history (the caller records it)."""
    if not rows:
        return []
    from django.db import connections, router

    alias = using or router.db_for_write(model)
    connection = connections[alias]
    quote = connection.ops.quote_name
    pk = model._meta.pk
    assert pk is not None
    if connection.vendor == "postgresql":
        return _copy_rows(connection, model, columns, rows, returning)
    width = len(columns)
    limit = 30_000
    if connection.vendor == "sqlite":
        import sqlite3

        with connection.cursor():  # make sure the connection is open
            pass
        try:
            limit = min(limit, connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        except (AttributeError, sqlite3.Error):
            limit = 999
    per_statement = max(1, min(1000, limit // max(width, 1)))
    head = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) VALUES "
    one = "(" + ", ".join(["%s"] * width) + ")"
    tail = f" RETURNING {quote(pk.column)}" if returning else ""
    pks: list[Any] = []
    full_sql = ""
    with connection.cursor() as cursor:
        run: Any = cursor.execute
        if connection.vendor == "sqlite":
            # the driver's own cursor, with its own placeholders: Django's wrapper would rewrite every "%s"
            # of these long statements into "?" with a regular expression, statement after statement
            raw = connection.connection.cursor()
            one = one.replace("%s", "?")
            run = raw.execute
            cursor = raw
        for start in range(0, len(rows), per_statement):
            batch = rows[start : start + per_statement]
            if len(batch) == per_statement and full_sql:
                sql = full_sql
            else:
                sql = head + ", ".join([one] * len(batch)) + tail
                if len(batch) == per_statement:
                    full_sql = sql
            params = [value for row in batch for value in row]
            run(sql, params)
            if returning:
                pks.extend(r[0] for r in cursor.fetchall())
        if connection.vendor == "sqlite":
            cursor.close()
    return pks


def _copy_rows(
    connection: Any,
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    returning: bool,
) -> list[Any]:
    """PostgreSQL: COPY the rows in (no SQL text to build, parse or quote per value). New primary keys are
    drawn from the table's own sequence first and written with the rows, so they are known in order."""
    quote = connection.ops.quote_name
    table = model._meta.db_table
    pk = model._meta.pk
    assert pk is not None
    pks: list[Any] = []
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor  # the psycopg cursor
        if returning:
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [quote(table), pk.column])
            sequence = cursor.fetchone()[0]
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [sequence, len(rows)])
            pks = sorted(r[0] for r in cursor.fetchall())
            columns = [pk.column, *columns]
        names = ", ".join(quote(c) for c in columns)
        with cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy:
            if returning:
                for key, row in zip(pks, rows, strict=True):
                    copy.write_row((key, *row))
            else:
                for row in rows:
                    copy.write_row(row)
    return pks


# the history's columns as the bulk writers give them (record_bulk, the rating's and the detection's writers)
CHANGE_COLUMNS = (
    "time",
    "user",
    "user_name",
    "request_id",
    "source",
    "action",
    "content_type",
    "object_id",
    "object_repr",
    "parent_type",
    "parent_id",
    "message",
    "before",
    "after",
)


def actor(ctx: ChangeContext) -> tuple[Any, str]:
    """Who a change record names: the context's user (None for system work) and the name kept with it
    (the user name, or the source, e.g. "cli" or "monitor")."""
    user = ctx.user if getattr(ctx.user, "pk", None) else None
    return user, getattr(user, "username", "") or ctx.source


def history_head(
    action: str, time: Any, *, ctx: ChangeContext | None = None, using: str | None = None
) -> tuple[tuple[Any, ...], str]:
    """What every change record of one bulk write shares, prepared for the database: the values of
    CHANGE_COLUMNS' first six (time, user, user name, request id, source, action), and the reason. The bulk
    writers (record_bulk, the rating's and the detection's) add each record's own values after them."""
    from django.db import connections, router

    ctx = ctx or current_context()
    connection = connections[using or router.db_for_write(ChangeRecord)]
    meta = ChangeRecord._meta
    user, user_name = actor(ctx)
    head = (
        meta.get_field("time").get_db_prep_save(time, connection),
        user.pk if user is not None else None,
        user_name,
        meta.get_field("request_id").get_db_prep_save(ctx.request_id, connection),
        ctx.source,
        meta.get_field("action").get_db_prep_save(action, connection),
    )
    return head, (ctx.reason or "")[:500]


def record_bulk(
    objs: Sequence[models.Model],
    action: str,
    befores: Sequence[dict[str, Any] | None] | None = None,
    *,
    ctx: ChangeContext | None = None,
    batch_size: int = 2000,
    afters: Sequence[str | None] | None = None,
) -> int:
    """History for records written in bulk (imports, generators): one row per changed record.

    `afters`: for new records, each one's after-snapshot already encoded as the history stores it (JSON
    text of snapshot(obj), e.g. made by another process), or None to make it here.

    The caller has already written `objs` inside its own transaction. Unchanged updates are skipped.
    Returns the number of change records written.

    The rows are the ones `_record` builds, inserted with a few multi-row INSERTs (values prepared by
    each field's get_db_prep_save, as bulk_create would); snapshots come from a per-model plan."""
    ctx = ctx or current_context()
    if not objs:
        return 0
    befores = befores or [None] * len(objs)
    if len(befores) != len(objs):
        raise ValueError("record_bulk(): objs and befores differ in length")
    if afters is not None and (len(afters) != len(objs) or action != ChangeRecord.Action.CREATE):
        raise ValueError("record_bulk(): afters are for new records, one per object")
    given = afters or [None] * len(objs)
    meta = ChangeRecord._meta
    fields: list[Any] = [meta.get_field(name) for name in CHANGE_COLUMNS]
    columns: list[str] = [f.column for f in fields]
    before_field, after_field = fields[-2], fields[-1]
    head, message = history_head(action, timezone.now(), ctx=ctx)
    # what JSONField.get_db_prep_save does with a dict (and None is SQL NULL), as JSON text: SQLite stores
    # it as is, PostgreSQL's COPY reads it into jsonb
    encode_before = _json_encoder(before_field.encoder)
    encode_after = _json_encoder(after_field.encoder)
    types: dict[type[models.Model], int] = {}

    def type_id(model: type[models.Model]) -> int:
        found = types.get(model)
        if found is None:
            found = types[model] = ContentType.objects.get_for_model(model).pk
        return found

    rows: list[tuple[Any, ...]] = []
    written = 0
    plans: dict[type[models.Model], _SnapshotPlan] = {}
    for obj, before, encoded in zip(objs, befores, given, strict=True):
        model = type(obj)
        if encoded is None:
            plan = plans.get(model)
            if plan is None:
                plan = plans[model] = _plan(model)
            after = _fast_snapshot(obj, plan)
            if action == ChangeRecord.Action.UPDATE and before == after:
                continue
            encoded = encode_after(after)
        parent = obj.history_parent_object() if isinstance(obj, RecordModel) else None
        rows.append(
            (
                *head,
                type_id(model),
                obj.pk,
                str(obj)[:200],
                type_id(type(parent)) if parent is not None else None,
                parent.pk if parent is not None else None,
                message,
                None if before is None else encode_before(before),
                encoded,
            )
        )
        if len(rows) >= batch_size:
            insert_rows(ChangeRecord, columns, rows)
            written += len(rows)
            rows = []
    if rows:
        insert_rows(ChangeRecord, columns, rows)
        written += len(rows)
    _notify_bulk(objs)
    return written


def history_for(obj: models.Model) -> models.QuerySet[ChangeRecord]:
    """Changes of the object itself and of the records shown under it (its yearly facts, titles…)."""
    ct = ContentType.objects.get_for_model(obj)
    return (
        ChangeRecord.objects.filter(
            models.Q(content_type=ct, object_id=obj.pk) | models.Q(parent_type=ct, parent_id=obj.pk)
        )
        .select_related("content_type", "user")
        .order_by("-time", "-id")
    )


def changed_fields(records: Iterable[ChangeRecord]) -> set[str]:
    names: set[str] = set()
    for record in records:
        names.update(record.diff().keys())
    return names
