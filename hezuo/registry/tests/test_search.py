"""Free-text search over cooperatives (hezuo/registry/search.py), run through the ORM on the database."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hezuo.conftest import DISTRICT_A, DISTRICT_B, make_coop
from hezuo.registry.models import Cooperative
from hezuo.registry.search import apply_search, build_search_text, pinyin_forms

BAIPIPA = "宁海县岔路镇白枇杷专业合作社"


def found(query: str, qs: Any = None) -> list[str]:
    qs = Cooperative.objects.all() if qs is None else qs
    return sorted(apply_search(qs, query).values_list("name", flat=True))


def test_pinyin_forms() -> None:
    assert pinyin_forms(BAIPIPA) == ("ninghaixianchaluzhenbaipipazhuanyehezuoshe", "nhxclzbppzyhzs")
    assert pinyin_forms("") == ("", "")
    # non-Chinese characters are dropped from the pinyin forms (they stay in the name part)
    assert pinyin_forms("ABC 合作社-1号") == ("hezuoshehao", "hzsh")
    # polyphones are read in context
    assert pinyin_forms("长街镇") == ("changjiezhen", "cjz")


def test_build_search_text_layout() -> None:
    text = build_search_text(BAIPIPA, "93330226MA2H00006U", "张|三", "")
    head, initials = text.rsplit("|", 1)
    assert initials == "nhxclzbppzyhzs"
    assert head.count("|") == 0  # a "|" in an extra value cannot fake the initials separator
    assert BAIPIPA in head and "ninghaixian" in head and "93330226ma2h00006u" in head
    long = build_search_text("合" * 200, "x" * 900)
    assert len(long) <= 1000 and long.endswith("|" + "h" * (len(long) - long.rindex("|") - 1))


def test_stored_search_text_follows_the_name(city_data: dict[str, Any]) -> None:
    coop = Cooperative.objects.get(pk=city_data["coop_a"].pk)
    assert coop.search_text == build_search_text(coop.name, coop.credit_code, coop.legal_representative)


@pytest.mark.parametrize(
    "query", ["nhbp", "ninghai", "NingHai", "  nhbp  ", "baipipa", "nhxclzbppzyhzs", "bpp", "chalu"]
)
def test_pinyin_and_initials_find_the_loquat_cooperative(city_data: dict[str, Any], query: str) -> None:
    assert BAIPIPA in found(query)


def test_initials_subsequence_does_not_match_everything(city_data: dict[str, Any]) -> None:
    assert found("nhbp") == [BAIPIPA]
    assert found("xshm") == ["象山县红美人柑橘专业合作社"]
    assert found("qqqq") == []


def test_chinese_substring(city_data: dict[str, Any]) -> None:
    assert found("白枇杷") == [BAIPIPA]
    assert found("宁海") == sorted([BAIPIPA, "宁海县长街镇蛏子养殖专业合作社"])
    assert len(found("专业合作社")) == 3
    assert found("枇杷柑橘") == []


def test_credit_code_search(city_data: dict[str, Any]) -> None:
    code = city_data["coop_b"].credit_code
    assert found(code) == [city_data["coop_b"].name]
    assert found(code.lower()) == [city_data["coop_b"].name]
    assert found(code[-8:]) == [city_data["coop_b"].name]
    assert found("93330225") == [city_data["coop_b"].name]


def test_multiple_terms_are_anded(city_data: dict[str, Any]) -> None:
    assert found("宁海 枇杷") == [BAIPIPA]
    assert found("ninghai pipa") == [BAIPIPA]
    assert found("nh 蛏子") == ["宁海县长街镇蛏子养殖专业合作社"]
    assert found("宁海 柑橘") == []
    assert found("xiangshan nhbp") == []


def test_empty_query_returns_everything(city_data: dict[str, Any]) -> None:
    assert len(found("")) == 3
    assert len(found("   ")) == 3


def test_the_initials_separator_is_not_searchable(city_data: dict[str, Any]) -> None:
    assert found("宁海|枇杷") == [BAIPIPA]
    assert found("|nhxcl") == [BAIPIPA]  # the same as "nhxcl"
    assert found("iao|") == []
    assert len(found("|")) == 3  # the same as an empty query


def test_contiguous_matches_rank_before_subsequence_matches(db: None) -> None:
    subsequence = make_coop(DISTRICT_A, name=BAIPIPA)  # initials nhxclzbppzyhzs: "nhbp" only as a subsequence
    contiguous = make_coop(DISTRICT_A, name="宁海白枇杷专业合作社")  # initials nhbppzyhzs: "nhbp" contiguous
    results = list(apply_search(Cooperative.objects.all(), "nhbp").order_by("search_rank", "name"))
    assert [c.pk for c in results] == [contiguous.pk, subsequence.pk]
    assert [c.search_rank for c in results] == [0, 1]
    # a Chinese substring or full pinyin is always contiguous
    assert {c.search_rank for c in apply_search(Cooperative.objects.all(), "白枇杷")} == {0}


@pytest.mark.parametrize(
    "query", ["%", "_", "\\", "%%", "__", "\\%", "宁海%", "n%h", "n_h", "%|%", "'", '"', "%'--", "[a-z]", "*"]
)
def test_wildcards_and_quotes_are_literal(city_data: dict[str, Any], query: str) -> None:
    assert found(query) == []


def test_percent_in_a_name_is_found_literally(db: None) -> None:
    make_coop(DISTRICT_A, name="百分百100%有机蔬菜专业合作社")
    make_coop(DISTRICT_A, name="下划线_果蔬专业合作社")
    make_coop(DISTRICT_A, name="反斜杠\\果蔬专业合作社")
    make_coop(DISTRICT_A, name="普通果蔬专业合作社")
    assert found("%") == ["百分百100%有机蔬菜专业合作社"]
    assert found("100%") == ["百分百100%有机蔬菜专业合作社"]
    assert found("_") == ["下划线_果蔬专业合作社"]
    assert found("\\") == ["反斜杠\\果蔬专业合作社"]


def test_search_stays_inside_the_scope(city_data: dict[str, Any]) -> None:
    scoped = Cooperative.objects.restrict(city_data["district_b"])
    assert found("nhbp", scoped) == []
    assert found("宁海", scoped) == []
    assert found("xiangshan", scoped) == ["象山县红美人柑橘专业合作社"]


POOL = "宁海象山奉化慈溪余姚鄞州北仑镇海江北岔路白枇杷杨梅柑橘桃笋茶蔬菜果长街重行乐了和会大西东南村"
names = st.text(alphabet=POOL, min_size=1, max_size=30).map(lambda s: s + "专业合作社")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=names)
def test_full_pinyin_and_initials_of_any_name_find_it(db: None, name: str) -> None:
    coop = make_coop(DISTRICT_B, name=name)
    full, initials = pinyin_forms(name)
    for query in (full, initials, name, full.upper()):
        assert apply_search(Cooperative.objects.all(), query).filter(pk=coop.pk).exists(), query
    assert apply_search(Cooperative.objects.filter(pk=coop.pk), initials).get().search_rank == 0


def test_a_search_with_a_filter_that_matches_nothing_lists_nothing(city_data: dict[str, Any]) -> None:
    """A search beside a filter value out of reach (another district's town, from a shared link) or
    invalid answers an empty list, never an error page."""
    from django.test import Client

    client = Client()
    client.force_login(city_data["district_a"])
    other_town = city_data["coop_b"].town_id
    for query in (f"town={other_town}", "operating_status=active", "registered_from=abc"):
        response = client.get(f"/registry/cooperatives/?q=hezuo&{query}")
        assert response.status_code == 200, query
