"""统一社会信用代码 (GB 32100-2015): structure and check character.

`check(code)` returns a CreditCodeCheck: hard errors (length, characters) make the code unusable;
warnings (wrong check character, prefix other than 93) must be confirmed by the user, because some
real early codes fail the checksum (see docs: criteria §6).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, Z, S, V
VALUES = {c: i for i, c in enumerate(CHARSET)}
WEIGHTS = [pow(3, i, 31) for i in range(17)]
COOPERATIVE_PREFIX = "93"  # 9 = market regulation, 3 = farmer professional cooperative


def check_character(first17: str) -> str:
    total = sum(VALUES[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def normalize(code: str) -> str:
    """Upper case, without any whitespace; full-width forms (typed with a Chinese IME) become ASCII."""
    return "".join(unicodedata.normalize("NFKC", code or "").split()).upper()


@dataclass
class CreditCodeCheck:
    code: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.warnings


def check(raw: str) -> CreditCodeCheck:
    code = normalize(raw)
    result = CreditCodeCheck(code)
    if len(code) != 18:
        result.errors.append(
            _("The credit code must have 18 characters; this one has %(n)d.") % {"n": len(code)}
        )
        return result
    bad = sorted({c for c in code if c not in VALUES})
    if bad:
        result.errors.append(
            _(
                "The credit code contains characters that are not allowed: %(chars)s "
                "(I, O, Z, S and V are never used)."
            )
            % {"chars": " ".join(bad)}
        )
        return result
    if not code[2:8].isdigit():
        result.errors.append(_("Characters 3 to 8 of the credit code must be a division code (digits)."))
        return result
    expected = check_character(code[:17])
    if code[17] != expected:
        result.warnings.append(
            _(
                "The check character is %(given)s but the code computes to %(expected)s. "
                "Some early codes fail this check: "
                "confirm only if the code is copied exactly from the licence."
            )
            % {"given": code[17], "expected": expected}
        )
    if not code.startswith(COOPERATIVE_PREFIX):
        result.warnings.append(
            _("Farmer cooperatives' codes start with 93; this one starts with %(prefix)s.")
            % {"prefix": code[:2]}
        )
    return result


def make_code(region: str, body: str) -> str:
    """A valid cooperative code from a 6-digit region code and an 9-character organisation body."""
    first17 = COOPERATIVE_PREFIX + region + body
    return first17 + check_character(first17)
