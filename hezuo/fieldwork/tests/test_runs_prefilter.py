"""Set-based pre-filtering of a detection run (runs._Candidates): the database's necessary conditions never
drop a flag the pure engine raises.

Many cooperatives with random facts, visits and statuses (seeded), under the shipped rule set and under
rule sets with other parameters (the conditions depend on them): the run's flags, evidence and
explanations are exactly what detection.evaluate() says of each cooperative, one by one."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from typing import Any

import pytest

from hezuo.conftest import DISTRICT_A, DISTRICT_B, make_coop
from hezuo.core.context import change_context
from hezuo.core.services import save_record
from hezuo.fieldwork import runs
from hezuo.fieldwork.detection import evaluate, parse_rules
from hezuo.fieldwork.models import Flag, RuleSet, Visit
from hezuo.registry.models import Cooperative, YearlyFact

pytestmark = pytest.mark.django_db
YEAR = 2024
AS_OF = dt.date(2025, 11, 1)


def _random_city(rng: random.Random, count: int, visitor: Any) -> list[Cooperative]:
    """`count` cooperatives in two districts with facts for 2022–2024 (some missing or not reported),
    visits (some observing a halt) and statuses drawn from small sets, so that every rule meets both
    cooperatives it flags and cooperatives it does not."""

    def pick(*choices: Any) -> Any:
        return rng.choice(choices)

    coops = []
    facts, visits = [], []
    for i in range(count):
        coop = make_coop(DISTRICT_A if i % 3 else DISTRICT_B)
        status = pick("operating", "operating", "suspended", "dormant")
        Cooperative.objects.filter(pk=coop.pk).update(
            operating_status=status,
            suspended_since=pick(None, dt.date(2020, 3, 1), dt.date(2024, 9, 1))
            if status == "suspended"
            else None,
            on_abnormal_list=pick(True, False),
            abnormal_listed_on=pick(None, dt.date(2024, 8, 1)),
            subsidy_fraud=rng.random() < 0.2,
            illegal_finance=rng.random() < 0.2,
            serious_violation=rng.random() < 0.2,
        )
        coops.append(coop)
        for year in (2022, 2023, 2024):
            if rng.random() < 0.15:
                continue  # no facts for the year
            facts.append(
                YearlyFact(
                    cooperative=coop,
                    year=year,
                    members=pick(None, 3, 8),
                    farmer_members=pick(None, 0, 5),
                    revenue=pick(None, Decimal(0), Decimal(0), Decimal("1200.50")),
                    member_transactions=pick(None, Decimal(0), Decimal(0), Decimal(300)),
                    assembly_held=pick(None, True, False),
                    financial_statements=pick(None, True, False),
                    annual_report_filed=pick(None, True, False),
                    annual_report_date=pick(None, dt.date(year + 1, 3, 1), dt.date(year + 1, 9, 1)),
                    retired_at=pick(None, None, None, None, dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
                )
            )
        for _ in range(rng.randrange(4)):
            visits.append(
                Visit(
                    cooperative=coop,
                    visitor=visitor,
                    date=pick(
                        dt.date(2021, 5, 1), dt.date(2023, 6, 1), dt.date(2023, 11, 2), dt.date(2025, 10, 1)
                    ),
                    operating=pick(True, False, False, None),
                    retired_at=pick(None, None, None, dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
                )
            )
    YearlyFact.objects.bulk_create(facts)  # test data: without the services' checks, on purpose varied
    Visit.objects.bulk_create(visits)
    return coops


def _activate(rules: dict[str, Any], version: str) -> None:
    with change_context(source="cli"):
        for other in RuleSet.objects.filter(is_active=True):
            other.is_active = False
            save_record(other)
        save_record(RuleSet(version=version, name=version, rules=rules, is_active=True))


def _run_flags(**kwargs: Any) -> set[tuple[int, str, str, str]]:
    Flag.objects.all().delete()  # test data: start again
    runs.run_detection(year=YEAR, as_of=AS_OF, **kwargs)
    return {
        (coop, rule, json.dumps(evidence, sort_keys=True), text)
        for coop, rule, evidence, text in Flag.objects.values_list(
            "cooperative_id", "rule", "evidence", "explanation"
        )
    }


def _engine_flags(coops: list[Cooperative] | None = None) -> set[tuple[int, str, str, str]]:
    """What the pure engine says of each cooperative (by default every one a run screens), one by one."""
    rules = parse_rules(runs.active_ruleset().rules)
    found = set()
    if coops is None:
        coops = list(
            Cooperative.objects.filter(retired_at__isnull=True).exclude(operating_status__in=runs.GONE)
        )
    for coop in coops:
        (facts,) = runs.facts_for([coop], YEAR, AS_OF, rules)
        for flag in evaluate(facts, rules, YEAR, AS_OF).flags:
            found.add((coop.pk, flag.rule, json.dumps(flag.evidence, sort_keys=True), flag.explanation))
    return found


OTHER_PARAMETERS = {
    "SH1": {"params": {"min_members": 9, "min_farmer_members": 6}},
    "SH2": {"params": {"years": 3, "accept_suspension": False}},
    "SH3": {"params": {"min_days": 0}},
    "SH4": {"params": {"field": "no_such_marker"}},
    "SH5": {"params": {"field": "subsidy_fraud"}},
    "SH7": {"params": {"years": 1, "require_abnormal_list": False, "deadline": "12-31"}},
    "DO4": {"params": {"deadline": "02-01"}},
}


@pytest.mark.parametrize(
    "rules",
    [
        None,  # the shipped rule set
        OTHER_PARAMETERS,
        {"SH2": {"params": {"years": 0}}, "SH7": {"params": {"years": 0, "require_abnormal_list": False}}},
    ],
    ids=["shipped", "other-parameters", "no-years"],
)
def test_a_run_flags_what_the_pure_engine_flags(
    city_data: dict[str, Any], rules: dict[str, Any] | None
) -> None:
    _random_city(random.Random(5), 45, city_data["counselor"])
    if rules is not None:
        shipped = runs.active_ruleset().rules["rules"]
        _activate(
            {"rules": {code: {**shipped[code], **rules.get(code, {})} for code in shipped}}, "test-params"
        )
    expected = _engine_flags()
    assert len({rule for _c, rule, _e, _t in expected}) >= 5  # the data meets many rules
    assert _run_flags(batch_size=7) == expected
    # one district: batches by the ids of its cooperatives (not a range), the same flags for them
    district_a = set(Cooperative.objects.filter(district__code=DISTRICT_A).values_list("pk", flat=True))
    assert _run_flags(district=city_data["division_a"], batch_size=5) == {
        f for f in expected if f[0] in district_a
    }


def test_the_database_preselects_few_cooperatives(city_data: dict[str, Any]) -> None:
    """The conditions do filter: cooperatives meeting no rule's condition are not read at all."""
    coops = _random_city(random.Random(11), 30, city_data["counselor"])
    rules = parse_rules(runs.active_ruleset().rules)
    screened = Cooperative.objects.filter(retired_at__isnull=True).exclude(operating_status__in=runs.GONE)
    candidates = runs._Candidates(rules, YEAR, AS_OF, screened)
    reader = runs._Reader([YEAR, YEAR - 1], AS_OF)
    ids = sorted(c.pk for c in coops)
    only = candidates.of(ids, reader, dense=True)
    flagged = {(c, rule) for c, rule, _e, _t in _engine_flags(coops)}
    # every flag the engine raises is among the candidates ...
    assert all(rule in only.get(c, set()) for c, rule in flagged)
    # ... and far from every rule of every cooperative is
    assert sum(len(found) for found in only.values()) < len(ids) * len(rules) / 2
