"""When live flags count for the star rating's monitoring: a versioned section of the detection rule set
(fieldwork.suspicion), the default as criteria §7.4 has it, bad sections refused with the entry named."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from django.core.exceptions import ValidationError

from hezuo.fieldwork import rulesets, runs, suspicion
from hezuo.fieldwork.models import RuleSet
from hezuo.rating import monitoring


def test_the_default_policy() -> None:
    strong = suspicion.DEFAULT.strong
    assert strong([("SH2", "shell")]) == {"shell": ["SH2"]}
    assert strong([("SH7", "shell")]) == {}  # SH7 counts only beside SH1-SH3
    assert strong([("SH7", "shell"), ("SH1", "shell")]) == {"shell": ["SH1", "SH7"]}
    assert strong([("DO1", "dormant")]) == {}
    assert strong([("DO3", "dormant")]) == {}
    assert strong([("DO1", "dormant"), ("DO4", "dormant")]) == {"dormant": ["DO1", "DO4"]}
    assert strong([("DO2", "dormant")]) == {"dormant": ["DO2"]}
    assert strong([("DO2", "dormant"), ("DO1", "dormant"), ("DO3", "dormant")]) == {
        "dormant": ["DO1", "DO2", "DO3"]
    }
    assert suspicion.parse(None) is suspicion.DEFAULT
    assert suspicion.parse(suspicion.DEFAULT.as_data()) == suspicion.DEFAULT


def test_a_stricter_or_looser_policy_changes_what_counts() -> None:
    loose = suspicion.parse({"shell": {"counts_only_with": {}}, "dormant": {"alone": ["DO1", "DO2"]}})
    assert loose.strong([("SH7", "shell")]) == {"shell": ["SH7"]}
    assert loose.strong([("DO1", "dormant")]) == {"dormant": ["DO1"]}
    strict = suspicion.parse({"dormant": {"alone": [], "base": None}})
    assert strict.strong([("DO2", "dormant")]) == {}
    assert strict.strong([("DO1", "dormant"), ("DO3", "dormant")]) == {}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ([1], "a mapping with shell and dormant"),
        ({"shel": {}}, "suspicion.shel: unknown entry"),
        ({"shell": {"counts_only_with": {"DO1": ["SH1"]}}}, "counts_only_with.DO1: DO1 is not a"),
        ({"shell": {"counts_only_with": {"SH7": ["DO3"]}}}, "counts_only_with.SH7: DO3 is not a"),
        ({"shell": {"counts_only_with": {"SH7": "SH1"}}}, "a list of rule codes is required"),
        ({"dormant": {"alone": ["SH2"]}}, "suspicion.dormant.alone: SH2 is not a"),
        ({"dormant": {"base": "DO9"}}, "suspicion.dormant.base: DO9 is not a"),
        ({"dormant": {"with": ["DO3"]}}, "suspicion.dormant.with: unknown entry"),
    ],
)
def test_a_bad_section_is_refused_with_the_entry_named(section: Any, message: str) -> None:
    with pytest.raises(suspicion.SuspicionError) as caught:
        suspicion.parse(section)
    assert any(message in text for text in caught.value.messages), caught.value.messages


@pytest.mark.django_db
def test_a_rule_set_carries_its_policy_to_the_monitoring(city_data: dict[str, Any]) -> None:
    shipped = runs.active_ruleset()
    assert monitoring.suspicion_policy() == suspicion.DEFAULT  # detection-v1 has no section
    data = yaml.safe_load(rulesets.as_document(shipped))
    data["version"] = "detection-v2"
    data["suspicion"] = {"shell": {"counts_only_with": {}}}
    with pytest.raises(ValidationError) as caught:
        rulesets.parse_document(yaml.safe_dump({**data, "suspicion": {"dormant": {"alone": ["SH1"]}}}))
    assert "suspicion" in caught.value.message_dict
    new = rulesets.create_ruleset(city_data["city"], rulesets.parse_document(yaml.safe_dump(data)))
    assert new.rules["suspicion"] == {"shell": {"counts_only_with": {}}}
    assert yaml.safe_load(rulesets.as_document(new))["suspicion"] == data["suspicion"]
    changes = [row for row in rulesets.diff(shipped, new) if row["changes"]]
    assert changes == [
        {
            "code": "suspicion",
            "changes": [("shell.counts_only_with", {"SH7": ["SH1", "SH2", "SH3"]}, {})],
        }
    ]
    rulesets.activate_ruleset(city_data["city"], new)
    policy = monitoring.suspicion_policy()
    assert policy.strong([("SH7", "shell")]) == {"shell": ["SH7"]}
    # a copy rule by rule keeps the section
    copy = rulesets.edited_document(new, "detection-v3", "v3", rulesets.settings_of(new))
    assert copy["rules"]["suspicion"] == data["suspicion"]
    assert RuleSet.objects.filter(version="detection-v2", is_active=True).exists()
