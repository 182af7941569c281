"""Rubrics as data: validation with messages naming the entry, loading, versions, copy, edit, publish,
diff."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.rating import services
from hezuo.rating.models import Rubric, RubricPublication
from hezuo.rating.rubric import (
    DEFAULT_RUBRIC_FILE,
    RubricError,
    content_hash,
    diff,
    load_document,
    to_yaml,
    validate,
)
from hezuo.rating.rubric import rows_of as rubric_rows_of

from .conftest import YEAR


def shipped() -> dict[str, Any]:
    return load_document(DEFAULT_RUBRIC_FILE.read_text(encoding="utf-8"))[1]


def errors_of(definition: dict[str, Any]) -> str:
    with pytest.raises(RubricError) as info:
        validate(definition)
    return "\n".join(info.value.errors)


def indicator(definition: dict[str, Any], key: str) -> dict[str, Any]:
    return next(i for d in definition["dimensions"] for i in d["indicators"] if i["key"] == key)


def test_the_shipped_rubric_is_valid_and_sums_to_100() -> None:
    definition = shipped()
    validate(definition)
    from hezuo.rating.engine import compile_rubric

    assert compile_rubric(definition).max_score == 100


def test_unknown_measure_names_the_indicator() -> None:
    d = shipped()
    indicator(d, "B4")["measure"] = "member_trade_ratio"
    text = errors_of(d)
    assert "dimensions[2] (B).indicators[4] (B4)" in text and "unknown measure 'member_trade_ratio'" in text


def test_unknown_indicator_in_a_gate_is_refused() -> None:
    d = shipped()
    g3 = next(g for g in d["gates"] if g["key"] == "G3")
    g3["checks"][2]["params"]["indicator"] = "A9"
    text = errors_of(d)
    assert "gates[4] (G3).checks[3] (indicator_points)" in text and "unknown indicator 'A9'" in text


def test_unknown_check_is_refused() -> None:
    d = shipped()
    d["gates"][0]["checks"].append({"check": "not_on_blacklist"})
    assert "gates[1] (G0).checks[5]: unknown check 'not_on_blacklist'" in errors_of(d)


def test_overlapping_tiers_are_refused() -> None:
    d = shipped()
    indicator(d, "C1")["tiers"] = [[30, 2], [30, 4], [100, 6]]
    text = errors_of(d)
    assert "(C1) tier 2: the threshold 30 overlaps the tier before it" in text


def test_non_monotonic_tiers_are_refused() -> None:
    d = shipped()
    indicator(d, "B1")["tiers"] = [[0.6, 6], [0.8, 10], [0.7, 8]]
    text = errors_of(d)
    assert "(B1) tier 3: thresholds must rise" in text
    assert "(B1) tier 3: points must rise" in text
    d = shipped()
    indicator(d, "B2")["tiers"] = [[0.1, 1], [0.2, 3]]  # lower is better: thresholds must fall
    assert "(B2) tier 2: thresholds must fall" in errors_of(d)


def test_relaxed_tiers_are_checked_too() -> None:
    d = shipped()
    indicator(d, "D1")["relaxed_tiers"] = [[250000, 3], [200000, 6]]
    assert "(D1) relaxed_tiers tier 2: thresholds must rise" in errors_of(d)


def test_star_floors_that_do_not_rise_are_refused() -> None:
    d = shipped()
    d["star_floors"] = [[1, 40], [2, 55], [3, 55], [4, 80], [5, 90]]
    assert "star_floors[3]: the floor of 3 stars (55) must rise above 55" in errors_of(d)
    d["star_floors"] = [[1, 40], [2, 55], [4, 70]]
    assert "star_floors[3]: stars are listed 1, 2, 3… in order" in errors_of(d)
    d["star_floors"] = [[1, 40], [2, 55], [3, 70], [4, 80], [5, 101]]
    assert "above the highest possible score" in errors_of(d)


def test_a_gate_for_a_star_the_rubric_lacks_is_refused() -> None:
    d = shipped()
    d["gates"][0]["star"] = 6
    assert "gates[1] (G0): star must be one of the rubric's stars" in errors_of(d)


def test_shares_written_as_percent_and_unknown_parameters_are_refused() -> None:
    d = shipped()
    indicator(d, "A5")["tiers"] = [[80, 3], [100, 5]]
    indicator(d, "A1")["params"]["farmer_minimum"] = 0.8
    d["gates"][2]["checks"][0]["params"] = {}
    d["extra"] = 1
    text = errors_of(d)
    assert "write 60% as 0.6" in text
    assert "unknown parameter 'farmer_minimum'" in text
    assert "the parameter 'min' is required" in text
    assert "Unknown key 'extra'" in text


def test_duplicate_keys_are_refused() -> None:
    d = shipped()
    indicator(d, "A2")["key"] = "A1"
    assert "the indicator key 'A1' is used twice" in errors_of(d)


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(RubricError) as info:
        load_document("code: x\ndimensions: [\n  - a: b\n")
    assert "line" in info.value.errors[0]


def test_content_hash_is_stable_and_follows_the_definition() -> None:
    a, b = shipped(), shipped()
    assert content_hash(a) == content_hash(b)
    indicator(b, "C2")["tiers"][0][0] = 120
    assert content_hash(a) != content_hash(b)


def test_diff_shows_changes_side_by_side() -> None:
    a = shipped()
    b = copy.deepcopy(a)
    indicator(b, "C2")["tiers"][0] = [120, 2]
    b["star_floors"][2] = [3, 72]
    b["gates"] = [g for g in b["gates"] if g["key"] != "G5"]
    rows = {r["path"]: r for r in diff(a, b)}
    assert rows["indicator C2"]["status"] == "changed"
    assert "≥100→2" in rows["indicator C2"]["left"] and "≥120→2" in rows["indicator C2"]["right"]
    assert rows["floor 3★"] == {"path": "floor 3★", "left": "70", "right": "72", "status": "changed"}
    assert rows["gate G5"]["status"] == "removed"
    assert rows["indicator A1"]["status"] == "same"


def test_the_comparison_reads_in_words() -> None:
    """The side-by-side page shows each entry by name and in words (measures, tiers, checks translated),
    while the comparison is made on the exact definitions."""
    from hezuo.rating.describe import readable_rows

    a = shipped()
    b = copy.deepcopy(a)
    b["star_floors"][2] = [3, 72]
    words_a, words_b = readable_rows(a), readable_rows(b)
    assert set(words_a) == set(rubric_rows_of(a))  # one entry in words per compared entry
    assert words_a["floor 3★"] == ("Score for 3★", "at least 70 points")
    assert words_b["floor 3★"][1] == "at least 72 points"
    name, text = words_a["indicator A5"]
    assert name == "Indicator A5" and "the share of members with a member account" in text and "≥ 80%" in text
    assert "member_account_share" not in text
    gate = words_a["gate G3"][1]
    assert gate.startswith("3★") and "not_abnormal_listed" not in gate


# the database side -----------------------------------------------------------------------------------


def test_setup_loads_the_provisional_rubric_once_and_publishes_it(db: Any) -> None:
    first = services.ensure_default_rubric()
    assert first is not None and first.provisional and first.version == 1
    assert "criteria" in first.source_note.lower() or "§7.2" in first.source_note
    assert sorted(first.published_years()) == [2022, 2023, 2024, 2025]
    assert services.ensure_default_rubric() is None
    assert Rubric.objects.count() == 1


def test_copy_edit_publish_and_refusals(db: Any, city_data: Any) -> None:
    city = city_data["city"]
    v1 = services.ensure_default_rubric()
    with change_context(user=city):
        v2 = services.copy_rubric(v1, user=city)
    assert (v2.version, v2.status, v2.copied_from_id) == (2, "draft", v1.pk)
    doc = yaml.safe_load(services.rubric_yaml(v2))
    doc["star_floors"][2] = [3, 72]
    with change_context(user=city, reason="floors per the 2026 method"):
        services.update_rubric(
            v2,
            to_yaml(
                {}, {k: v for k, v in doc.items() if k not in ("code", "title", "provisional", "source")}
            ),
            user=city,
        )
    v2.refresh_from_db()
    assert v2.definition["star_floors"][2] == [3, 72]
    assert v2.content_hash != v1.content_hash
    record = ChangeRecord.objects.filter(object_id=v2.pk, action="update").latest("id")
    assert record.message == "floors per the 2026 method" and "content_hash" in record.diff()
    # bad edit: refused, nothing written
    doc["star_floors"][3] = [4, 60]
    with pytest.raises(RubricError) as info:
        services.update_rubric(v2, yaml.safe_dump(doc, allow_unicode=True), user=city)
    assert "star_floors[4]" in str(info.value)
    v2.refresh_from_db()
    assert v2.definition["star_floors"][3] == [4, 80]
    # publish for a year: the year's former version is replaced
    with change_context(user=city):
        services.publish_rubric(v2, 2025, user=city)
    assert services.published_rubric(2025) == v2
    assert services.published_rubric(2024) == v1
    assert RubricPublication.objects.filter(year=2025).count() == 2  # the old one retired, not deleted
    # a published version cannot be edited
    with pytest.raises(RubricError):
        services.update_rubric(v2, services.rubric_yaml(v2), user=city)


def test_a_version_with_results_is_never_edited(rated_city: Any) -> None:
    v1 = services.published_rubric(YEAR)
    assert v1.has_results()
    assert "never changed" in services.editable_problem(v1)
    Rubric.objects.filter(pk=v1.pk).update(status="draft")  # even a draft with results
    v1.refresh_from_db()
    with pytest.raises(RubricError) as info:
        services.update_rubric(v1, services.rubric_yaml(v1), user=rated_city["city"])
    assert "produced ratings" in str(info.value)
    client = _client(rated_city["city"])
    response = client.post(f"/rating/rubrics/{v1.pk}/edit/", {"text": "code: star-rating"})
    assert response.status_code == 302
    v1.refresh_from_db()
    assert v1.content_hash == content_hash(v1.definition)


def _client(user: Any) -> Any:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def test_loading_a_file_on_the_page(db: Any, city_data: Any) -> None:
    services.ensure_default_rubric()
    client = _client(city_data["city"])
    bad = DEFAULT_RUBRIC_FILE.read_text(encoding="utf-8").replace(
        "measure: driven_households", "measure: households_driven"
    )
    response = client.post("/rating/rubrics/load/", {"text": bad})
    assert response.status_code == 200
    assert "unknown measure &#x27;households_driven&#x27;" in response.content.decode()
    assert Rubric.objects.count() == 1
    good = DEFAULT_RUBRIC_FILE.read_text(encoding="utf-8").replace(
        "[[100, 2], [300, 4], [1000, 6]]", "[[120, 2], [300, 4], [1000, 6]]"
    )
    response = client.post("/rating/rubrics/load/", {"text": good})
    assert response.status_code == 302
    v2 = Rubric.objects.get(version=2)
    assert v2.status == "draft" and v2.published_years() == []
    response = client.get(
        "/rating/rubrics/diff/",
        {"a": 1 if Rubric.objects.filter(pk=1).exists() else Rubric.objects.get(version=1).pk, "b": v2.pk},
    )
    assert response.status_code == 200
    assert "Indicator C2" in response.content.decode()
    # district staff may read rubrics but not load, copy, edit or publish
    district = _client(city_data["district_a"])
    assert district.get(f"/rating/rubrics/{v2.pk}/").status_code == 200
    assert district.get("/rating/rubrics/load/").status_code == 404
    assert district.post(f"/rating/rubrics/{v2.pk}/copy/").status_code == 404
    assert district.get(f"/rating/rubrics/{v2.pk}/edit/").status_code == 404
    assert district.post(f"/rating/rubrics/{v2.pk}/publish/", {"year": 2025}).status_code == 404
    assert Rubric.objects.count() == 2


def test_the_rubric_page_reads_in_words(city_data, rubric) -> None:  # type: ignore[no-untyped-def]
    """No raw codes on the rubric page: the fallback measure and the relaxed industries in words."""
    from django.test import Client

    client = Client()
    client.force_login(city_data["city"])
    page = client.get(f"/rating/rubrics/{rubric.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "loss_plan_approved" not in page and "[[1, 5]]" not in page
    assert "plant_protection" not in page and "植保服务" in page
