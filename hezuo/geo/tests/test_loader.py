"""The divisions loader (hezuo/geo/loader.py): the shipped city, reloads, another city, bad files.

The test database already holds the shipped divisions (session fixture in hezuo/conftest.py); every
test here runs inside a transaction that is rolled back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db.models import F

from hezuo.core.context import change_context
from hezuo.core.models import ChangeRecord
from hezuo.geo.loader import DATA_DIR, default_manifest, load_divisions, read_rows
from hezuo.geo.models import Division

pytestmark = pytest.mark.django_db

OTHER_CITY = """code,name,level,parent_code
990101,东湖区,district,990100
990101001,湖滨街道,town,990101
990101001001,湖滨社区,village,990101001
990101001002,柳岸村,village,990101001
990101100,桃源镇,town,990101
990101100201,桃源村,village,990101100
990102,西山县,district,990100
990102100,西山镇,town,990102
990102100201,竹林村,village,990102100
"""


def write(tmp_path: Path, text: str, name: str = "divisions.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def division_changes() -> int:
    return ChangeRecord.objects.filter(content_type=ContentType.objects.get_for_model(Division)).count()


# --- the shipped file -----------------------------------------------------------------------------


def test_shipped_divisions_are_loaded() -> None:
    manifest = default_manifest()
    assert (DATA_DIR / manifest["divisions"]).exists()
    levels = ("city", "district", "town", "village")
    counts = {level: Division.objects.filter(level=level).count() for level in levels}
    assert counts == {"city": 1, "district": 10, "town": 162, "village": 3007}
    city = Division.objects.get(level="city")
    assert (city.code, city.name, city.parent_id, city.district_id) == (
        manifest["city_code"],
        manifest["city_name"],
        None,
        None,
    )
    assert Division.objects.get(code="330226").name == "宁海县"


def test_every_division_knows_its_district() -> None:
    districts = Division.objects.filter(level="district")
    assert not districts.exclude(district_id=F("pk")).exists()
    assert not districts.exclude(parent__level="city").exists()
    towns = Division.objects.filter(level="town")
    assert not towns.exclude(district_id=F("parent_id")).exists()
    assert not towns.exclude(parent__level="district").exists()
    villages = Division.objects.filter(level="village")
    assert not villages.exclude(district_id=F("parent__district_id")).exists()
    assert not villages.exclude(parent__level="town").exists()
    for town in Division.objects.filter(level="town").select_related("district")[:20]:
        assert town.code.startswith(town.district.code)


def test_reloading_the_shipped_file_changes_nothing() -> None:
    before = division_changes()
    with change_context(source="cli"):
        result = load_divisions()
    assert (result.created, result.updated, result.unchanged) == (0, 0, 3180)
    assert division_changes() == before


def test_the_command_reloads_too(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("load_divisions")
    assert "0 created, 0 updated, 3180 unchanged" in capsys.readouterr().out


def test_full_name() -> None:
    village = Division.objects.filter(level="village", district__code="330226").order_by("code").first()
    assert village is not None
    assert village.full_name == f"宁海县 {village.parent.name} {village.name}"


# --- another city ---------------------------------------------------------------------------------


def test_another_city_loads_and_reloads(tmp_path: Path) -> None:
    path = write(tmp_path, OTHER_CITY)
    changes = division_changes()
    with change_context(source="cli", reason="load another city") as ctx:
        result = load_divisions(path, city_code="990100", city_name="示例市")
    assert (result.created, result.updated, result.unchanged) == (10, 0, 0)
    city = Division.objects.get(code="990100")
    assert (city.level, city.name, city.parent_id) == ("city", "示例市", None)
    east = Division.objects.get(code="990101")
    assert (east.parent, east.district) == (city, east)
    village = Division.objects.get(code="990101100201")
    assert (village.parent.code, village.district) == ("990101100", east)
    assert Division.objects.get(code="990102100201").district.code == "990102"
    # every new row has its creation recorded, in one request
    records = ChangeRecord.objects.filter(content_type=ContentType.objects.get_for_model(Division))
    assert division_changes() == changes + 10
    assert set(records.order_by("-id")[:10].values_list("request_id", "action", "message")) == {
        (ctx.request_id, "create", "load another city")
    }
    created = records.get(object_id=east.pk)
    assert created.after["district"] == {"id": east.pk, "label": "东湖区"}
    # the first city is untouched
    assert Division.objects.filter(level="district", parent__code="330200").count() == 10
    with change_context(source="cli"):
        again = load_divisions(path, city_code="990100", city_name="示例市")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 10)
    assert division_changes() == changes + 10


def test_a_renamed_division_is_updated_and_recorded(tmp_path: Path) -> None:
    with change_context(source="cli"):
        load_divisions(write(tmp_path, OTHER_CITY), city_code="990100", city_name="示例市")
        renamed = OTHER_CITY.replace("西山县", "西山区").replace("990102100,西山镇", "990102100,西山街道")
        result = load_divisions(write(tmp_path, renamed, "renamed.csv"), "990100", "示例市")
    assert (result.created, result.updated, result.unchanged) == (0, 2, 8)
    west = Division.objects.get(code="990102")
    assert west.name == "西山区" and west.district == west
    record = ChangeRecord.objects.filter(
        content_type=ContentType.objects.get_for_model(Division), object_id=west.pk, action="update"
    ).get()
    assert record.diff()["name"] == ("西山县", "西山区")
    assert set(record.diff()) <= {"name", "district"}  # a district is its own district: its label follows
    town = ChangeRecord.objects.get(
        content_type=ContentType.objects.get_for_model(Division),
        object_id=Division.objects.get(code="990102100").pk,
        action="update",
    )
    assert town.diff()["name"] == ("西山镇", "西山街道")


def test_a_file_with_a_bom_and_padding_loads(tmp_path: Path) -> None:
    text = "\ufeff" + OTHER_CITY.replace(",东湖区,", ", 东湖区 ,").replace("990101,东湖区", " 990101 ,东湖区")
    path = tmp_path / "bom.csv"
    path.write_text(text, encoding="utf-8")
    rows = read_rows(path)
    assert rows[0] == {"code": "990101", "name": "东湖区", "level": "district", "parent_code": "990100"}
    with change_context(source="cli"):
        assert load_divisions(path, city_code="990100", city_name="示例市").created == 10


# --- bad files: refused with a message naming the row, nothing written ----------------------------

BAD_FILES = {
    "missing column": (OTHER_CITY.replace("code,name,level,parent_code", "code,name,level"), "parent_code"),
    "renamed column": (OTHER_CITY.replace("name,level,parent", "name,kind,parent"), "level"),
    "bad level": (OTHER_CITY.replace("990101100,桃源镇,town", "990101100,桃源镇,county"), "row 6"),
    "empty level": (OTHER_CITY.replace("990101100,桃源镇,town", "990101100,桃源镇,"), "row 6"),
    "city level": (OTHER_CITY.replace("990101100,桃源镇,town", "990101100,桃源镇,city"), "row 6"),
    "short code": (OTHER_CITY.replace("990101100201,桃源村", "99010110020,桃源村"), "row 7"),
    "long code": (OTHER_CITY.replace("990102,西山县", "9901020,西山县"), "row 8"),
    "letters in code": (OTHER_CITY.replace("990101001002,柳岸村", "99010100100X,柳岸村"), "row 5"),
    "empty name": (OTHER_CITY.replace("990102100,西山镇", "990102100,"), "row 9"),
    "unknown parent": (
        OTHER_CITY.replace("990102100201,竹林村,village,990102100", "990102100201,竹林村,village,990102999"),
        "row 10",
    ),
    "child before parent": (
        OTHER_CITY.replace("990101,东湖区,district,990100\n", "") + "990101,东湖区,district,990100\n",
        "row 2",
    ),
    "village under a district": (
        OTHER_CITY.replace("990101100201,桃源村,village,990101100", "990101100201,桃源村,village,990101"),
        "row 7",
    ),
    "town under the city": (OTHER_CITY.replace("西山镇,town,990102", "西山镇,town,990100"), "row 9"),
    "repeated code": (OTHER_CITY + "990101001,湖滨街道,town,990101\n", "row 11"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_are_refused_and_nothing_is_written(tmp_path: Path, case: str) -> None:
    text, needle = BAD_FILES[case]
    path = write(tmp_path, text, "bad.csv")
    divisions, changes = Division.objects.count(), ChangeRecord.objects.count()
    with change_context(source="cli"), pytest.raises(ValidationError) as info:
        load_divisions(path, city_code="990100", city_name="示例市")
    message = " ".join(info.value.messages)
    assert "bad.csv" in message and needle in message, message
    assert Division.objects.count() == divisions
    assert ChangeRecord.objects.count() == changes
    assert not Division.objects.filter(code__startswith="9901").exists()


def test_a_bad_row_after_changes_to_existing_rows_rolls_everything_back(tmp_path: Path) -> None:
    with change_context(source="cli"):
        load_divisions(write(tmp_path, OTHER_CITY), city_code="990100", city_name="示例市")
    bad = (
        OTHER_CITY.replace("东湖区", "东湖新区")
        + "990103,南岭县,district,990100\n990103100,南岭镇,town,990109\n"
    )
    changes = ChangeRecord.objects.count()
    with change_context(source="cli"), pytest.raises(ValidationError, match="row 12"):
        load_divisions(write(tmp_path, bad, "bad.csv"), city_code="990100", city_name="示例市")
    assert Division.objects.get(code="990101").name == "东湖区"
    assert not Division.objects.filter(code="990103").exists()
    assert ChangeRecord.objects.count() == changes


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="missing columns"):
        read_rows(write(tmp_path, ""))
