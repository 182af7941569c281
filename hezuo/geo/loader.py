"""Load a city's divisions from a CSV of the form `code,name,level,parent_code`.

Idempotent: existing codes are updated, new ones created, and every change is recorded.
Any city or province can load its own file of the same form.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from hezuo.core.models import ChangeRecord
from hezuo.core.services import record_bulk, snapshot

from .models import Division

DATA_DIR = Path(__file__).resolve().parent / "data"
LEVEL_LENGTH = {"district": 6, "town": 9, "village": 12}
PARENT_LEVEL = {"district": "city", "town": "district", "village": "town"}


@dataclass
class LoadResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def default_manifest() -> dict[str, str]:
    return json.loads((DATA_DIR / "manifest.json").read_text(encoding="utf-8"))


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"code", "name", "level", "parent_code"} - set(reader.fieldnames or [])
        if missing:
            raise ValidationError(f"{path.name}: missing columns {', '.join(sorted(missing))}")
        rows = []
        seen: dict[str, int] = {}
        for lineno, row in enumerate(reader, start=2):
            code, level = (row["code"] or "").strip(), (row["level"] or "").strip()
            if level not in LEVEL_LENGTH:
                raise ValidationError(
                    f"{path.name} row {lineno}: level '{level}' is not district/town/village"
                )
            if not code.isdigit() or len(code) != LEVEL_LENGTH[level]:
                raise ValidationError(f"{path.name} row {lineno}: code '{code}' is not a {level} code")
            if not (row["name"] or "").strip():
                raise ValidationError(f"{path.name} row {lineno}: name is empty")
            if code in seen:
                raise ValidationError(f"{path.name} row {lineno}: code '{code}' repeats row {seen[code]}")
            seen[code] = lineno
            rows.append({k: (v or "").strip() for k, v in row.items()})
        return rows


@transaction.atomic
def load_divisions(
    path: Path | None = None, city_code: str | None = None, city_name: str | None = None
) -> LoadResult:
    manifest = default_manifest()
    path = path or DATA_DIR / manifest["divisions"]
    rows = read_rows(path)
    city_code = city_code or manifest["city_code"]
    city_name = city_name or manifest["city_name"]
    existing = {d.code: d for d in Division.objects.all()}
    by_id = {d.pk: d for d in existing.values()}
    for division in existing.values():  # shared instances: no query per row, and renames show through
        division.parent = by_id.get(division.parent_id) if division.parent_id else None
        division.district = by_id.get(division.district_id) if division.district_id else None
    result = LoadResult()
    created: list[Division] = []
    updated: list[Division] = []
    befores: list[dict] = []

    def upsert(
        code: str, name: str, level: str, parent: Division | None, district: Division | None
    ) -> Division:
        obj = existing.get(code)
        if obj is None:
            obj = Division(code=code, name=name, level=level, parent=parent, district=district)
            obj.save()
            existing[code] = obj
            created.append(obj)
            result.created += 1
            return obj
        before = snapshot(obj)
        obj.name, obj.level, obj.parent, obj.district = name, level, parent, district
        if snapshot(obj) != before:
            obj.save()
            updated.append(obj)
            befores.append(before)
            result.updated += 1
        else:
            result.unchanged += 1
        return obj

    city = upsert(city_code, city_name, Division.Level.CITY, None, None)
    for lineno, row in enumerate(rows, start=2):
        parent = city if row["parent_code"] == city_code else existing.get(row["parent_code"])
        if parent is None:
            raise ValidationError(f"{path.name} row {lineno}: parent_code '{row['parent_code']}' is unknown")
        expected = PARENT_LEVEL[row["level"]]
        if parent.level != expected:
            raise ValidationError(
                f"{path.name} row {lineno}: the parent of a {row['level']} must be a {expected}, "
                f"but '{row['parent_code']}' is a {parent.level}"
            )
        if row["level"] == "district":
            # a district is its own district: keep that, so that a reload finds nothing to change
            obj = upsert(row["code"], row["name"], row["level"], parent, existing.get(row["code"]))
            if obj.district_id != obj.pk:
                obj.district = obj
                obj.save(update_fields=["district"])
        else:
            upsert(row["code"], row["name"], row["level"], parent, parent.district)
    record_bulk(created, ChangeRecord.Action.CREATE)
    record_bulk(updated, ChangeRecord.Action.UPDATE, befores)
    return result
