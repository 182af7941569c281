"""Export → import gives zero changes, for every kind, in .xlsx and .csv; the template's notes sheet."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.core.services import save_record
from hezuo.geo.models import Division
from hezuo.registry.models import (
    Cooperative,
    DemonstrationTitle,
    FederationMembership,
    Organization,
    Sponsorship,
    YearlyFact,
)
from hezuo.transfer.engine import run_import
from hezuo.transfer.exporting import export_queryset, rows_for, write_csv, write_xlsx
from hezuo.transfer.specs import KINDS

pytestmark = pytest.mark.django_db


@pytest.fixture
def rich(city_data: dict[str, Any]) -> dict[str, Any]:
    """Every kind of record, with awkward values: odd money, empty yes/no, a village, percentages."""
    coop_a, coop_b = city_data["coop_a"], city_data["coop_b"]
    with change_context(source="cli"):
        coop_a.registered_capital = Decimal("1234567.89")
        coop_a.phone = "13912345678"
        coop_a.legal_representative = "王小明"
        coop_a.main_products = "白枇杷, 杨梅"
        coop_a.cert_green = True
        coop_a.on_abnormal_list = True
        coop_a.abnormal_listed_on = dt.date(2023, 7, 1)
        coop_a.note = "第一行\n第二行"
        save_record(coop_a)
        coop_b.registered_capital = Decimal("500000")
        save_record(coop_b)
        save_record(
            YearlyFact(
                cooperative=coop_a,
                year=2023,
                members=120,
                farmer_members=110,
                revenue=Decimal("3568000"),
                fixed_assets=Decimal("0.5"),
                distributable_surplus=Decimal("-1200.5"),
                unified_sale_rate=Decimal("85.5"),
                assembly_held=True,
                assembly_date=dt.date(2023, 3, 2),
                minutes_signed=False,
                annual_report_filed=True,
                annual_report_date=dt.date(2024, 4, 1),
            )
        )
        save_record(YearlyFact(cooperative=coop_b, year=2024, members=8))
        save_record(
            DemonstrationTitle(
                cooperative=coop_a, level="provincial", year_granted=2021, document="浙农〔2021〕8号"
            )
        )
        save_record(
            DemonstrationTitle(cooperative=coop_b, level="county", year_granted=2019, year_revoked=2023)
        )
        ninghai = Division.objects.get(code="330226")
        federation = save_org("宁海县农合联", "federation_district", ninghai)
        sponsor = save_org("宁海县供销社", "district_smc", ninghai)
        city_unit = save_org("宁波市供销社", "city_smc", None)
        save_record(
            FederationMembership(
                cooperative=coop_a, level="district", federation=federation, since=dt.date(2020, 6, 1)
            )
        )
        save_record(
            FederationMembership(
                cooperative=coop_b,
                level="town",
                since=dt.date(2019, 1, 1),
                until=dt.date(2022, 1, 1),
                end_reason="合并",
            )
        )
        save_record(
            Sponsorship(
                cooperative=coop_a,
                kind="lead",
                mode="equity",
                sponsor=sponsor,
                equity_amount=Decimal("200000"),
                start_date=dt.date(2021, 1, 1),
            )
        )
        save_record(
            Sponsorship(
                cooperative=coop_b,
                kind="participate",
                mode="services",
                sponsor=city_unit,
                start_date=dt.date(2022, 5, 1),
            )
        )
    return city_data


def save_org(name: str, kind: str, district: Any) -> Organization:
    org = Organization(name=name, kind=kind, district=district)
    save_record(org)
    return org


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_then_import_changes_nothing(
    rich: dict[str, Any], tmp_path: Path, kind: str, fmt: str
) -> None:
    user = rich["city"]
    spec = KINDS[kind]
    qs = export_queryset(spec, user)
    expected = qs.count()
    assert expected >= 2
    path = tmp_path / f"{kind}.{fmt}"
    if fmt == "xlsx":
        path.write_bytes(write_xlsx(spec, rows_for(spec, qs)).read())
    else:
        path.write_bytes(write_csv(spec, rows_for(spec, qs, for_csv=True)).read())
    before = ChangeRecord.objects.count()
    outcome = run_import(path, kind, user, dry_run=False)
    assert outcome.ok, (outcome.fatal, outcome.errors[:5])
    assert (outcome.created, outcome.updated, outcome.unchanged) == (0, 0, expected)
    assert outcome.unmatched == [] and outcome.warning_count == 0
    assert ChangeRecord.objects.count() == before


def test_district_export_is_scoped_and_reimports(rich: dict[str, Any], tmp_path: Path) -> None:
    user = rich["district_a"]
    spec = KINDS["cooperatives"]
    qs = export_queryset(spec, user)
    assert set(qs.values_list("district__code", flat=True)) == {"330226"}
    path = tmp_path / "a.xlsx"
    path.write_bytes(write_xlsx(spec, rows_for(spec, qs)).read())
    outcome = run_import(path, "cooperatives", user, dry_run=True)
    assert outcome.ok and (outcome.created, outcome.updated, outcome.unchanged) == (0, 0, 2)


def test_export_follows_the_list_filters(rich: dict[str, Any]) -> None:
    spec = KINDS["facts"]
    everything = export_queryset(spec, rich["city"])
    only_b = export_queryset(spec, rich["city"], {"district": "330225"})
    assert everything.count() == 2 and only_b.count() == 1
    assert export_queryset(KINDS["cooperatives"], rich["city"], {"industry": "aquaculture"}).count() == 1


def test_template_has_chinese_headers_and_notes(tmp_path: Path) -> None:
    for name, spec in KINDS.items():
        workbook = load_workbook(write_xlsx(spec, [], notes=True), read_only=True)
        assert workbook.sheetnames == [spec.sheet_title, "填写说明"], name
        headers = [c.value for c in next(workbook[spec.sheet_title].iter_rows(max_row=1))]
        assert headers == [c.title for c in spec.export_columns]
        notes = [[c.value for c in row] for row in workbook["填写说明"].iter_rows(min_row=5)]
        described = {row[0] for row in notes}
        assert {c.title for c in spec.columns} <= described
    coops = load_workbook(write_xlsx(KINDS["cooperatives"], [], notes=True), read_only=True)
    rows = {row[0].value: [c.value for c in row] for row in coops["填写说明"].iter_rows(min_row=5)}
    assert rows["注册资本（万元）"][2] == "万元"
    assert "水果（fruit）" in rows["行业"][5]
    assert rows["统一社会信用代码"][1].startswith("是")


def test_cli_export_then_import(
    rich: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "coops.csv"
    call_command("export", "--kind", "cooperatives", "--district", "330226", "-o", str(out))
    assert "2 rows written" in capsys.readouterr().out
    call_command("import", str(out), "--kind", "cooperatives", "--user", "district-330226")
    assert "0 were created, 0 were updated, 2 unchanged" in capsys.readouterr().out
    Cooperative.objects.filter(pk=rich["coop_a"].pk).update(name="改过的名字")
    call_command("import", str(out), "--kind", "cooperatives", "--user", "district-330226", "--dry-run")
    assert "1 would be updated" in capsys.readouterr().out
    assert Cooperative.objects.get(pk=rich["coop_a"].pk).name == "改过的名字"
