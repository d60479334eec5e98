"""County staff draft the demo county's situation report, edit it, refresh it, download it."""

import io

import pytest
from django.contrib.auth.models import User
from docx import Document
from playwright.sync_api import expect

from reports import demo
from reports.models import SituationReport
from tests.browser.conftest import second_factor

pytestmark = pytest.mark.browser

OWN_TEXT = "（一）统一认识是前提。我们把统一思想认识作为一个重要环节来抓。"


def test_staff_drafts_edits_refreshes_and_downloads_the_report(
    browser, live_server, migration_rows
):
    demo.seed(scale="demo", seed=1)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", "county")
        page.fill("#id_password", demo.DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()
        second_factor(page, User.objects.get(username="county"))
        page.get_by_role("link", name="情况汇报").click()
        page.get_by_role("link", name="起草新汇报").click()
        page.get_by_role("button", name="根据数据起草").click()

        # The draft: five sections, the data ones written from the demo county's figures.
        expect(page.get_by_role("heading", name="编辑汇报")).to_be_visible()
        expect(page.get_by_role("textbox", name="一、基本情况")).to_contain_text("互助共建对子")
        expect(page.get_by_role("textbox", name="二、主要做法和成效")).to_contain_text(
            "集体活动日制度"
        )
        page.get_by_role("textbox", name="三、几点体会", exact=True).fill(OWN_TEXT)
        page.get_by_role("button", name="保存为新版本").click()
        expect(page.get_by_text("已保存为第2版")).to_be_visible()

        page.get_by_role("button", name="刷新数据").first.click()
        expect(page.get_by_role("textbox", name="三、几点体会", exact=True)).to_have_value(
            OWN_TEXT
        )  # the edit survives

        report = SituationReport.objects.get()
        page.goto(f"{live_server.url}/reports/{report.pk}/")
        expect(page.locator("h1").first).to_have_text(report.title)
        with page.expect_download() as download:
            page.get_by_role("link", name="导出 Word").click()
        data = download.value.path().read_bytes()
    finally:
        context.close()

    document = Document(io.BytesIO(data))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "青山县“互助共建”活动开展情况汇报"
    headings = [
        "一、基本情况",
        "二、主要做法和成效",
        "三、几点体会",
        "四、存在问题",
        "五、下步打算",
    ]
    assert [t for t in texts if t in headings] == headings
    assert OWN_TEXT in texts
    assert errors == []
