"""Browser test of the import: upload a file with one bad row, read the error, download the error report, fix
the row in it, upload it again and import it. Playwright drives Debian's chromium against the live server;
screenshots go to test-artifacts/screenshots/ (or $HEZUO_SCREENSHOT_DIR)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from hezuo.conftest import PASSWORD
from hezuo.core.browser import TIMEOUT_MS, screenshot_dir

from .helpers import COOP_HEADERS, coop_row, xlsx

pytestmark = pytest.mark.browser


def test_import_fix_and_reimport(browser: Any, live_city: dict[str, Any], tmp_path: Path) -> None:
    from hezuo.registry.models import Cooperative

    base = live_city["url"]
    shots = screenshot_dir()
    context = browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", reduced_motion="reduce", accept_downloads=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    upload_url = reverse("transfer:upload")
    page.goto(f"{base}{reverse('login')}?next={upload_url}")
    page.fill("#id_username", "district-330226")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url == f"{base}{upload_url}"

    original = xlsx(
        tmp_path / "宁海县新登记合作社.xlsx",
        [COOP_HEADERS, coop_row(41), coop_row(42, 成立日期="2019年13月5日")],
        title="宁海县新登记农民专业合作社",
        merge_title=True,
    )
    page.select_option("#id_kind", "cooperatives")
    page.set_input_files("#id_file", str(original))
    page.screenshot(path=str(shots / "transfer-1-upload.png"), full_page=True)
    with page.expect_navigation():
        page.click("#upload-submit")

    # the preview: one error, on row 4 (title row, blank row, header, then the data), in the date column
    assert page.get_attribute("#job-status", "data-status") == "invalid"
    problem = page.locator("#problems tbody tr[data-level=error]")
    assert problem.count() == 1
    assert problem.get_attribute("data-row") == "5"
    assert "2019年13月5日" in problem.inner_text() and "成立日期" in problem.inner_text()
    assert page.locator("#commit-form").count() == 0
    page.screenshot(path=str(shots / "transfer-2-preview-error.png"), full_page=True)

    with page.expect_download() as download_info:
        page.click("#error-report")
    report = tmp_path / "report.xlsx"
    download_info.value.save_as(report)
    workbook = load_workbook(report)
    sheet = workbook.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][-2:] == ("错误原因", "原始行号")
    bad = next(i for i, row in enumerate(rows) if row[-1] == 5)
    assert "成立日期" in rows[bad][-2]
    # the user fixes the date in the report and uploads it again
    sheet.cell(row=bad + 1, column=COOP_HEADERS.index("成立日期") + 1, value="2019-12-05")
    fixed = tmp_path / "宁海县新登记合作社-已修改.xlsx"
    workbook.save(fixed)

    page.goto(f"{base}{upload_url}")
    page.select_option("#id_kind", "cooperatives")
    page.set_input_files("#id_file", str(fixed))
    with page.expect_navigation():
        page.click("#upload-submit")
    assert page.get_attribute("#job-status", "data-status") == "checked"
    assert page.inner_text("[data-count=to_create]").strip() == "2"
    assert page.inner_text("[data-count=errors]").strip() == "0"
    page.screenshot(path=str(shots / "transfer-3-preview-ok.png"), full_page=True)
    with page.expect_navigation():
        page.click("#commit-button")
    assert page.get_attribute("#job-status", "data-status") == "done"
    assert page.inner_text("[data-count=created]").strip() == "2"
    page.screenshot(path=str(shots / "transfer-4-done.png"), full_page=True)
    page.goto(f"{base}{reverse('transfer:job_list')}")
    assert page.locator("#import-list tbody tr").count() == 2
    page.screenshot(path=str(shots / "transfer-5-list.png"), full_page=True)
    context.close()
    assert (
        Cooperative.objects.filter(
            name__in=["宁海县导入测试41号专业合作社", "宁海县导入测试42号专业合作社"]
        ).count()
        == 2
    )
