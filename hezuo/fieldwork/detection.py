"""The shell/dormant detection engine (criteria.md §7.4): pure functions, facts in, flags with evidence out.

Nothing here touches the database. `parse_rules(data)` validates a rule set's JSON (rule codes, kinds,
parameters and their types) and returns the enabled rules; `evaluate(facts, rules, year, as_of)` returns
the flags a cooperative raises for a fiscal year, each with its evidence and a plain explanation, and the
rules it could not evaluate for missing data (missing data never raises a flag: an empty field means
"not reported", not zero). `years_read(rules, year, as_of)` says which fiscal years the rules read, so that
a run loads those and no others.

The input classes are plain slotted dataclasses, not frozen ones: a run builds hundreds of thousands of
them and a frozen dataclass costs several times more to construct. The engine never changes them.
Yes/no facts may come as booleans or as the 0/1 a database driver gives: the rules read their truth value
and write real booleans into the evidence.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

SHELL, DORMANT = "shell", "dormant"


class RuleSetError(ValueError):
    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass(slots=True)
class YearFacts:
    """What detection reads of one fiscal year (None = not reported)."""

    year: int
    members: int | None = None
    farmer_members: int | None = None
    revenue: Decimal | None = None
    member_transactions: Decimal | None = None
    assembly_held: bool | None = None
    financial_statements: bool | None = None
    annual_report_filed: bool | None = None
    annual_report_date: dt.date | None = None


@dataclass(slots=True)
class Observation:
    """A dated observation of whether the cooperative operates (a visit, an inspection, a self-report)."""

    date: dt.date
    operating: bool
    source: str = ""


@dataclass(slots=True)
class CoopFacts:
    cooperative_id: int
    registration_date: dt.date
    operating_status: str = "operating"
    suspended_since: dt.date | None = None
    on_abnormal_list: bool = False
    abnormal_listed_on: dt.date | None = None
    markers: Mapping[str, bool] = field(default_factory=dict)  # subsidy_fraud, illegal_finance, …
    years: Mapping[int, YearFacts] = field(default_factory=dict)
    observations: tuple[Observation, ...] = ()


@dataclass(frozen=True)
class Rule:
    code: str
    kind: str
    params: Mapping[str, Any]
    title: str = ""
    basis: str = ""


@dataclass(frozen=True)
class FlagResult:
    rule: str
    kind: str
    year: int
    evidence: dict[str, Any]
    explanation: str


@dataclass(frozen=True)
class Evaluation:
    flags: list[FlagResult]
    not_evaluated: dict[str, str]  # rule -> why (missing data)

    def explain(self) -> list[str]:
        lines = [f"{f.rule} ({f.kind}): {f.explanation}" for f in self.flags]
        lines += [f"{rule}: not evaluated, {why}" for rule, why in sorted(self.not_evaluated.items())]
        return lines


# what one rule's function answers: None (not met), a (evidence, explanation) pair (met), or a string
# (could not be evaluated, and why)
Outcome = tuple[dict[str, Any], str] | str | None
RuleFn = Callable[[CoopFacts, Mapping[str, Any], int, dt.date], Outcome]

# rule code -> (kind, {param: (type, default)}, function)
RULES: dict[str, tuple[str, dict[str, tuple[type, Any]], RuleFn]] = {}
# rule code -> the fiscal years whose facts it reads, given (params, year, as_of)
YearsFn = Callable[[Mapping[str, Any], int, dt.date], list[int]]
READS: dict[str, YearsFn] = {}
# the rules that read the observations (visits): a run reads visits only for the cooperatives these may flag
OBSERVES: set[str] = set()


def _this_year(p: Mapping[str, Any], year: int, as_of: dt.date) -> list[int]:
    return [year]


def rule(
    code: str,
    kind: str,
    params: dict[str, tuple[type, Any]],
    reads: YearsFn | None = _this_year,
    observes: bool = False,
) -> Callable[[RuleFn], RuleFn]:
    """Register a rule function; `reads` says which years' facts it reads (None: no yearly facts),
    `observes` whether it reads the observations."""

    def register(fn: RuleFn) -> RuleFn:
        RULES[code] = (kind, params, fn)
        READS[code] = reads or (lambda p, year, as_of: [])
        if observes:
            OBSERVES.add(code)
        return fn

    return register


def _num(value: Decimal | None) -> str | None:
    return None if value is None else format(Decimal(value).normalize(), "f")


def _no_business(facts: YearFacts | None) -> bool | None:
    """True when revenue and member transactions are both reported as zero; None when not reported."""
    if facts is None or facts.revenue is None or facts.member_transactions is None:
        return None
    return facts.revenue == 0 and facts.member_transactions == 0


def report_due(year: int, params: Mapping[str, Any]) -> dt.date:
    """The filing deadline of the annual report for fiscal `year` (the next year's month-day `deadline`)."""
    return _due(year, str(params.get("deadline", "06-30")))


@functools.lru_cache(maxsize=256)
def _due(year: int, deadline: str) -> dt.date:
    month, day = (int(part) for part in deadline.split("-"))
    return dt.date(year + 1, month, day)


def last_reports(year: int, as_of: dt.date, params: Mapping[str, Any], count: int) -> list[int]:
    """The `count` latest report years (≤ `year`) whose filing deadline has passed on `as_of`."""
    return list(_last_reports(year, as_of, str(params.get("deadline", "06-30")), count))


@functools.lru_cache(maxsize=256)
def _last_reports(year: int, as_of: dt.date, deadline: str, count: int) -> tuple[int, ...]:
    # the same few answers for every cooperative of a run: worked out once
    latest = year
    while _due(latest, deadline) >= as_of:
        latest -= 1
    return tuple(latest - i for i in range(count))


def report_missed(facts: YearFacts | None, due: dt.date) -> bool | None:
    if facts is None or facts.annual_report_filed is None:
        return None
    if not facts.annual_report_filed:
        return True
    if facts.annual_report_date is not None:
        return facts.annual_report_date > due
    return False


@rule("SH1", SHELL, {"min_members": (int, 5), "min_farmer_members": (int, 1)})
def sh1(c: CoopFacts, p: Mapping[str, Any], year: int, as_of: dt.date) -> Outcome:
    f = c.years.get(year)
    if f is None or (f.members is None and f.farmer_members is None):
        return f"no members reported for {year}"
    reasons = []
    if f.members is not None and f.members < p["min_members"]:
        reasons.append(f"{f.members} registered members (< {p['min_members']})")
    if f.farmer_members is not None and f.farmer_members < p["min_farmer_members"]:
        reasons.append(f"{f.farmer_members} farmer members (< {p['min_farmer_members']})")
    if not reasons:
        return None
    evidence = {"year": year, "members": f.members, "farmer_members": f.farmer_members, **p}
    return evidence, "; ".join(reasons)


def _suspension_justifies(c: CoopFacts, p: Mapping[str, Any], as_of: dt.date) -> bool:
    if not p.get("accept_suspension", True) or c.operating_status != "suspended":
        return False
    if c.suspended_since is None:
        return True
    return (as_of - c.suspended_since).days <= 365 * int(p.get("max_suspension_years", 3))


@rule(
    "SH2",
    SHELL,
    {"years": (int, 2), "accept_suspension": (bool, True), "max_suspension_years": (int, 3)},
    reads=lambda p, year, as_of: [year - i for i in range(p["years"])],
)
def sh2(c: CoopFacts, p: Mapping[str, Any], year: int, as_of: dt.date) -> Outcome:
    years = [year - i for i in range(p["years"])]
    answers = {y: _no_business(c.years.get(y)) for y in years}
    if any(a is False for a in answers.values()):
        return None
    if any(a is None for a in answers.values()):
        missing = [y for y, a in answers.items() if a is None]
        return f"revenue or member transactions not reported for {', '.join(map(str, missing))}"
    if _suspension_justifies(c, p, as_of):
        return None
    evidence = {
        "years": years,
        "revenue": {str(y): _num(c.years[y].revenue) for y in years},
        "member_transactions": {str(y): _num(c.years[y].member_transactions) for y in years},
        "operating_status": c.operating_status,
    }
    return evidence, f"no revenue and no member transactions in {', '.join(map(str, sorted(years)))}"


_by_date = operator.attrgetter("date")


@rule("SH3", SHELL, {"min_days": (int, 730)}, reads=None, observes=True)
def sh3(c: CoopFacts, p: Mapping[str, Any], year: int, as_of: dt.date) -> Outcome:
    seen = [o for o in c.observations if o.date <= as_of]
    seen.sort(key=_by_date)  # stable: observations of the same date keep the order they were recorded in
    if not seen:
        return "no observation (visit or inspection) of its operation"
    if seen[-1].operating:
        return None
    start = seen[-1].date
    for obs in reversed(seen):
        if obs.operating:
            break
        start = obs.date
    halted_days = (as_of - start).days
    if halted_days < p["min_days"]:
        return None
    evidence = {
        "halted_since": start.isoformat(),
        "days": halted_days,
        "observations": [
            {"date": o.date.isoformat(), "operating": bool(o.operating), "source": o.source}
            for o in seen
            if o.date >= start
        ],
    }
    return evidence, f"observed halted since {start.isoformat()} ({halted_days} days)"


def _marker_rule(code: str, default_field: str) -> None:
    @rule(code, SHELL, {"field": (str, default_field)}, reads=None)
    def check(c: CoopFacts, p: Mapping[str, Any], year: int, as_of: dt.date) -> Outcome:
        name = p["field"]
        if name not in c.markers:
            return f"the marker {name} is not recorded"
        if not c.markers[name]:
            return None
        return {"field": name, "value": True}, f"{name} is recorded for the cooperative"


_marker_rule("SH4", "subsidy_fraud")
_marker_rule("SH5", "serious_violation")
_marker_rule("SH6", "illegal_finance")


@rule(
    "SH7",
    SHELL,
    {"years": (int, 2), "deadline": (str, "06-30"), "require_abnormal_list": (bool, True)},
    reads=lambda p, year, as_of: last_reports(year, as_of, p, p["years"]),
)
def sh7(c: CoopFacts, p: Mapping[str, Any], year: int, as_of: dt.date) -> Outcome:
    if p["require_abnormal_list"] and not c.on_abnormal_list:
        return None
    years = last_reports(year, as_of, p, p["years"])
    missed = {y: report_missed(c.years.get(y), report_due(y, p)) for y in years}
    if any(m is False for m in missed.values()):
        return None
    if any(m is None for m in missed.values()):
        unknown = ", ".join(str(y) for y, m in missed.items() if m is None)
        return f"annual report filing not recorded for {unknown}"
    evidence = {
        "report_years": years,
        "on_abnormal_list": bool(c.on_abnormal_list),
        "abnormal_listed_on": c.abnormal_listed_on.isoformat() if c.abnormal_listed_on else None,
    }
    return evidence, f"annual reports for {', '.join(map(str, sorted(years)))} missed; abnormal-listed"


@rule("DO1", DORMANT, {})
def do1(c: CoopFacts, p: Mapping[str, Any], year: int, as_of: dt.date) -> Outcome:
    answer = _no_business(c.years.get(year))
    if answer is None:
        return f"revenue or member transactions not reported for {year}"
    if not answer:
        return None
    f = c.years[year]
    evidence = {"year": year, "revenue": _num(f.revenue), "member_transactions": _num(f.member_transactions)}
    return evidence, f"no revenue and no member transactions in {year}"


@rule("DO2", DORMANT, {"max_years": (int, 3)}, reads=None)
def do2(c: CoopFacts, p: Mapping[str, Any], year: int, as_of: dt.date) -> Outcome:
    if c.operating_status != "suspended":
        return None
    since = c.suspended_since
    lapsed = since is not None and (as_of - since).days > 365 * p["max_years"]
    evidence = {"suspended_since": since.isoformat() if since else None, "lapsed": lapsed}
    text = "suspension (歇业) filed" + (f" since {since.isoformat()}" if since else "")
    if lapsed:
        text += f"; over {p['max_years']} years: re-test as a shell (SH2)"
    return evidence, text


@rule("DO3", DORMANT, {})
def do3(c: CoopFacts, p: Mapping[str, Any], year: int, as_of: dt.date) -> Outcome:
    f = c.years.get(year)
    if f is None or f.assembly_held is None or f.financial_statements is None:
        return f"assembly or financial statements not reported for {year}"
    if f.assembly_held or f.financial_statements:
        return None
    return {"year": year, "assembly_held": False, "financial_statements": False}, (
        f"no member assembly and no financial statements in {year}"
    )


@rule(
    "DO4", DORMANT, {"deadline": (str, "06-30")}, reads=lambda p, year, as_of: last_reports(year, as_of, p, 1)
)
def do4(c: CoopFacts, p: Mapping[str, Any], year: int, as_of: dt.date) -> Outcome:
    (report_year,) = last_reports(year, as_of, p, 1)
    due = report_due(report_year, p)
    facts = c.years.get(report_year)
    missed = report_missed(facts, due)
    if missed is None:
        return f"annual report filing not recorded for {report_year}"
    if not missed:
        return None
    evidence = {
        "report_year": report_year,
        "due": due.isoformat(),
        "filed": bool(facts.annual_report_filed) if facts else None,
        "filed_on": facts.annual_report_date.isoformat() if facts and facts.annual_report_date else None,
    }
    return evidence, f"annual report for {report_year} not filed by {due.isoformat()}"


# ----------------------------------------------------------------------------------------------------
def parse_rules(data: Any) -> list[Rule]:
    """Validate a rule set's JSON and return its enabled rules (defaults filled in). Raises RuleSetError."""
    errors: list[str] = []
    if not isinstance(data, Mapping) or not isinstance(data.get("rules"), Mapping):
        raise RuleSetError(["The rule set needs a mapping 'rules' of rule code to settings."])
    parsed: list[Rule] = []
    for code, settings in data["rules"].items():
        if code not in RULES:
            errors.append(f"{code}: unknown rule (known: {', '.join(sorted(RULES))})")
            continue
        kind, schema, _fn = RULES[code]
        settings = settings or {}
        if not isinstance(settings, Mapping):
            errors.append(f"{code}: settings must be a mapping")
            continue
        unknown = set(settings) - {"enabled", "params", "title", "basis", "kind"}
        if unknown:
            errors.append(f"{code}: unknown settings {', '.join(sorted(unknown))}")
        if settings.get("kind", kind) != kind:
            errors.append(f"{code}: kind must be {kind}")
        params = dict(settings.get("params") or {})
        for name in set(params) - set(schema):
            errors.append(f"{code}: unknown parameter {name}")
        for name, (typ, default) in schema.items():
            value = params.get(name, default)
            if typ is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                errors.append(f"{code}.{name}: a whole number ≥ 0 is required, not {value!r}")
            elif typ is bool and not isinstance(value, bool):
                errors.append(f"{code}.{name}: true or false is required, not {value!r}")
            elif typ is str and not isinstance(value, str):
                errors.append(f"{code}.{name}: text is required, not {value!r}")
            params[name] = value
        if "deadline" in params and isinstance(params["deadline"], str):
            try:
                month, day = (int(x) for x in params["deadline"].split("-"))
                dt.date(2001, month, day)
            except ValueError:
                errors.append(f"{code}.deadline: a month-day such as 06-30 is required")
        if settings.get("enabled", True) is not True and settings.get("enabled") is not False:
            errors.append(f"{code}.enabled: true or false is required")
        if settings.get("enabled", True):
            parsed.append(
                Rule(code, kind, params, str(settings.get("title", "")), str(settings.get("basis", "")))
            )
    if errors:
        raise RuleSetError(errors)
    return parsed


def years_read(rules: list[Rule], year: int, as_of: dt.date) -> list[int]:
    """The fiscal years whose facts `rules` read for `year` as seen on `as_of`, newest first (a run loads
    these and no others)."""
    years: set[int] = set()
    for r in rules:
        years.update(READS[r.code](r.params, year, as_of))
    return sorted(years, reverse=True)


def screen(
    coops: Iterable[CoopFacts],
    rules: list[Rule],
    year: int,
    as_of: dt.date,
    only: Mapping[int, Collection[str]] | None = None,
) -> Iterator[tuple[int, str, str, dict[str, Any], str]]:
    """The flags of many cooperatives, as (cooperative id, rule, kind, evidence, explanation): what a run
    writes. The same flags as `evaluate()` of each (tested), without what a run does not keep (the rules
    not evaluated) and with each rule's function looked up once, not once per cooperative.

    `only`, when given, names the rules to evaluate for each cooperative (by its id; the others are not
    evaluated): a run passes the rules whose necessary condition the database found met (runs.py), so a
    cooperative's facts need to hold only what those rules read. Flags come in the order of `rules`."""
    plan = [(r.code, r.kind, r.params, RULES[r.code][2]) for r in rules]
    for facts in coops:
        wanted = None if only is None else only[facts.cooperative_id]
        for code, kind, params, fn in plan:
            if wanted is not None and code not in wanted:
                continue
            outcome = fn(facts, params, year, as_of)
            if outcome is None or outcome.__class__ is str:
                continue
            evidence, text = cast(tuple[dict[str, Any], str], outcome)
            yield facts.cooperative_id, code, kind, evidence, text


def evaluate(facts: CoopFacts, rules: list[Rule], year: int, as_of: dt.date) -> Evaluation:
    """The flags `facts` raise for fiscal `year` as seen on `as_of`, and the rules not evaluated (why)."""
    flags: list[FlagResult] = []
    not_evaluated: dict[str, str] = {}
    for r in rules:
        outcome = RULES[r.code][2](facts, r.params, year, as_of)
        if outcome is None:
            continue
        if isinstance(outcome, str):
            not_evaluated[r.code] = outcome
            continue
        evidence, text = outcome
        flags.append(FlagResult(r.code, r.kind, year, evidence, text))
    return Evaluation(flags, not_evaluated)
