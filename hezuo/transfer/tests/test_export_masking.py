"""Personal data in exports: in full for staff who see it, masked for everyone else (as on every page)."""

import io

import pytest
from openpyxl import load_workbook

from hezuo.core.context import change_context
from hezuo.core.services import save_record


@pytest.mark.parametrize(
    ("persona", "shown"), [("city", "13912345678"), ("district_a", "13912345678"), ("viewer", "139****5678")]
)
def test_phone_in_cooperative_export(client_for, city_data, persona, shown):
    coop = city_data["coop_a"]
    coop.phone = "13912345678"
    with change_context(source="cli"):
        save_record(coop)
    response = client_for(persona).get("/transfer/export/cooperatives/?district=330226")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    phone_col = rows[0].index("联系电话")
    phones = {row[phone_col] for row in rows[1:] if row[phone_col]}
    assert phones == {shown}
