"""The importer: a file in, validated row by row exactly like the forms, then written all or nothing.

    outcome = run_import(path, "cooperatives", user, filename="宁海县名录.xlsx", dry_run=True)

Rows are read, checked and written in chunks (HEZUO_IMPORT_CHUNK_ROWS), so memory stays flat whatever the
file's length. Each row is turned into a model instance and checked with the model's own rules: every
field's `clean()` (the checks of `Model.clean_fields`, remembered per distinct value so that a column of
repeated values costs one check) and the model's `clean()`; the credit code goes through
`registry.creditcode.check`, duplicates and scope are checked the way the edit forms check them. Foreign
keys are never taken from the file as ids: divisions are found by name or code, cooperatives by credit code
and organisations by name, each through the user's scope.

A commit writes with bulk_create / `update_rows` and `record_bulk` inside one transaction and one change
context (source "import", reason = the file's name), so the change history names the file under one
request id; any error, or an unconfirmed warning, rolls everything back. The counts returned by a commit
are the rows written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import time
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connections, models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.core.scoping import ADD, CHANGE, VIEW, can, scope_for
from hezuo.core.services import (
    ScopeViolation,
    fast_snapshot,
    history_encoder,
    insert_rows,
    record_bulk,
)
from hezuo.geo.models import Division
from hezuo.registry import creditcode
from hezuo.registry.models import Cooperative, Organization

from . import conf
from .readers import FileProblem, Table, open_table
from .specs import (
    BOOL,
    CHOICE,
    CODE,
    COOPERATIVE_NAME,
    DATE,
    DECIMAL,
    DIVISION,
    DIVISION_PATH,
    INTEGER,
    MONEY,
    ORGANIZATION,
    TEXT,
    YEAR,
    Column,
    Kind,
    get_kind,
    split_header,
)
from .values import (
    CellError,
    clean_text,
    is_empty,
    normalize,
    parse_bool,
    parse_date,
    parse_decimal,
    parse_integer,
    parse_text,
    parse_year,
)

MEMO_SIZE = 4096  # distinct values remembered per field (repeated values are the common case)
EMPTY = object()  # an empty cell in a column the file has
TOTAL_WORDS = {"合计", "总计", "小计", "合 计", "total"}
# columns that are expected in such files and carry nothing to import (serial numbers, our error reports)
IGNORED_HEADERS = {normalize(h) for h in ("序号", "编号", "行号", "错误原因", "原始行号", "no.", "#")}


@dataclass
class Problem:
    row: int | None  # the row number in the file (None: the file as a whole)
    column: str  # the column's header as in the file
    message: str
    level: str = "error"  # error or warning

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message, "level": self.level}


@dataclass
class Binding:
    index: int  # the cell's position in the row
    column: Column
    unit: str | None
    header: str  # as written in the file


@dataclass
class Outcome:
    kind: str
    dry_run: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rows: int = 0
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    error_count: int = 0
    warning_count: int = 0
    error_rows: set[int] = field(default_factory=set)
    fatal: str = ""
    notices: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)  # header -> column key ("" = ignored)
    unmatched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # required column keys the file lacks
    sheet: str = ""
    header_row: int = 0
    written: bool = False
    request_id: uuid.UUID | None = None
    reader_wait: float = 0.0  # seconds spent waiting for the reader process's rows (0: no reader)

    @property
    def ok(self) -> bool:
        return not self.fatal and not self.error_count

    @property
    def needs_mapping(self) -> bool:
        return bool(self.missing or self.unmatched)


# ---------------------------------------------------------------------------------------------------------
def match_headers(
    kind: Kind, headers: list[str], override: dict[str, str] | None = None
) -> tuple[list[Binding], list[str], list[str], list[str]]:
    """Bind the file's columns to the kind's columns.

    Returns (bindings, unmatched headers, missing required column keys, problems). `override` maps a header
    (as in the file) to a column key, or to "" to ignore the column.
    """
    override = override or {}
    bindings: list[Binding] = []
    unmatched: list[str] = []
    problems: list[str] = []
    for index, header in enumerate(headers):
        if not header:
            continue
        if header in override:
            key = override[header]
            if not key:
                continue
            try:
                column = kind.column(key)
            except KeyError:
                unmatched.append(header)
                continue
            # the unit the file's own header states (注册资本（元）: yuan), else the column's
            stated = split_header(header)[1]
            unit = stated if column.type == MONEY and stated else column.unit
            bindings.append(Binding(index, column, unit, header))
            continue
        column_or_none, unit = kind.match(header)
        if column_or_none is None:
            if normalize(header) not in IGNORED_HEADERS:
                unmatched.append(header)
        else:
            bindings.append(Binding(index, column_or_none, unit, header))
    seen: dict[str, Binding] = {}
    for binding in bindings:
        other = seen.get(binding.column.key)
        if other is not None:
            problems.append(
                _(
                    "The columns %(first)s and %(second)s both mean %(meaning)s; map one of them to another "
                    "column "
                    'or to "ignore".'
                )
                % {"first": other.header, "second": binding.header, "meaning": binding.column.title}
            )
        seen[binding.column.key] = binding
    bound = set(seen)
    missing = []
    for column in kind.required:
        if column.key in bound:
            continue
        if column.key in ("district", "town") and (
            DIVISION_PATH in bound or (column.key == "district" and "town" in bound)
        ):
            continue
        missing.append(column.key)
    return bindings, unmatched, missing, problems


def header_score(kind: Kind) -> Callable[[list[Any]], int]:
    def score(cells: list[Any]) -> int:
        found = set()
        for cell in cells:
            if isinstance(cell, str) and cell.strip():
                column, _unit = kind.match(cell)
                if column is not None:
                    found.add(column.key)
        return len(found)

    return score


# ---------------------------------------------------------------------------------------------------------
CONTAINERS = (str, list, tuple, dict)
EMPTY_VALUES = models.Field.empty_values


class FieldChecker:
    """The checks of `Model.clean_fields()` on the model's own fields.

    A field's clean() depends on the value only (foreign keys, which look at the database, are resolved
    through the user's scope instead). The common cases are decided without the call: a value of the
    field's own Python type (str in a CharField, int in an integer field, a finite Decimal in a
    DecimalField, bool, date) passes `clean()` unchanged exactly when the field's validators and its
    choices accept it, so those are checked directly (comparisons for min/max/length validators, the
    validator itself otherwise). Anything else, and every value that fails, goes through `field.clean()`
    (remembered per distinct value), which gives the error messages: the fast checks only ever say "valid
    as it is", never a verdict `clean()` would not give (tests compare both on random values)."""

    def __init__(self, model: type[models.Model], constants: dict[str, Any] | None = None) -> None:
        self.fields = [f for f in model._meta.fields if not f.is_relation and not f.primary_key]
        self.memo: dict[str, dict[Any, tuple[bool, Any]]] = {f.name: {} for f in self.fields}
        self.plan = [
            (f, f.attname, f.blank, f.empty_values, self.memo[f.name], fast_check(f)) for f in self.fields
        ]
        self.compiled = self._compile(constants or {})

    def check(self, obj: models.Model) -> dict[str, list[str]]:
        """The errors of the instance's fields by field name (like `clean_fields`); cleaned values that
        differ from the given ones are set on the instance."""
        try:
            return self.compiled(obj, obj.__dict__)
        except KeyError:  # a deferred field: through the attributes
            return self.check_each(obj)

    @staticmethod
    def passes(blank: bool, empty: Any, fast: Callable[[Any], bool] | None, value: Any) -> bool:
        """The value passes the field's checks as it is, without `clean()`: blank and empty, or `fast`."""
        if blank and (
            value is None or ((value.__class__ in CONTAINERS or empty is not EMPTY_VALUES) and value in empty)
        ):
            return True
        return fast is not None and fast(value)

    def _compile(self, constants: dict[str, Any]) -> Callable[[models.Model, dict[str, Any]], Any]:
        """`check_each` unrolled for the model: one function, no loop over the fields, the empty test
        written for each field, and the fields that still hold their (constant) default, which passes
        the checks, skipped by identity (a new row sets a dozen of a model's forty fields)."""
        names: dict[str, Any] = {"CONTAINERS": CONTAINERS, "SLOW": self.slow, "setattr": setattr}
        lines = ["def check(obj, s):", "    errors = {}"]
        for n, (f, attname, blank, empty, memo, fast) in enumerate(self.plan):
            names[f"F{n}"], names[f"M{n}"], names[f"E{n}"], names[f"Q{n}"] = f, memo, empty, fast
            lines.append(f"    v = s[{attname!r}]")
            tests = []
            if attname in constants:
                constant = constants[attname]
                try:
                    ok = self.passes(blank, empty, fast, constant)
                except Exception:  # an odd default: checked like any value
                    ok = False
                if ok:
                    names[f"K{n}"] = constant
                    tests.append(f"v is K{n}")
            if blank:
                if empty is EMPTY_VALUES:
                    tests.append(f"v is None or (v.__class__ in CONTAINERS and v in E{n})")
                else:
                    tests.append(f"v is None or v in E{n}")
            if fast is not None:
                tests.append(f"Q{n}(v)")
            condition = " or ".join(f"({t})" for t in tests) or "False"
            lines += [
                f"    if not ({condition}):",
                f"        ok, value = SLOW(F{n}, obj, v, M{n})",
                "        if ok:",
                f"            setattr(obj, {attname!r}, value)",
                "        else:",
                f"            errors[{f.name!r}] = value",
            ]
        lines.append("    return errors")
        source = "\n".join(lines) + "\n"
        exec(
            compile(source, f"<field checks of {self.fields and self.fields[0].model.__name__}>", "exec"),
            names,
        )
        return names["check"]  # type: ignore[no-any-return]

    def check_each(self, obj: models.Model) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        state = obj.__dict__
        for f, attname, blank, empty, memo, fast in self.plan:
            raw = state[attname] if attname in state else getattr(obj, attname)
            # `raw in f.empty_values`, comparing only where it can hold (Django's list: None, "", [], (), {})
            if blank and (
                raw is None or ((raw.__class__ in CONTAINERS or empty is not EMPTY_VALUES) and raw in empty)
            ):
                continue
            if fast is not None and fast(raw):
                continue
            result = self.slow(f, obj, raw, memo)
            ok, value = result
            if ok:
                setattr(obj, f.attname, value)
            else:
                errors[f.name] = value
        return errors

    def slow(
        self, f: Any, obj: models.Model, raw: Any, memo: dict[Any, tuple[bool, Any]]
    ) -> tuple[bool, Any]:
        """`f.clean(raw)`: (True, the cleaned value) or (False, the messages); remembered per value."""
        key: tuple[Any, Any] | None = (raw.__class__, str(raw) if raw.__class__ is Decimal else raw)
        try:
            result = memo.get(key)
        except TypeError:  # an unhashable value
            key, result = None, None
        if result is None:
            try:
                result = (True, f.clean(raw, obj))
            except ValidationError as exc:
                result = (False, [m for e in exc.error_list for m in e.messages])
            if key is not None and len(memo) < MEMO_SIZE:
                memo[key] = result
        return result


_STRING_FIELDS = (models.CharField, models.TextField)


def fast_check(f: Any) -> Callable[[Any], bool] | None:
    """A predicate that is True only for values that `f.clean()` accepts and returns unchanged (see
    FieldChecker); None when the field's kind has no such shortcut."""
    from django.core import validators as v

    kind = type(f)  # Django's own classes only (a subclass may change to_python or validate)
    if kind in _STRING_FIELDS:
        own: tuple[type, ...] = (str,)
    elif kind in INTEGER_FIELDS:
        own = (int,)
    elif kind is models.DecimalField:
        own = (Decimal,)
    elif kind is models.BooleanField:
        own = (bool,)
    elif kind is models.DateField:
        own = (dt.date,)
    else:  # datetimes (aware/naive conversions), JSON, files…: always through clean()
        return None
    choices: frozenset[Any] | None = None
    if f.choices is not None:
        flat: set[Any] = set()
        for key, label in f.choices:
            if isinstance(label, list | tuple):
                flat.update(k for k, _label in label)
            else:
                flat.add(key)
        try:
            choices = frozenset(flat)
        except TypeError:
            return None
    editable = f.editable
    blank = f.blank
    empty = f.empty_values
    low: list[Any] = []
    high: list[Any] = []
    longest: list[Any] = []
    shortest: list[Any] = []
    no_nul = False
    digit_limits: list[tuple[int | None, int | None]] = []
    others: list[Any] = []
    for validator in f.validators:
        limit = getattr(validator, "limit_value", None)
        vk = type(validator)
        if vk is v.MinValueValidator and not callable(limit):
            low.append(limit)
        elif vk is v.MaxValueValidator and not callable(limit):
            high.append(limit)
        elif vk is v.MaxLengthValidator and not callable(limit):
            longest.append(limit)
        elif vk is v.MinLengthValidator and not callable(limit):
            shortest.append(limit)
        elif vk is v.ProhibitNullCharactersValidator:
            no_nul = True
        elif vk is v.DecimalValidator and own == (Decimal,):
            digit_limits.append((validator.max_digits, validator.decimal_places))
        else:
            others.append(validator)
    floor = max(low) if low else None
    ceiling = min(high) if high else None
    max_len = min(longest) if longest else None
    min_len = max(shortest) if shortest else None
    is_decimal = kind is models.DecimalField
    is_text = kind in _STRING_FIELDS
    custom_empty = empty is not EMPTY_VALUES and list(empty) != list(EMPTY_VALUES)

    def check(value: Any) -> bool:
        if value.__class__ not in own:
            return False
        try:
            return valid(value)
        except (TypeError, ValueError, ArithmeticError):  # a comparison that does not hold: clean() says
            return False

    def valid(value: Any) -> bool:
        if is_decimal and not value.is_finite():
            return False
        # `value in f.empty_values` (None, "", [], (), {} unless the field says otherwise) can hold for a
        # string only (a number compared with "" would go through the numbers ABCs for nothing)
        if (is_text or custom_empty) and value in empty:
            # validate(): an empty value is an error unless blank; run_validators() skips it
            return editable is False or (blank and value is not None)
        if editable and choices is not None and value not in choices:
            return False
        if floor is not None and value < floor:
            return False
        if ceiling is not None and value > ceiling:
            return False
        if max_len is not None and len(value) > max_len:
            return False
        if min_len is not None and len(value) < min_len:
            return False
        if no_nul and "\x00" in value:
            return False
        if digit_limits:  # DecimalValidator's arithmetic (the value is finite)
            _sign, digit_tuple, exponent = value.as_tuple()
            count = len(digit_tuple)
            if exponent >= 0:
                digits = count + exponent if digit_tuple != (0,) else count
                decimals = 0
            elif -exponent > count:
                digits = decimals = -exponent
            else:
                digits, decimals = count, -exponent
            for max_digits, places in digit_limits:
                if max_digits is not None and digits > max_digits:
                    return False
                if places is not None and decimals > places:
                    return False
                if max_digits is not None and places is not None and digits - decimals > max_digits - places:
                    return False
        for validator in others:
            try:
                validator(value)
            except ValidationError:
                return False
        return True

    return check


class Blank:
    """New instances of a model as `Model()` makes them (every field at its default), without the per-field
    work of Model.__init__ for each row: constant defaults are worked out once, callable ones per row.
    Models with pre_init/post_init receivers are made with `Model()`."""

    def __init__(self, model: type[models.Model]) -> None:
        from django.db.models import signals

        self.model = model
        self.plain = not (signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model))
        self.constant: dict[str, Any] = {}
        self.per_row: list[Any] = []
        self.fields: dict[str, Any] = {}
        for f in model._meta.fields:  # as Model.__init__ goes through them
            if f.column is None or f.generated:
                continue
            if f.has_default() and callable(f.default):
                self.per_row.append(f)
            else:
                self.constant[f.attname] = f.get_default()

    def relate(self, obj: Any, name: str, target: models.Model) -> None:
        """`obj.<name> = target` for a new instance: what the foreign key's descriptor does (the id and
        the cached object), without its checks per row (the target is a saved row of the right model)."""
        if not self.plain:
            setattr(obj, name, target)
            return
        field: Any = self.fields.get(name)
        if field is None:
            field = self.fields[name] = self.model._meta.get_field(name)
            assert isinstance(field, models.ForeignKey) and field.target_field.attname == "id"
        assert isinstance(target, field.related_model)
        obj.__dict__[field.attname] = target.pk
        obj._state.fields_cache[field.name] = target

    def new(self) -> Any:
        model = self.model
        if not self.plain:
            return model()
        from django.db.models.base import ModelState

        obj = model.__new__(model)
        obj._state = ModelState()
        obj.__dict__.update(self.constant)
        for f in self.per_row:
            obj.__dict__[f.attname] = f.get_default()
        return obj


class Light:
    """Saved instances made from `values_list` rows of some of the model's fields, as `.only(...)` would
    give them (the other fields deferred), without Model.from_db's per-row work."""

    def __init__(self, model: type[models.Model], fields: tuple[str, ...], db: str) -> None:
        from django.db.models import signals

        self.model = model
        self.attnames = [_concrete(model, f).attname for f in fields]
        self.fields = fields
        self.db = db
        self.plain = not (signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model))

    def __call__(self, values: tuple[Any, ...]) -> Any:
        model = self.model
        if not self.plain:
            return model.from_db(self.db, self.attnames, values)
        from django.db.models.base import ModelState

        obj = model.__new__(model)
        state = obj._state = ModelState()
        state.adding = False
        state.db = self.db
        obj.__dict__.update(zip(self.attnames, values, strict=True))
        return obj


class Divisions:
    """Divisions by code, by name within their parent, and by path ("宁海县 跃龙街道")."""

    SEPARATORS = str.maketrans({c: " " for c in "/／>›-—－|，,、"})

    def __init__(self) -> None:
        self.by_code: dict[str, Division] = {}
        self.by_id: dict[int, Division] = {}
        self.by_parent: dict[tuple[int | None, str], Division] = {}
        self.by_level_name: dict[tuple[str, str], list[Division]] = defaultdict(list)
        self.cities: set[str] = set()
        for d in Division.objects.all().only("id", "code", "name", "level", "parent_id", "district_id"):
            self.by_code[d.code] = d
            self.by_id[d.pk] = d
            if d.level == Division.Level.CITY:
                self.cities.add(normalize(d.name))
                continue
            self.by_parent[(d.parent_id, normalize(d.name))] = d
            self.by_level_name[(d.level, normalize(d.name))].append(d)
            if d.level == Division.Level.DISTRICT and len(d.name) > 2 and d.name[-1] in "区县市":
                self.by_level_name[(d.level, normalize(d.name[:-1]))].append(d)
        self.memo: dict[tuple[str, str, int | None], Division | str] = {}

    def chain(self, division: Division) -> dict[str, Division]:
        """The division and its parents by level: {"district": ..., "town": ..., "village": ...}."""
        found: dict[str, Division] = {}
        node: Division | None = division
        while node is not None and node.level != Division.Level.CITY:
            found[node.level] = node
            node = self.by_id.get(node.parent_id) if node.parent_id else None
        return found

    def resolve(self, text: str, level: str | None, within: Division | None = None) -> Division:
        """The division a cell names (raises CellError). `level` None accepts any level (a path column)."""
        key = (text, level or "", within.pk if within is not None else None)
        found = self.memo.get(key)
        if found is None:
            try:
                found = self._resolve(text, level, within)
            except CellError as exc:
                found = str(exc)
            self.memo[key] = found
        if isinstance(found, str):
            raise CellError(found)
        return found

    def _resolve(self, text: str, level: str | None, within: Division | None) -> Division:
        value = unicodedata.normalize("NFKC", text).lower().translate(self.SEPARATORS)
        compact = re.sub(r"\s+", "", value)
        if compact.isdigit():
            division = self.by_code.get(compact)
            if division is None:
                raise CellError(_("No division has the code %(code)s.") % {"code": compact})
            if level and division.level != level:
                raise CellError(
                    _("%(code)s is the code of %(name)s, a %(found)s, not a %(level)s.")
                    % {
                        "code": compact,
                        "name": division.name,
                        "found": division.get_level_display(),
                        "level": Division.Level(level).label,
                    }
                )
            return division
        parts = value.split()
        if parts and parts[0] in self.cities and len(parts) > 1:
            parts = parts[1:]
        if len(parts) > 1:
            node = self._one(parts[0], Division.Level.DISTRICT, None)
            for part in parts[1:]:
                child = self.by_parent.get((node.pk, part))
                if child is None:
                    raise CellError(
                        _("%(parent)s has no division named %(name)s.") % {"parent": node.name, "name": part}
                    )
                node = child
            if level and node.level != level:
                raise CellError(
                    _("%(name)s is a %(found)s, not a %(level)s.")
                    % {"name": text, "found": node.get_level_display(), "level": Division.Level(level).label}
                )
            return node
        name = parts[0] if parts else compact
        if level is None:
            for candidate_level in (Division.Level.DISTRICT, Division.Level.TOWN, Division.Level.VILLAGE):
                if self.by_level_name.get((candidate_level, name)):
                    return self._one(name, candidate_level, within)
            raise CellError(_("No division is named %(name)s.") % {"name": text})
        return self._one(name, level, within)

    def _one(self, name: str, level: str, within: Division | None) -> Division:
        if within is not None and level != Division.Level.DISTRICT:
            found = self.by_parent.get((within.pk, name))
            if found is None and level == Division.Level.VILLAGE and within.level == Division.Level.DISTRICT:
                found = next(
                    (d for d in self.by_level_name.get((level, name), []) if d.district_id == within.pk), None
                )
            if found is None or found.level != level:
                raise CellError(
                    _("%(parent)s has no %(level)s named %(name)s.")
                    % {"parent": within.name, "level": Division.Level(level).label, "name": name}
                )
            return found
        candidates = self.by_level_name.get((level, name), [])
        if not candidates:
            raise CellError(
                _("No %(level)s is named %(name)s.") % {"level": Division.Level(level).label, "name": name}
            )
        if len(candidates) > 1:
            raise CellError(
                _("Several divisions are named %(name)s; give the district too or the code.") % {"name": name}
            )
        return candidates[0]


class Organizations:
    """The system's units the user may see, by name (for sponsors and federations)."""

    def __init__(self, user: Any, federations_only: bool) -> None:
        qs = Organization.objects.restrict(user, VIEW).filter(retired_at__isnull=True)
        if federations_only:
            qs = qs.filter(kind__startswith="federation")
        self.by_name: dict[str, list[Organization]] = defaultdict(list)
        for org in qs.only("id", "name", "kind", "district_id"):
            self.by_name[normalize(org.name)].append(org)

    def resolve(self, text: str) -> Organization:
        found = self.by_name.get(normalize(text), [])
        if not found:
            raise CellError(
                _("No unit named %(name)s is registered on the platform (in your scope).") % {"name": text}
            )
        if len(found) > 1:
            raise CellError(_("Several units are named %(name)s; rename one of them first.") % {"name": text})
        return found[0]


class _Everything:
    """A set that holds everything: `x & EVERYTHING` is x."""

    def __rand__(self, other: set[Any]) -> set[Any]:
        return other


EVERYTHING = _Everything()


# ---------------------------------------------------------------------------------------------------------
@dataclass
class Row:
    number: int
    cells: list[Any]
    values: dict[str, Any] = field(default_factory=dict)
    has_error: bool = False
    # columns whose cell could not be read: the row is still checked (to report its other problems at once)
    # but never written
    bad_cells: set[str] | None = None
    empty: bool = False  # some cell of the row is empty (its value is EMPTY)
    obj: Any = None
    before: dict[str, Any] | None = None
    before_values: dict[str, Any] | None = None
    changed: tuple[str, ...] = ()
    checked: bool = False  # the reader process found that the values of a new record pass the field checks
    after_json: str | None = None  # and wrote its history's snapshot (the cooperative left to fill in)


class Importer:
    def __init__(
        self,
        kind: Kind,
        user: Any,
        *,
        dry_run: bool,
        confirm_warnings: bool,
        filename: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.kind = kind
        self.model = kind.model
        self.user = user
        self.dry_run = dry_run
        self.confirm_warnings = confirm_warnings
        self.filename = filename
        self.progress = progress
        self.outcome = Outcome(kind.name, dry_run)
        self.scope = scope_for(user)
        self.can_add = can(user, self.model, ADD)
        self.can_change = can(user, self.model, CHANGE)
        self.seen: dict[tuple[Any, ...], int] = {}
        self.max_problems = conf.max_problems()
        self.bindings: list[Binding] = []
        self.by_key: dict[str, Binding] = {}
        self.divisions: Divisions | None = None
        self.organizations: Organizations | None = None
        self.labels: dict[str, dict[str, str]] = {}
        self.apply_plans: dict[str, tuple[Any, str, bool]] = {}
        self.fast_apply: dict[tuple[str, ...], Any] = {}
        self.blank = Blank(self.model)
        self.checker = FieldChecker(self.model, self.blank.constant if self.blank.plain else None)
        self.blocked = False  # nothing more is written once a row fails (the transaction rolls back)
        self.parent_cache: dict[str, Cooperative | None] = {}
        self.holder_ids: Any = None
        self.estimated_rows = 0
        self.parent_names: dict[int, str] = {}

    # problems ---------------------------------------------------------------------------------------------
    def error(self, row: Row | None, column: str, message: str) -> None:
        out = self.outcome
        out.error_count += 1
        if row is not None:
            row.has_error = True
            if len(out.error_rows) < self.max_problems:
                out.error_rows.add(row.number)
        if len(out.errors) < self.max_problems:
            out.errors.append(Problem(row.number if row else None, column, str(message)))
        self.blocked = True

    def cell_error(self, row: Row, column: str, message: str, key: str) -> None:
        """A cell that could not be read. A key column stops the row at once; another one lets the row be
        checked on (its other problems are reported in the same pass) and keeps it from being written."""
        self.error(row, column, message)
        if key not in self.kind.key:
            row.has_error = False
            if row.bad_cells is None:
                row.bad_cells = set()
            row.bad_cells.add(key)

    def warning(self, row: Row, column: str, message: str) -> None:
        out = self.outcome
        out.warning_count += 1
        if len(out.warnings) < self.max_problems:
            out.warnings.append(Problem(row.number, column, str(message), "warning"))
        if not self.confirm_warnings and not self.dry_run:
            self.blocked = True

    def header_for(self, field_name: str) -> str:
        binding = self.by_key.get(field_name)
        if binding is not None:
            return binding.header
        if field_name == NON_FIELD_ERRORS:
            return ""
        for column in self.kind.columns:
            if column.key == field_name:
                return column.title
        try:
            model_field: Any = self.model._meta.get_field(field_name)
            return str(model_field.verbose_name)
        except Exception:
            return field_name

    # the run ----------------------------------------------------------------------------------------------
    def run(self, table: Table, override: dict[str, str] | None) -> Outcome:
        out = self.outcome
        out.headers, out.sheet, out.header_row = table.headers, table.sheet, table.header_row
        out.notices.extend(table.notices)
        bindings, unmatched, missing, problems = match_headers(self.kind, table.headers, override)
        self.bindings = bindings
        self.by_key = {b.column.key: b for b in bindings}
        out.mapping = {b.header: b.column.key for b in bindings}
        for header, key in (override or {}).items():
            if not key and header in table.headers:
                out.mapping[header] = ""
        out.unmatched = unmatched
        out.missing = missing
        if unmatched:
            out.notices.append(
                _("These columns match nothing and were ignored: %(columns)s.")
                % {"columns": "、".join(unmatched)}
            )
        if problems:
            out.fatal = " ".join(problems)
            return out
        if missing:
            names = "、".join(self.kind.column(k).title for k in missing)
            out.fatal = _(
                "Required columns are missing: %(columns)s. Check the header row (row %(row)d), or map "
                "the file's columns below."
            ) % {"columns": names, "row": table.header_row}
            return out
        if not self.can_add and not self.can_change:
            out.fatal = _("You may not import %(kind)s.") % {"kind": self.kind.label}
            return out
        if any(b.column.type == DIVISION for b in bindings):
            self.divisions = Divisions()
        if any(b.column.type == ORGANIZATION for b in bindings):
            self.organizations = Organizations(self.user, federations_only=self.kind.name == "memberships")
        chunk_size = conf.chunk_rows()
        self.estimated_rows = table.estimated_rows
        total = max(table.estimated_rows, 1)
        rows_iter = self._rows(table)
        with change_context(user=self.user, source="import", reason=self.filename[:500]) as ctx:
            out.request_id = ctx.request_id
            parallel = self.parallel(table)

            def loop() -> None:
                if parallel:
                    self.loop_parallel(table, chunk_size, total)
                else:
                    self.loop(rows_iter, chunk_size, total)

            if self.dry_run:
                loop()
            else:
                with transaction.atomic():
                    loop()
                    if self.blocked or not out.rows:
                        transaction.set_rollback(True)
                    else:
                        out.written = True
        if not self.dry_run and not out.written:
            out.created = out.updated = out.unchanged = 0
            if not out.error_count and out.warning_count and not self.confirm_warnings:
                out.fatal = _("The file has warnings: read them and confirm them to import it.")
        if out.rows == 0 and not out.fatal:
            out.fatal = _("The file has a header row but no data rows.")
        # by row (a chunk checks its cells, then its keys, then each record): stable, so a row's problems keep
        # the order they were found in
        out.errors.sort(key=lambda p: p.row or 0)
        out.warnings.sort(key=lambda p: p.row or 0)
        return out

    def loop(self, rows_iter: Iterator[Row], chunk_size: int, total: int) -> None:
        while True:
            chunk = list(islice(rows_iter, chunk_size))
            if not chunk:
                break
            self.process(chunk)
            if self.progress is not None:
                self.progress(min(self.outcome.rows, total), total)

    # reading in a second process ---------------------------------------------------------------------------
    def parallel(self, table: Table) -> bool:
        """Whether a worker process reads and parses the file's rows while this one looks them up, checks
        and writes them: a long file (HEZUO_IMPORT_PARALLEL_ROWS) of records under a cooperative whose
        checks and history the reader can prepare (`precheck`), two cores or more, the fork start method
        (the worker is a copy of this process: no pickling of the importer, no new interpreter)."""
        threshold = conf.parallel_rows()
        if not threshold or table.estimated_rows < threshold or table.formula_cells:
            return False
        if not self.precheck():
            # cooperatives (and records naming organisations): what the reader would take over, the cells'
            # parsing, costs about what handing the rows over costs (measured: no gain on 50,000 rows)
            return False
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
        if cores < 2:
            return False
        import multiprocessing

        return "fork" in multiprocessing.get_all_start_methods()

    def loop_parallel(self, table: Table, chunk_size: int, total: int) -> None:
        """`loop` with the rows read by a worker process (see `produce`): chunk after chunk, the worker
        parses the next one while this process handles the current one. The worker's chunks are the
        ones `loop` makes, and its cell problems and notices are replayed here in the order `_rows` finds
        them, so the outcome is the same. At most two chunks are in flight (a pipe: the worker waits for
        this process to take a chunk before it sends the next), so memory stays flat."""
        import multiprocessing
        import pickle

        from django.utils import translation

        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        worker = context.Process(
            target=self.produce,
            args=(table, sender, chunk_size, translation.get_language()),
            name="hezuo-import-reader",
            daemon=True,
        )
        worker.start()
        sender.close()
        table.release()  # the worker has its own copy of the cells
        out = self.outcome
        try:
            while True:
                waited = time.perf_counter()
                try:
                    message = pickle.loads(receiver.recv_bytes())
                    out.reader_wait += time.perf_counter() - waited
                except EOFError:
                    raise RuntimeError("The import's reader process stopped.") from None
                if message is None:
                    break
                if isinstance(message, str):
                    raise RuntimeError(f"The import's reader process failed:\n{message}")
                records, events, notices = message
                out.notices.extend(notices)
                chunk = []
                for number, values, empty_keys, after_json in records:
                    row = Row(number, [], values)
                    if empty_keys:
                        for key in empty_keys:
                            values[key] = EMPTY
                        row.empty = True
                    for column, text, key in events.get(number, ()):
                        if key is None:
                            self.error(row, column, text)
                        else:
                            self.cell_error(row, column, text, key)
                    if after_json is not None:
                        row.checked = True
                        row.after_json = after_json
                    chunk.append(row)
                out.rows += len(chunk)
                self.process(chunk)
                if self.progress is not None:
                    self.progress(min(out.rows, total), total)
        finally:
            receiver.close()
            if worker.is_alive():
                worker.terminate()
            worker.join()

    def precheck(self) -> bool:
        """Whether the reader process checks the fields of new records and writes their history's snapshot:
        for records under a cooperative (the only field not from the file is the cooperative itself), when
        no column names an organisation or a division (looked up in this process)."""
        parent = next((f for f in self.model._meta.fields if f.name == PARENT), None)
        return bool(
            self.kind.child
            and isinstance(parent, models.ForeignKey)
            and parent.related_model is Cooperative
            and self.blank.plain
            and not any(b.column.type in (ORGANIZATION, DIVISION) for b in self.bindings)
        )

    def produce(self, table: Table, sender: Any, chunk_size: int, language: str | None) -> None:
        """In the worker process: `_rows` in chunks of `chunk_size`, each sent as (records, cell problems
        by row number, new notices); then None, or the traceback of a failure. For yearly facts and the
        other records under a cooperative, a new record's field checks (FieldChecker, which depend on the
        row's values only) are done here too: `checked` says the values pass them as they are."""
        import pickle
        import traceback

        from django.utils import translation

        try:
            if language:
                translation.activate(language)
            events: dict[int, list[tuple[str, str, str | None]]] = defaultdict(list)
            muted = [False]

            def error(row: Row | None, column: str, message: str) -> None:
                if row is not None:
                    row.has_error = True
                    if not muted[0]:
                        events[row.number].append((column, str(message), None))

            def cell_error(row: Row, column: str, message: str, key: str) -> None:
                row.has_error = True
                events[row.number].append((column, str(message), key))

            self.error = error  # type: ignore[method-assign]
            self.cell_error = cell_error  # type: ignore[method-assign]
            precheck = self.precheck()
            encode_after = history_encoder()
            notices = self.outcome.notices
            sent_notices = len(notices)
            rows_iter = self._rows(table)
            while True:
                chunk = list(islice(rows_iter, chunk_size))
                if not chunk:
                    break
                records = []
                for row in chunk:
                    values = row.values
                    empty_keys = None
                    checked = False
                    after_json = None
                    if precheck and not row.has_error:
                        scratch = self.blank.new()
                        muted[0] = True
                        self.apply(row, scratch)
                        muted[0] = False
                        state = scratch.__dict__
                        before = dict(state)
                        checked = not row.has_error and not self.checker.check(scratch) and state == before
                        if checked:  # its history's "after", but for the cooperative (see `record_new`)
                            after = fast_snapshot(scratch)
                            after[PARENT] = PARENT_PLACEHOLDER
                            after_json = encode_after(after)
                    if row.empty:
                        empty_keys = [k for k, v in values.items() if v is EMPTY]
                        for key in empty_keys:
                            values[key] = None
                    records.append((row.number, values, empty_keys, after_json if checked else None))
                message = (records, dict(events), notices[sent_notices:])
                sent_notices = len(notices)
                events.clear()
                sender.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
            sender.send_bytes(pickle.dumps(None))
        except BaseException:
            with contextlib.suppress(Exception):
                sender.send_bytes(pickle.dumps(traceback.format_exc()))
        finally:
            sender.close()

    def _rows(self, table: Table) -> Iterator[Row]:
        first_key = self.kind.key[0]
        key_binding = self.by_key.get(first_key)
        formula_cells = table.formula_cells
        plan = [(b, b.index, b.column.key, self.parser(b)) for b in self.bindings]
        parse_cells = None if formula_cells else self.cell_parser(plan)
        for number, cells in table.rows():
            row = Row(number, cells)
            width = len(cells)
            if key_binding is not None:
                key_cell = cells[key_binding.index] if key_binding.index < width else None
                if is_empty(key_cell):
                    first = next((c for c in cells if not is_empty(c)), None)
                    if isinstance(first, str) and normalize(first) in TOTAL_WORDS:
                        self.outcome.notices.append(
                            _("Row %(row)d is a total row and was ignored.") % {"row": number}
                        )
                        continue
            values = row.values
            if parse_cells is not None:
                parse_cells(row, cells, values)
                self.outcome.rows += 1
                yield row
                continue
            for binding, index, key, parser in plan:
                if formula_cells and (number, index) in formula_cells:
                    self.error(
                        row,
                        binding.header,
                        _(
                            "The cell holds a formula with no computed value: open the "
                            "file in Excel, save it, and upload it again."
                        ),
                    )
                    continue
                raw = cells[index] if index < width else None
                if raw is None or (isinstance(raw, str) and not raw.strip()):  # is_empty(raw)
                    values[key] = EMPTY
                    row.empty = True
                    continue
                try:
                    values[key] = parser(raw)
                except CellError as exc:
                    self.cell_error(row, binding.header, str(exc), key)
            self.outcome.rows += 1
            yield row

    def cell_parser(
        self, plan: list[tuple[Binding, int, str, Callable[[Any], Any]]]
    ) -> Callable[[Row, list[Any], dict[str, Any]], None]:
        """The loop of `_rows` over a row's cells (for a file without formula cells) unrolled into one
        function made for the file's columns: each cell read, tested for emptiness and parsed in place,
        whole numbers in integer columns taken as they are (what parse_integer returns for them) and the
        remembered parsers' known cells looked up directly."""
        names: dict[str, Any] = {"EMPTY": EMPTY, "CellError": CellError, "ERROR": self.cell_error}
        lines = ["def parse_cells(row, cells, values):", "    width = len(cells)"]
        for n, (binding, index, key, parser) in enumerate(plan):
            names[f"P{n}"], names[f"H{n}"] = parser, binding.header
            memo = getattr(parser, "memo", None)
            if parser is parse_integer:
                parse = [f"        values[{key!r}] = raw if raw.__class__ is int else P{n}(raw)"]
            elif memo is not None:
                names[f"M{n}"] = memo
                parse = [
                    f"        found = M{n}.get((raw.__class__, raw))",
                    "        if found is not None and found[0]:",
                    f"            values[{key!r}] = found[1]",
                    "        else:",
                    f"            values[{key!r}] = P{n}(raw)",
                ]
            else:
                parse = [f"        values[{key!r}] = P{n}(raw)"]
            lines += [
                f"    raw = cells[{index}] if {index} < width else None",
                "    if raw is None or (isinstance(raw, str) and not raw.strip()):",
                f"        values[{key!r}] = EMPTY",
                "        row.empty = True",
                "    else:",
                "      try:",
                *parse,
                "      except CellError as exc:",
                f"        ERROR(row, H{n}, str(exc), {key!r})",
            ]
        source = "\n".join(lines) + "\n"
        exec(compile(source, f"<cells of {self.kind.name}>", "exec"), names)
        return names["parse_cells"]  # type: ignore[no-any-return]

    def parser(self, binding: Binding) -> Callable[[Any], Any]:
        """`self.parse` for one column; for columns whose cells repeat (yes/no, choices, years) the result
        of each distinct cell is remembered (the parsers depend on the cell only)."""
        kind = binding.column.type
        if kind in (TEXT, DIVISION, ORGANIZATION):
            return parse_text
        if kind in (MONEY, DECIMAL):
            return partial(parse_decimal, unit=binding.unit)
        if kind == INTEGER:
            return parse_integer
        if kind not in (BOOL, CHOICE, YEAR, DATE):
            return lambda raw: self.parse(binding, raw)
        memo: dict[tuple[type, Any], tuple[bool, Any]] = {}

        def remembered(raw: Any) -> Any:  # (cell_parser reads `memo` directly: keep the two in step)
            key = (raw.__class__, raw)
            found = memo.get(key)
            if found is None:
                try:
                    found = (True, self.parse(binding, raw))
                except CellError as exc:
                    found = (False, str(exc))
                if len(memo) < MEMO_SIZE:
                    memo[key] = found
            if not found[0]:
                raise CellError(found[1])
            return found[1]

        remembered.memo = memo  # type: ignore[attr-defined]
        return remembered

    def parse(self, binding: Binding, raw: Any) -> Any:
        column = binding.column
        kind = column.type
        if kind in (TEXT, DIVISION, ORGANIZATION):
            return parse_text(raw)
        if kind == CODE:
            return creditcode.normalize(clean_text(raw))
        if kind == DATE:
            return parse_date(raw)
        if kind in (MONEY, DECIMAL):
            return parse_decimal(raw, binding.unit)
        if kind == INTEGER:
            return parse_integer(raw)
        if kind == YEAR:
            return parse_year(raw)
        if kind == BOOL:
            return parse_bool(raw)
        if kind == CHOICE:
            labels = self._choice_labels(column)
            code = labels.get(normalize(clean_text(raw)))
            if code is None:
                raise CellError(
                    _("%(value)s is not one of the allowed values: %(allowed)s.")
                    % {"value": clean_text(raw), "allowed": column.allowed_values()}
                )
            return code
        raise AssertionError(kind)

    def _choice_labels(self, column: Column) -> dict[str, str]:
        labels = self.labels.get(column.key)
        if labels is None:
            labels = self.labels[column.key] = column.choice_labels()
        return labels

    # one chunk ---------------------------------------------------------------------------------------------
    def process(self, rows: list[Row]) -> None:
        if self.kind.child:
            self.prepare_children(rows)
        else:
            self.prepare_cooperatives(rows)
        creates: list[Row] = []
        updates: list[Row] = []
        for row in rows:
            if row.has_error or row.obj is None:
                continue
            self.validate(row)
            if row.has_error:
                continue
            if row.before is None:
                creates.append(row)
            elif row.changed:
                updates.append(row)
            else:
                self.outcome.unchanged += 1
        if self.dry_run:
            self.outcome.created += len(creates)
            self.outcome.updated += len(updates)
            return
        if self.blocked:
            return
        self.write(creates, updates)

    def apply(self, row: Row, obj: models.Model) -> None:
        """Set the file's values on the instance; remember what they were before."""
        values = row.values
        if not row.empty:  # no empty cell: the usual row, whose columns all set plain fields
            keys = tuple(values)
            fast = self.fast_apply.get(keys)
            if fast is None:
                fast = self.fast_apply[keys] = self.fast_apply_plan(keys)
            if fast:
                take, read, attnames = fast
                state = obj.__dict__
                try:
                    old = read(state)
                except KeyError:  # a deferred field: the loop below reads it through the attribute
                    pass
                else:
                    row.before_values = dict(zip(attnames, old, strict=True))
                    state.update(zip(attnames, take(values), strict=True))
                    return
        before_values: dict[str, Any] = {}
        plans = self.apply_plans
        state = obj.__dict__
        for key, value in row.values.items():
            plan = plans.get(key)
            if plan is None:
                plan = plans[key] = self.apply_plan(key)
            model_field, attname, plain = plan
            if model_field is None:
                continue
            if plain and value.__class__ is not object and attname in state:  # the most common case
                # an attribute the instance holds, behind no data descriptor: what getattr and setattr do
                before_values[attname] = state[attname]
                state[attname] = value
                continue
            binding = self.by_key[key]
            column = binding.column
            if value.__class__ is not object and column.type != ORGANIZATION:  # the common case
                attname = model_field.attname
                before_values[attname] = getattr(obj, attname)
                setattr(obj, attname, value)
                continue
            if column.type == ORGANIZATION:
                before_values[model_field.attname] = getattr(obj, model_field.attname)
                setattr(obj, key, None if value is EMPTY else value)
                continue
            before_values[model_field.attname] = getattr(obj, model_field.attname)
            if value is EMPTY:
                if not model_field.blank and not model_field.has_default():
                    self.error(row, binding.header, _("This column is required; the cell is empty."))
                    continue
                value = empty_value(model_field, creating=row.before is None)
                if value is None and not model_field.null:
                    value = before_values[model_field.attname]
            setattr(obj, model_field.attname, value)
        row.before_values = before_values

    def apply_field(self, key: str) -> Any:
        """The model field a column sets in `apply` (None: the column is handled elsewhere)."""
        column = self.by_key[key].column
        if column.type in (DIVISION, CODE) or key == COOPERATIVE_NAME:
            return None
        return self.model._meta.get_field(key)

    def fast_apply_plan(self, keys: tuple[str, ...]) -> tuple[Any, Any, tuple[str, ...]] | tuple[()]:
        """For rows with these columns (none of them empty): (the values' getter, the instance state's
        getter, the attnames), when every column either sets a plain field (see `apply_plan`) or is
        handled elsewhere, and at least two set fields; () otherwise (`apply`'s loop does the work)."""
        taken: list[str] = []
        attnames: list[str] = []
        for key in keys:
            plan = self.apply_plans.get(key)
            if plan is None:
                plan = self.apply_plans[key] = self.apply_plan(key)
            model_field, attname, plain = plan
            if model_field is None:
                continue
            if not plain:
                return ()
            taken.append(key)
            attnames.append(attname)
        if len(taken) < 2:
            return ()
        return itemgetter(*taken), itemgetter(*attnames), tuple(attnames)

    def apply_plan(self, key: str) -> tuple[Any, str, bool]:
        """(the model field, its attname, whether `apply` may read and write the value in the instance's
        __dict__): a field behind Django's plain DeferredAttribute (a non-data descriptor), in a model
        that does not override __setattr__, outside an organisation column."""
        from django.db.models.query_utils import DeferredAttribute

        model_field = self.apply_field(key)
        if model_field is None:
            return None, "", False
        attname = model_field.attname
        descriptor = next((k.__dict__[attname] for k in self.model.__mro__ if attname in k.__dict__), None)
        plain = (
            type(descriptor) is DeferredAttribute
            and self.model.__setattr__ is object.__setattr__
            and self.by_key[key].column.type != ORGANIZATION
        )
        return model_field, attname, plain

    def validate(self, row: Row) -> None:
        obj = row.obj
        # a new record whose values the reader process checked already (see `produce`)
        errors = {} if row.checked and row.before is None else self.checker.check(obj)
        try:
            obj.clean()
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors.setdefault(name, []).extend(messages)
        bad = row.bad_cells or ()
        for name, messages in errors.items():
            if name in bad:
                continue  # its cell was reported already: not also as missing or out of range
            for message in messages:
                self.error(row, self.header_for(name), message)
        if bad:
            row.has_error = True  # checked in full, never written
        if row.has_error or row.before_values is None:
            return
        if row.before is not None:
            changed = [name for name, old in row.before_values.items() if getattr(obj, name) != old]
            row.changed = tuple(changed)

    # cooperatives ------------------------------------------------------------------------------------------
    def prepare_cooperatives(self, rows: list[Row]) -> None:
        code_binding = self.by_key["credit_code"]
        codes: set[str] = set()
        for row in rows:
            code = row.values.get("credit_code")
            if row.has_error or code is EMPTY or code is None:
                if code is EMPTY:
                    self.error(row, code_binding.header, _("This column is required; the cell is empty."))
                continue
            result = creditcode.check(code)
            for message in result.errors:
                self.error(row, code_binding.header, message)
            if result.errors:
                continue
            for message in result.warnings:
                self.warning(row, code_binding.header, message)
            row.values["credit_code"] = result.code
            first = self.seen.get((result.code,))
            if first is not None:
                self.error(
                    row,
                    code_binding.header,
                    _("The same credit code is on row %(row)d of this file.") % {"row": first},
                )
                continue
            self.seen[(result.code,)] = row.number
            codes.add(result.code)
        # the codes registered at all (one query; none in a file of new cooperatives), then those of them
        # the user may change, as instances
        registered = (
            dict(
                Cooperative.objects.filter(credit_code__in=codes).order_by().values_list("credit_code", "pk")
            )
            if codes
            else {}
        )
        existing: dict[str, Cooperative] = {}
        if registered:
            qs = Cooperative.objects.restrict(self.user, CHANGE).filter(pk__in=registered.values())
            known = self.divisions.by_id if self.divisions is not None else None
            if known is None:
                qs = qs.select_related("district", "town", "village")
            for coop in qs:
                if known is not None:  # the divisions read for the file: as select_related would cache them
                    cache = coop._state.fields_cache
                    for name, division_id in (
                        ("district", coop.district_id),
                        ("town", coop.town_id),
                        ("village", coop.village_id),
                    ):
                        division = known.get(division_id) if division_id is not None else None
                        if division is not None:
                            cache[name] = division
                        elif division_id is None:
                            cache[name] = None
                existing[coop.credit_code] = coop
        # like the edit form: a code registered outside the user's scope is refused without showing the record
        elsewhere = registered.keys() - existing.keys()
        for row in rows:
            if row.has_error:
                continue
            code = row.values["credit_code"]
            obj = existing.get(code)
            if code in elsewhere:
                self.error(
                    row,
                    code_binding.header,
                    _("This credit code is already registered (outside your scope)."),
                )
                continue
            if obj is None:
                if not self.can_add:
                    self.error(
                        row,
                        code_binding.header,
                        _("No cooperative with this credit code is registered in your scope."),
                    )
                    continue
                obj = self.blank.new()
                obj.credit_code = code
                row.before = None
            else:
                if obj.retired_at is not None:
                    self.error(
                        row,
                        code_binding.header,
                        _("This cooperative is retired; restore it before importing changes to it."),
                    )
                    continue
                row.before = fast_snapshot(obj)
            row.obj = obj
            self.apply(row, obj)
            self.place(row, obj)

    def place(self, row: Row, obj: Cooperative) -> None:
        """District, town and village from the division columns; and the edit form's scope check."""
        values = row.values
        if not any(k in values for k in ("district", "town", "village", DIVISION_PATH)):
            return
        divisions = self.divisions
        assert divisions is not None and row.before_values is not None
        found: dict[str, Division | None] = {"district": None, "town": None, "village": None}
        path = values.get(DIVISION_PATH)
        if path not in (None, EMPTY):
            try:
                found.update(divisions.chain(divisions.resolve(path, None)))
            except CellError as exc:
                self.error(row, self.by_key[DIVISION_PATH].header, str(exc))
                return
        for level in ("district", "town", "village"):
            text = values.get(level)
            if text in (None, EMPTY):
                continue
            within = (
                None
                if level == "district"
                else (found["town"] if level == "village" else None) or found["district"]
            )
            try:
                division = divisions.resolve(text, level, within)
            except CellError as exc:
                self.error(row, self.by_key[level].header, str(exc))
                return
            for upper, parent in divisions.chain(division).items():
                if upper == level or found[upper] is None:
                    found[upper] = parent
        creating = row.before is None
        if found["town"] is None and creating and ("town" in values or DIVISION_PATH in values):
            binding = self.by_key.get("town") or self.by_key[DIVISION_PATH]
            self.error(row, binding.header, _("This column is required; the cell is empty."))
            return
        path_given = path not in (None, EMPTY)
        for level in ("district", "town", "village"):
            attname = f"{level}_id"
            row.before_values[attname] = getattr(obj, attname)
            node = found[level]
            if node is not None:
                self.blank.relate(obj, level, node)
            elif level == "village" and (
                values.get("village") is EMPTY or (path_given and "village" not in values)
            ):
                obj.village = None
        if obj.district_id is not None and not self.district_allowed(obj.district_id):
            place_binding = (
                self.by_key.get("district") or self.by_key.get("town") or self.by_key.get(DIVISION_PATH)
            )
            self.error(
                row,
                place_binding.header if place_binding else "",
                _(
                    "%(district)s is outside your scope: you may add and change cooperatives of your own "
                    "district "
                    "only."
                )
                % {"district": obj.district.name},
            )

    def district_allowed(self, district_id: int) -> bool:
        return self.scope.everything or district_id in self.scope.district_ids

    # records under a cooperative ---------------------------------------------------------------------------
    PARENT_FIELDS = ("id", "name", "credit_code", "registration_date", "district_id", "retired_at")
    PARENT_CACHE = 200_000  # cooperatives remembered across chunks (the years of one cooperative)

    def parents(self, codes: set[str]) -> dict[str, Cooperative]:
        """The cooperatives (in the user's view scope) with these credit codes, each read once per import
        (a file of yearly facts names each cooperative once per year), as instances of the few fields
        the rows need."""
        known = self.parent_cache
        missing = [c for c in codes if c not in known]
        if missing:
            if len(known) + len(missing) > self.PARENT_CACHE:
                known.clear()
                missing = list(codes)
            for code in missing:
                known[code] = None
            qs = Cooperative.objects.restrict(self.user, VIEW).filter(credit_code__in=missing)
            make = Light(Cooperative, self.PARENT_FIELDS, qs.db)
            for values in qs.order_by().values_list(*self.PARENT_FIELDS):
                coop = make(values)
                known[coop.credit_code] = coop
                self.parent_names[coop.pk] = normalize(coop.name)
        return {c: coop for c in codes if (coop := known.get(c)) is not None}

    def prepare_children(self, rows: list[Row]) -> None:
        code_binding = self.by_key["credit_code"]
        codes = set()
        for row in rows:
            code = row.values.get("credit_code")
            if code is EMPTY:
                self.error(row, code_binding.header, _("This column is required; the cell is empty."))
            elif not row.has_error and code:
                codes.add(code)
        coops = self.parents(codes)
        names = self.parent_names
        for row in rows:
            if row.has_error:
                continue
            coop = coops.get(row.values["credit_code"])
            if coop is None:
                self.error(
                    row,
                    code_binding.header,
                    _("No cooperative with this credit code is registered in your scope."),
                )
                continue
            name = row.values.get(COOPERATIVE_NAME)
            if name not in (None, EMPTY) and name != coop.name and normalize(name) != names[coop.pk]:
                self.warning(
                    row,
                    self.by_key[COOPERATIVE_NAME].header,
                    _("The name differs from the registered name %(name)s; check the credit code.")
                    % {"name": coop.name},
                )
            row.obj = coop  # the parent, for now
            for binding in self.bindings:
                if binding.column.type == ORGANIZATION:
                    value = row.values.get(binding.column.key)
                    if value in (None, EMPTY):
                        row.values[binding.column.key] = None
                        continue
                    assert self.organizations is not None
                    try:
                        row.values[binding.column.key] = self.organizations.resolve(value)
                    except CellError as exc:
                        self.error(row, binding.header, str(exc))
        live = [row for row in rows if not row.has_error and row.obj is not None]
        coop_ids = {row.obj.pk for row in live} & self.holders()
        existing: dict[tuple[Any, ...], models.Model] = {}
        changeable: set[int] = set()
        if coop_ids:
            # only the records this chunk may match: its cooperatives and its values of the other keys
            narrow: dict[str, set[Any]] = {}
            for key in self.kind.key[1:]:
                values = {row.values.get(key) for row in live} - {None, EMPTY}
                column = self.kind.column(key)
                narrow[f"{key}_id__in" if column.type == ORGANIZATION else f"{key}__in"] = {
                    v.pk if isinstance(v, models.Model) else v for v in values
                }
            manager: Any = self.model._default_manager
            qs = (
                manager.restrict(self.user, VIEW)
                .filter(cooperative_id__in=coop_ids, retired_at__isnull=True, **narrow)
                .select_related(*[c.key for c in self.kind.columns if c.type == ORGANIZATION])
                .order_by("pk")
            )
            for record in qs:
                existing.setdefault(self.record_key(record), record)
            if existing and self.can_change:
                changeable = set(
                    manager.restrict(self.user, CHANGE)
                    .filter(pk__in=[r.pk for r in existing.values()])
                    .values_list("pk", flat=True)
                )
        for row in rows:
            if row.has_error or row.obj is None:
                row.obj = None
                continue
            coop = row.obj
            row_key = self.row_key(row, coop)
            if row_key is None:
                row.obj = None
                continue
            first = self.seen.get(row_key)
            if first is not None:
                self.error(
                    row,
                    code_binding.header,
                    _("The same record is on row %(row)d of this file.") % {"row": first},
                )
                row.obj = None
                continue
            self.seen[row_key] = row.number
            record = existing.get(row_key)
            if record is not None:
                if record.pk not in changeable:
                    self.error(row, code_binding.header, _("You may not change this record."))
                    row.obj = None
                    continue
                record.cooperative = coop  # type: ignore[attr-defined]
                row.before = fast_snapshot(record)
                obj = record
            else:
                if not self.can_add:
                    self.error(
                        row,
                        code_binding.header,
                        _("You may not add %(kind)s.") % {"kind": self.model._meta.verbose_name_plural},
                    )
                    row.obj = None
                    continue
                obj = self.blank.new()
                self.blank.relate(obj, "cooperative", coop)
                row.before = None
            row.obj = obj
            self.apply(row, obj)

    HOLDERS_FROM_ROWS = 5_000  # files this long read once which cooperatives hold records of the kind

    def holders(self) -> Any:
        """The cooperatives that hold live records of this kind (in the user's view scope), read once for
        a long file, so that chunks of new records (a new year's facts) need no query for the records
        they might update; for a short file everything (each chunk queries its own cooperatives)."""
        if self.holder_ids is None:
            if self.estimated_rows < self.HOLDERS_FROM_ROWS:
                self.holder_ids = EVERYTHING
            else:
                manager: Any = self.model._default_manager
                self.holder_ids = set(
                    manager.restrict(self.user, VIEW)
                    .filter(retired_at__isnull=True)
                    .order_by()
                    .values_list("cooperative_id", flat=True)
                    .distinct()
                )
        return self.holder_ids

    def record_key(self, record: models.Model) -> tuple[Any, ...]:
        parts: list[Any] = [record.cooperative_id]  # type: ignore[attr-defined]
        for key in self.kind.key[1:]:
            column = self.kind.column(key)
            parts.append(
                getattr(record, f"{key}_id") if column.type == ORGANIZATION else getattr(record, key)
            )
        return tuple(parts)

    def row_key(self, row: Row, coop: Cooperative) -> tuple[Any, ...] | None:
        parts: list[Any] = [coop.pk]
        for key in self.kind.key[1:]:
            value = row.values.get(key)
            if value in (None, EMPTY):
                binding = self.by_key.get(key)
                self.error(
                    row,
                    binding.header if binding else self.kind.column(key).title,
                    _("This column is required; the cell is empty."),
                )
                return None
            parts.append(value.pk if isinstance(value, models.Model) else value)
        return tuple(parts)

    # writing -----------------------------------------------------------------------------------------------
    def write(self, creates: list[Row], updates: list[Row]) -> None:
        model = self.model
        now = timezone.now()
        if creates:
            objs = [row.obj for row in creates]
            if model is Cooperative:
                for obj in objs:
                    obj.refresh_search_text()
            written = create_rows(model, objs)
            if any(row.after_json is not None for row in creates):
                record_new(written, [row.after_json for row in creates])
            else:
                record_bulk(written, ChangeRecord.Action.CREATE)
            self.verify(ADD, [o.pk for o in written])
            self.outcome.created += len(written)
        if updates:
            groups: dict[tuple[str, ...], list[Row]] = defaultdict(list)
            for row in updates:
                obj = row.obj
                fields = set(row.changed)
                if model is Cooperative and fields & {"name", "credit_code", "legal_representative"}:
                    obj.refresh_search_text()
                    fields.add("search_text")
                obj.updated_at = now
                fields.add("updated_at")
                groups[tuple(sorted(fields))].append(row)
            count = 0
            for group_fields, group in groups.items():
                names = [model._meta.get_field(f.removesuffix("_id")).name for f in group_fields]
                count += update_rows(model, [r.obj for r in group], names)
            record_bulk([r.obj for r in updates], ChangeRecord.Action.UPDATE, [r.before for r in updates])
            self.verify(CHANGE, [r.obj.pk for r in updates])
            self.outcome.updated += count

    def verify(self, action: str, pks: list[int]) -> None:
        """Re-read the written rows through the user's scope (like save_record): all or nothing."""
        if not getattr(self.user, "pk", None) or not pks:
            return
        manager: Any = self.model._default_manager
        low, high = min(pks), max(pks)
        if high - low + 1 == len(pks) and len(set(pks)) == len(pks):
            # consecutive keys (the usual case for new rows): the same rows as pk__in, in a short query
            reachable = manager.restrict(self.user, action).filter(pk__gte=low, pk__lte=high).count()
        else:
            reachable = manager.restrict(self.user, action).filter(pk__in=pks).count()
        if reachable != len(pks):
            raise ScopeViolation(_("This change would put the record outside your scope."))


INTEGER_FIELDS = (
    models.AutoField,
    models.BigAutoField,
    models.IntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.SmallIntegerField,
    models.BigIntegerField,
    models.PositiveBigIntegerField,
)


class Preparer:
    """Field values as the database driver takes them, exactly as `Field.get_db_prep_save` gives them, with
    the calls skipped for the values where that method is the identity (None, text in text fields,
    booleans in boolean fields, numbers in decimal fields, integers in integer fields) and dates handed to
    the backend's date adapter directly (what DateField.get_db_prep_save does with a date)."""

    def __init__(self, fields: list[Any], connection: Any) -> None:
        self.connection = connection
        self.plan: list[tuple[Any, str, tuple[type, ...], Any]] = []
        for f in fields:
            kind = type(f)
            identity: tuple[type, ...] = ()
            adapt: Any = None
            plain = kind.get_db_prep_value is models.Field.get_db_prep_value and (
                kind.get_prep_value is models.Field.get_prep_value
                or kind.get_prep_value in (models.CharField.get_prep_value, models.TextField.get_prep_value)
            )
            if kind in (models.CharField, models.TextField) and plain:
                identity = (str,)
            elif kind in (models.BooleanField,):
                identity = (bool,)
            elif kind is models.DecimalField:
                identity = (Decimal,)
            elif kind is models.DateField:
                adapt = connection.ops.adapt_datefield_value
            elif kind in INTEGER_FIELDS and kind not in (models.AutoField, models.BigAutoField):
                identity = (int,)
            elif (
                isinstance(f, models.ForeignKey)
                and type(f.target_field) in INTEGER_FIELDS
                and connection.vendor in ("sqlite", "postgresql")
            ):
                identity = (int,)  # the target's get_db_prep_save: int() and, on these backends, nothing else
            if identity or adapt is not None:
                identity = (type(None), *identity)
            self.plan.append((f, f.attname, identity, adapt))

    def column(self, i: int, values: Sequence[Any]) -> Sequence[Any]:
        """The prepared values of field `i` for a column of values (the same sequence when every value is
        of a type the field passes as it is)."""
        f, _attname, identity, adapt = self.plan[i]
        if identity and set(map(type, values)) <= set(identity):  # the usual case, decided in C
            return values
        connection = self.connection
        date = dt.date
        if adapt is not None:
            return [
                v
                if v.__class__ in identity
                else adapt(v)
                if v.__class__ is date
                else f.get_db_prep_save(v, connection)
                for v in values
            ]
        return [v if v.__class__ in identity else f.get_db_prep_save(v, connection) for v in values]

    def row(
        self, obj: Any, values: list[Any] | None = None, skip: set[int] | frozenset[int] = frozenset()
    ) -> list[Any]:
        """The prepared values of `obj` (or of `values`, in the order of the fields); the positions in
        `skip` are left as they are (the caller fills them in)."""
        connection = self.connection
        if values is None:
            values = [getattr(obj, attname) for _f, attname, _i, _a in self.plan]
        out = []
        date = dt.date
        for i, (f, _attname, identity, adapt) in enumerate(self.plan):
            value = values[i]
            if value.__class__ in identity:
                out.append(value)
            elif adapt is not None and value.__class__ is date:
                out.append(adapt(value))
            elif i in skip:
                out.append(value)
            else:
                out.append(f.get_db_prep_save(value, connection))
        return out


def create_rows(model: type[models.Model], objs: list[Any]) -> list[Any]:
    """INSERT new instances, like `bulk_create` (fields' pre_save with add=True, values through
    get_db_prep_save, the new primary keys set on the instances) but in large multi-row statements and
    without bulk_create's per-value SQL compilation. The caller records the history."""
    if not objs:
        return objs
    connection = connections[router.db_for_write(model)]
    fields = [f for f in model._meta.concrete_fields if not f.generated and f is not model._meta.auto_field]
    preparer = Preparer(fields, connection)
    # fields whose pre_save sets the value: auto_now(_add) dates take one "now" for the whole call
    stamps: list[tuple[int, str, Any, Any]] = []
    special: list[tuple[int, Any]] = []
    now = timezone.now()
    for i, f in enumerate(fields):
        if type(f).pre_save is models.Field.pre_save:
            continue
        if (
            isinstance(f, models.DateField)
            and type(f) in (models.DateTimeField, models.DateField)
            and not (f.auto_now or f.auto_now_add)
        ):
            continue  # DateField.pre_save without auto_now(_add) is Field.pre_save: the attribute
        if (
            isinstance(f, models.DateField)
            and type(f) in (models.DateTimeField, models.DateField)
            and (f.auto_now or f.auto_now_add)
        ):
            value = now if isinstance(f, models.DateTimeField) else timezone.localdate(now)
            stamps.append((i, f.attname, value, f.get_db_prep_save(value, connection)))
        else:
            special.append((i, f))
    # column by column: each field's values of all the rows, prepared with one comprehension
    states = [obj.__dict__ for obj in objs]
    for _i, attname, value, _prepared in stamps:
        for state in states:
            state[attname] = value
    stamped = {i: prepared for i, _a, _v, prepared in stamps}
    pre_saved = dict(special)
    # the plain fields' values of every row with one itemgetter each, turned into columns by zip (both in C)
    plain = [i for i in range(len(fields)) if i not in stamped and i not in pre_saved]
    read: dict[int, Any] = {}
    if plain:
        getter = itemgetter(*[preparer.plan[i][1] for i in plain])
        try:
            got = [getter(state) for state in states]
        except KeyError:  # a deferred field somewhere: through the attributes
            got = [tuple(getattr(obj, preparer.plan[i][1]) for i in plain) for obj in objs]
        if len(plain) == 1:
            got = [(value,) for value in got]
        read = dict(zip(plain, zip(*got, strict=True), strict=True)) if got else {i: () for i in plain}
    columns: list[Any] = []
    for i, (f, _attname, _identity, _adapt) in enumerate(preparer.plan):
        if i in stamped:
            columns.append([stamped[i]] * len(objs))
        elif i in pre_saved:
            columns.append(preparer.column(i, [f.pre_save(obj, True) for obj in objs]))
        else:
            columns.append(preparer.column(i, read[i]))
    rows = list(zip(*columns, strict=True))
    auto = model._meta.auto_field
    pks = insert_rows(model, [f.column for f in fields], rows, returning=auto is not None)
    db = connection.alias
    for obj, pk in zip(objs, pks, strict=auto is not None):
        obj.pk = pk
    for obj in objs:
        obj._state.adding = False
        obj._state.db = db
    return objs


def update_rows(model: type[models.Model], objs: list[Any], field_names: list[str]) -> int:
    """UPDATE the given fields of `objs`, one parameterised statement run for every row (executemany).

    Used instead of QuerySet.bulk_update, whose CASE/WHEN expressions took half of an all-updates import
    of 50,000 cooperatives; values go through each field's get_db_prep_save exactly as in save(). Runs
    inside the importer's transaction; the caller records the history and re-checks the scope. Returns
    the number of rows updated."""
    if not objs:
        return 0
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in field_names]
    concrete: list[Any] = [f for f in fields if getattr(f, "concrete", False)]
    pk = model._meta.pk
    assert pk is not None
    sets = ", ".join(f"{quote(f.column)} = %s" for f in concrete)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {sets} WHERE {quote(pk.column)} = %s"
    preparer = Preparer(concrete, connection)
    params = [[*preparer.row(obj), obj.pk] for obj in objs]
    if connection.vendor == "postgresql":
        return _update_by_copy(connection, model, concrete, params)
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
        count = cursor.rowcount
    return count if count is not None and count >= 0 else len(objs)


def _update_by_copy(
    connection: Any, model: type[models.Model], fields: list[Any], params: list[list[Any]]
) -> int:
    """PostgreSQL: COPY the new values (and the keys) into a temporary table shaped like the model's columns,
    then one UPDATE … FROM it; instead of one statement and one round trip per row."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = model._meta.pk
    assert pk is not None
    scratch = quote(f"hezuo_import_{uuid.uuid4().hex[:16]}")
    columns = [quote(f.column) for f in fields]
    key = quote(pk.column)
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        cursor.execute(
            f"CREATE TEMPORARY TABLE {scratch} ON COMMIT DROP AS "
            f"SELECT {key}, {', '.join(columns)} FROM {table} WITH NO DATA"
        )
        with cursor.copy(f"COPY {scratch} ({', '.join(columns)}, {key}) FROM STDIN") as copy:
            for row in params:
                copy.write_row(row)
        sets = ", ".join(f"{c} = {scratch}.{c}" for c in columns)
        cursor.execute(f"UPDATE {table} SET {sets} FROM {scratch} WHERE {table}.{key} = {scratch}.{key}")
        count = cursor.rowcount
        cursor.execute(f"DROP TABLE {scratch}")
    return count if count is not None and count >= 0 else len(params)


PARENT = "cooperative"  # the field that ties the records under a cooperative to it
PARENT_PLACEHOLDER = "\x00parent\x00"  # the cooperative in a snapshot made by the reader process


def record_new(objs: Sequence[Any], afters: Sequence[str | None]) -> int:
    """`record_bulk(objs, CREATE)` for new records under a cooperative whose "after" snapshots the reader
    process encoded already, with PARENT_PLACEHOLDER for the cooperative ({"id", "label"}, filled in here);
    an object whose snapshot is None gets it made by record_bulk. The rows are the ones record_bulk writes
    (the tests compare both)."""
    if not objs:
        return 0
    encode = history_encoder()
    quoted = encode({PARENT: PARENT_PLACEHOLDER})[1:-1]  # '"cooperative":"\\u0000parent\\u0000"'
    labels: dict[int, str] = {}  # the cooperative's JSON by id (a cooperative has several years)
    filled: list[str | None] = []
    for obj, after in zip(objs, afters, strict=True):
        if after is None or quoted not in after:
            filled.append(None)
            continue
        parent_id = obj.__dict__[f"{PARENT}_id"]
        label = labels.get(parent_id)
        if label is None:
            parent = obj.history_parent_object()
            label = labels[parent_id] = encode({PARENT: {"id": parent_id, "label": str(parent)}})[1:-1]
        filled.append(after.replace(quoted, label, 1))
    return record_bulk(objs, ChangeRecord.Action.CREATE, afters=filled)


def empty_value(model_field: models.Field, creating: bool) -> Any:
    if model_field.null:
        return None
    if isinstance(model_field, models.BooleanField):
        return False
    if model_field.has_default():
        return model_field.get_default()
    if isinstance(model_field, models.CharField | models.TextField):
        return ""
    return None


# ---------------------------------------------------------------------------------------------------------
def run_import(
    path: Path | str,
    kind: str,
    user: Any,
    *,
    filename: str = "",
    dry_run: bool = True,
    mapping: dict[str, str] | None = None,
    confirm_warnings: bool = False,
    progress: Callable[[int, int], None] | None = None,
    mapping_for: Callable[[list[str]], dict[str, str] | None] | None = None,
) -> Outcome:
    """Import (or, with dry_run, only check) one file. Never raises for bad input: the outcome says."""
    spec = get_kind(kind)
    path = Path(path)
    filename = filename or path.name
    importer = Importer(
        spec, user, dry_run=dry_run, confirm_warnings=confirm_warnings, filename=filename, progress=progress
    )
    try:
        table = open_table(path, filename, header_score(spec))
    except FileProblem as exc:
        importer.outcome.fatal = str(exc)
        return importer.outcome
    if mapping is None and mapping_for is not None:
        mapping = mapping_for(table.headers)
        if mapping:
            importer.outcome.notices.append(
                _("The column mapping saved for files with these headers was applied.")
            )
    from hezuo.registry.models import frozen_today

    try:
        with frozen_today():  # one "today" for every row's date checks
            return importer.run(table, mapping)
    except ScopeViolation as exc:
        importer.outcome.fatal = str(exc)
        importer.outcome.written = False
        importer.outcome.created = importer.outcome.updated = 0
        return importer.outcome
    finally:
        table.close()


def _concrete(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    """A model's concrete field by name (the fields an insert writes)."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field), name
    return field
