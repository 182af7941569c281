"""The annual rating's row rater specialised per rubric version (the bulk path only).

engine.RowRater rates a row through the general engine: a CoopInput dataclass, each indicator's closure,
the gate checks through an EvalContext, summarize() and the JSON encoder. CompiledRowRater gives exactly
the same stored results (hashed and property-tested against RowRater, which stays the reference) from one
function generated once per rubric version, the way transfer/engine.py generates its per-model checks:

- the input is a plain named tuple with CoopInput's fields (the measures and checks only read attributes);
- each indicator walks its tiers unrolled, with the thresholds and points as constants; the one-fact and
  yes/no-flags measures are written inline (engine._fact_measure, _flags_measure mark them), the others
  are called; a measure that does not apply falls back to the engine's own step for the indicator;
- the simple gate checks and the compliance checklist are written inline, the others are called as the
  engine defines them; a compliance item or check that reads a parameterless measure an indicator
  already computed reuses its value (the same function of the same facts);
- only what is stored is summed up (score, score if complete, stars at worst and at best, the count of
  missing facts), with the engine's arithmetic in the engine's order;
- the explanation's indicator entries are written by one %-format with each entry's constant part (points,
  tier, flags) made once; the gates go through a JSON encoder made once; the history snapshot is one
  %-format around its six varying values.

Any change to the engine's measures, checks or summarize() is covered by test_compiled.py, which compares
this rater with RowRater on random facts under the shipped rubric and modified ones.

Pages keep using engine.evaluate() and the explanation path; only the annual rating's rows come here.
"""

from __future__ import annotations

import dataclasses
import json.encoder
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any

from . import engine
from .engine import NA, RELAXED, CompiledRubric, Missing, Rated, RateJob, RowRater

FastInput = namedtuple("FastInput", [f.name for f in dataclasses.fields(engine.CoopInput)])  # type: ignore[misc]
"""CoopInput's fields in a tuple: what the measures and checks read, made without the dataclass's __init__."""

_INPUT_FIELDS: frozenset[str] = frozenset(FastInput._fields)

_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)


def _json_encoder() -> Callable[[Any], str]:
    """engine._encode (compact, dates as ISO text, no circular check) for lists and tuples, with the C
    encoder made once instead of once per call; the same text."""
    if _c_make_encoder is None:  # pragma: no cover - CPython always has it
        return engine._encode
    make = engine._encode.__self__  # type: ignore[attr-defined]
    encode = _c_make_encoder(
        None,
        make.default,
        json.encoder.encode_basestring_ascii,
        make.indent,
        make.key_separator,
        make.item_separator,
        make.sort_keys,
        make.skipkeys,
        make.allow_nan,
    )
    join = "".join

    def encode_list(value: Any) -> str:
        return join(encode(value, 0))

    return encode_list


def _lit(value: Any, names: dict[str, Any], prefix: str) -> str:
    """A constant as source text: a literal when it reads back exactly, else a name bound to it."""
    if value.__class__ is int or value.__class__ is bool or value is None:
        return repr(value)
    if value.__class__ is float and value == value and value not in (float("inf"), float("-inf")):
        return repr(value)
    if value.__class__ is str:
        return repr(value)
    name = f"_{prefix}_{len(names)}"
    names[name] = value
    return name


class _Source:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)


def _walk(
    src: _Source,
    depth: int,
    tiers: tuple[tuple[float, float], ...],
    lower: bool,
    flag: int,
    i: int,
    names: dict[str, Any],
) -> None:
    """The engine's tier walk (the first tier not reached ends it) as nested ifs on `v`."""
    op = "<=" if lower else ">="

    def entry(d: int, points: Any, tier: int) -> None:
        parts = (points, tier, flag) if flag else (points, tier)
        src(d, f"e{i} = (v, {', '.join(_lit(x, names, 'p') for x in parts)})")
        # the entry's JSON after its value, written out here
        src(d, f"b{i} = {(',' + ','.join(engine._encode(x) for x in parts) + ']')!r}")

    def level(k: int, d: int, points: Any) -> None:
        if k == len(tiers):
            entry(d, points, k - 1)
            return
        threshold, pts = tiers[k]
        src(d, f"if v {op} {_lit(threshold, names, 't')}:")
        level(k + 1, d + 1, pts)
        src(d, "else:")
        entry(d + 1, points, k - 1)

    level(0, depth, 0)


def _indicator(src: _Source, depth: int, i: int, rubric: CompiledRubric, names: dict[str, Any]) -> None:
    ind = rubric.indicators[i]
    names[f"M{i}"] = ind.measure.fn
    names[f"PAR{i}"] = ind.params
    names[f"STEP{i}"] = ind.step
    names[f"RSTEP{i}"] = ind.relaxed_step
    lower = ind.measure.better == "lower"
    inline = getattr(ind.measure.fn, "inline", None)
    if inline is not None and inline[0] == "fact":  # engine._fact_measure
        _kind, fact, scale = inline
        names[f"MISS{i}"] = Missing((fact,))
        src(depth, f"v = f.get({fact!r})")
        src(depth, f"v = v{i} = MISS{i} if v is None else round(v / {_lit(scale, names, 's')}, 6)")
    elif inline is not None and inline[0] == "flags":  # engine._flags_measure
        _kind, needs, pairs = inline
        names[f"NEEDS{i}"] = needs
        for k, (name, _want) in enumerate(pairs):
            src(depth, f"x{k} = f.get({name!r})")
        src(depth, f"if {' or '.join(f'x{k} is None' for k in range(len(pairs)))}:")
        src(depth + 1, f"v = v{i} = _missing(f, NEEDS{i})")
        src(depth, "else:")
        met = " and ".join(f"bool(x{k}) == {want!r}" for k, (_name, want) in enumerate(pairs))
        src(depth + 1, f"v = v{i} = 1 if {met} else 0")
    else:
        src(depth, f"v = v{i} = M{i}(inp, f, PAR{i})")
    src(depth, "if v.__class__ is Missing:")
    src(depth + 1, f"e{i} = (None, 0, -1, 0, v.fields)")
    src(depth + 1, f"a{i} = 'null'")
    src(depth + 1, f"b{i} = ',0,-1,0,' + _encode_list(v.fields) + ']'")
    src(depth + 1, "miss = True")
    src(depth, "elif v is NA:")
    src(depth + 1, f"e{i} = (RSTEP{i} if rel else STEP{i})(inp, f)")
    src(depth + 1, f"a{i} = _encode_list(e{i})[1:]")
    src(depth + 1, f"b{i} = ''")
    src(depth + 1, f"if len(e{i}) > 4:")
    src(depth + 2, "miss = True")
    src(depth, "else:")
    # the entry's JSON: "[" value, then b{i}; ints and finite floats are written as str() writes them,
    # which is how JSON writes them (engine._encode), anything else through the encoder
    src(depth + 1, "if v.__class__ is int or v.__class__ is float and v - v == 0.0:")
    src(depth + 2, f"a{i} = v")
    src(depth + 1, "else:")
    src(depth + 2, f"a{i} = _encode(v)")
    if ind.relaxed_tiers is not None:
        src(depth + 1, "if rel:")
        _walk(src, depth + 2, ind.relaxed_tiers, lower, RELAXED, i, names)
        src(depth + 1, "else:")
        _walk(src, depth + 2, ind.tiers, lower, 0, i, names)
    else:
        _walk(src, depth + 1, ind.tiers, lower, 0, i, names)


def _check(
    src: _Source,
    depth: int,
    out: str,
    fn: Any,
    params: Any,
    rubric: CompiledRubric,
    reuse: dict[Any, int],
    names: dict[str, Any],
) -> str:
    """One gate check into `out`: inline when it is one of the simple engine checks. Says what it is:
    "plain" (its outcome is always (True or False, value)), "ctx" (called as the engine defines it, with
    the evaluation context) or "" (any outcome)."""
    if fn is engine.c_status or fn is engine.c_not_dormant:
        key = "excluded" if fn is engine.c_status else "statuses"
        values = _lit(params[key], names, "c")
        src(depth, f"{out} = (inp.operating_status not in {values}, inp.operating_status)")
    elif fn is engine.c_not_shell:
        src(depth, f'{out} = (inp.operating_status != "shell", inp.operating_status)')
    elif fn is engine.c_not_flagged and all(
        isinstance(flag, str) and flag in _INPUT_FIELDS for flag in params["flags"]
    ):
        src(depth, "raised = []")
        for flag in params["flags"]:
            src(depth, f"if inp.{flag}:")
            src(depth + 1, f"raised.append({flag!r})")
        src(depth, f"{out} = (not raised, raised)")
    elif fn is engine.c_prefix:
        src(depth, f"{out} = (inp.credit_code.startswith({str(params['prefix'])!r}), inp.credit_code[:2])")
    elif fn is engine.c_not_abnormal:
        src(depth, f"{out} = (not inp.on_abnormal_list, inp.on_abnormal_list)")
    elif fn is engine.c_title:
        src(depth, f"{out} = (inp.title_rank >= {_lit(params['min_rank'], names, 'c')}, inp.title_rank)")
    elif fn is engine.c_registered_years:
        src(depth, "day = inp.registration_date")
        src(depth, "if day is None:")
        src(depth + 1, f"{out} = (None, None, ('registration_date',))")
        src(depth, "else:")
        src(depth + 1, "years = _years_since(year, day)")
        src(depth + 1, f"{out} = (years >= {_lit(params['min'], names, 'c')}, years)")
    elif fn is engine.c_compliance:
        _compliance(src, depth, out, params, reuse, names)
    elif fn is engine.c_surplus_min and engine.m_surplus_return in reuse:
        src(depth, f"w = v{reuse[engine.m_surplus_return]}")
        src(depth, "if w.__class__ is Missing:")
        src(depth + 1, f"{out} = (None, None, w.fields)")
        src(depth, "elif w is NA:")
        src(depth + 1, f"{out} = (True, None)")
        src(depth, "else:")
        src(depth + 1, f"{out} = (w >= {_lit(params['share'], names, 'c')}, w)")
    elif fn is engine.c_indicator_points:
        e = f"e{rubric._position[params['indicator']]}"
        src(depth, f"if len({e}) > 4 and {e}[4]:")
        src(depth + 1, f"{out} = (None, None, {e}[4])")
        src(depth, "else:")
        src(depth + 1, f"{out} = ({e}[1] >= {_lit(params.get('min', 1e-9), names, 'c')}, {e}[1])")
    else:
        fname = f"_CHK_{len(names)}"
        pname = f"_PRM_{len(names)}"
        names[fname] = fn
        names[pname] = params
        src(depth, f"{out} = {fname}(inp, {pname}, ctx)")
        return "ctx"
    plain = (
        engine.c_status,
        engine.c_not_dormant,
        engine.c_not_shell,
        engine.c_not_flagged,
        engine.c_prefix,
        engine.c_not_abnormal,
        engine.c_title,
    )
    return "plain" if fn in plain else ""


# measures whose value does not depend on their parameters: an item or check reading one of them reuses the
# value an indicator of the rubric found (the same function of the same facts)
_PARAMETERLESS = frozenset(
    {
        engine.m_farmer_share,
        engine.m_extra_votes,
        engine.m_member_account_share,
        engine.m_surplus_return,
        engine.m_subsidy,
    }
)


def _reused(rubric: CompiledRubric) -> dict[Any, int]:
    """{measure function (or (m_annual_report, deadline)): the first indicator computing it}."""
    reuse: dict[Any, int] = {}
    for i, ind in enumerate(rubric.indicators):
        fn = ind.measure.fn
        if fn in _PARAMETERLESS:
            reuse.setdefault(fn, i)
        elif fn is engine.m_annual_report:
            reuse.setdefault((fn, str(ind.params.get("deadline", "06-30"))), i)
    return reuse


def _compliance(
    src: _Source, depth: int, out: str, params: Any, reuse: dict[Any, int], names: dict[str, Any]
) -> None:
    """engine.c_compliance with its items inline (the facts `f` are always a dict here)."""
    src(depth, "cf = []")
    src(depth, "cm = []")
    for key, fn, fact, want in engine._compliance_plan(tuple(params["items"])):
        if fact is not None:
            src(depth, f"x = f.get({fact!r})")
            src(depth, "if x is None:")
            src(depth + 1, f"cm.append({fact!r})")
            src(depth, f"elif bool(x) is not {want!r}:")
            src(depth + 1, f"cf.append({key!r})")
            continue
        measure = getattr(fn, "measure", None)
        if measure is not None:
            m_fn, m_params, at_least = measure.fn, getattr(fn, "params"), getattr(fn, "at_least")  # noqa: B009
            if m_fn in _PARAMETERLESS and m_fn in reuse:
                src(depth, f"w = v{reuse[m_fn]}")
            elif m_fn is engine.m_annual_report and (m_fn, str(m_params.get("deadline", "06-30"))) in reuse:
                src(depth, f"w = v{reuse[(m_fn, str(m_params.get('deadline', '06-30')))]}")
            else:
                names[f"_IM_{key}"], names[f"_IP_{key}"] = m_fn, m_params
                src(depth, f"w = _IM_{key}(inp, f, _IP_{key})")
            src(depth, "if w.__class__ is Missing:")
            src(depth + 1, "cm.extend(w.fields)")
            op = "<=" if measure.better == "lower" else ">="
            src(depth, f"elif w is not NA and (w {op} {_lit(at_least, names, 'c')}) is False:")
            src(depth + 1, f"cf.append({key!r})")
            continue
        names[f"_IF_{key}"] = fn
        src(depth, f"ok, miss_ = _IF_{key}(inp, f)")
        src(depth, "if ok is False:")
        src(depth + 1, f"cf.append({key!r})")
        src(depth, "elif miss_:")
        src(depth + 1, "cm.extend(miss_.fields)")
    src(depth, "if cf:")
    src(depth + 1, f"{out} = (False, cf)")
    src(depth, "elif cm:")
    src(depth + 1, f"{out} = (None, [], tuple(dict.fromkeys(cm)))")
    src(depth, "else:")
    src(depth + 1, f"{out} = (True, [])")


def rater_source(
    rubric: CompiledRubric, job: RateJob, header: str, snapshot_parts: Sequence[str]
) -> tuple[str, dict[str, Any]]:
    """The source of rate(rows) -> list[Rated] for the job's rubric and row layout, and its names."""
    names: dict[str, Any] = {
        "Missing": Missing,
        "_missing": engine._missing,
        "NA": NA,
        "FastInput": FastInput,
        "_new": tuple.__new__,
        "_day": engine._day,
        "_years_since": engine._years_since,
        "_stars": engine._stars,
        "_encode": engine._encode,
        "_encode_list": _json_encoder(),
        "_encode_str": json.encoder.encode_basestring_ascii,
        "EvalContext": engine.EvalContext,
        "RUBRIC": rubric,
        "FACTS": job.facts,
        "PREVIOUS": job.previous,
        "RELAXED_INDUSTRIES": rubric.relaxed_industries,
        "FLOORS": rubric.floors,
        "HEADER": header,
        "ENTRIES": "[" + ",".join(["[%s%s"] * len(rubric.indicators)) + "]",
    }
    first = engine._FIRST_FACT
    end = first + len(job.facts)
    n = len(rubric.indicators)
    src = _Source()
    src(0, "def rate(rows):")
    src(1, "out = []")
    src(1, "append = out.append")
    src(1, f"year = {job.year!r}")
    src(1, "for row in rows:")
    d = 2
    # the input, as RowRater.input makes it
    src(d, f"f = dict(zip(FACTS, row[{first}:{end}]))")
    for name in (name for name in job.facts if name in job.dates):
        src(d, f"x = f[{name!r}]")
        src(d, "if x.__class__ is str:")
        src(d + 1, f"f[{name!r}] = _day(x)")
    src(d, f"prev = row[{end + 1}]")
    src(d, "if prev is not None:")
    src(d + 1, "prev = dict(zip(PREVIOUS, prev))")
    src(d, "brands = row[12]")
    src(
        d,
        "inp = _new(FastInput, (row[0], year, row[2] or '', _day(row[3]), row[4], row[5], _day(row[6]), "
        "row[7], _day(row[8]), row[9], row[10], row[11], bool(brands and brands.strip()), row[13], row[14], "
        f"row[15], row[16], row[{end}], f, prev))",
    )
    # the indicators (run(): each step in order)
    src(d, "rel = row[4] in RELAXED_INDUSTRIES")
    src(d, "miss = False")
    for i in range(n):
        _indicator(src, d, i, rubric, names)
    entries = ", ".join(f"e{i}" for i in range(n))
    src(d, f"entries = [{entries}]")
    # the gates' checks, in the engine's order
    needs_ctx = False
    reuse = _reused(rubric)
    check_lines = _Source()
    outs: list[list[str]] = []
    plain: set[str] = set()
    for g, (_position, _star, checks) in enumerate(rubric._gates):
        outs.append([])
        for c, (fn, params) in enumerate(checks):
            out = f"o{g}_{c}"
            outs[-1].append(out)
            kind = _check(check_lines, d, out, fn, params, rubric, reuse, names)
            needs_ctx = needs_ctx or kind == "ctx"
            if kind == "plain":
                plain.add(out)
    if needs_ctx:
        src(d, "ctx = EvalContext(inp, RUBRIC, entries)")
    src.lines.extend(check_lines.lines)
    # summarize(), only what is stored: score, score_max, stars at worst and best, the missing count
    src(d, f"score = sum(({', '.join(f'e{i}[1]' for i in range(n))}{',' if n == 1 else ''}), 0.0)")
    src(d, "gone = set()")
    src(d, "missing_points = 0.0")
    src(d, "if miss:")
    for i in range(n):
        src(d + 1, f"if len(e{i}) > 4:")
        src(d + 2, f"missing_points += {_lit(rubric._max_points[i], names, 'm')}")
        src(d + 2, f"gone.update(e{i}[4])")
    top = len(rubric.floors)
    src(d, f"cap_low = cap_high = {top + 1}")
    for g, (_position, star, _checks) in enumerate(rubric._gates):
        src(d, "passed = True")
        for out in outs[g]:
            if out in plain:  # (True or False, value)
                src(d, f"if not {out}[0]:")
                src(d + 1, "passed = False")
                continue
            src(d, f"ok = {out}[0]")
            src(d, "if ok is not True:")
            src(d + 1, "if ok is False:")
            src(d + 2, "passed = False")
            src(d + 1, "elif passed is True:")
            src(d + 2, "passed = None")
            src(d, f"if len({out}) > 2:")
            src(d + 1, f"gone.update({out}[2])")
        src(d, "if passed is not True:")
        src(d + 1, f"if {star} < cap_low:")
        src(d + 2, f"cap_low = {star}")
        src(d + 1, f"if passed is False and {star} < cap_high:")
        src(d + 2, f"cap_high = {star}")
    src(d, "score = score if score.is_integer() else round(score, 4)")
    src(d, "score_max = score + missing_points")
    src(d, "score_max = score_max if score_max.is_integer() else round(score_max, 4)")
    src(d, "low = _stars(score, FLOORS, cap_low)")
    src(d, "high = _stars(score_max, FLOORS, cap_high)")
    # RowRater.rate: the stored row
    src(d, "stars = low if low == high else None")
    src(d, "gone = len(gone)")
    src(d, "if not score.is_integer():")
    src(d + 1, "score = round(score, 2)")
    src(d, "top = score_max")
    src(d, "if not top.is_integer():")
    src(d + 1, "top = round(top, 2)")
    gates = ", ".join("[" + ", ".join(gate) + "]" for gate in outs)
    src(
        d,
        f"text = HEADER + ENTRIES % ({', '.join(f'a{i}, b{i}' for i in range(n))}) + ',\"gates\":' "
        f"+ _encode_list([{gates}]) + '}}'",
    )
    src(d, "append((row[0], score, top, stars, low, gone, text))")
    src(1, "return out")
    return "\n".join(src.lines) + "\n", names


_RATE_FNS: dict[tuple[Any, ...], Callable[[Sequence[Sequence[Any]]], list[Rated]]] = {}


class CompiledRowRater(RowRater):
    """RowRater with rate() generated for its job (same results; RowRater.rate is the reference)."""

    def __init__(self, job: RateJob) -> None:
        super().__init__(job)
        key = (
            job.content_hash,
            job.year,
            job.facts,
            job.dates,
            job.previous,
            self.header,
            self.snapshot_parts,
        )
        fn = _RATE_FNS.get(key) if job.content_hash else None
        if fn is None:
            source, names = rater_source(self.rubric, job, self.header, self.snapshot_parts)
            exec(compile(source, f"<row rater of rubric {job.content_hash[:12]}>", "exec"), names)
            fn = names["rate"]
            if job.content_hash:
                _RATE_FNS[key] = fn
        self._rate = fn

    def rate(self, rows: Sequence[Sequence[Any]]) -> list[Rated]:
        return self._rate(rows)
