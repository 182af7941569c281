"""统一社会信用代码 (GB 32100-2015): the public examples of criteria §6.2, errors, warnings, and the
property the issue asks for: every single-character change of a valid code is caught."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hezuo.registry.creditcode import CHARSET, VALUES, WEIGHTS, check, check_character, make_code, normalize

SYNTHETIC_COOP = "93330226MA2H00006U"  # criteria §6.2: synthetic coop-format example, not a real entity
VALID_CODES = [
    SYNTHETIC_COOP,
    make_code("330226", "MA2H00006"),
    make_code("330200", "000000000"),
    make_code("330282", "YYYYYYYYY"),
    "91310115591693856A",
    "91310110666007217T",
]

body = st.text(alphabet=CHARSET, min_size=9, max_size=9)
region = st.text(alphabet="0123456789", min_size=6, max_size=6)
any_valid_code = st.builds(
    lambda head, reg, b: head + reg + b + check_character(head + reg + b),
    st.text(alphabet=CHARSET, min_size=2, max_size=2),
    region,
    body,
)


def caught(code: str) -> bool:
    result = check(code)
    return bool(result.errors or result.warnings)


def test_weights_are_the_published_ones() -> None:
    assert WEIGHTS == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    assert len(CHARSET) == 31 and not set("IOZSV") & set(CHARSET)
    assert VALUES["Y"] == 30


@pytest.mark.parametrize("code", ["91310115591693856A", "91310110666007217T"])
def test_real_company_codes_pass_the_checksum_but_are_not_cooperatives(code: str) -> None:
    result = check(code)
    assert result.errors == []
    assert len(result.warnings) == 1
    assert "93" in result.warnings[0] and "91" in result.warnings[0]
    assert not result.ok


@pytest.mark.parametrize(("code", "computed"), [("91350211M00013FA1N", "3"), ("91350100M0001TGQXM", "1")])
def test_early_pilot_codes_fail_the_checksum_with_a_warning_only(code: str, computed: str) -> None:
    result = check(code)
    assert result.errors == []
    assert check_character(code[:17]) == computed
    checksum_warnings = [w for w in result.warnings if computed in w and code[17] in w]
    assert checksum_warnings, result.warnings
    assert len(result.warnings) == 2  # checksum and prefix 91


def test_synthetic_cooperative_code_is_clean() -> None:
    result = check(SYNTHETIC_COOP)
    assert result.ok and result.errors == [] and result.warnings == []
    assert result.code == SYNTHETIC_COOP
    assert make_code("330226", "MA2H00006") == SYNTHETIC_COOP


@pytest.mark.parametrize(
    "raw",
    ["", "9333022", SYNTHETIC_COOP[:17], SYNTHETIC_COOP + "0", SYNTHETIC_COOP * 2],
)
def test_wrong_length_is_an_error(raw: str) -> None:
    result = check(raw)
    assert len(result.errors) == 1 and str(len(normalize(raw))) in result.errors[0]
    assert result.warnings == []


@pytest.mark.parametrize("bad", ["I", "O", "Z", "S", "V", "-", ".", "*", "é", "中", "_", "/"])
@pytest.mark.parametrize("position", [0, 9, 17])
def test_characters_outside_the_code_set_are_errors(bad: str, position: int) -> None:
    code = SYNTHETIC_COOP[:position] + bad + SYNTHETIC_COOP[position + 1 :]
    result = check(code)
    assert len(result.errors) == 1, (code, result)
    assert bad.upper() in result.errors[0]
    assert result.warnings == []


@pytest.mark.parametrize("bad", ["i", "o", "z", "s", "v"])
def test_lower_case_forbidden_letters_are_still_errors(bad: str) -> None:
    code = SYNTHETIC_COOP[:12] + bad + SYNTHETIC_COOP[13:]
    result = check(code)
    assert result.errors and bad.upper() in result.errors[0]


@pytest.mark.parametrize("position", range(2, 8))
def test_region_part_must_be_digits(position: int) -> None:
    first17 = SYNTHETIC_COOP[:position] + "A" + SYNTHETIC_COOP[position + 1 : 17]
    result = check(first17 + check_character(first17))  # even with a matching check character
    assert len(result.errors) == 1 and result.warnings == []


@pytest.mark.parametrize(
    "raw",
    [
        " 93330226MA2H00006U ",
        "93330226ma2h00006u",
        "9333 0226 MA2H 0000 6U",
        "\t93330226mA2h00006U\n",
        "93330226MA2H00006U\u3000",
        "\u300093330226MA2H00006U",
        "9333\u30000226MA2H00006U",
        "93330226\tMA2H\u00a000006U",
        "９３３３０２２６ＭＡ２Ｈ００００６Ｕ",
        "９３３３０２２６ｍａ２ｈ００００６ｕ",
    ],
)
def test_spaces_and_case_are_normalised(raw: str) -> None:
    assert normalize(raw) == SYNTHETIC_COOP
    result = check(raw)
    assert result.ok and result.code == SYNTHETIC_COOP


def test_normalise_none() -> None:
    assert normalize(None) == ""  # type: ignore[arg-type]
    assert check(None).errors  # type: ignore[arg-type]


def single_changes(code: str) -> list[str]:
    return [code[:i] + c + code[i + 1 :] for i in range(18) for c in CHARSET if c != code[i]]


@pytest.mark.parametrize("code", VALID_CODES)
def test_every_single_character_change_is_caught_exhaustively(code: str) -> None:
    changes = single_changes(code)
    assert len(changes) == 18 * 30
    missed = [changed for changed in changes if not caught(changed)]
    assert missed == []


@pytest.mark.parametrize("code", VALID_CODES)
def test_every_change_of_the_check_character_or_the_body_warns_about_the_checksum(code: str) -> None:
    for changed in single_changes(code):
        if changed[2:8].isdigit():
            result = check(changed)
            assert result.errors == []
            assert any(changed[17] in w and "check character" in w for w in result.warnings), changed


@settings(max_examples=200)
@given(region, body)
def test_make_code_is_always_valid_and_clean(reg: str, b: str) -> None:
    code = make_code(reg, b)
    assert len(code) == 18 and code.startswith("93")
    result = check(code)
    assert result.ok, result


@settings(max_examples=60)
@given(any_valid_code, st.integers(0, 17), st.integers(1, 30))
def test_any_single_substitution_of_a_valid_code_is_caught(code: str, position: int, shift: int) -> None:
    assert check(code).errors == []
    replacement = CHARSET[(VALUES[code[position]] + shift) % 31]
    changed = code[:position] + replacement + code[position + 1 :]
    assert caught(changed)


@settings(max_examples=15)
@given(any_valid_code)
def test_all_single_substitutions_of_random_valid_codes_are_caught(code: str) -> None:
    assert not [changed for changed in single_changes(code) if not caught(changed)]


@settings(max_examples=100)
@given(any_valid_code, st.integers(0, 16))
def test_adjacent_transpositions_of_distinct_characters_are_caught(code: str, position: int) -> None:
    a, b = code[position], code[position + 1]
    if a == b:
        return
    swapped = code[:position] + b + a + code[position + 2 :]
    assert caught(swapped)


@settings(max_examples=100)
@given(st.text(max_size=25))
def test_check_never_crashes(raw: str) -> None:
    result = check(raw)
    assert result.code == normalize(raw)
    if result.ok:
        assert len(result.code) == 18 and result.code.startswith("93")
