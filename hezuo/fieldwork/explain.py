"""A flag's explanation in the reader's language, from its rule and evidence.

The detection engine (detection.py) is pure and explains each flag in a plain English sentence, stored with
the flag. Pages show this module's rendering instead: the same facts, from the stored evidence, through
gettext, so that the Chinese interface reads Chinese (and the English one English). A rule or an evidence
shape this module does not know falls back to the stored sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from hezuo.core.text import join_words


def _years(values: Any) -> str:
    return join_words(str(v) for v in sorted(values or []))


def _sh1(e: Mapping[str, Any]) -> str:
    parts = []
    if e.get("members") is not None and e.get("min_members") is not None and e["members"] < e["min_members"]:
        parts.append(
            _("%(year)s: %(n)s registered members (fewer than %(min)s)")
            % {"year": e["year"], "n": e["members"], "min": e["min_members"]}
        )
    farmers, least = e.get("farmer_members"), e.get("min_farmer_members")
    if farmers is not None and least is not None and farmers < least:
        parts.append(
            _("%(year)s: %(n)s farmer members (fewer than %(min)s)")
            % {"year": e["year"], "n": farmers, "min": least}
        )
    return "; ".join(parts)


def _sh2(e: Mapping[str, Any]) -> str:
    return _("No revenue and no member transactions in %(years)s") % {"years": _years(e["years"])}


def _sh3(e: Mapping[str, Any]) -> str:
    return _("Observed halted since %(date)s (%(days)s days)") % {
        "date": e["halted_since"],
        "days": e["days"],
    }


def _marker(e: Mapping[str, Any]) -> str:
    from hezuo.registry.models import Cooperative

    name = str(e["field"])
    try:
        label = str(getattr(Cooperative._meta.get_field(name), "verbose_name", name))
    except FieldDoesNotExist:  # a marker that is not a field of the registry: its name
        label = name
    return _("Recorded for the cooperative: %(what)s") % {"what": label}


def _sh7(e: Mapping[str, Any]) -> str:
    text = _("Annual reports for %(years)s not filed on time") % {"years": _years(e["report_years"])}
    if e.get("on_abnormal_list"):
        text += _("; on the abnormal-operations list")
        if e.get("abnormal_listed_on"):
            text += _(" since %(date)s") % {"date": e["abnormal_listed_on"]}
    return text


def _do1(e: Mapping[str, Any]) -> str:
    return _("No revenue and no member transactions in %(year)s") % {"year": e["year"]}


def _do2(e: Mapping[str, Any]) -> str:
    if e.get("suspended_since"):
        text = _("Suspension (歇业) filed since %(date)s") % {"date": e["suspended_since"]}
    else:
        text = _("Suspension (歇业) filed")
    if e.get("lapsed"):
        text += _("; past the longest suspension: to be re-tested as a shell (SH2)")
    return text


def _do3(e: Mapping[str, Any]) -> str:
    return _("No general assembly and no financial statements in %(year)s") % {"year": e["year"]}


def _do4(e: Mapping[str, Any]) -> str:
    if e.get("filed") and e.get("filed_on"):
        return _("Annual report for %(year)s filed on %(on)s, after the deadline %(due)s") % {
            "year": e["report_year"],
            "on": e["filed_on"],
            "due": e["due"],
        }
    return _("Annual report for %(year)s not filed by %(due)s") % {"year": e["report_year"], "due": e["due"]}


DESCRIBE: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "SH1": _sh1,
    "SH2": _sh2,
    "SH3": _sh3,
    "SH4": _marker,
    "SH5": _marker,
    "SH6": _marker,
    "SH7": _sh7,
    "DO1": _do1,
    "DO2": _do2,
    "DO3": _do3,
    "DO4": _do4,
}


def describe(rule: str, evidence: Any, fallback: str = "") -> str:
    """The flag's explanation in the active language; `fallback` (the stored sentence) when the rule or the
    evidence is not one this module knows."""
    fn = DESCRIBE.get(rule)
    if fn is None or not isinstance(evidence, Mapping):
        return fallback
    try:
        return fn(evidence) or fallback
    except (KeyError, TypeError, ValueError):
        return fallback


EVIDENCE_LABELS: dict[str, Any] = {
    "year": gettext_lazy("Fiscal year"),
    "years": gettext_lazy("Fiscal years"),
    "members": gettext_lazy("Registered members"),
    "farmer_members": gettext_lazy("Farmer members"),
    "min_members": gettext_lazy("Fewest members"),
    "min_farmer_members": gettext_lazy("Fewest farmer members"),
    "revenue": gettext_lazy("Revenue (yuan)"),
    "member_transactions": gettext_lazy("Member transactions (yuan)"),
    "operating_status": gettext_lazy("Operating status"),
    "halted_since": gettext_lazy("Halted since"),
    "days": gettext_lazy("Days"),
    "observations": gettext_lazy("Observations"),
    "field": gettext_lazy("Marker"),
    "value": gettext_lazy("Recorded"),
    "report_years": gettext_lazy("Report years"),
    "report_year": gettext_lazy("Report year"),
    "on_abnormal_list": gettext_lazy("On the abnormal-operations list"),
    "abnormal_listed_on": gettext_lazy("Listed on"),
    "suspended_since": gettext_lazy("Suspended since"),
    "lapsed": gettext_lazy("Suspension lapsed"),
    "assembly_held": gettext_lazy("General assembly held"),
    "financial_statements": gettext_lazy("Financial statements"),
    "due": gettext_lazy("Filing deadline"),
    "filed": gettext_lazy("Filed"),
    "filed_on": gettext_lazy("Filed on"),
}


def evidence_rows(evidence: Any) -> list[tuple[str, str]]:
    """(label, value) of each piece of evidence: labels in the reader's language, values as text."""
    from hezuo.core.history import display_value

    if not isinstance(evidence, Mapping):
        return []
    rows = []
    for key, value in evidence.items():
        if key == "observations" and isinstance(value, list):
            shown = "; ".join(
                f"{o.get('date')} {_('operating') if o.get('operating') else _('halted')}"
                for o in value
                if isinstance(o, Mapping)
            )
        elif key == "operating_status":
            from hezuo.registry.choices import OperatingStatus

            shown = str(dict(OperatingStatus.choices).get(value, value))
        else:
            shown = display_value(None, value)
        rows.append((str(EVIDENCE_LABELS.get(key, key)), shown))
    return rows
