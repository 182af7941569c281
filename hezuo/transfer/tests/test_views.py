"""The import pages and exports: permissions for each persona, the upload → preview → commit flow, column
mapping remembered, background tasks with progress, the error report."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from hezuo.conftest import PERSONAS
from hezuo.core.models import ChangeRecord
from hezuo.registry.models import Cooperative
from hezuo.transfer.models import HeaderMapping, ImportJob

from .helpers import COOP_HEADERS, code, coop_row, xlsx

pytestmark = pytest.mark.django_db

# what each persona may do: import page (and which kinds), see the imports list, export cooperatives
CAN_IMPORT = {
    "city": True,
    "district_a": True,
    "district_b": True,
    "coop_user": True,
    "viewer": False,
    "counselor": False,
    "counselor_unassigned": False,
}
CAN_EXPORT = {
    "city": True,
    "viewer": True,
    "district_a": True,
    "district_b": True,
    "counselor": False,
    "counselor_unassigned": False,
    "coop_user": False,
}


def upload(client: Client, path: Path, kind: str = "cooperatives") -> Any:
    with path.open("rb") as handle:
        return client.post(reverse("transfer:upload"), {"kind": kind, "file": handle})


def last_job() -> ImportJob:
    return ImportJob.objects.order_by("-pk").first()


@pytest.mark.parametrize("persona", PERSONAS)
def test_permissions(persona: str, client_for: Any, city_data: dict[str, Any]) -> None:
    client = client_for(persona)
    status = client.get(reverse("transfer:upload")).status_code
    assert status == (200 if CAN_IMPORT[persona] else 404)
    assert client.get(reverse("transfer:job_list")).status_code == (200 if CAN_IMPORT[persona] else 404)
    export = client.get(reverse("transfer:export", args=["cooperatives"]))
    assert export.status_code == (200 if CAN_EXPORT[persona] else 404)
    if CAN_EXPORT[persona]:
        workbook = load_workbook(io.BytesIO(b"".join(export.streaming_content)), read_only=True)
        codes = {row[1] for row in workbook.worksheets[0].iter_rows(min_row=2, values_only=True)}
        expected = {
            "city": {"coop_a", "coop_a2", "coop_b"},
            "viewer": {"coop_a", "coop_a2", "coop_b"},
            "district_a": {"coop_a", "coop_a2"},
            "district_b": {"coop_b"},
        }[persona]
        assert codes == {city_data[name].credit_code for name in expected}
    template = client.get(reverse("transfer:template", args=["facts"]))
    assert template.status_code == (200 if CAN_IMPORT[persona] or CAN_EXPORT[persona] else 404)
    if persona == "coop_user":
        page = client.get(reverse("transfer:upload")).content.decode()
        assert 'value="facts"' in page and 'value="cooperatives"' not in page


def test_anonymous_is_sent_to_login(client: Client, city_data: dict[str, Any]) -> None:
    for name, args in (
        ("transfer:job_list", []),
        ("transfer:upload", []),
        ("transfer:export", ["cooperatives"]),
        ("transfer:template", ["cooperatives"]),
    ):
        response = client.get(reverse(name, args=args))
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_import_list_is_scoped(client_for: Any, city_data: dict[str, Any], tmp_path: Path) -> None:
    path = xlsx(tmp_path / "a.xlsx", [COOP_HEADERS, coop_row(1)])
    upload(client_for("district_a"), path)
    job_a = last_job()
    path_b = xlsx(tmp_path / "b.xlsx", [COOP_HEADERS, coop_row(2, district="330225", town="丹东街道")])
    upload(client_for("district_b"), path_b)
    job_b = last_job()
    assert job_a.district_id == city_data["district_a"].district_id
    lists = {
        p: client_for(p).get(reverse("transfer:job_list")).content.decode()
        for p in ("city", "district_a", "district_b", "coop_user")
    }
    assert "a.xlsx" in lists["city"] and "b.xlsx" in lists["city"]
    assert "a.xlsx" in lists["district_a"] and "b.xlsx" not in lists["district_a"]
    assert "b.xlsx" in lists["district_b"] and "a.xlsx" not in lists["district_b"]
    assert "a.xlsx" not in lists["coop_user"]
    for persona, job, status in (
        ("district_b", job_a, 404),
        ("district_a", job_b, 404),
        ("city", job_a, 200),
        ("coop_user", job_a, 404),
        ("viewer", job_a, 404),
    ):
        client = client_for(persona)
        assert client.get(reverse("transfer:job_detail", args=[job.pk])).status_code == status
        assert client.get(reverse("transfer:job_progress", args=[job.pk])).status_code == status
    # only the uploader commits
    assert client_for("city").post(reverse("transfer:job_commit", args=[job_a.pk])).status_code == 404
    assert client_for("district_b").post(reverse("transfer:job_commit", args=[job_a.pk])).status_code == 404
    assert not Cooperative.objects.filter(name__contains="导入测试").exists()


def test_upload_preview_commit(client_for: Any, city_data: dict[str, Any], tmp_path: Path) -> None:
    client = client_for("district_a")
    path = xlsx(tmp_path / "名录.xlsx", [COOP_HEADERS, coop_row(1), coop_row(2)])
    response = upload(client, path)
    job = last_job()
    assert response.status_code == 302 and response["Location"] == reverse(
        "transfer:job_detail", args=[job.pk]
    )
    assert job.status == ImportJob.Status.CHECKED and (job.to_create, job.to_update) == (2, 0)
    assert not Cooperative.objects.filter(name__contains="导入测试").exists()
    page = client.get(response["Location"]).content.decode()
    assert 'id="commit-form"' in page and 'data-count="to_create">2<' in page
    client.post(reverse("transfer:job_commit", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and (job.created, job.updated) == (2, 0)
    records = ChangeRecord.objects.filter(request_id=job.request_id)
    assert records.count() == 2 and set(records.values_list("message", flat=True)) == {"名录.xlsx"}
    assert set(records.values_list("user_name", flat=True)) == {"district-330226"}
    # committing twice is refused
    client.post(reverse("transfer:job_commit", args=[job.pk]))
    assert Cooperative.objects.filter(name__contains="导入测试").count() == 2


def test_errors_and_error_report(client_for: Any, city_data: dict[str, Any], tmp_path: Path) -> None:
    client = client_for("district_a")
    path = xlsx(tmp_path / "bad.xlsx", [COOP_HEADERS, coop_row(1), coop_row(2, 成立日期="去年")])
    upload(client, path)
    job = last_job()
    assert job.status == ImportJob.Status.INVALID and job.error_count == 1
    page = client.get(reverse("transfer:job_detail", args=[job.pk])).content.decode()
    assert 'data-row="3"' in page and "去年" in page and 'id="commit-form"' not in page
    assert client.post(reverse("transfer:job_commit", args=[job.pk])).status_code == 302
    assert not Cooperative.objects.filter(name__contains="导入测试").exists()
    report = client.get(reverse("transfer:job_errors", args=[job.pk]))
    rows = list(
        load_workbook(io.BytesIO(b"".join(report.streaming_content)), read_only=True)
        .worksheets[0]
        .iter_rows(values_only=True)
    )
    assert list(rows[0]) == [*COOP_HEADERS, "错误原因", "原始行号"]
    assert len(rows) == 3 and rows[1][-2] in ("", None) and rows[1][-1] == 2
    assert rows[2][2] == "去年" and "成立日期" in rows[2][-2] and rows[2][-1] == 3


def test_warnings_need_confirmation(client_for: Any, city_data: dict[str, Any], tmp_path: Path) -> None:
    client = client_for("district_a")
    good = code("330226", 5)
    path = xlsx(
        tmp_path / "w.xlsx",
        [COOP_HEADERS, coop_row(5, 统一社会信用代码=good[:-1] + ("0" if good[-1] != "0" else "1"))],
    )
    upload(client, path)
    job = last_job()
    assert job.status == ImportJob.Status.CHECKED and job.warning_count == 1
    client.post(reverse("transfer:job_commit", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CHECKED
    client.post(reverse("transfer:job_commit", args=[job.pk]), {"confirm_warnings": "on"})
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.created == 1


def test_an_amount_in_yuan_is_written_in_yuan_when_committed_from_the_page(
    client_for: Any, city_data: dict[str, Any], tmp_path: Path
) -> None:
    """注册资本（元）: the unit the file's header states holds through the preview, the commit (which applies
    the job's column mapping) and a remembered mapping, as it does on the command line."""
    from hezuo.registry.models import Cooperative

    client = client_for("district_a")
    headers = [
        "合作社名称",
        "统一社会信用代码",
        "成立日期",
        "注册资本（元）",
        "区县",
        "乡镇（街道）",
        "行业",
        "统计人",
    ]
    row = coop_row(11)
    data = [headers, [row[0], row[1], row[2], "500,000", row[4], row[5], row[6], "张三"]]
    upload(client, xlsx(tmp_path / "yuan.xlsx", data))
    job = last_job()
    assert job.status == ImportJob.Status.CHECKED, job.message
    client.post(reverse("transfer:job_commit", args=[job.pk]))
    coop = Cooperative.objects.get(credit_code=row[1])
    assert coop.registered_capital == 500_000


def test_mapping_is_remembered(client_for: Any, city_data: dict[str, Any], tmp_path: Path) -> None:
    client = client_for("district_a")
    headers = ["社名称呼", "统一社会信用代码", "成立日期", "区县", "乡镇（街道）", "行业"]
    row = coop_row(8)
    data = [headers, [row[0], row[1], row[2], row[4], row[5], row[6]]]
    upload(client, xlsx(tmp_path / "m1.xlsx", data))
    job = last_job()
    assert (
        job.status == ImportJob.Status.INVALID and job.missing == ["name"] and job.unmatched == ["社名称呼"]
    )
    page = client.get(reverse("transfer:job_detail", args=[job.pk])).content.decode()
    assert 'id="mapping-form"' in page
    post = {f"col_{i}": "" for i in range(len(headers))}
    post.update(
        {
            "col_0": "name",
            "col_1": "credit_code",
            "col_2": "registration_date",
            "col_3": "district",
            "col_4": "town",
            "col_5": "industry",
        }
    )
    client.post(reverse("transfer:job_mapping", args=[job.pk]), post)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CHECKED and job.to_create == 1, job.message
    assert HeaderMapping.objects.count() == 1
    # the next file with the same headers is mapped at once
    data2 = [headers, [f"{row[0]}二", code("330226", 9), row[2], row[4], row[5], row[6]]]
    upload(client, xlsx(tmp_path / "m2.xlsx", data2))
    second = last_job()
    assert second.status == ImportJob.Status.CHECKED and second.to_create == 1
    assert any("mapping saved" in n for n in second.notices)


def test_large_file_runs_in_the_background(
    client_for: Any, city_data: dict[str, Any], tmp_path: Path, settings: Any
) -> None:
    settings.HEZUO_IMPORT_SYNC_ROWS = 2  # ImmediateBackend in tests: the "background" task runs at once
    settings.HEZUO_IMPORT_CHUNK_ROWS = 2
    client = client_for("district_a")
    path = xlsx(tmp_path / "big.xlsx", [COOP_HEADERS] + [coop_row(n) for n in range(1, 6)])
    upload(client, path)
    job = last_job()
    assert job.task_id and job.estimated_rows == 5
    assert job.status == ImportJob.Status.CHECKED and job.to_create == 5
    progress = client.get(reverse("transfer:job_progress", args=[job.pk])).json()
    assert progress["active"] is False and progress["percent"] == 100
    client.post(reverse("transfer:job_commit", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.created == 5


def test_progress_while_running(client_for: Any, city_data: dict[str, Any], tmp_path: Path) -> None:
    client = client_for("district_a")
    path = xlsx(tmp_path / "p.xlsx", [COOP_HEADERS, coop_row(1)])
    upload(client, path)
    job = last_job()
    job.status = ImportJob.Status.IMPORTING
    job.save()
    job.set_progress(40, 100, "importing")
    data = client.get(reverse("transfer:job_progress", args=[job.pk])).json()
    assert data["active"] is True and data["percent"] == 40
    page = client.get(reverse("transfer:job_detail", args=[job.pk])).content.decode()
    assert 'id="progress-bar"' in page and "40%" in page


def test_oversized_upload_refused_early(
    client_for: Any, city_data: dict[str, Any], tmp_path: Path, settings: Any
) -> None:
    settings.HEZUO_IMPORT_MAX_BYTES = 2000
    client = client_for("district_a")
    path = tmp_path / "big.csv"
    path.write_bytes(b"x" * 100_000)
    response = upload(client, path)
    assert response.status_code == 302 and not ImportJob.objects.exists()
    page = client.get(response["Location"]).content.decode()
    assert "the limit is" in page


def test_csv_export_and_template(client_for: Any, city_data: dict[str, Any]) -> None:
    client = client_for("city")
    response = client.get(
        reverse("transfer:export", args=["cooperatives"]), {"format": "csv", "district": "330225"}
    )
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith("合作社名称,统一社会信用代码") and len(lines) == 2
    assert city_data["coop_b"].credit_code in lines[1]
    template = client.get(reverse("transfer:template", args=["sponsorships"]))
    assert load_workbook(io.BytesIO(b"".join(template.streaming_content))).sheetnames == [
        "参办领办",
        "填写说明",
    ]
    assert client.get(reverse("transfer:template", args=["nothing"])).status_code == 404
