"""Load a plan and its targets from a YAML file (the shape of data/plan-2023-2025.yaml).

The whole file is checked first: unknown districts or metrics, years outside the plan, negative targets
and shares above 1 are refused with a message naming the entry, and nothing is written. Loading the same
file again changes nothing (idempotent); a changed value is updated, with its history.

File shape::

    plan: {code, name, issuer, issued_on, years: [...], closely_linked: [...]?, legend: [...]?}
    city_targets_<YEAR>: {metric: {min: value} | value, ...}       # city-wide goals for one year
    city_targets_by_year: {metric: {year: value, ...}, ...}        # city-wide targets for each year
    districts: [{code, name?, short?, <metric>: {year: value, ...}, ...}, ...]
    totals: {...}                                                  # ignored (a check for readers)
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from hezuo.core.context import change_context
from hezuo.core.services import save_record, snapshot
from hezuo.geo.models import Division

from .closing import closed_years
from .metrics import REGISTRY, SHARE
from .models import LINK_CHOICES, Metric, Plan, Target, default_config

DATA_DIR = Path(__file__).resolve().parent / "data"
SHIPPED_PLANS = ("plan-2023-2025.yaml",)
DISTRICT_KEYS = {"code", "name", "short"}
CITY_YEAR_KEY = re.compile(r"^city_targets_(\d{4})$")


class PlanFileError(ValidationError):
    """A plan file that cannot be loaded; the messages name the entries."""


@dataclass
class ParsedPlan:
    plan: dict[str, Any]
    metrics: list[str]  # in order of first appearance
    annex: list[str]  # the annex table's columns, in order
    labels: dict[str, str]  # district code -> short name
    # (metric, district code or None, year) -> value
    targets: dict[tuple[str, str | None, int], Decimal]


def _value(raw: Any) -> Any:
    return raw.get("min", raw.get("value")) if isinstance(raw, dict) else raw


def parse(data: Any) -> ParsedPlan:
    """Check a loaded YAML document; raise PlanFileError listing every problem."""
    problems: list[str] = []
    if not isinstance(data, dict) or not isinstance(data.get("plan"), dict):
        raise PlanFileError(_("The file has no 'plan' section."))
    head = dict(data["plan"])
    for key in ("code", "name", "years"):
        if not head.get(key):
            problems.append(_("plan: '%(key)s' is missing.") % {"key": key})
    years = head.get("years") or []
    if not isinstance(years, list) or not all(isinstance(y, int) for y in years):
        problems.append(_("plan: years must be a list of years."))
        years = []
    issued = head.get("issued_on")
    if isinstance(issued, str):
        try:
            head["issued_on"] = dt.date.fromisoformat(issued)
        except ValueError:
            problems.append(_("plan: issued_on %(value)s is not a date.") % {"value": issued})
    links = head.get("closely_linked")
    if links is not None and (not isinstance(links, list) or any(x not in LINK_CHOICES for x in links)):
        problems.append(_("plan: closely_linked must list some of %(c)s.") % {"c": ", ".join(LINK_CHOICES)})
    districts = {d.code: d for d in Division.objects.filter(level=Division.Level.DISTRICT)}
    metrics: list[str] = []
    annex: list[str] = []
    targets: dict[tuple[str, str | None, int], Decimal] = {}

    def put(where: str, metric: str, code: str | None, year: Any, raw: Any) -> None:
        if metric not in REGISTRY:
            problems.append(_("%(where)s: unknown metric %(metric)s.") % {"where": where, "metric": metric})
            return
        if metric not in metrics:
            metrics.append(metric)
        if not isinstance(year, int) or year not in years:
            problems.append(
                _("%(where)s %(metric)s %(year)s: the year is not one of the plan's years.")
                % {"where": where, "metric": metric, "year": year}
            )
            return
        try:
            value = Decimal(str(_value(raw)))
        except (InvalidOperation, ValueError):
            problems.append(
                _("%(where)s %(metric)s %(year)s: %(value)s is not a number.")
                % {"where": where, "metric": metric, "year": year, "value": raw}
            )
            return
        if not value.is_finite() or value < 0:
            problems.append(
                _("%(where)s %(metric)s %(year)s: a target cannot be negative (%(value)s).")
                % {"where": where, "metric": metric, "year": year, "value": value}
            )
            return
        if REGISTRY[metric].kind == SHARE and value > 1:
            problems.append(
                _("%(where)s %(metric)s %(year)s: a share is at most 1 (%(value)s).")
                % {"where": where, "metric": metric, "year": year, "value": value}
            )
            return
        key = (metric, code, year)
        if key in targets and targets[key] != value:
            problems.append(
                _("%(where)s %(metric)s %(year)s: %(value)s contradicts %(other)s given elsewhere.")
                % {"where": where, "metric": metric, "year": year, "value": value, "other": targets[key]}
            )
            return
        targets[key] = value

    labels: dict[str, str] = {}
    for index, row in enumerate(data.get("districts") or [], start=1):
        code = str((row or {}).get("code", ""))
        where = _("districts entry %(n)s (%(code)s)") % {"n": index, "code": code or "?"}
        if code not in districts:
            problems.append(_("%(where)s: unknown district %(code)s.") % {"where": where, "code": code})
            continue
        labels[code] = str(row.get("short") or districts[code].name)
        for metric, by_year in row.items():
            if metric in DISTRICT_KEYS:
                continue
            if metric in REGISTRY and metric not in annex:
                annex.append(metric)
            if not isinstance(by_year, dict):
                problems.append(
                    _("%(where)s %(metric)s: give a value per year.") % {"where": where, "metric": metric}
                )
                continue
            for year, raw in by_year.items():
                put(where, metric, code, year, raw)
    for metric, by_year in (data.get("city_targets_by_year") or {}).items():
        where = "city_targets_by_year"
        if metric in REGISTRY and metric not in annex:
            annex.append(metric)
        if not isinstance(by_year, dict):
            problems.append(
                _("%(where)s %(metric)s: give a value per year.") % {"where": where, "metric": metric}
            )
            continue
        for year, raw in by_year.items():
            put(where, metric, None, year, raw)
    for key, goals in data.items():
        match = CITY_YEAR_KEY.match(str(key))
        if not match:
            continue
        for metric, raw in (goals or {}).items():
            put(str(key), metric, None, int(match[1]), raw)
    # metrics the plan follows without a target (the fieldwork's visits, cleanups, rectifications...)
    tracked = data.get("tracked") or []
    if not isinstance(tracked, list):
        problems.append(_("tracked: give a list of metrics."))
        tracked = []
    for metric in tracked:
        if metric not in REGISTRY:
            problems.append(
                _("%(where)s: unknown metric %(metric)s.") % {"where": "tracked", "metric": metric}
            )
        else:
            if metric not in metrics:
                metrics.append(metric)
            if metric not in annex:  # a column of the progress table, after the annex's own
                annex.append(metric)
    if problems:
        raise PlanFileError(problems)
    return ParsedPlan(head, metrics, annex, labels, targets)


def load_plan_text(text: str, *, user: Any = None, source: str = "cli") -> Plan:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PlanFileError(_("The file is not valid YAML: %(error)s") % {"error": exc}) from exc
    return load_parsed(parse(data), user=user, source=source)


def load_plan_file(path: Path | str, *, user: Any = None, source: str = "cli") -> Plan:
    return load_plan_text(Path(path).read_text(encoding="utf-8"), user=user, source=source)


def _save_changed(obj: Any, **values: Any) -> None:
    before = snapshot(obj) if obj.pk else None
    for name, value in values.items():
        setattr(obj, name, value)
    save_record(obj, before=before)


@transaction.atomic
def load_parsed(parsed: ParsedPlan, *, user: Any = None, source: str = "cli") -> Plan:
    head = parsed.plan
    with change_context(user=user, source=source, reason=_("plan loaded from a file")):
        plan = Plan.objects.filter(code=head["code"]).first() or Plan(code=head["code"])
        config = dict(plan.config or default_config()) if plan.pk else default_config()
        if head.get("closely_linked"):
            config["closely_linked"] = list(head["closely_linked"])
        if head.get("legend"):
            config["legend"] = list(head["legend"])
        _save_changed(
            plan,
            name=str(head["name"]),
            issuer=str(head.get("issuer") or ""),
            issued_on=head.get("issued_on"),
            years=list(head["years"]),
            config=config,
            district_labels=[[code, label] for code, label in parsed.labels.items()],
        )
        metrics: dict[str, Metric] = {m.key: m for m in plan.metrics.filter(retired_at__isnull=True)}
        for key in parsed.metrics:
            order = parsed.annex.index(key) + 1 if key in parsed.annex else None
            metric = metrics.get(key) or Metric(plan=plan, key=key)
            _save_changed(metric, annex_order=order)
            metrics[key] = metric
        districts = {d.code: d for d in Division.objects.filter(code__in=parsed.labels)}
        existing = {
            (t.metric.key, t.district.code if t.district_id and t.district is not None else None, t.year): t
            for t in plan.targets.filter(retired_at__isnull=True).select_related("metric", "district")
        }
        closed = closed_years(plan) if plan.pk else set()
        refused = [
            _("%(where)s %(metric)s %(year)s: the year is closed; reopen it to change its targets.")
            % {"where": code or _("city"), "metric": key, "year": year}
            for (key, code, year), value in parsed.targets.items()
            if year in closed
            and (existing.get((key, code, year)) is None or existing[(key, code, year)].value != value)
        ]
        if refused:
            raise PlanFileError(refused)
        for (key, code, year), value in parsed.targets.items():
            target = existing.get((key, code, year)) or Target(
                plan=plan, metric=metrics[key], district=districts.get(code) if code else None, year=year
            )
            if target.pk and target.value == value:
                continue
            _save_changed(target, value=value)
    return plan


def ensure_shipped_plans() -> list[Plan]:
    """Load the plans shipped in hezuo/targets/data that are not loaded yet (for `hezuo setup`; idempotent).

    A plan already present is left as it is: its targets may have been changed since by city staff."""
    plans = []
    for name in SHIPPED_PLANS:
        parsed = parse(yaml.safe_load((DATA_DIR / name).read_text(encoding="utf-8")))
        existing = Plan.objects.filter(code=parsed.plan["code"]).first()
        plans.append(existing or load_parsed(parsed, source="cli"))
    return plans
