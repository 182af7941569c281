"""The bad-input corpus of issue 6: each file gives a clear message and writes nothing.

The files are made at run time (tests/files/ keeps only a real password-protected workbook)."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from hezuo.core.models import ChangeRecord
from hezuo.registry.creditcode import make_code
from hezuo.registry.models import Cooperative, YearlyFact
from hezuo.transfer.engine import Outcome, run_import
from hezuo.transfer.readers import FileProblem, open_table

from .helpers import COOP_HEADERS, code, coop_row, csv_file, xlsx

pytestmark = pytest.mark.django_db
FILES = Path(__file__).parent / "files"


@pytest.fixture
def district_user(city_data: dict[str, Any]) -> Any:
    return city_data["district_a"]


def commit(path: Path, user: Any, kind: str = "cooperatives", **kw: Any) -> Outcome:
    before = ChangeRecord.objects.count(), Cooperative.objects.count(), YearlyFact.objects.count()
    outcome = run_import(path, kind, user, dry_run=False, **kw)
    after = ChangeRecord.objects.count(), Cooperative.objects.count(), YearlyFact.objects.count()
    assert after == before, "a refused file wrote something"
    assert not outcome.written and (outcome.created, outcome.updated) == (0, 0)
    return outcome


def messages(outcome: Outcome) -> str:
    return " | ".join([outcome.fatal, *(f"{p.row}:{p.column}:{p.message}" for p in outcome.errors)])


# headers ------------------------------------------------------------------------------------------
def test_missing_required_headers(district_user: Any, tmp_path: Path) -> None:
    path = xlsx(tmp_path / "f.xlsx", [["合作社名称", "成立日期", "区县"], ["甲", "2020-01-01", "宁海县"]])
    outcome = commit(path, district_user)
    assert "Required columns are missing" in outcome.fatal and "统一社会信用代码" in outcome.fatal
    assert "credit_code" in outcome.missing


def test_wrong_headers_are_reported_and_mappable(district_user: Any, tmp_path: Path) -> None:
    path = xlsx(tmp_path / "f.xlsx", [["Coop", "Reg. no", "Born"], ["甲", code("330226", 1), "2020-01-01"]])
    outcome = commit(path, district_user)
    assert outcome.fatal and set(outcome.unmatched) == {"Coop", "Reg. no", "Born"}
    assert "match nothing" in " ".join(outcome.notices)


def test_two_columns_meaning_the_same(district_user: Any, tmp_path: Path) -> None:
    path = xlsx(tmp_path / "f.xlsx", [[*COOP_HEADERS, "单位名称"], [*coop_row(1), "乙"]])
    outcome = commit(path, district_user)
    assert "both mean" in outcome.fatal


# empty and wrong files ----------------------------------------------------------------------------
def test_empty_file(district_user: Any, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert "empty" in commit(path, district_user).fatal


def test_empty_workbook(district_user: Any, tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    Workbook().save(path)
    assert "no data" in commit(path, district_user).fatal


def test_header_only(district_user: Any, tmp_path: Path) -> None:
    path = xlsx(tmp_path / "h.xlsx", [COOP_HEADERS])
    assert "no data rows" in commit(path, district_user).fatal
    path = csv_file(tmp_path / "h.csv", [COOP_HEADERS])
    assert "no data rows" in commit(path, district_user).fatal


def test_xlsx_that_is_really_csv(district_user: Any, tmp_path: Path) -> None:
    path = csv_file(tmp_path / "really.xlsx", [COOP_HEADERS, coop_row(1)])
    outcome = commit(path, district_user)
    assert "plain text (CSV)" in outcome.fatal and "really.xlsx" in outcome.fatal


@pytest.mark.parametrize(
    ("magic", "name"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "PNG"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "JPEG"),
        (b"%PDF-1.7\n" + b"\x00" * 64, "PDF"),
    ],
)
def test_xlsx_that_is_a_picture(district_user: Any, tmp_path: Path, magic: bytes, name: str) -> None:
    path = tmp_path / "photo.xlsx"
    path.write_bytes(magic)
    outcome = commit(path, district_user)
    assert name in outcome.fatal and "not a spreadsheet" in outcome.fatal


def test_corrupt_workbook(district_user: Any, tmp_path: Path) -> None:
    good = xlsx(tmp_path / "good.xlsx", [COOP_HEADERS, coop_row(1)])
    data = good.read_bytes()
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(data[: len(data) // 2])  # a truncated download
    assert "damaged" in commit(broken, district_user).fatal
    mangled = tmp_path / "mangled.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(mangled, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/workbook.xml":
                content = content[:40]
            target.writestr(item, content)
    assert "damaged" in commit(mangled, district_user).fatal


def test_zip_that_is_not_a_workbook(district_user: Any, tmp_path: Path) -> None:
    path = tmp_path / "archive.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "not an Excel workbook" in commit(path, district_user).fatal


def test_password_protected_workbook(district_user: Any) -> None:
    outcome = commit(FILES / "password.xlsx", district_user)
    assert "password" in outcome.fatal


# layout -------------------------------------------------------------------------------------------
def test_title_row_and_merged_cells_above_the_header(district_user: Any, tmp_path: Path) -> None:
    path = xlsx(
        tmp_path / "t.xlsx",
        [COOP_HEADERS, coop_row(1)],
        title="宁海县农民专业合作社名录（2024年）",
        merge_title=True,
    )
    outcome = run_import(path, "cooperatives", district_user, dry_run=True)
    assert outcome.ok, messages(outcome)
    assert outcome.header_row == 3 and outcome.created == 1


def test_columns_in_any_order_with_variants_and_extra_columns(district_user: Any, tmp_path: Path) -> None:
    headers = [
        "序号",
        "行业类别",
        "单位名称",
        "备注说明X",
        "Credit Code",
        "乡镇",
        "区县(市)",
        "成立时间",
        "注册资本(元)",
    ]
    row = [
        1,
        "vegetables",
        "宁海县变体测试合作社",
        "x",
        code("330226", 9),
        "330226001",
        "330226",
        "2019/5/1",
        "1,234,567.5",
    ]
    outcome = run_import(
        xlsx(tmp_path / "v.xlsx", [headers, row]), "cooperatives", district_user, dry_run=False
    )
    assert outcome.written, messages(outcome)
    assert outcome.unmatched == ["备注说明X"]
    coop = Cooperative.objects.get(name="宁海县变体测试合作社")
    assert coop.registration_date == dt.date(2019, 5, 1) and coop.registered_capital == 1234567.5
    assert coop.industry == "vegetables" and coop.town.name == "跃龙街道"


def test_formulas(district_user: Any, tmp_path: Path) -> None:
    """Formulas written by a program that does not calculate have no value: an error, not a blank."""
    path = xlsx(tmp_path / "f.xlsx", [COOP_HEADERS, coop_row(1, **{"注册资本（万元）": "=10*10"})])
    outcome = commit(path, district_user)
    assert outcome.error_count == 1 and "formula" in outcome.errors[0].message
    assert outcome.errors[0].row == 2 and outcome.errors[0].column == "注册资本（万元）"


def test_several_sheets_with_hidden_ones(district_user: Any, tmp_path: Path) -> None:
    path = xlsx(
        tmp_path / "s.xlsx",
        [["说明"], ["本表为示例"]],
        sheets={
            "隐藏": {"rows": [COOP_HEADERS, coop_row(5)], "hidden": True},
            "合作社名录": {"rows": [COOP_HEADERS, coop_row(6)]},
        },
    )
    outcome = run_import(path, "cooperatives", district_user, dry_run=True)
    assert outcome.ok, messages(outcome)
    assert outcome.sheet == "合作社名录" and outcome.created == 1
    text = " ".join(outcome.notices)
    assert "hidden sheet 隐藏" in text


# rows ---------------------------------------------------------------------------------------------
def test_same_credit_code_twice(district_user: Any, tmp_path: Path) -> None:
    path = xlsx(tmp_path / "d.xlsx", [COOP_HEADERS, coop_row(1), coop_row(2), coop_row(1, 合作社名称="重复")])
    outcome = commit(path, district_user)
    assert outcome.error_count == 1 and outcome.errors[0].row == 4 and "row 2" in outcome.errors[0].message


def test_invalid_credit_codes(district_user: Any, tmp_path: Path) -> None:
    good = code("330226", 1)
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    path = xlsx(
        tmp_path / "c.xlsx",
        [
            COOP_HEADERS,
            coop_row(1, 统一社会信用代码="9333022612345"),
            coop_row(2, 统一社会信用代码="93330226MA0IOZSV0X"),
            coop_row(3, 统一社会信用代码=wrong_check),
        ],
    )
    outcome = commit(path, district_user)
    assert outcome.error_count == 2 and {e.row for e in outcome.errors} == {2, 3}
    assert "18 characters" in outcome.errors[0].message and "not allowed" in outcome.errors[1].message
    assert (
        outcome.warning_count == 1
        and outcome.warnings[0].row == 4
        and "check character" in outcome.warnings[0].message
    )


def test_warning_must_be_confirmed(district_user: Any, tmp_path: Path) -> None:
    good = make_code("330226", "TX0000077")
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    path = xlsx(tmp_path / "w.xlsx", [COOP_HEADERS, coop_row(77, 统一社会信用代码=wrong_check)])
    refused = commit(path, district_user)
    assert "confirm" in refused.fatal
    done = run_import(path, "cooperatives", district_user, dry_run=False, confirm_warnings=True)
    assert done.written and done.created == 1


def test_text_in_numeric_columns(district_user: Any, city_data: dict[str, Any], tmp_path: Path) -> None:
    path = xlsx(tmp_path / "n.xlsx", [COOP_HEADERS, coop_row(1, **{"注册资本（万元）": "一百万"})])
    outcome = commit(path, district_user)
    assert outcome.errors[0].column == "注册资本（万元）" and "not a number" in outcome.errors[0].message
    coop = city_data["coop_a"]
    facts = xlsx(
        tmp_path / "facts.xlsx",
        [["统一社会信用代码", "年度", "成员数", "农民成员数"], [coop.credit_code, 2024, "很多", 10.5]],
    )
    outcome = commit(facts, district_user, kind="facts")
    assert [e.column for e in outcome.errors] == ["成员数", "农民成员数"]


def test_future_dates(district_user: Any, tmp_path: Path) -> None:
    future = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    path = xlsx(tmp_path / "f.xlsx", [COOP_HEADERS, coop_row(1, 成立日期=future)])
    outcome = commit(path, district_user)
    assert outcome.errors[0].column == "成立日期" and "future" in outcome.errors[0].message


def test_model_rules_apply(district_user: Any, city_data: dict[str, Any], tmp_path: Path) -> None:
    """The model's own clean(): farmer members above members is refused exactly as in the form."""
    coop = city_data["coop_a"]
    path = xlsx(
        tmp_path / "facts.xlsx",
        [["统一社会信用代码", "年度", "成员数", "农民成员数"], [coop.credit_code, 2024, 10, 12]],
    )
    outcome = commit(path, district_user, kind="facts")
    assert outcome.errors[0].column == "农民成员数" and "cannot exceed" in outcome.errors[0].message


def test_unknown_divisions(district_user: Any, tmp_path: Path) -> None:
    path = xlsx(
        tmp_path / "u.xlsx",
        [
            COOP_HEADERS,
            coop_row(1, town="不存在镇"),
            coop_row(2, 区县="火星县"),
            coop_row(3, town="330226999"),
        ],
    )
    outcome = commit(path, district_user)
    assert [e.row for e in outcome.errors] == [2, 3, 4]
    assert "不存在镇" in outcome.errors[0].message and "火星县" in outcome.errors[1].message
    assert "330226999" in outcome.errors[2].message


def test_division_by_path_or_code(district_user: Any, tmp_path: Path) -> None:
    headers = ["合作社名称", "统一社会信用代码", "成立日期", "行政区划", "行业"]
    path = xlsx(
        tmp_path / "p.xlsx",
        [
            headers,
            ["路径合作社", code("330226", 31), "2020-01-01", "宁海县 跃龙街道", "水果"],
            ["代码合作社", code("330226", 32), "2020-01-01", "330226001001", "茶叶"],
        ],
    )
    outcome = run_import(path, "cooperatives", district_user, dry_run=False)
    assert outcome.written, messages(outcome)
    assert Cooperative.objects.get(name="路径合作社").town.code == "330226001"
    coded = Cooperative.objects.get(name="代码合作社")
    assert coded.village.code == "330226001001" and coded.district.code == "330226"


def test_row_for_another_district(district_user: Any, city_data: dict[str, Any], tmp_path: Path) -> None:
    path = xlsx(
        tmp_path / "o.xlsx", [COOP_HEADERS, coop_row(1), coop_row(2, district="330225", town="丹东街道")]
    )
    outcome = commit(path, district_user)
    assert (
        outcome.error_count == 1
        and outcome.errors[0].row == 3
        and "outside your scope" in outcome.errors[0].message
    )
    # an existing cooperative of the other district, by its code
    other = city_data["coop_b"]
    path = xlsx(tmp_path / "o2.xlsx", [COOP_HEADERS, coop_row(3, 统一社会信用代码=other.credit_code)])
    outcome = commit(path, district_user)
    assert "outside your scope" in outcome.errors[0].message


# limits -------------------------------------------------------------------------------------------
def test_file_over_the_size_limit(district_user: Any, tmp_path: Path, settings: Any) -> None:
    settings.HEZUO_IMPORT_MAX_BYTES = 1000
    path = csv_file(tmp_path / "big.csv", [COOP_HEADERS] + [coop_row(n) for n in range(1, 40)])
    outcome = commit(path, district_user)
    assert "the limit is" in outcome.fatal and "Split" in outcome.fatal


def test_file_over_the_row_limit_refused_before_reading(
    district_user: Any, tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.HEZUO_IMPORT_MAX_ROWS = 5
    path = xlsx(tmp_path / "rows.xlsx", [COOP_HEADERS] + [coop_row(n) for n in range(1, 10)])
    import python_calamine

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the cells were read")

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_path", refuse)
    outcome = commit(path, district_user)
    assert "9 rows" in outcome.fatal and "limit is 5 rows" in outcome.fatal
    csv_path = csv_file(tmp_path / "rows.csv", [COOP_HEADERS] + [coop_row(n) for n in range(1, 10)])
    assert "limit is 5 rows" in commit(csv_path, district_user).fatal


def test_cell_limit_and_zip_bomb(district_user: Any, tmp_path: Path, settings: Any) -> None:
    settings.HEZUO_IMPORT_MAX_CELLS = 20
    path = xlsx(tmp_path / "cells.xlsx", [COOP_HEADERS] + [coop_row(n) for n in range(1, 5)])
    assert "cells" in commit(path, district_user).fatal
    settings.HEZUO_IMPORT_MAX_CELLS = 10**7
    settings.HEZUO_IMPORT_MAX_UNCOMPRESSED = 1000
    assert "unpacks to" in commit(path, district_user).fatal


def test_open_table_reports_problems_as_file_problems(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(FileProblem):
        open_table(path, "x.csv", lambda cells: 0)
