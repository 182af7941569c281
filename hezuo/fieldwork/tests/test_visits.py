"""Visits on a phone: the form, bad input refused with nothing written, photos checked and served in scope."""

from __future__ import annotations

import datetime as dt
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from hezuo.conftest import PERSONAS
from hezuo.core.services import history_for
from hezuo.fieldwork import runs
from hezuo.fieldwork.models import Flag, Visit

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def photo(
    name: str = "site.png", size: tuple[int, int] = (2400, 1200), fmt: str = "PNG"
) -> SimpleUploadedFile:
    out = BytesIO()
    Image.new("RGB", size, (30, 140, 60)).save(out, fmt)
    return SimpleUploadedFile(name, out.getvalue(), content_type=f"image/{fmt.lower()}")


def form_data(**changes: Any) -> dict[str, Any]:
    data = {
        "date": str(TODAY - dt.timedelta(days=1)),
        "people_met": "理事长 王某; 村委 李某",
        "operating": "no",
        "farmers_taking_part": "no",
        "books_kept": "no",
        "assembly_held": "no",
        "office_and_sign": "yes",
        "feedback_departments": "The town office says nothing has happened for two years.",
        "feedback_neighbours": "Neighbours have not seen any activity.",
        "classification": "suspected_shell",
        "note": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def client_for(world: dict[str, Any], persona: str) -> Client:
    client = Client()
    if persona != "anonymous":
        client.force_login(world[persona])
    return client


def media_files(settings: Any) -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "visits"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_a_counselor_records_a_visit_with_photos_and_location(
    city_data: dict[str, Any], settings: Any
) -> None:
    client = client_for(city_data, "counselor")
    coop = city_data["coop_a"]
    url = reverse("fieldwork:visit_add", args=[coop.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'name="classification"' in page.content.decode()
    location = {"latitude": "29.299712", "longitude": "121.432001", "location_accuracy": "25"}
    response = client.post(
        url, {**form_data(**location), "photos": [photo(), photo("sign.jpg", (800, 600), "JPEG")]}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    visit = Visit.objects.get()
    assert (
        visit.visitor == city_data["counselor"] and visit.operating is False and visit.office_and_sign is True
    )
    assert visit.classification == "suspected_shell"
    assert (str(visit.latitude), str(visit.longitude), visit.location_accuracy) == (
        "29.299712",
        "121.432001",
        25,
    )
    first, second = visit.photos.order_by("position")
    with Image.open(first.image.path) as stored:
        assert stored.format == "JPEG" and max(stored.size) == 1600  # resized and re-encoded
    with Image.open(second.image.path) as stored:
        assert stored.format == "JPEG" and stored.size == (800, 600)
    record = history_for(coop).get(content_type__model="visit")
    assert record.user == city_data["counselor"] and record.action == "create"
    assert record.after["latitude"] == "29.299712"
    detail = client.get(response["Location"])
    page = detail.content.decode()
    assert detail.status_code == 200 and "Neighbours have not seen" in page
    assert 'id="visit-location"' in page and "29.29971" in page
    for n in (0, 1):
        shown = client.get(reverse("fieldwork:visit_photo", args=[visit.pk]) + f"?n={n}")
        assert shown.status_code == 200 and shown["Content-Type"] == "image/jpeg"
    assert client.get(reverse("fieldwork:visit_photo", args=[visit.pk]) + "?n=2").status_code == 404
    api = client.get(f"/api/visits/{visit.pk}/").json()
    assert api["photo_urls"] == [p.get_absolute_url() for p in (first, second)]
    assert api["latitude"] == "29.299712"


@pytest.mark.parametrize(
    ("location", "field", "message"),
    [
        ({"latitude": "29.3"}, "latitude", "both"),
        ({"latitude": "95", "longitude": "121"}, "latitude", "between -90 and 90"),
        ({"latitude": "29", "longitude": "190"}, "longitude", "between -180 and 180"),
    ],
)
def test_a_bad_location_is_refused(
    city_data: dict[str, Any], settings: Any, location: dict[str, str], field: str, message: str
) -> None:
    client = client_for(city_data, "counselor")
    url = reverse("fieldwork:visit_add", args=[city_data["coop_a"].pk])
    response = client.post(url, {**form_data(**location), "photos": photo()})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert message in " ".join(errors.get(field, []) + errors.get("__all__", [])), errors
    assert Visit.objects.count() == 0 and media_files(settings) == []


def test_too_many_photos_are_refused(city_data: dict[str, Any], settings: Any) -> None:
    from hezuo.fieldwork.forms import PHOTOS_PER_VISIT

    client = client_for(city_data, "counselor")
    url = reverse("fieldwork:visit_add", args=[city_data["coop_a"].pk])
    uploads = [photo(f"p{i}.png", (100, 100)) for i in range(PHOTOS_PER_VISIT + 1)]
    response = client.post(url, {**form_data(), "photos": uploads})
    assert response.status_code == 400 and "At most" in " ".join(response.context["form"].errors["photos"])
    assert Visit.objects.count() == 0 and media_files(settings) == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"date": str(TODAY + dt.timedelta(days=1))}, "date", "in the future"),
        ({"date": "2015-01-01"}, "date", "before the cooperative was registered"),
        ({"books_kept": ""}, "books_kept", "Answer this to classify"),
        ({"date": ""}, "date", "required"),
    ],
)
def test_bad_visits_are_refused_and_nothing_written(
    city_data: dict[str, Any], settings: Any, changes: dict[str, Any], field: str, message: str
) -> None:
    client = client_for(city_data, "counselor")
    url = reverse("fieldwork:visit_add", args=[city_data["coop_a"].pk])
    response = client.post(url, {**form_data(**changes), "photos": photo()})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert Visit.objects.count() == 0 and media_files(settings) == []


def test_a_visit_without_classification_needs_no_checklist(city_data: dict[str, Any]) -> None:
    client = client_for(city_data, "district_a")
    url = reverse("fieldwork:visit_add", args=[city_data["coop_a2"].pk])
    blank = {k: "" for k in Visit.CHECKLIST}
    response = client.post(url, form_data(classification="", **blank))
    assert response.status_code == 302
    assert Visit.objects.get().operating is None


def test_the_same_visit_sent_twice_is_saved_once(city_data: dict[str, Any], settings: Any) -> None:
    """The form carries the token it was opened with; a second send of it (the reply to the first lost on a
    weak signal, or the offline queue sending it again) leads to the visit saved the first time."""
    client = client_for(city_data, "counselor")
    url = reverse("fieldwork:visit_add", args=[city_data["coop_a"].pk])
    token = client.get(url).context["form"].initial["client_token"]
    assert client.get(url).context["form"].initial["client_token"] != token  # a new one per opening
    data = {**form_data(), "client_token": str(token), "photos": [photo("a.png", (300, 200))]}
    first = client.post(url, data)
    again = client.post(
        url, {**form_data(), "client_token": str(token), "photos": [photo("a.png", (300, 200))]}
    )
    visit = Visit.objects.get()
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"] == visit.get_absolute_url()
    assert visit.client_token == token and visit.photos.count() == 1 and len(media_files(settings)) == 1
    # another district's staff cannot learn of it by sending its token
    other = client_for(city_data, "district_b")
    url_b = reverse("fieldwork:visit_add", args=[city_data["coop_b"].pk])
    assert other.post(url_b, {**form_data(), "client_token": str(token)}).status_code == 400  # unique token
    assert Visit.objects.count() == 1


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("x.jpg", b"%PDF-1.4 not a photo", content_type="image/jpeg"), "not a photo"),
        (SimpleUploadedFile("x.gif", b"GIF89a" + b"\0" * 40, content_type="image/gif"), "not a photo"),
        ("big", "too large"),
    ],
)
def test_photos_of_the_wrong_type_or_too_large_are_refused(
    city_data: dict[str, Any], settings: Any, upload: Any, message: str
) -> None:
    if upload == "big":
        settings.HEZUO_PHOTO_MAX_BYTES = 1000
        upload = photo(size=(400, 400))
    client = client_for(city_data, "counselor")
    response = client.post(
        reverse("fieldwork:visit_add", args=[city_data["coop_a"].pk]),
        {**form_data(), "photos": [photo("good.png", (300, 200)), upload]},
    )
    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors["photos"])
    assert message in errors and "Photo 2" in errors  # the bad one is named
    assert Visit.objects.count() == 0 and media_files(settings) == []
    assert Visit.objects.count() == 0 and media_files(settings) == []


ADDERS = {  # who may record a visit to which cooperative
    "coop_a": {"city", "district_a", "counselor"},
    "coop_a2": {"city", "district_a"},
    "coop_b": {"city", "district_b"},
}
READERS = {
    "coop_a": {"city", "viewer", "district_a", "counselor"},
    "coop_a2": {"city", "viewer", "district_a"},
    "coop_b": {"city", "viewer", "district_b"},
}


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_visit_pages_and_photos_only_within_scope(city_data: dict[str, Any], persona: str) -> None:
    from hezuo.fieldwork.forms import process_photo
    from hezuo.fieldwork.visits import record_visit

    visits = {}
    for name in ("coop_a", "coop_a2", "coop_b"):
        visits[name] = record_visit(
            city_data["city"],
            city_data[name],
            {"date": TODAY, "operating": True},
            [process_photo(photo(size=(200, 100)))],
        )
    client = client_for(city_data, persona)
    for name, visit in visits.items():
        for url, ok in (
            (reverse("fieldwork:visit_add", args=[city_data[name].pk]), persona in ADDERS[name]),
            (reverse("fieldwork:visit_detail", args=[visit.pk]), persona in READERS[name]),
            (reverse("fieldwork:visit_photo", args=[visit.pk]), persona in READERS[name]),
        ):
            response = client.get(url)
            if persona == "anonymous":
                assert response.status_code == 302 and "/login/" in response["Location"], url
            else:
                assert response.status_code == (200 if ok else 404), (
                    persona,
                    name,
                    url,
                    response.status_code,
                )
                if ok and url.endswith("/photo/"):
                    assert response["Content-Type"] == "image/jpeg"
        if persona != "anonymous" and persona not in ADDERS[name]:
            response = client.post(reverse("fieldwork:visit_add", args=[city_data[name].pk]), form_data())
            assert response.status_code == 404
    assert Visit.objects.count() == 3


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_the_counselor_home(city_data: dict[str, Any], persona: str) -> None:
    client = client_for(city_data, persona)
    response = client.get(reverse("fieldwork:my_cooperatives"))
    if persona == "anonymous":
        assert response.status_code == 302
        return
    if persona not in ("counselor", "counselor_unassigned"):
        assert response.status_code == 404
        return
    assert response.status_code == 200
    rows = response.context["rows"]
    if persona == "counselor_unassigned":
        assert rows == []
        return
    assert [r["coop"].pk for r in rows] == [city_data["coop_a"].pk]
    assert rows[0]["due_now"] and response.context["due_count"] == 1
    # after a visit, the next one is due in the interval
    client.post(reverse("fieldwork:visit_add", args=[city_data["coop_a"].pk]), form_data(date=str(TODAY)))
    rows = client.get(reverse("fieldwork:my_cooperatives")).context["rows"]
    assert not rows[0]["due_now"] and rows[0]["due"] == TODAY + dt.timedelta(days=90)


def test_visits_feed_the_detection(city_data: dict[str, Any]) -> None:
    """SH3: observed halted on visits for two years or more."""
    from hezuo.core.context import change_context
    from hezuo.core.services import save_record

    coop = city_data["coop_a"]
    for date, operating in (
        (dt.date(2022, 3, 1), True),
        (dt.date(2023, 5, 1), False),
        (dt.date(2025, 9, 1), False),
    ):
        with change_context(source="cli"):
            save_record(
                Visit(cooperative=coop, visitor=city_data["counselor"], date=date, operating=operating)
            )
    runs.run_detection(year=2024, as_of=dt.date(2025, 11, 1))
    flag = Flag.objects.get(cooperative=coop, rule="SH3")
    assert flag.evidence["halted_since"] == "2023-05-01"
    assert [o["date"] for o in flag.evidence["observations"]] == ["2023-05-01", "2025-09-01"]


@pytest.mark.parametrize("persona", [*PERSONAS, "anonymous"])
def test_the_workload(city_data: dict[str, Any], persona: str) -> None:
    """District staff see their district's counselors, city staff and viewers every district's; nobody else
    the page."""
    from hezuo.accounts.models import CounselorAssignment
    from hezuo.conftest import make_user
    from hezuo.core.context import change_context
    from hezuo.core.services import save_record

    counselor_b = make_user("counselor-330225-1", "counselor", district=city_data["division_b"])
    with change_context(source="cli"):
        save_record(
            CounselorAssignment(
                counselor=counselor_b, cooperative=city_data["coop_b"], start_date=dt.date(2024, 1, 1)
            )
        )
        save_record(
            CounselorAssignment(
                counselor=city_data["counselor"],
                cooperative=city_data["coop_a2"],
                start_date=dt.date(2024, 1, 1),
            )
        )
        save_record(Visit(cooperative=city_data["coop_a"], visitor=city_data["counselor"], date=TODAY))
    response = client_for(city_data, persona).get(reverse("fieldwork:workload"))
    if persona == "anonymous":
        assert response.status_code == 302
        return
    if persona not in ("city", "viewer", "district_a", "district_b"):
        assert response.status_code == 404
        return
    rows = {row["counselor"].username: row for row in response.context["rows"]}
    expected = {
        "city": {"counselor-330226-1", "counselor-330225-1"},
        "viewer": {"counselor-330226-1", "counselor-330225-1"},
        "district_a": {"counselor-330226-1"},
        "district_b": {"counselor-330225-1"},
    }[persona]
    assert set(rows) == expected
    if "counselor-330226-1" in rows:
        row = rows["counselor-330226-1"]
        assert (row["cooperatives"], row["visits"], row["due"]) == (2, 1, 1)
    assert "宁海" not in response.content.decode() or persona != "district_b"
