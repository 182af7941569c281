"""When live flags make a suspicion strong enough for the star rating's monitoring to assume it: a section of
the detection rule set (versioned with its rules), read by rating.monitoring.

A flag is never a verdict (criteria §7.4). The monitoring evaluates a cooperative as a shell, or as dormant,
only when its live flags make the suspicion strong: by default a shell on any shell rule except SH7
(abnormal-listed with two reports missed), which counts only beside SH1–SH3; dormant on DO2 (a suspension
filed) alone, or on DO1 (no business) with DO3 or DO4. A rule set may say otherwise in its document:

    suspicion:
      shell:
        counts_only_with: {SH7: [SH1, SH2, SH3]}
      dormant:
        alone: [DO2]
        base: DO1
        with_any: [DO3, DO4]

A rule set without the section (detection-v1 as shipped) has the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _


@dataclass(frozen=True)
class Suspicion:
    shell_needs: Mapping[str, frozenset[str]]  # a shell rule that counts only beside one of these
    dormant_alone: frozenset[str]  # dormant rules strong on their own
    dormant_base: str | None  # a dormant rule strong beside one of dormant_with
    dormant_with: frozenset[str]

    def strong(self, flags: list[tuple[str, str]]) -> dict[str, list[str]]:
        """{status: the flags that make it} for the statuses the live flags (rule, kind) make strong."""
        shell = {rule for rule, kind in flags if kind == "shell"}
        dormant = {rule for rule, kind in flags if kind == "dormant"}
        found: dict[str, list[str]] = {}
        confirmed = {rule for rule in shell if rule not in self.shell_needs or shell & self.shell_needs[rule]}
        if confirmed:
            found["shell"] = sorted(confirmed)
        alone = dormant & self.dormant_alone
        if alone:
            found["dormant"] = sorted(alone)
        if self.dormant_base in dormant and dormant & self.dormant_with:
            found["dormant"] = sorted(
                {*found.get("dormant", []), self.dormant_base, *(dormant & self.dormant_with)}
            )
        return found

    def as_data(self) -> dict[str, Any]:
        return {
            "shell": {"counts_only_with": {k: sorted(v) for k, v in sorted(self.shell_needs.items())}},
            "dormant": {
                "alone": sorted(self.dormant_alone),
                "base": self.dormant_base,
                "with_any": sorted(self.dormant_with),
            },
        }


DEFAULT = Suspicion(
    shell_needs={"SH7": frozenset({"SH1", "SH2", "SH3"})},
    dormant_alone=frozenset({"DO2"}),
    dormant_base="DO1",
    dormant_with=frozenset({"DO3", "DO4"}),
)


class SuspicionError(ValueError):
    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def parse(data: Any) -> Suspicion:
    """The policy of a rule set's `suspicion` section (None: the default); raises SuspicionError naming
    each entry at fault."""
    from .detection import RULES

    if data is None:
        return DEFAULT
    errors: list[str] = []
    if not isinstance(data, Mapping):
        raise SuspicionError([_("suspicion: a mapping with shell and dormant is required.")])
    for key in sorted(set(data) - {"shell", "dormant"}):
        errors.append(_("suspicion.%(key)s: unknown entry (shell, dormant)") % {"key": key})

    def wrong(where: str, code: Any, kind: str) -> None:
        label = _("shell") if kind == "shell" else _("dormant")
        errors.append(
            _("%(where)s: %(code)s is not a %(kind)s rule") % {"where": where, "code": code, "kind": label}
        )

    def codes(where: str, value: Any, kind: str) -> frozenset[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            errors.append(_("%(where)s: a list of rule codes is required") % {"where": where})
            return frozenset()
        for code in value:
            if RULES.get(code, ("",))[0] != kind:
                wrong(where, code, kind)
        return frozenset(value)

    shell = data.get("shell") or {}
    dormant = data.get("dormant") or {}
    needs: dict[str, frozenset[str]] = {}
    if not isinstance(shell, Mapping) or not isinstance(dormant, Mapping):
        raise SuspicionError([*errors, _("suspicion.shell and suspicion.dormant must be mappings.")])
    for key in sorted(set(shell) - {"counts_only_with"}):
        errors.append(_("suspicion.shell.%(key)s: unknown entry (counts_only_with)") % {"key": key})
    for key in sorted(set(dormant) - {"alone", "base", "with_any"}):
        errors.append(_("suspicion.dormant.%(key)s: unknown entry (alone, base, with_any)") % {"key": key})
    only_with = shell.get("counts_only_with", {k: sorted(v) for k, v in DEFAULT.shell_needs.items()})
    if not isinstance(only_with, Mapping):
        errors.append(_("suspicion.shell.counts_only_with: a mapping of rule code to rule codes is required"))
    else:
        for code, others in only_with.items():
            where = f"suspicion.shell.counts_only_with.{code}"
            if RULES.get(str(code), ("",))[0] != "shell":
                wrong(where, code, "shell")
            needs[str(code)] = codes(where, others, "shell")
    alone = codes("suspicion.dormant.alone", dormant.get("alone", sorted(DEFAULT.dormant_alone)), "dormant")
    base = dormant.get("base", DEFAULT.dormant_base)
    if base is not None and RULES.get(str(base), ("",))[0] != "dormant":
        wrong("suspicion.dormant.base", base, "dormant")
    with_any = codes(
        "suspicion.dormant.with_any", dormant.get("with_any", sorted(DEFAULT.dormant_with)), "dormant"
    )
    if errors:
        raise SuspicionError(errors)
    return Suspicion(needs, alone, None if base is None else str(base), with_any)


def of_ruleset(ruleset: Any) -> Suspicion:
    """The policy of a stored rule set (checked when it was stored; the default if it has none)."""
    try:
        return parse((getattr(ruleset, "rules", None) or {}).get("suspicion"))
    except SuspicionError:
        return DEFAULT


def active() -> Suspicion:
    """The policy of the active rule set (the default when none is active)."""
    from .models import RuleSet

    ruleset = RuleSet.objects.filter(is_active=True, retired_at__isnull=True).only("rules").first()
    return of_ruleset(ruleset) if ruleset is not None else DEFAULT
