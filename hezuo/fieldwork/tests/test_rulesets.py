"""Rule sets as versioned data: load, copy into a new version, activate, compare; a stored version never
changes; bad documents refused with the entry named; history kept."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from hezuo.core.services import history_for
from hezuo.fieldwork import rulesets, runs
from hezuo.fieldwork.models import RuleSet

pytestmark = pytest.mark.django_db


def city_client(city_data: dict[str, Any]) -> Client:
    client = Client()
    client.force_login(city_data["city"])
    return client


def test_a_copy_becomes_a_new_active_version_and_the_diff_shows_the_change(city_data: dict[str, Any]) -> None:
    shipped = runs.active_ruleset()
    client = city_client(city_data)
    page = client.get(reverse("fieldwork:ruleset_copy", args=[shipped.pk]))
    text = page.context["form"].initial["document"]
    data = yaml.safe_load(text)
    assert data["version"].startswith(shipped.version) and data["version"] != shipped.version
    data["version"] = "detection-v2"
    data["rules"]["SH1"]["params"]["min_members"] = 8
    data["rules"]["DO4"]["enabled"] = False
    response = client.post(
        reverse("fieldwork:ruleset_copy", args=[shipped.pk]),
        {"document": yaml.safe_dump(data, allow_unicode=True), "activate": "on", "reason": "2026年新口径"},
    )
    assert response.status_code == 302
    new = RuleSet.objects.get(version="detection-v2")
    assert new.is_active and not RuleSet.objects.get(pk=shipped.pk).is_active
    assert runs.active_ruleset() == new
    assert history_for(new).filter(message="2026年新口径").exists()
    diff = client.get(reverse("fieldwork:ruleset_diff") + f"?a={shipped.pk}&b={new.pk}")
    rows = {row["code"]: row["changes"] for row in diff.context["rows"]}
    assert rows == {"SH1": [("min_members", 5, 8)], "DO4": [("enabled", True, False)]}
    # the old version is unchanged and can be made active again
    assert client.post(reverse("fieldwork:ruleset_activate", args=[shipped.pk])).status_code == 302
    assert runs.active_ruleset().pk == shipped.pk


def _rule_form(page: Any) -> dict[str, Any]:
    """The rule-by-rule form's values as a browser would send them (checkboxes on only when ticked)."""
    form = page.context["form"]
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    return data


def test_a_new_version_rule_by_rule_changes_only_what_was_edited(city_data: dict[str, Any]) -> None:
    shipped = runs.active_ruleset()
    client = city_client(city_data)
    url = reverse("fieldwork:ruleset_edit", args=[shipped.pk])
    page = client.get(url)
    assert page.status_code == 200
    data = _rule_form(page)
    assert data["version"] != shipped.version and data["SH1__min_members"] == 5
    data.update({"SH1__min_members": "8", "reason": "新口径", "activate": "on"})
    del data["DO4__enabled"]  # switched off
    response = client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    new = RuleSet.objects.get(version=data["version"])
    assert new.is_active and history_for(new).filter(message="新口径").exists()
    changed = [row for row in rulesets.diff(shipped, new) if row["changes"]]
    assert changed == [
        {"code": "DO4", "changes": [("enabled", True, False)]},
        {"code": "SH1", "changes": [("min_members", 5, 8)]},
    ]
    # titles and bases kept
    assert new.rules["rules"]["SH1"]["title"] == shipped.rules["rules"]["SH1"]["title"]


def test_the_rule_by_rule_form_refuses_bad_values_and_a_taken_label(city_data: dict[str, Any]) -> None:
    shipped = runs.active_ruleset()
    client = city_client(city_data)
    url = reverse("fieldwork:ruleset_edit", args=[shipped.pk])
    data = _rule_form(client.get(url))
    bad = {**data, "SH3__min_days": "-1", "SH7__deadline": "13-45"}
    response = client.post(url, bad)
    assert response.status_code == 400
    form = response.context["form"]
    assert "SH3__min_days" in form.errors
    taken = {**data, "version": shipped.version, "SH1__min_members": "9"}
    response = client.post(url, taken)
    assert response.status_code == 400
    assert "version" in response.context["form"].errors
    deadline = {**data, "SH7__deadline": "13-45"}
    response = client.post(url, deadline)
    assert response.status_code == 400
    assert any("SH7.deadline" in e for e in response.context["form"].non_field_errors())
    assert RuleSet.objects.count() == 1


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("version: [unclosed", "not valid YAML"),
        ("- a list", "must be a mapping"),
        ("name: no version\nrules: {}", "needs a version"),
        ("version: x\nrules:\n  SH9: {}", "SH9: unknown rule"),
        ("version: x\nrules:\n  SH1: {params: {min_members: -1}}", "SH1.min_members"),
        ("version: x\nrules:\n  DO4: {params: {deadline: 13-40}}", "DO4.deadline"),
    ],
)
def test_bad_documents_are_refused_with_the_entry_named(
    city_data: dict[str, Any], document: str, message: str
) -> None:
    runs.active_ruleset()
    before = RuleSet.objects.count()
    response = city_client(city_data).post(reverse("fieldwork:ruleset_load"), {"document": document})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors["document"])
    assert RuleSet.objects.count() == before


def test_a_stored_version_never_changes(city_data: dict[str, Any], tmp_path: Any) -> None:
    shipped = runs.active_ruleset()
    data = yaml.safe_load(rulesets.as_document(shipped))
    data["rules"]["SH1"]["params"]["min_members"] = 3
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValidationError) as refused:
        runs.load_ruleset(changed)
    assert "needs a new version" in " ".join(refused.value.message_dict["version"])
    assert RuleSet.objects.get(pk=shipped.pk).rules == shipped.rules
    # the same document again: the stored version, nothing written
    same = tmp_path / "same.yaml"
    same.write_text(rulesets.as_document(shipped), encoding="utf-8")
    assert runs.load_ruleset(same).pk == shipped.pk and RuleSet.objects.count() == 1


def test_a_file_upload_loads_a_version(city_data: dict[str, Any]) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    shipped = runs.active_ruleset()
    text = rulesets.as_document(shipped).replace(f"version: {shipped.version}", "version: detection-v3", 1)
    upload = SimpleUploadedFile("rules.yaml", text.encode("utf-8"), content_type="application/x-yaml")
    response = city_client(city_data).post(reverse("fieldwork:ruleset_load"), {"file": upload})
    assert response.status_code == 302
    loaded = RuleSet.objects.get(version="detection-v3")
    assert loaded.rules == shipped.rules and not loaded.is_active
    download = city_client(city_data).get(reverse("fieldwork:ruleset_yaml", args=[loaded.pk]))
    assert yaml.safe_load(download.content.decode())["version"] == "detection-v3"
