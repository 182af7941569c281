"""The fast cell path renders exactly what django-tables2 renders, for every list table in the project."""

import pytest
from django.test import RequestFactory

import hezuo.urls  # noqa: F401  (imports every app's ModelUI declarations)
from hezuo.core.ui import REGISTRY


def _tables():
    return sorted(
        {ui.table_class for ui in REGISTRY.values() if ui.table_class is not None}, key=lambda t: t.__name__
    )


@pytest.mark.parametrize("table_class", _tables(), ids=lambda t: t.__name__)
def test_fast_rows_equal_django_tables2_cells(table_class, city_data):
    from hezuo.core.context import change_context
    from hezuo.core.services import save_record

    coop = city_data["coop_a"]
    coop.phone, coop.on_abnormal_list, coop.registered_capital = "13912345678", True, 1234567
    with change_context(source="cli"):
        save_record(coop)
    ui = next(ui for ui in REGISTRY.values() if ui.table_class is table_class)
    request = RequestFactory().get("/")
    request.user = city_data["city"]
    rows = list(ui.queryset(city_data["city"])[:20])
    table = table_class(rows, user=city_data["city"], request=request)
    expected = [[str(cell) for _column, cell in row.items()] for row in table.rows]
    fast = [[str(html) for _td, html in cells] for cells in table.fast_rows()]
    assert fast == expected
