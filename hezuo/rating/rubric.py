"""Rubrics as data: the definition document, its validation, YAML loading, content hash and diff.

A rubric file (YAML) holds the version's description and its definition:

    code: star-rating            # the rubric family; versions of one code are numbered 1, 2, …
    title: …
    provisional: true
    years: [2025]                # the years it is published for when loaded (optional)
    source: …                    # where the thresholds come from
    relaxed_industries: [machinery, forestry]
    dimensions:
      - key: A
        label: {en: Governance and compliance, zh-hans: 规范运行}
        indicators:
          - key: A5
            label: …
            measure: member_account_share        # a named measure of engine.MEASURES
            params: {}                           # the measure's parameters
            tiers: [[0.8, 3], [1.0, 5]]          # threshold → points, ascending points
            relaxed_tiers: …                     # optional: for the relaxed industries
            otherwise: {measure: …, tiers: …}    # optional: when the measure does not apply
    star_floors: [[1, 40], [2, 55], [3, 70], [4, 80], [5, 90]]
    gates:
      - key: G3
        label: …
        star: 3                                  # required for this star and every star above
        checks:
          - check: not_abnormal_listed           # a named check of engine.CHECKS
          - check: indicator_points
            params: {indicator: A2, min: 5}

Only the definition (dimensions, floors, gates, relaxed industries) is hashed and used by the engine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from hezuo.core.years import is_fiscal_year

from .engine import CHECKS, COMPLIANCE, MEASURES

DEFINITION_KEYS = ("dimensions", "star_floors", "gates", "relaxed_industries")
META_KEYS = ("code", "title", "provisional", "years", "source", "version")
INDICATOR_KEYS = {
    "key",
    "label",
    "measure",
    "params",
    "tiers",
    "relaxed_tiers",
    "otherwise",
    "na_points",
    "note",
}
GATE_KEYS = {"key", "label", "star", "checks", "note"}
DIMENSION_KEYS = {"key", "label", "indicators", "note"}

# parameters each measure accepts (all optional, with defaults in the engine)
MEASURE_PARAMS: dict[str, tuple[str, ...]] = {
    "member_structure": ("farmer_share_min", "small_size", "small_entity_max", "entity_share_max"),
    "annual_report_on_time": ("deadline",),
}
# optional parameters of checks (required ones are engine.Check.params)
CHECK_OPTIONAL: dict[str, tuple[str, ...]] = {
    "indicator_points": ("min",),
    "annual_report_on_time": ("deadline",),
}

SHIPPED_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_RUBRIC_FILE = SHIPPED_DIR / "rubric-provisional-2025.yaml"


class RubricError(ValueError):
    """A rubric document that cannot be used; `errors` lists each problem with the entry it is in."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


# ---------------------------------------------------------------------------------------------------
# reading


def parse_text(text: str) -> dict[str, Any]:
    """A rubric document from YAML (or JSON, which is YAML too)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _(" at line %(line)d") % {"line": mark.line + 1} if mark is not None else ""
        raise RubricError(
            [
                _("The file is not valid YAML%(where)s: %(problem)s")
                % {"where": where, "problem": getattr(exc, "problem", None) or exc}
            ]
        ) from exc
    if not isinstance(data, dict):
        raise RubricError(
            [_("The file must hold a mapping with the rubric's keys (dimensions, star_floors, …).")]
        )
    return data


def split_document(doc: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(meta, definition) of a rubric document; unknown keys are reported by validate()."""
    meta = {k: doc[k] for k in META_KEYS if k in doc}
    definition = {k: doc[k] for k in doc if k not in META_KEYS}
    definition.setdefault("gates", [])
    definition.setdefault("relaxed_industries", [])
    return meta, definition


def to_yaml(meta: Mapping[str, Any], definition: Mapping[str, Any]) -> str:
    doc = {**{k: v for k, v in meta.items() if v not in (None, "", [])}, **definition}
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=110, default_flow_style=None)


def content_hash(definition: Mapping[str, Any]) -> str:
    canonical = json.dumps(definition, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def label_text(label: Any, language: str | None = None) -> str:
    """A label given as text or as {language: text}; the current language, else English, else the first."""
    if isinstance(label, Mapping):
        language = (language or get_language() or "en").lower()
        for key in (language, language.split("-")[0], "en"):
            if label.get(key):
                return str(label[key])
        return str(next(iter(label.values()), ""))
    return "" if label is None else str(label)


# ---------------------------------------------------------------------------------------------------
# validation


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _where(entry: Mapping[str, Any] | Any, path: str) -> str:
    key = entry.get("key") if isinstance(entry, Mapping) else None
    return f"{path} ({key})" if key else path


def _check_label(errors: list[str], where: str, label: Any) -> None:
    if isinstance(label, str) and label.strip():
        return
    if isinstance(label, Mapping) and label and all(isinstance(v, str) and v.strip() for v in label.values()):
        return
    errors.append(_("%(where)s: give a label (text, or {en: …, zh-hans: …}).") % {"where": where})


def _check_tiers(errors: list[str], where: str, tiers: Any, measure_name: str) -> None:
    m = MEASURES.get(measure_name)
    if not isinstance(tiers, list) or not tiers:
        errors.append(
            _("%(where)s: tiers must be a non-empty list of [threshold, points] pairs.") % {"where": where}
        )
        return
    previous: tuple[float, float] | None = None
    lower = m is not None and m.better == "lower"
    for i, tier in enumerate(tiers):
        at = f"{where} tier {i + 1}"
        if not (isinstance(tier, list | tuple) and len(tier) == 2):
            errors.append(
                _("%(where)s: a tier is a pair [threshold, points], not %(tier)r.")
                % {"where": at, "tier": tier}
            )
            return
        threshold, points = tier
        if isinstance(threshold, bool):
            threshold = 1 if threshold else 0
        if not _is_number(threshold) or not _is_number(points):
            errors.append(_("%(where)s: threshold and points must be numbers.") % {"where": at})
            return
        if points < 0:
            errors.append(_("%(where)s: points cannot be negative.") % {"where": at})
        if m is not None:
            if m.kind == "share" and not 0 <= threshold <= 1 and measure_name != "income_uplift":
                errors.append(
                    _("%(where)s: %(measure)s is a share between 0 and 1 (write 60%% as 0.6), not %(value)s.")
                    % {"where": at, "measure": measure_name, "value": threshold}
                )
            if m.kind in ("bool", "level") and not (0 < threshold <= m.levels):
                errors.append(
                    _("%(where)s: %(measure)s takes thresholds from 1 to %(top)d, not %(value)s.")
                    % {"where": at, "measure": measure_name, "top": m.levels, "value": threshold}
                )
            if m.kind in ("count", "money") and threshold < 0:
                errors.append(_("%(where)s: the threshold cannot be negative.") % {"where": at})
        if previous is not None:
            p_threshold, p_points = previous
            if threshold == p_threshold:
                errors.append(
                    _("%(where)s: the threshold %(value)s overlaps the tier before it.")
                    % {"where": at, "value": threshold}
                )
            elif (threshold > p_threshold) == lower:
                errors.append(
                    _("%(where)s: thresholds must %(direction)s from tier to tier (%(a)s then %(b)s).")
                    % {
                        "where": at,
                        "direction": _("fall") if lower else _("rise"),
                        "a": p_threshold,
                        "b": threshold,
                    }
                )
            if points <= p_points:
                errors.append(
                    _("%(where)s: points must rise from tier to tier (%(a)s then %(b)s).")
                    % {"where": at, "a": p_points, "b": points}
                )
        previous = (threshold, points)


def _check_params(errors: list[str], where: str, params: Any, allowed: Sequence[str]) -> None:
    if params is None:
        return
    if not isinstance(params, Mapping):
        errors.append(_("%(where)s: params must be a mapping.") % {"where": where})
        return
    for name in params:
        if name not in allowed:
            errors.append(
                _("%(where)s: unknown parameter %(name)r (accepted: %(known)s).")
                % {"where": where, "name": name, "known": ", ".join(allowed) or _("none")}
            )


def validate(definition: Mapping[str, Any]) -> None:
    """Raise RubricError listing every problem, each naming the offending entry; return when usable."""
    errors: list[str] = []
    unknown = [k for k in definition if k not in DEFINITION_KEYS]
    for key in unknown:
        errors.append(
            _("Unknown key %(key)r at the top of the rubric (known: %(known)s).")
            % {"key": key, "known": ", ".join((*META_KEYS, *DEFINITION_KEYS))}
        )
    dims = definition.get("dimensions")
    indicator_max: dict[str, float] = {}
    if not isinstance(dims, list) or not dims:
        errors.append(_("The rubric needs a non-empty list of dimensions."))
        dims = []
    dim_keys: set[str] = set()
    for d_index, dim in enumerate(dims):
        where = _where(dim, f"dimensions[{d_index + 1}]")
        if not isinstance(dim, Mapping):
            errors.append(
                _("%(where)s: a dimension is a mapping with key, label and indicators.") % {"where": where}
            )
            continue
        for key in dim:
            if key not in DIMENSION_KEYS:
                errors.append(_("%(where)s: unknown key %(key)r.") % {"where": where, "key": key})
        dim_key = dim.get("key")
        if not isinstance(dim_key, str) or not dim_key:
            errors.append(_("%(where)s: give the dimension a key.") % {"where": where})
        elif dim_key in dim_keys:
            errors.append(_("%(where)s: the key %(key)r is used twice.") % {"where": where, "key": dim_key})
        else:
            dim_keys.add(dim_key)
        _check_label(errors, where, dim.get("label"))
        indicators = dim.get("indicators")
        if not isinstance(indicators, list) or not indicators:
            errors.append(
                _("%(where)s: a dimension needs a non-empty list of indicators.") % {"where": where}
            )
            continue
        for i_index, ind in enumerate(indicators):
            at = _where(ind, f"{where}.indicators[{i_index + 1}]")
            if not isinstance(ind, Mapping):
                errors.append(_("%(where)s: an indicator is a mapping.") % {"where": at})
                continue
            for k in ind:
                if k not in INDICATOR_KEYS:
                    errors.append(
                        _("%(where)s: unknown key %(key)r (known: %(known)s).")
                        % {"where": at, "key": k, "known": ", ".join(sorted(INDICATOR_KEYS))}
                    )
            ikey = ind.get("key")
            if not isinstance(ikey, str) or not ikey:
                errors.append(_("%(where)s: give the indicator a key.") % {"where": at})
            elif ikey in indicator_max:
                errors.append(
                    _("%(where)s: the indicator key %(key)r is used twice.") % {"where": at, "key": ikey}
                )
            _check_label(errors, at, ind.get("label"))
            mname = ind.get("measure")
            if mname not in MEASURES:
                errors.append(
                    _("%(where)s: unknown measure %(name)r (known: %(known)s).")
                    % {"where": at, "name": mname, "known": ", ".join(sorted(MEASURES))}
                )
                continue
            _check_params(errors, at, ind.get("params"), MEASURE_PARAMS.get(mname, ()))
            _check_tiers(errors, at, ind.get("tiers"), mname)
            points = [t[1] for t in ind.get("tiers") or [] if isinstance(t, list | tuple) and len(t) == 2]
            if ind.get("relaxed_tiers") is not None:
                _check_tiers(errors, f"{at} relaxed_tiers", ind["relaxed_tiers"], mname)
                points += [t[1] for t in ind["relaxed_tiers"] if isinstance(t, list | tuple) and len(t) == 2]
            alt = ind.get("otherwise")
            if alt is not None:
                if not isinstance(alt, Mapping) or alt.get("measure") not in MEASURES:
                    errors.append(
                        _("%(where)s otherwise: unknown measure %(name)r.")
                        % {"where": at, "name": alt.get("measure") if isinstance(alt, Mapping) else alt}
                    )
                else:
                    _check_params(
                        errors, f"{at} otherwise", alt.get("params"), MEASURE_PARAMS.get(alt["measure"], ())
                    )
                    _check_tiers(errors, f"{at} otherwise", alt.get("tiers"), alt["measure"])
                    points += [
                        t[1] for t in alt.get("tiers") or [] if isinstance(t, list | tuple) and len(t) == 2
                    ]
            na_points = ind.get("na_points", 0)
            if not _is_number(na_points) or na_points < 0:
                errors.append(_("%(where)s: na_points must be a number ≥ 0.") % {"where": at})
            else:
                points.append(na_points)
            if isinstance(ikey, str) and ikey:
                indicator_max[ikey] = max([p for p in points if _is_number(p)] or [0])
    max_score = sum(indicator_max.values())
    # star floors
    floors = definition.get("star_floors")
    stars: list[int] = []
    if not isinstance(floors, list) or not floors:
        errors.append(_("star_floors must be a non-empty list of [stars, score floor] pairs."))
    else:
        previous_floor: float | None = None
        for index, pair in enumerate(floors):
            at = f"star_floors[{index + 1}]"
            if not (
                isinstance(pair, list | tuple)
                and len(pair) == 2
                and isinstance(pair[0], int)
                and _is_number(pair[1])
            ):
                errors.append(_("%(where)s: write [stars, score floor], e.g. [3, 70].") % {"where": at})
                continue
            star, floor = pair
            if star != index + 1:
                errors.append(
                    _("%(where)s: stars are listed 1, 2, 3… in order; expected %(n)d, found %(s)d.")
                    % {"where": at, "n": index + 1, "s": star}
                )
            if previous_floor is not None and floor <= previous_floor:
                errors.append(
                    _("%(where)s: the floor of %(s)d stars (%(f)s) must rise above %(p)s.")
                    % {"where": at, "s": star, "f": floor, "p": previous_floor}
                )
            if floor < 0:
                errors.append(_("%(where)s: a floor cannot be negative.") % {"where": at})
            if dims and floor > max_score:
                errors.append(
                    _("%(where)s: the floor %(f)s is above the highest possible score %(m)s.")
                    % {"where": at, "f": floor, "m": max_score}
                )
            previous_floor = floor
            stars.append(star)
    # gates
    gates = definition.get("gates") or []
    if not isinstance(gates, list):
        errors.append(_("gates must be a list."))
        gates = []
    gate_keys: set[str] = set()
    for g_index, gate in enumerate(gates):
        where = _where(gate, f"gates[{g_index + 1}]")
        if not isinstance(gate, Mapping):
            errors.append(
                _("%(where)s: a gate is a mapping with key, label, star and checks.") % {"where": where}
            )
            continue
        for k in gate:
            if k not in GATE_KEYS:
                errors.append(_("%(where)s: unknown key %(key)r.") % {"where": where, "key": k})
        gkey = gate.get("key")
        if not isinstance(gkey, str) or not gkey:
            errors.append(_("%(where)s: give the gate a key.") % {"where": where})
        elif gkey in gate_keys:
            errors.append(_("%(where)s: the gate key %(key)r is used twice.") % {"where": where, "key": gkey})
        else:
            gate_keys.add(gkey)
        _check_label(errors, where, gate.get("label"))
        if gate.get("star") not in stars:
            errors.append(
                _("%(where)s: star must be one of the rubric's stars (%(stars)s), not %(s)r.")
                % {"where": where, "stars": ", ".join(map(str, stars)), "s": gate.get("star")}
            )
        checks = gate.get("checks")
        if not isinstance(checks, list) or not checks:
            errors.append(_("%(where)s: a gate needs a non-empty list of checks.") % {"where": where})
            continue
        for c_index, entry in enumerate(checks):
            at = f"{where}.checks[{c_index + 1}]"
            if isinstance(entry, str):
                entry = {"check": entry}
                checks[c_index] = entry
            if not isinstance(entry, Mapping):
                errors.append(
                    _("%(where)s: a check is a name or {check: name, params: {…}}.") % {"where": at}
                )
                continue
            name = entry.get("check")
            chk = CHECKS.get(name) if isinstance(name, str) else None
            if chk is None:
                errors.append(
                    _("%(where)s: unknown check %(name)r (known: %(known)s).")
                    % {"where": at, "name": name, "known": ", ".join(sorted(CHECKS))}
                )
                continue
            at = f"{at} ({name})"
            params = entry.get("params") or {}
            _check_params(errors, at, params, (*chk.params, *CHECK_OPTIONAL.get(str(name), ())))
            if not isinstance(params, Mapping):
                continue
            for required in chk.params:
                if required not in params:
                    errors.append(
                        _("%(where)s: the parameter %(name)r is required.") % {"where": at, "name": required}
                    )
            if chk.indicator_param and chk.indicator_param in params:
                ref = params[chk.indicator_param]
                if ref not in indicator_max:
                    errors.append(_("%(where)s: unknown indicator %(key)r.") % {"where": at, "key": ref})
                elif _is_number(params.get("min")) and params["min"] > indicator_max[ref]:
                    errors.append(
                        _("%(where)s: %(key)s can score at most %(max)s, not %(min)s.")
                        % {"where": at, "key": ref, "max": indicator_max[ref], "min": params["min"]}
                    )
            if name == "compliance_clean" and "items" in params:
                items = params["items"]
                if not isinstance(items, list) or not items:
                    errors.append(
                        _("%(where)s: items must be a non-empty list of checklist items.") % {"where": at}
                    )
                else:
                    for item in items:
                        if item not in COMPLIANCE:
                            errors.append(
                                _("%(where)s: unknown checklist item %(item)r (known: %(known)s).")
                                % {"where": at, "item": item, "known": ", ".join(sorted(COMPLIANCE))}
                            )
            for list_param in ("excluded", "statuses", "flags"):
                if list_param in params and not isinstance(params[list_param], list):
                    errors.append(
                        _("%(where)s: %(name)s must be a list.") % {"where": at, "name": list_param}
                    )
            if name == "not_flagged" and isinstance(params.get("flags"), list):
                for flag in params["flags"]:
                    if flag not in ("serious_violation", "illegal_finance", "subsidy_fraud"):
                        errors.append(_("%(where)s: unknown flag %(flag)r.") % {"where": at, "flag": flag})
            for numeric in ("min", "years", "share", "min_rank"):
                if numeric in params and not _is_number(params[numeric]):
                    errors.append(_("%(where)s: %(name)s must be a number.") % {"where": at, "name": numeric})
    relaxed = definition.get("relaxed_industries", [])
    if not isinstance(relaxed, list) or not all(isinstance(x, str) for x in relaxed):
        errors.append(_("relaxed_industries must be a list of industry codes."))
    if errors:
        raise RubricError(errors)


def validate_meta(meta: Mapping[str, Any]) -> None:
    errors = []
    code = meta.get("code")
    if not isinstance(code, str) or not code.strip() or len(code) > 50:
        errors.append(_("code: give the rubric a short code (at most 50 characters), e.g. star-rating."))
    years = meta.get("years", [])
    if not isinstance(years, list) or not all(is_fiscal_year(y) for y in years):
        errors.append(_("years: a list of years such as [2024, 2025]."))
    if "version" in meta and (not isinstance(meta["version"], int) or meta["version"] < 1):
        errors.append(_("version: a whole number from 1."))
    if errors:
        raise RubricError(errors)


def load_document(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Parse and validate a rubric file: (meta, definition)."""
    meta, definition = split_document(parse_text(text))
    problems: list[str] = []
    for step in (lambda: validate_meta(meta), lambda: validate(definition)):
        try:
            step()
        except RubricError as exc:
            problems += exc.errors
    if problems:
        raise RubricError(problems)
    return meta, definition


# ---------------------------------------------------------------------------------------------------
# side-by-side diff


def _tiers_text(tiers: Any) -> str:
    if not tiers:
        return ""
    return "; ".join(f"≥{t}→{p}" if not isinstance(t, bool) else f"{t}→{p}" for t, p in tiers)


def rows_of(definition: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """The definition as comparable rows: path → (group, text)."""
    rows: dict[str, tuple[str, str]] = {}
    for dim in definition.get("dimensions", []):
        rows[f"dimension {dim['key']}"] = ("dimension", label_text(dim.get("label")))
        for ind in dim.get("indicators", []):
            parts = [label_text(ind.get("label")), f"measure={ind.get('measure')}"]
            if ind.get("params"):
                parts.append("params=" + json.dumps(ind["params"], ensure_ascii=False, sort_keys=True))
            parts.append("tiers=" + _tiers_text(ind.get("tiers")))
            if ind.get("relaxed_tiers"):
                parts.append("relaxed=" + _tiers_text(ind["relaxed_tiers"]))
            if ind.get("otherwise"):
                alt = ind["otherwise"]
                parts.append(f"otherwise={alt.get('measure')} " + _tiers_text(alt.get("tiers")))
            if ind.get("na_points"):
                parts.append(f"na_points={ind['na_points']}")
            rows[f"indicator {ind['key']}"] = (dim["key"], " · ".join(parts))
    for star, floor in definition.get("star_floors", []):
        rows[f"floor {star}★"] = ("floors", str(floor))
    for gate in definition.get("gates", []):
        checks = []
        for c in gate.get("checks", []):
            c = {"check": c} if isinstance(c, str) else c
            params = c.get("params")
            checks.append(
                c["check"] + (json.dumps(params, ensure_ascii=False, sort_keys=True) if params else "")
            )
        rows[f"gate {gate['key']}"] = (
            "gates",
            f"{gate['star']}★ · {label_text(gate.get('label'))} · " + ", ".join(checks),
        )
    if definition.get("relaxed_industries"):
        rows["relaxed industries"] = ("other", ", ".join(definition["relaxed_industries"]))
    return rows


def diff(left: Mapping[str, Any], right: Mapping[str, Any]) -> list[dict[str, str]]:
    """Rows for a side-by-side view: path, left text, right text, and status same/changed/added/removed."""
    a, b = rows_of(left), rows_of(right)
    out = []
    for path in list(dict.fromkeys([*a, *b])):
        la, lb = a.get(path, ("", ""))[1], b.get(path, ("", ""))[1]
        status = (
            "same" if la == lb else "added" if path not in a else "removed" if path not in b else "changed"
        )
        out.append({"path": path, "left": la, "right": lb, "status": status})
    return out
