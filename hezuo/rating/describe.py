"""Plain words for the engine's structured results: indicator reasons, gate checks, missing facts, advice.

Results are stored as language-neutral JSON (engine.EXPLANATION_FORMAT: positions in the rubric version
rather than names, and only what the engine found); expand() names every part again (and computes the
rest), and the words are made when shown, in the reader's language.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from hezuo.core.text import join_words

from .engine import ALTERNATIVE, EXPLANATION_FORMAT, MEASURES, RELAXED, compile_rubric, stored_evaluation
from .rubric import label_text

# what a check demands, shown in the gate breakdown
CHECK_LABELS = {
    "status_rateable": gettext_lazy("Not revoked or deregistered"),
    "not_shell": gettext_lazy("Not classified as a shell cooperative"),
    "not_dormant": gettext_lazy("Not dormant or suspended"),
    "not_flagged": gettext_lazy("None of these flags: %(flags)s"),
    "credit_code_prefix": gettext_lazy("Credit code of a farmer cooperative (prefix %(prefix)s)"),
    "registered_years": gettext_lazy("Registered for at least %(min)s years"),
    "not_abnormal_listed": gettext_lazy("Not on the abnormal-operations list"),
    "no_recent_abnormal": gettext_lazy("No abnormal-list record in the last %(years)s years"),
    "annual_report_on_time": gettext_lazy("Annual report filed between 1 January and the deadline"),
    "indicator_points": gettext_lazy("%(indicator)s scores at least %(min)s points"),
    "surplus_return_min": gettext_lazy("At least %(share)s of the surplus returned by transactions"),
    "compliance_clean": gettext_lazy("No failed item in the compliance checklist"),
    "holds_title": gettext_lazy("Holds a demonstration title (level %(min_rank)s or above)"),
}

# the action that meets a failed check, for "what it takes"
CHECK_ACTIONS = {
    "status_rateable": gettext_lazy(
        "the licence is revoked or the cooperative deregistered: it cannot be rated"
    ),
    "not_shell": gettext_lazy("have the shell classification lifted after verification of real operation"),
    "not_dormant": gettext_lazy("resume operation (end the dormant or suspended status)"),
    "not_flagged": gettext_lazy("clear the %(flags)s finding"),
    "credit_code_prefix": gettext_lazy("only farmer cooperatives (credit code 93…) are rated"),
    "registered_years": gettext_lazy("wait until the cooperative has been registered for %(min)s years"),
    "not_abnormal_listed": gettext_lazy("have the cooperative removed from the abnormal-operations list"),
    "no_recent_abnormal": gettext_lazy("wait until %(years)s years have passed since the abnormal listing"),
    "annual_report_on_time": gettext_lazy("file the annual report between 1 January and the deadline"),
    "surplus_return_min": gettext_lazy(
        "return at least %(share)s of the distributable surplus by transactions"
    ),
    "compliance_clean": gettext_lazy("put right the failed compliance items: %(items)s"),
    "holds_title": gettext_lazy("obtain a county standardised cooperative title or higher"),
}

# doing a thing (bool and level measures), for "what it takes"
MEASURE_ACTIONS = {
    "member_structure": gettext_lazy(
        "make the member structure lawful (farmer members at least 80%, entity members within the cap)"
    ),
    "assembly_level": gettext_lazy(
        "hold the annual general assembly with a two-thirds quorum and signed minutes"
    ),
    "organs_ok": gettext_lazy("put the chair, board and supervisor in place with no forbidden dual roles"),
    "member_register": gettext_lazy("keep the member register and file member changes"),
    "accounting_ok": gettext_lazy(
        "keep accounts per the cooperative accounting system, book member and "
        "non-member trade apart, and give members the documents 15 days before the "
        "assembly"
    ),
    "annual_report_on_time": gettext_lazy(
        "file the annual report by the deadline and leave the abnormal list"
    ),
    "loss_plan_approved": gettext_lazy("have the loss plan approved by the assembly"),
    "internal_audit": gettext_lazy("have the supervisor's audit reported to the assembly"),
    "subsidy_quantified": gettext_lazy("quantify the subsidy-formed assets to the member accounts"),
    "traceability": gettext_lazy("keep production records with traceability"),
    "trademark": gettext_lazy("register a trademark"),
    "certification": gettext_lazy("obtain a green food, organic or geographical-indication certification"),
    "title_rank": gettext_lazy("obtain a demonstration title of level %(to)s"),
}

# what a numeric measure is, for "raise X from a to b"
MEASURE_NOUNS = {
    "farmer_share": gettext_lazy("the share of farmer members"),
    "member_account_share": gettext_lazy("the share of members with a member account"),
    "surplus_return_share": gettext_lazy("the surplus returned by transactions"),
    "extra_vote_share": gettext_lazy("the extra votes"),
    "member_trade_share": gettext_lazy("the share of trade with members"),
    "member_households": gettext_lazy("the member households"),
    "driven_households": gettext_lazy("the non-member households driven"),
    "members": gettext_lazy("the members"),
    "revenue": gettext_lazy("the operating revenue"),
    "income_uplift": gettext_lazy("the member income above local peers"),
    "unified_service_rate": gettext_lazy("the unified purchase and sale rates"),
    "capital_assets": gettext_lazy("the member capital or fixed assets"),
    # measured as yes/no or a level: named on the rubric's pages (the advice says what to do instead)
    "member_structure": gettext_lazy("the member structure the law requires"),
    "assembly_level": gettext_lazy("the general assembly held, with quorum and signed minutes"),
    "organs_ok": gettext_lazy("the governing bodies in place, without conflicting offices"),
    "member_register": gettext_lazy("the member register filed"),
    "accounting_ok": gettext_lazy("the accounts kept as required"),
    "annual_report_on_time": gettext_lazy("the annual report filed on time"),
    "traceability": gettext_lazy("product traceability"),
    "trademark": gettext_lazy("a registered trademark"),
    "certification": gettext_lazy("product certifications"),
}

STATUS_FIELD_LABELS = {
    "registration_date": gettext_lazy("registration date"),
    "suspended_since": gettext_lazy("suspended since"),
    "title_rank": gettext_lazy("demonstration titles"),
}


def fmt_value(kind: str, value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "—"
    if kind == "share":
        # up to two decimals, never rounded across a tier's bound (59.97% is not shown as 60%)
        return f"{float(value) * 100:.2f}".rstrip("0").rstrip(".") + "%"
    if kind == "money":
        return _("%(n)s ten-thousand yuan") % {"n": f"{float(value) / 10000:,.2f}"}
    if kind == "count":
        return f"{float(value):,.0f}"
    if kind == "bool":
        return _("Yes") if value else _("No")
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return str(value)


def field_label(name: str) -> str:
    from hezuo.registry.models import Cooperative, YearlyFact

    if name in STATUS_FIELD_LABELS:
        return str(STATUS_FIELD_LABELS[name])
    for model in (YearlyFact, Cooperative):
        try:
            return str(getattr(model._meta.get_field(name), "verbose_name", name))
        except Exception:
            continue
    return name


def expand(
    explanation: Mapping[str, Any],
    definition: Mapping[str, Any],
    content_hash: str = "",
    rubric_ref: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A stored explanation with every part named, as engine.RatingResult.as_json() gives it (plus the
    rubric): dimensions, indicators and gates as objects with their keys. `definition` is the rubric version
    of the rating (`content_hash` its hash, to reuse its compiled form; `rubric_ref` its reference, which
    format 3 does not store). Format 3 stores only the entries and the outcomes: the rest is computed here
    by the engine's summarize(). Format 2 stored the summary too; format 1 is already named."""
    version = explanation.get("format")
    if version not in (2, EXPLANATION_FORMAT):
        return dict(explanation)
    rubric = compile_rubric(definition, content_hash)
    if version == EXPLANATION_FORMAT:
        ev = stored_evaluation(explanation, rubric)
        summary: Mapping[str, Any] = {
            "score": ev.score,
            "score_max": ev.score_max,
            "stars": ev.stars,
            "stars_low": ev.stars_low,
            "stars_high": ev.stars_high,
            "dimensions": ev.dimensions,
            "gates": ev.gates,
            "missing": ev.missing,
            "capped_by": ev.capped_by,
            "rubric": dict(rubric_ref) if rubric_ref is not None else None,
        }
    else:
        summary = explanation
    indicators = []
    for ind, entry in zip(rubric.indicators, explanation.get("indicators", ()), strict=False):
        item: dict[str, Any] = {
            "key": ind.key,
            "value": entry[0],
            "points": entry[1],
            "max": ind.max_points,
            "tier": entry[2],
        }
        flags = entry[3] if len(entry) > 3 else 0
        if len(entry) > 4 and entry[4]:
            item["missing"] = list(entry[4])
        if flags & RELAXED:
            item["relaxed"] = True
        if flags & ALTERNATIVE:
            item["alt"] = True
        indicators.append(item)
    gates = []
    for gate, (passed, outcomes) in zip(rubric.gates, summary.get("gates", ()), strict=False):
        checks = []
        for (chk, _params), out in zip(gate.checks, outcomes, strict=False):
            check: dict[str, Any] = {"check": chk.name, "ok": out[0], "value": out[1]}
            if len(out) > 2 and out[2]:
                check["missing"] = list(out[2])
            checks.append(check)
        gates.append({"key": gate.key, "star": gate.star, "passed": passed, "checks": checks})
    return {
        "score": summary.get("score"),
        "score_max": summary.get("score_max"),
        "stars": summary.get("stars"),
        "stars_low": summary.get("stars_low"),
        "stars_high": summary.get("stars_high"),
        "dimensions": [
            {"key": key, "points": points, "max": top}
            for (key, _keys), points, top in zip(
                rubric.dimensions, summary.get("dimensions", ()), rubric.dimension_max, strict=False
            )
        ],
        "indicators": indicators,
        "gates": gates,
        "missing": list(summary.get("missing", ())),
        "capped_by": list(summary.get("capped_by", ())),
        "rubric": summary.get("rubric"),
    }


def rating_explanation(rating: Any) -> dict[str, Any]:
    """A rating's explanation with every part named (describe.expand with the rating's rubric version)."""
    rubric = rating.rubric
    ref = {"id": rubric.pk, "code": rubric.code, "version": rubric.version, "hash": rubric.content_hash}
    return expand(rating.explanation, rubric.definition, rubric.content_hash, ref)


def indicator_index(definition: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for dim in definition.get("dimensions", []):
        for ind in dim.get("indicators", []):
            out[ind["key"]] = {
                **ind,
                "dimension": dim["key"],
                "dimension_label": label_text(dim.get("label")),
            }
    return out


def tier_text(kind: str, lower: bool, tiers: Any) -> str:
    sign = "≤" if lower else "≥"
    parts = []
    for threshold, points in tiers or ():
        if kind in ("bool",):
            parts.append(f"{_('Yes')} → {points:g}")
        else:
            parts.append(f"{sign} {fmt_value(kind, threshold)} → {points:g}")
    return "; ".join(parts)


def measure_text(name: str) -> str:
    """A measure in words (its noun, or the fact it reads): "the share of members with a member account"."""
    noun = MEASURE_NOUNS.get(name)
    return str(noun) if noun is not None else field_label(name)


def readable_rows(definition: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """rubric.rows_of(definition) for the reader: path -> (the entry's name, its content in words), for the
    side-by-side comparison of two versions (the comparison itself is made on rubric.rows_of)."""
    rows: dict[str, tuple[str, str]] = {}
    for dim in definition.get("dimensions", []):
        rows[f"dimension {dim['key']}"] = (
            _("Dimension %(key)s") % {"key": dim["key"]},
            label_text(dim.get("label")),
        )
        for ind in dim.get("indicators", []):
            measure = MEASURES.get(ind.get("measure", ""))
            kind = measure.kind if measure else ""
            lower = measure is not None and measure.better == "lower"
            parts = [label_text(ind.get("label")), measure_text(str(ind.get("measure", "")))]
            if ind.get("params"):
                parts.append(", ".join(f"{k} = {v}" for k, v in sorted(ind["params"].items())))
            parts.append(tier_text(kind, lower, ind.get("tiers")))
            if ind.get("relaxed_tiers"):
                parts.append(
                    _("relaxed: %(tiers)s") % {"tiers": tier_text(kind, lower, ind["relaxed_tiers"])}
                )
            alt = ind.get("otherwise") or {}
            if alt:
                alt_measure = MEASURES.get(alt.get("measure", ""))
                alt_kind = alt_measure.kind if alt_measure else ""
                alt_lower = alt_measure is not None and alt_measure.better == "lower"
                parts.append(
                    _("otherwise %(what)s: %(tiers)s")
                    % {
                        "what": measure_text(str(alt.get("measure", ""))),
                        "tiers": tier_text(alt_kind, alt_lower, alt.get("tiers")),
                    }
                )
            if ind.get("na_points"):
                parts.append(_("%(n)s points when it does not apply") % {"n": ind["na_points"]})
            rows[f"indicator {ind['key']}"] = (
                _("Indicator %(key)s") % {"key": ind["key"]},
                " · ".join(p for p in parts if p),
            )
    for star, floor in definition.get("star_floors", []):
        rows[f"floor {star}★"] = (
            _("Score for %(star)s★") % {"star": star},
            _("at least %(points)s points") % {"points": floor},
        )
    for gate in definition.get("gates", []):
        checks = []
        for c in gate.get("checks", []):
            c = {"check": c} if isinstance(c, str) else c
            checks.append(check_text(c["check"], c.get("params"), definition))
        rows[f"gate {gate['key']}"] = (
            _("Gate %(key)s") % {"key": gate["key"]},
            f"{gate['star']}★ · {label_text(gate.get('label'))} · " + "; ".join(checks),
        )
    if definition.get("relaxed_industries"):
        from hezuo.registry.choices import Industry

        labels = dict(Industry.choices)
        rows["relaxed industries"] = (
            str(_("Industries with relaxed tiers")),
            join_words(str(labels.get(code, code)) for code in definition["relaxed_industries"]),
        )
    return rows


def indicator_rows(explanation: Mapping[str, Any], definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each indicator's points with its reason (value found, tier reached, or what is missing)."""
    explanation = expand(explanation, definition)
    index = indicator_index(definition)
    rows = []
    for item in explanation.get("indicators", []):
        ind = index.get(item["key"], {})
        measure = MEASURES.get(ind.get("measure", ""))
        kind = measure.kind if measure else ""
        lower = measure is not None and measure.better == "lower"
        tiers = ind.get("relaxed_tiers") if item.get("relaxed") else ind.get("tiers")
        if item.get("missing"):
            reason = _("Missing: %(fields)s") % {
                "fields": join_words(field_label(f) for f in item["missing"])
            }
        elif item.get("alt"):
            alt = ind.get("otherwise") or {}
            alt_measure = MEASURES.get(alt.get("measure", ""))
            if alt_measure is not None and item.get("value") is not None:
                reason = _("Does not apply (no surplus); %(what)s: %(value)s") % {
                    "what": measure_text(str(alt.get("measure", ""))),
                    "value": fmt_value(alt_measure.kind, item["value"]),
                }
            else:
                reason = _("Does not apply")
            tiers = alt.get("tiers")
            if alt_measure is not None:
                kind = alt_measure.kind
        elif kind == "bool":
            reason = _("Yes: met") if item["points"] else _("No: not met")
        elif item["tier"] >= 0 and tiers:
            threshold = tiers[item["tier"]][0]
            reason = _("%(value)s: tier %(tier)s reached (%(sign)s %(threshold)s)") % {
                "value": fmt_value(kind, item["value"]),
                "tier": item["tier"] + 1,
                "sign": "≤" if lower else "≥",
                "threshold": fmt_value(kind, threshold),
            }
        else:
            first = tiers[0][0] if tiers else None
            reason = _("%(value)s: below the first tier (%(sign)s %(threshold)s)") % {
                "value": fmt_value(kind, item["value"]),
                "sign": "≤" if lower else "≥",
                "threshold": fmt_value(kind, first),
            }
        if item.get("relaxed"):
            reason += " · " + _("relaxed tiers for service cooperatives")
        rows.append(
            {
                "key": item["key"],
                "label": label_text(ind.get("label")),
                "dimension": ind.get("dimension", ""),
                "points": item["points"],
                "max": item["max"],
                "reason": reason,
                "missing": bool(item.get("missing")),
                "tiers": tier_text(kind, lower, tiers),
            }
        )
    return rows


def check_text(
    name: str, params: Mapping[str, Any] | None = None, definition: Mapping[str, Any] | None = None
) -> str:
    params = dict(params or {})
    if "flags" in params:
        params["flags"] = ", ".join(field_label(f) for f in params["flags"])
    if "share" in params:
        params["share"] = fmt_value("share", params["share"])
    if "indicator" in params and definition is not None:
        ind = indicator_index(definition).get(params["indicator"], {})
        params["indicator"] = f"{params['indicator']} {label_text(ind.get('label'))}".strip()
        params.setdefault("min", 1)
    text = CHECK_LABELS.get(name)
    if text is None:
        return name
    try:
        return str(text) % params
    except (KeyError, TypeError, ValueError):
        return str(text)


def check_value_text(check: str, value: Any) -> str:
    """What a gate check found, for the reader: yes/no, an operating status by its name, a share in %, the
    flags raised by their labels, years."""
    from hezuo.registry.choices import OperatingStatus

    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if isinstance(value, str) and value in OperatingStatus.values:
        return str(OperatingStatus(value).label)
    if check == "surplus_return_min" and isinstance(value, int | float):
        return fmt_value("share", value)
    if check == "registered_years" and isinstance(value, int | float):
        return ngettext("%(n)s year", "%(n)s years", int(value)) % {"n": f"{value:g}"}
    if check == "not_flagged" and isinstance(value, list):
        return join_words(field_label(str(f)) for f in value)
    if check == "indicator_points" and isinstance(value, int | float):
        return ngettext("%(n)s point", "%(n)s points", int(value)) % {"n": f"{value:g}"}
    return fmt_value("", value)


def gate_rows(explanation: Mapping[str, Any], definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    explanation = expand(explanation, definition)
    gates = {g["key"]: g for g in definition.get("gates", [])}
    rows = []
    for gate in explanation.get("gates", []):
        spec = gates.get(gate["key"], {})
        specs = [c if isinstance(c, dict) else {"check": c} for c in spec.get("checks", [])]
        checks = []
        for index, chk in enumerate(gate["checks"]):
            params = specs[index].get("params") if index < len(specs) else {}
            detail = ""
            if chk.get("missing"):
                detail = _("Missing: %(fields)s") % {
                    "fields": join_words(field_label(f) for f in chk["missing"])
                }
            elif chk["check"] == "compliance_clean" and chk.get("value"):
                detail = _("Failed items: %(items)s") % {"items": ", ".join(chk["value"])}
            elif chk.get("value") not in (None, [], ""):
                detail = check_value_text(chk["check"], chk["value"])
            checks.append(
                {"text": check_text(chk["check"], params, definition), "ok": chk["ok"], "detail": detail}
            )
        rows.append(
            {
                "key": gate["key"],
                "label": label_text(spec.get("label")),
                "star": gate["star"],
                "passed": gate["passed"],
                "checks": checks,
            }
        )
    return rows


def missing_text(fields: Any) -> str:
    return join_words(field_label(f) for f in fields or ())


def _raise_text(ind: Mapping[str, Any], value_from: Any, value_to: Any) -> str:
    """What to do to bring an indicator's measure from one value to another, in plain words."""
    measure = MEASURES.get(ind.get("measure", ""))
    name = ind.get("measure", "")
    kind = measure.kind if measure else ""
    if kind in ("bool", "level") or name in MEASURE_ACTIONS:
        text = str(MEASURE_ACTIONS.get(name, label_text(ind.get("label"))))
        with contextlib.suppress(KeyError, TypeError, ValueError):
            text = text % {"to": value_to}
        return text
    noun = str(MEASURE_NOUNS.get(name, label_text(ind.get("label"))))
    values = {"what": noun, "from": fmt_value(kind, value_from), "to": fmt_value(kind, value_to)}
    if value_from is None:
        return _("report %(what)s (at least %(to)s)") % values
    if measure is not None and measure.better == "lower":
        return _("lower %(what)s from %(from)s to %(to)s") % values
    return _("raise %(what)s from %(from)s to %(to)s") % values


def advice_lines(advice: Mapping[str, Any], definition: Mapping[str, Any]) -> list[str]:
    """'hold the annual general assembly …: +5 and passes gate G3; raise … from 52% to 60%: +6'."""
    index = indicator_index(definition)
    gates = {g["key"]: g for g in definition.get("gates", [])}
    lines = []
    for item in advice.get("items", []):
        if item["kind"] == "indicator":
            text = _raise_text(index.get(item["key"], {}), item.get("from"), item["to"])
            text = f"{text} ({item['key']})"
        else:
            spec = gates.get(item["key"], {})
            params: dict[str, Any] = {}
            checks = [c if isinstance(c, dict) else {"check": c} for c in spec.get("checks", [])]
            position = item.get("index", -1)
            if 0 <= position < len(checks) and checks[position]["check"] == item["check"]:
                params = dict(checks[position].get("params") or {})
            else:
                params = dict(
                    next((c.get("params") or {} for c in checks if c["check"] == item["check"]), {})
                )
            if "share" in params:
                params["share"] = fmt_value("share", params["share"])
            if "flags" in params:
                params["flags"] = ", ".join(str(field_label(f)) for f in params["flags"])
            if item["check"] == "compliance_clean":
                params["items"] = ", ".join(item.get("from") or [])
            if item["check"] == "indicator_points":
                key = str(params.get("indicator", ""))
                ind = index.get(key, {})
                if item.get("to") is not None:  # the measure before and after: said as for an indicator
                    text = f"{_raise_text(ind, item.get('from'), item['to'])} ({key})"
                else:
                    text = str(MEASURE_ACTIONS.get(ind.get("measure", ""), label_text(ind.get("label"))))
                    with contextlib.suppress(KeyError, TypeError, ValueError):
                        text = text % {"to": params.get("min")}
            else:
                try:
                    text = str(CHECK_ACTIONS.get(item["check"], item["check"])) % params
                except (KeyError, TypeError, ValueError):
                    text = str(CHECK_ACTIONS.get(item["check"], item["check"]))
        suffix = []
        if item.get("gain"):
            suffix.append(f"+{item['gain']:g}")
        if item.get("gates"):
            suffix.append(_("passes gate %(gates)s") % {"gates": ", ".join(item["gates"])})
        joiner = _(" and ")  # outside the f-string, where makemessages finds it
        lines.append(f"{text}: {joiner.join(suffix)}" if suffix else text)
    return lines


def blocked_lines(advice: Mapping[str, Any], definition: Mapping[str, Any]) -> list[str]:
    gates = {g["key"]: g for g in definition.get("gates", [])}
    lines = []
    for gate_key, name in advice.get("blocked", []):
        params: dict[str, Any] = {}
        for chk in gates.get(gate_key, {}).get("checks", []):
            chk = chk if isinstance(chk, dict) else {"check": chk}
            if chk["check"] == name:
                params = dict(chk.get("params") or {})
        try:
            text = str(CHECK_ACTIONS.get(name, name)) % params
        except (KeyError, TypeError, ValueError):
            text = str(CHECK_ACTIONS.get(name, name))
        lines.append(f"{gate_key}: {text}")
    return lines
