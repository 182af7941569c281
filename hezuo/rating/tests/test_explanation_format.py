"""The stored explanation, format 3 (only the indicators' entries and the gates' check outcomes): what the
pages, exports and the API show from it is exactly what the engine explains; explanations stored in the
earlier formats (2: with the rubric reference and the summary; 1: named) are shown the same."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from hezuo.rating import describe, engine
from hezuo.rating.models import Rating

from .test_properties import DEFINITION, RUBRIC, inputs

REF = {"id": 3, "code": "star-rating", "version": 2, "hash": RUBRIC.content_hash}


def _format_2(ev: engine.Evaluation, ref: dict[str, Any]) -> dict[str, Any]:
    """An explanation as format 2 stored it (the earlier engine's explanation_text, read back)."""
    text = json.dumps(
        {
            "format": 2,
            "rubric": ref,
            "score": ev.score,
            "score_max": ev.score_max,
            "stars": ev.stars,
            "stars_low": ev.stars_low,
            "stars_high": ev.stars_high,
            "dimensions": ev.dimensions,
            "indicators": ev.indicators,
            "gates": ev.gates,
            "missing": ev.missing,
            "capped_by": ev.capped_by,
        },
        default=engine._json_default,
    )
    return json.loads(text)  # type: ignore[no-any-return]


def _some_missing(inp: engine.CoopInput, names: list[str]) -> engine.CoopInput:
    return dataclasses.replace(inp, facts={**(inp.facts or {}), **dict.fromkeys(names)})


FACT_NAMES = sorted(
    {
        "members",
        "farmer_members",
        "entity_members",
        "revenue",
        "assembly_held",
        "minutes_signed",
        "income_uplift",
        "distributable_surplus",
        "surplus_returned",
        "annual_report_date",
        "member_households",
        "internal_audit",
    }
)


@given(inputs(), st.lists(st.sampled_from(FACT_NAMES), max_size=4, unique=True))
@settings(max_examples=150, deadline=None)
def test_the_compact_form_expands_to_what_the_engine_explains(inp: engine.CoopInput, gone: list[str]) -> None:
    inp = _some_missing(inp, gone)
    result = engine.evaluate(inp, RUBRIC)
    stored = json.loads(engine.explanation_text(result.evaluation))
    assert set(stored) == {"format", "indicators", "gates"} and stored["format"] == 3
    expected = json.loads(json.dumps({**result.as_json(), "rubric": REF}))
    assert describe.expand(stored, DEFINITION, RUBRIC.content_hash, REF) == expected
    # the same words as an explanation stored in format 2 and in format 1 (named) give
    old = _format_2(result.evaluation, REF)
    assert describe.expand(old, DEFINITION) == expected
    for shown in (old, expected):
        assert describe.indicator_rows(stored, DEFINITION) == describe.indicator_rows(shown, DEFINITION)
        assert describe.gate_rows(stored, DEFINITION) == describe.gate_rows(shown, DEFINITION)
    # smaller than format 2, which held the same entries
    assert len(json.dumps(stored, separators=(",", ":"))) < len(json.dumps(old, separators=(",", ":")))


def test_every_reader_shows_a_rating_stored_in_an_earlier_format(rated_city: Any) -> None:
    """Ratings written before format 3 (format 2 rows in existing databases) keep showing the same
    explanation on the pages and in the API."""
    from django.test import Client

    rating = Rating.objects.select_related("rubric").get(cooperative=rated_city["coop_a2"])
    new = describe.rating_explanation(rating)
    assert new["rubric"]["hash"] == rating.rubric.content_hash and "G3" in new["capped_by"]
    compiled = rating.rubric.compiled()
    ev = engine.stored_evaluation(rating.explanation, compiled)
    ref = {**new["rubric"]}
    Rating.objects.filter(pk=rating.pk).update(explanation=_format_2(ev, ref))
    rating.refresh_from_db()
    assert rating.explanation["format"] == 2
    assert describe.rating_explanation(rating) == new
    client = Client()
    client.force_login(rated_city["city"])
    response = client.get(f"/api/ratings/{rating.pk}/")
    assert response.status_code == 200 and response.json()["explanation"] == json.loads(json.dumps(new))
    page = client.get(rating.get_absolute_url())
    assert page.status_code == 200 and "G3" in page.content.decode()


def test_the_explanation_column_keeps_the_text_as_written(rated_city: Any) -> None:
    """PostgreSQL stores it as json (the text as given), elsewhere as the JSONField's text; read back, it is
    the document written."""
    rating = Rating.objects.get(cooperative=rated_city["coop_a"])
    with connection.cursor() as cursor:
        cast = "::text" if connection.vendor == "postgresql" else ""
        cursor.execute(f"SELECT explanation{cast} FROM rating_rating WHERE id = %s", [rating.pk])
        text = cursor.fetchone()[0]
    assert text.startswith('{"format":3,"indicators":[[') and json.loads(text) == rating.explanation


def test_shares_are_never_rounded_across_a_tier_bound() -> None:
    from hezuo.rating.describe import fmt_value

    assert fmt_value("share", 0.5997) == "59.97%"
    assert fmt_value("share", 0.6) == "60%"
    assert fmt_value("share", 0.799) == "79.9%"
    assert fmt_value("share", 0.52) == "52%"
