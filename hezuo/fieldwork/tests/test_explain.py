"""Flags read in the reader's language: every flag the engine can raise is explained from its evidence
(fieldwork.explain), in Chinese in the Chinese interface, never by falling back to the stored sentence."""

from __future__ import annotations

import re
from typing import Any

from django.utils import translation
from hypothesis import given, settings

from hezuo.fieldwork.detection import RULES, evaluate
from hezuo.fieldwork.explain import DESCRIBE, describe, evidence_rows

from .test_detection import AS_OF, RULESET, YEAR, any_coop

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_rule_has_a_description() -> None:
    assert set(DESCRIBE) == set(RULES)


@settings(max_examples=200, deadline=None)
@given(any_coop())
def test_every_raised_flag_is_explained_in_chinese(facts: Any) -> None:
    with translation.override("zh-hans"):
        for flag in evaluate(facts, RULESET, YEAR, AS_OF).flags:
            text = describe(flag.rule, flag.evidence, fallback="")
            assert text and CJK.search(text), (flag.rule, flag.evidence, text)
            for label, _value in evidence_rows(flag.evidence):
                assert CJK.search(label), (flag.rule, label)
    with translation.override("en"):
        for flag in evaluate(facts, RULESET, YEAR, AS_OF).flags:
            assert describe(flag.rule, flag.evidence, fallback="")


def test_unknown_rules_and_evidence_fall_back_to_the_stored_sentence() -> None:
    assert describe("XX9", {"year": 2024}, "stored") == "stored"
    assert describe("DO1", {"unexpected": 1}, "stored") == "stored"
    assert describe("DO1", None, "stored") == "stored"
