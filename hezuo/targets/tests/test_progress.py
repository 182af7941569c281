"""The progress table, its drill-downs and its Excel export: numbers, scope, and the annex's layout."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from hezuo.conftest import DISTRICT_A, DISTRICT_B
from hezuo.targets.loader import DATA_DIR, ensure_shipped_plans
from hezuo.targets.progress import compute

from . import world

pytestmark = pytest.mark.django_db

CODE = "zhuzhendi-2023-2025"


def plan_data() -> dict[str, Any]:
    return yaml.safe_load((DATA_DIR / "plan-2023-2025.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def plan(city_data: dict[str, Any]) -> Any:
    (plan,) = ensure_shipped_plans()
    world.build(counselor=city_data["counselor"])
    return plan


def test_table_numbers_for_city_staff(plan: Any, city_data: dict[str, Any]) -> None:
    result = compute(plan, city_data["city"])
    rows = {row.code: row for row in result.rows}
    assert len(rows) == 10
    a = rows[DISTRICT_A].cell("star_coops", 2024)
    assert a.target == 200 and a.actual.value == 2 and a.ratio == pytest.approx(0.01)
    assert a.band["color"] == plan.legend[0]["color"]
    assert rows[DISTRICT_B].cell("star_coops", 2024).actual.provisional
    assert result.total.cell("star_coops", 2024).actual.value == 3
    assert result.total.cell("star_coops", 2024).target == 1012
    assert result.total.cell("sponsored_five_star", 2024).target == 65
    kpi = {(m.key, y): cell for m, y, cell in result.kpis}
    assert kpi[("sponsored_share_county_standard", 2025)].target == Decimal("0.7")
    assert kpi[("member_households", 2025)].target == 30000
    assert kpi[("star_coops", 2025)].target == 1200  # the city goal; the total row adds up to 1202
    assert result.total.cell("star_coops", 2025).target == 1202


def test_district_user_sees_only_their_district(plan: Any, client_for: Any) -> None:
    response = client_for("district_a").get(reverse("targets:progress", args=[CODE]))
    assert response.status_code == 200 and response.context["division"].code == DISTRICT_A
    assert [r["key"] for r in response.context["table"]][:2] == ["star_coops", "sponsored_coops"]
    result = response.context["progress"]
    assert [r.code for r in result.rows] == [DISTRICT_A] and not result.kpis and result.total is None
    assert result.rows[0].cell("sponsored_coops", 2023).actual.value == 2
    assert [r.code for r in compute(plan, response.wsgi_request.user).rows] == [DISTRICT_A]
    # the city's page shows every district, a total row and the goals
    response = client_for("city").get(reverse("targets:progress", args=[CODE]))
    assert len(response.context["rows"]) == 11 and response.context["kpis"]
    assert "象山" in response.content.decode()


def test_drilldown_page_lists_the_cooperatives_behind_a_number(plan: Any, client_for: Any) -> None:
    url = reverse("targets:drilldown", args=[CODE, "star_coops", 2024, "city"])
    response = client_for("city").get(url)
    names = {c.name for c in response.context["page"]}
    assert names == {"c1号合作社", "c4号合作社", "c5号合作社"}
    url = reverse("targets:drilldown", args=[CODE, "sponsored_share_county_standard", 2024, DISTRICT_A])
    response = client_for("district_a").get(url + "?part=population")
    assert response.context["total_count"] == 3
    response = client_for("district_a").get(url)
    assert response.context["total_count"] == 1
    url = reverse("targets:drilldown", args=[CODE, "member_households", 2024, DISTRICT_A])
    response = client_for("district_a").get(url)
    assert sum(c.metric_value for c in response.context["page"]) == 80


def sheet(data: bytes) -> Any:
    return load_workbook(io.BytesIO(data)).active


def merged(ws: Any) -> set[str]:
    return {str(r) for r in ws.merged_cells.ranges}


def test_targets_only_export_is_the_annex(plan: Any, client_for: Any) -> None:
    data = plan_data()
    response = client_for("city").get(reverse("targets:export", args=[CODE]) + "?targets_only=1")
    assert response.status_code == 200
    ws = sheet(response.content)
    years = data["plan"]["years"]
    districts = data["districts"]
    first = 5
    assert ws.max_column == 1 + 3 * len(years)
    assert ws.max_row == first + len(districts)  # the districts and the total row
    expected_merges = {"A1:J1", "A2:J2", "A3:A4"}
    for j, year in enumerate(years):
        col = 2 + 3 * j
        assert str(ws.cell(3, col).value) == str(year)
        letters = [get_column_letter(c) for c in (col, col + 2)]
        expected_merges.add(f"{letters[0]}3:{letters[1]}3")
        expected_merges.add(f"{letters[1]}{first}:{letters[1]}{first + len(districts) - 1}")
        assert ws.cell(first, col + 2).value == data["city_targets_by_year"]["sponsored_five_star"][year]
        for i, row in enumerate(districts):
            r = first + i
            assert ws.cell(r, 1).value == row["short"]
            assert ws.cell(r, col).value == row["star_coops"][year]
            assert ws.cell(r, col + 1).value == row["sponsored_coops"][year]
            if i:
                assert ws.cell(r, col + 2).value is None  # inside the merged cell
        total = first + len(districts)
        assert ws.cell(total, col).value == data["totals"]["star_coops"][year]
        assert ws.cell(total, col + 1).value == data["totals"]["sponsored_coops"][year]
    assert merged(ws) == expected_merges
    # every number in the sheet comes from the file: no more, no fewer
    numbers = [
        c.value for row in ws.iter_rows(min_row=first) for c in row if isinstance(c.value, int | float)
    ]
    expected_count = len(years) * (2 * len(districts) + 1 + 2)
    assert len(numbers) == expected_count


def test_export_with_actuals_puts_them_beside_the_targets(plan: Any, client_for: Any) -> None:
    ws = sheet(client_for("city").get(reverse("targets:export", args=[CODE])).content)
    # per year: 3 metrics with targets and 3 followed without (survey, cleanup, rectification), each with
    # its target and its actual
    assert ws.max_column == 1 + 12 * 3
    labels = [d["short"] for d in plan_data()["districts"]]
    r = 6 + labels.index("宁海")
    # 2024 starts at column 14: star target, star actual, ...
    assert ws.cell(r, 14).value == 200 and ws.cell(r, 15).value == 2
    assert ws.cell(6 + 10, 15).value == 3  # the total row


def test_district_export_counts_only_their_district(plan: Any, client_for: Any) -> None:
    ws = sheet(client_for("district_b").get(reverse("targets:export", args=[CODE])).content)
    assert ws.max_row == 6  # one district, no total row
    assert ws.cell(6, 1).value == "象山"
    assert ws.cell(6, 15).value == 1  # star 2024 actual: c5 only
    values = [c.value for row in ws.iter_rows(min_row=6) for c in row]
    assert 200 not in values  # 宁海's target is not in it
    city = plan_data()["city_targets_by_year"]["sponsored_five_star"]
    assert not set(city.values()) & set(values)  # nor the city's own targets, as if they were the district's


def test_command_writes_the_workbook(plan: Any, tmp_path: Path) -> None:
    out = tmp_path / "annex.xlsx"
    call_command("progress", "--plan", CODE, "--targets-only", "--xlsx", str(out))
    ws = load_workbook(out).active
    assert ws.cell(5, 2).value == 60 and ws.cell(15, 2).value == 800
    out2 = tmp_path / "district.xlsx"
    call_command("progress", "--plan", CODE, "--xlsx", str(out2), "--user", f"district-{DISTRICT_B}")
    assert load_workbook(out2).active.max_row == 6


def test_dashboard_counts_only_the_users_district(plan: Any, client_for: Any) -> None:
    url = reverse("targets:dashboard", args=[CODE]) + "?metric=star_coops&year=2024"
    data = client_for("district_b").get(url, follow=True).context["data"]  # their district's page
    assert [r["name"] for r in data["regions"]] == ["象山县"]
    assert data["regions"][0]["actual"] == "1" and data["regions"][0]["target"] == "190"
    assert data["trend"]["actuals"][1] == 1.0  # their district's own line
    data = client_for("city").get(url).context["data"]
    assert len(data["regions"]) == 10
    assert data["trend"]["actuals"][1] == 3.0 and data["trend"]["targets"][1] == 1012.0
    page = client_for("city").get(reverse("targets:dashboard", args=[CODE])).content.decode()
    assert "vendor/echarts/echarts.min.js" in page and "geo/ningbo-districts.geojson" in page
    assert "cdn" not in page.lower()


def test_queries_do_not_grow_with_the_districts(plan: Any, city_data: dict[str, Any]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from hezuo.targets import cache

    counts = []
    for persona in ("city", "district_a"):
        cache.clear()
        with CaptureQueriesContext(connection) as ctx:
            compute(plan, city_data[persona])
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]  # 10 districts or one: the same GROUP BY queries
    # the same data again: from the cache (the data version only)
    with CaptureQueriesContext(connection) as ctx:
        result = compute(plan, city_data["city"])
    assert len(ctx.captured_queries) <= 2
    assert result.total.cell("star_coops", 2024).actual.value == 3
