"""From the ORM to the engine's plain inputs: a cooperative's facts and status for a year, in batches.

Reads stream by keyset (cooperative id) in batches, three queries per batch whatever its size: the
year's facts joined with the cooperative, the year before's activity, the titles held in the year.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q

from hezuo.registry.choices import TITLE_RANK
from hezuo.registry.models import Cooperative, DemonstrationTitle, YearlyFact

from .engine import CoopInput

SKIP = {"id", "cooperative", "year", "created_at", "updated_at", "retired_at"}
FACT_FIELDS: tuple[str, ...] = tuple(f.name for f in YearlyFact._meta.concrete_fields if f.name not in SKIP)
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


@dataclass(frozen=True, slots=True)
class CoopRef:
    """What a rating row needs of its cooperative besides the inputs (no ORM instance per row)."""

    pk: int
    name: str
    district_id: int


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
        ranks[coop_id] = max(ranks.get(coop_id, 0), TITLE_RANK.get(level, 0))
    return ranks


def _previous(ids: list[int], year: int) -> dict[int, dict[str, Any]]:
    rows = YearlyFact.objects.filter(cooperative_id__in=ids, year=year - 1, retired_at__isnull=True).values(
        "cooperative_id", *PREVIOUS_FIELDS
    )
    return {row["cooperative_id"]: _plain(row, PREVIOUS_FIELDS) for row in rows}


def iter_batches(
    year: int, *, where: Q | None = None, batch_size: int = 2000
) -> Iterator[list[tuple[CoopInput, CoopRef]]]:
    """Every active cooperative with facts for the year (optionally filtered by `where` on YearlyFact)."""
    coop_values = [f"cooperative__{name}" for name in COOP_FIELDS]
    base = YearlyFact.objects.filter(year=year, retired_at__isnull=True, cooperative__retired_at__isnull=True)
    if where is not None:
        base = base.filter(where)
    last = 0
    while True:
        rows = list(
            base.filter(cooperative_id__gt=last)
            .order_by("cooperative_id")
            .values("cooperative_id", *FACT_FIELDS, *coop_values)[:batch_size]
        )
        if not rows:
            return
        ids = [row["cooperative_id"] for row in rows]
        previous = _previous(ids, year)
        titles = _titles(ids, year)
        batch = []
        for row in rows:
            coop = {name: row[f"cooperative__{name}"] for name in COOP_FIELDS}
            coop["id"] = row["cooperative_id"]
            inp = coop_input(
                coop, year, _plain(row, FACT_FIELDS), previous.get(coop["id"]), titles.get(coop["id"], 0)
            )
            batch.append((inp, CoopRef(coop["id"], coop["name"], coop["district_id"])))
        yield batch
        last = ids[-1]


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
