"""The importer's shortcuts give what the Django calls they skip would give.

- `fast_check(field)(value)` is True only for values `field.clean()` accepts and returns unchanged
  (a hypothesis property over every plain field of the imported models);
- `Preparer.column` prepares values exactly like `Field.get_db_prep_save`;
- the unrolled snapshot of `record_bulk` is `snapshot()`, and the history an import writes (compact JSON)
  reads back as the snapshot of each row as stored: the bulk path and the one-record path agree.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, models
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hezuo.core.models import ChangeRecord
from hezuo.core.services import _fast_snapshot, _plan, fast_snapshot, snapshot
from hezuo.registry.models import (
    Cooperative,
    DemonstrationTitle,
    FederationMembership,
    Sponsorship,
    YearlyFact,
)
from hezuo.transfer.engine import Blank, FieldChecker, Preparer, fast_check, run_import

from .helpers import COOP_HEADERS, coop_row, xlsx

MODELS = (Cooperative, YearlyFact, DemonstrationTitle, FederationMembership, Sponsorship)
PLAIN_FIELDS = [
    f for model in MODELS for f in model._meta.concrete_fields if not f.is_relation and not f.primary_key
]
CHECKED = [f for f in PLAIN_FIELDS if fast_check(f) is not None]

decimals = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(min_value=-(10**17), max_value=10**17, places=2),
    st.decimals(min_value=-200, max_value=200, places=3),
    st.sampled_from([Decimal("0"), Decimal("0.00"), Decimal("1E+3"), Decimal("-0"), Decimal("100.00")]),
)
texts = st.one_of(
    st.text(max_size=30),
    st.text(min_size=190, max_size=260),
    st.sampled_from(["", " ", "\x00", "fruit", "operating", "county", "lead", "equity", "13912345678"]),
)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.integers(min_value=-5, max_value=3000),
    st.floats(allow_nan=True),
    decimals,
    texts,
    st.dates(),
    st.datetimes(),
)


def clean_result(field: Any, value: Any) -> tuple[bool, Any]:
    try:
        return True, field.clean(value, None)
    except (ValidationError, TypeError, ValueError):
        return False, None


@pytest.mark.parametrize("field", CHECKED, ids=lambda f: f"{f.model.__name__}.{f.name}")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=values)
def test_fast_check_never_accepts_what_clean_refuses(field: Any, value: Any) -> None:
    if fast_check(field)(value):  # type: ignore[misc]
        ok, cleaned = clean_result(field, value)
        assert ok, (field, value)
        assert cleaned == value and type(cleaned) is type(value)
        if isinstance(value, Decimal):
            assert cleaned.as_tuple() == value.as_tuple()


def test_fast_check_accepts_the_usual_values() -> None:
    """The shortcut is taken for ordinary good values (else it would be no shortcut)."""
    examples = {
        (YearlyFact, "members"): 120,
        (YearlyFact, "revenue"): Decimal("3568000"),
        (YearlyFact, "unified_sale_rate"): Decimal("85.5"),
        (YearlyFact, "assembly_held"): True,
        (YearlyFact, "assembly_date"): dt.date(2024, 3, 1),
        (YearlyFact, "year"): 2024,
        (Cooperative, "name"): "宁海县白枇杷专业合作社",
        (Cooperative, "industry"): "fruit",
        (Cooperative, "phone"): "13912345678",
    }
    for (model, name), value in examples.items():
        check = fast_check(model._meta.get_field(name))
        assert check is not None and check(value), (model, name, value)
    refused = {
        (YearlyFact, "members"): -1,
        (YearlyFact, "unified_sale_rate"): Decimal("100.01"),
        (YearlyFact, "revenue"): Decimal("1.005"),
        (Cooperative, "industry"): "bananas",
        (Cooperative, "name"): "",
        (Cooperative, "phone"): "12345",
        (Cooperative, "credit_code"): "X" * 19,
    }
    for (model, name), value in refused.items():
        check = fast_check(model._meta.get_field(name))
        assert check is not None and not check(value), (model, name, value)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_compiled_field_checks_are_the_checks_field_by_field(model: Any, data: Any) -> None:
    """The importer's unrolled checks (defaults skipped by identity) give the errors and the cleaned values
    of the loop over the fields, on new instances with some fields set to arbitrary values."""
    blank = Blank(model)
    checker = FieldChecker(model, blank.constant)
    names = [f.attname for f in checker.fields]
    chosen = data.draw(st.lists(st.sampled_from(names), max_size=8, unique=True))
    one, other = blank.new(), blank.new()
    for attname in chosen:
        value = data.draw(values)
        one.__dict__[attname] = other.__dict__[attname] = value
    assert outcome(checker.check, one) == outcome(checker.check_each, other)
    assert {n: one.__dict__[n] for n in names} == {n: other.__dict__[n] for n in names}


def outcome(check: Any, obj: Any) -> Any:
    """The errors, or the exception Django's clean() raises for a value no parser gives (inf in an
    integer field, a number in a date field)."""
    try:
        return check(obj)
    except (TypeError, ValueError, OverflowError, ArithmeticError) as exc:
        return type(exc)


SAMPLES: list[Any] = [
    None,
    "",
    "文本",
    0,
    7,
    2**33,
    True,
    False,
    Decimal("12.50"),
    Decimal("0"),
    dt.date(2024, 5, 1),
]


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Cooperative, YearlyFact], ids=lambda m: m.__name__)
def test_preparer_column_is_get_db_prep_save(model: Any) -> None:
    fields = [f for f in model._meta.concrete_fields if f is not model._meta.auto_field]
    preparer = Preparer(fields, connection)
    for i, f in enumerate(fields):
        good = []
        for value in SAMPLES:
            if isinstance(f, models.DateTimeField) and isinstance(value, dt.date):
                continue  # a date in a datetime field: Django warns; the importer never does it
            try:
                good.append((value, f.get_db_prep_save(value, connection)))
            except (TypeError, ValueError, ValidationError, AttributeError):
                continue
        assert preparer.column(i, [v for v, _p in good]) == [p for _v, p in good], f.name
        for value, prepared in good:
            assert preparer.row(None, [value if j == i else None for j in range(len(fields))])[i] == prepared


@pytest.mark.django_db
def test_unrolled_snapshot_is_snapshot(city_data: dict[str, Any]) -> None:
    coop = city_data["coop_a"]
    fact = Blank(YearlyFact).new()
    fact.cooperative = coop
    fact.year, fact.members, fact.revenue = 2024, 12, Decimal("3568000.50")
    fact.assembly_date, fact.assembly_held = dt.date(2024, 3, 1), True
    assert _fast_snapshot(fact, _plan(YearlyFact)) == snapshot(fact)
    assert list(_fast_snapshot(fact, _plan(YearlyFact))) == list(snapshot(fact))
    assert _fast_snapshot(coop, _plan(Cooperative)) == snapshot(coop)
    # deferred fields: read through the attributes, as snapshot() does
    partial = Cooperative.objects.only("id", "name").get(pk=coop.pk)
    assert _fast_snapshot(partial, _plan(Cooperative)) == snapshot(coop)
    # what the importer takes as the "before" of a changed row; the unrolled JSON values (decimals, dates)
    fact.unified_sale_rate, fact.annual_report_date = Decimal("85.50"), dt.date(2024, 12, 31)
    assert fast_snapshot(fact) == snapshot(fact) and fast_snapshot(coop) == snapshot(coop)
    assert (
        fast_snapshot(fact)["unified_sale_rate"] == "85.5" and fast_snapshot(fact)["revenue"] == "3568000.5"
    )
    assert fast_snapshot(fact)["annual_report_date"] == "2024-12-31"


@pytest.mark.django_db
def test_import_history_reads_back_as_each_rows_snapshot(city_data: dict[str, Any], tmp_path: Path) -> None:
    """Rows written by the bulk path and their history: what save_record would have recorded for them."""
    user = city_data["city"]
    path = xlsx(tmp_path / "coops.xlsx", [COOP_HEADERS, coop_row(1), coop_row(2), coop_row(3)])
    done = run_import(path, "cooperatives", user, dry_run=False)
    assert done.written and done.created == 3, (done.fatal, done.errors)
    records = ChangeRecord.objects.filter(request_id=done.request_id)
    assert records.count() == 3
    for record in records:
        stored = Cooperative.objects.get(pk=record.object_id)
        assert record.action == "create" and record.before is None
        assert record.after == snapshot(stored)
        assert record.user == user and record.source == "import" and record.message == "coops.xlsx"
    changed = xlsx(
        tmp_path / "coops2.xlsx",
        [COOP_HEADERS, coop_row(1, **{"注册资本（万元）": "12.5"}), coop_row(2), coop_row(3)],
    )
    before = snapshot(Cooperative.objects.get(credit_code=coop_row(1)[1]))
    again = run_import(changed, "cooperatives", user, dry_run=False)
    assert (again.created, again.updated, again.unchanged) == (0, 1, 2)
    (update,) = ChangeRecord.objects.filter(request_id=again.request_id)
    stored = Cooperative.objects.get(pk=update.object_id)
    assert update.before == before and update.after == snapshot(stored)
    assert set(update.diff()) == {"registered_capital"}
    # facts: the child records' history names the parent
    coop = Cooperative.objects.get(pk=update.object_id)
    facts = xlsx(
        tmp_path / "facts.xlsx",
        [
            [
                "统一社会信用代码",
                "合作社名称",
                "年度",
                "成员数",
                "经营收入（万元）",
                "召开成员大会",
                "成员大会日期",
            ],
            [coop.credit_code, coop.name, 2024, 30, "356.8", "是", "2024-03-01"],
            [coop.credit_code, coop.name, 2023, 28, 12, "否", None],
        ],
    )
    third = run_import(facts, "facts", user, dry_run=False)
    assert third.written and third.created == 2, (third.fatal, third.errors)
    for record in ChangeRecord.objects.filter(request_id=third.request_id):
        fact = YearlyFact.objects.get(pk=record.object_id)
        assert record.after == snapshot(fact)
        assert record.parent_id == coop.pk and record.object_repr == str(fact)
