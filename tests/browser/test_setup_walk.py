"""A new county from nothing to its first logged activity, through the set-up checklist.

County staff start with an empty county (the root organization and their own account), fill the
import template in Excel (here: openpyxl), import it, confirm the regimes and metrics; the admin
opens the two secretaries' accounts; the checklist leaves the home page; the organ branch's
secretary logs the county's first activity on a phone.
"""

import datetime

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import expect

from activities.models import Activity
from pairings.models import Assignment, Member, Organization, Pairing
from reports.models import SetupConfirmation, SetupStep
from tests.browser.conftest import PASSWORD, second_factor
from tests.factories import make_county, make_user

pytestmark = pytest.mark.browser

Role = Assignment.Role
DESKTOP = {"width": 1280, "height": 900}
TITLE = "县财政局与石门村第一次集体活动日"


def checklist(page):
    return page.locator("section.setup-checklist")


def step(page, title):
    return checklist(page).locator("li.setup-step", has_text=title)


def fill_template(path, start):
    """What a county's staff would type into the downloaded template."""
    book = load_workbook(path)
    book["组织"].append(["SM", "石门镇党委", "QS", "党委", "农村"])
    book["组织"].append(["J01", "县财政局机关党支部", "QS", "党支部", "机关"])
    book["组织"].append(["SM01", "石门村党支部", "SM", "党支部", "农村"])
    book["党员"].append(["P001", "王芳", "女", "J01", "书记", "否", "正式", "13800000001"])
    book["党员"].append(["P002", "陈明", "男", "J01", "党员", "否", "正式", ""])
    book["党员"].append(["P003", "李强", "男", "SM01", "书记", "否", "正式", "13800000003"])
    book["党员"].append(["P004", "赵敏", "女", "SM01", "党员", "否", "预备", ""])
    book["共建对子"].append(["GJ001", "J01", "SM01", start.isoformat(), ""])
    book.save(path)


def test_an_empty_county_is_set_up_and_logs_its_first_activity(
    browser, live_server, migration_rows, phones, tmp_path, guide_shots
):
    county = make_county(code="QS", name="青山县委")
    staff = make_user("zuzhibu", role=Role.COUNTY_STAFF, org=county, first_name="李华")
    start = timezone.localdate().replace(day=1) - datetime.timedelta(days=40)

    context = browser.new_context(viewport=DESKTOP, device_scale_factor=1, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        # The county's staff sign in (enrolling their authenticator) and meet the checklist.
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", staff.username)
        page.fill("#id_password", PASSWORD)
        page.get_by_role("button", name="登录").click()
        second_factor(page, staff)
        page.wait_for_url(f"{live_server.url}/")
        expect(checklist(page).locator("h2")).to_contain_text("已完成 0/6")
        for title in ("导入组织架构", "导入党员名册", "设立共建对子", "为支部书记开通账号"):
            expect(step(page, title)).to_contain_text("○ 未完成")
        guide_shots(page, "staff-setup.png", locator=checklist(page))

        # The first step leads to the import page, where the template is downloaded.
        step(page, "导入组织架构").get_by_role("link", name="导入组织架构").click()
        expect(page.get_by_role("heading", name="导入导出台账")).to_be_visible()
        with page.expect_download() as download:
            page.get_by_role("link", name="下载共建台账导入模板.xlsx").click()
        workbook = tmp_path / "青山县共建台账.xlsx"
        download.value.save_as(workbook)
        fill_template(workbook, start)

        # Upload: the preview lists what will be created, and nothing is written yet.
        page.locator("#id_file").set_input_files(workbook)
        page.get_by_role("button", name="上传并预检").click()
        expect(page.get_by_role("heading", name="导入预检：青山县共建台账.xlsx")).to_be_visible()
        expect(page.get_by_text("没有发现问题。请核对")).to_be_visible()
        rows = page.locator("table.data tbody tr")
        expect(rows.filter(has_text="组织")).to_contain_text("3")
        expect(rows.filter(has_text="党员")).to_contain_text("4")
        assert not Member.objects.exists()
        guide_shots(page, "staff-import-preview.png")
        page.get_by_role("button", name="确认导入").click()
        expect(page.get_by_role("heading", name="已导入：青山县共建台账.xlsx")).to_be_visible()

        # Back home, the first three steps have ticked themselves.
        page.get_by_role("link", name="首页").click()
        expect(checklist(page).locator("h2")).to_contain_text("已完成 3/6")
        for title in ("导入组织架构", "导入党员名册", "设立共建对子"):
            expect(step(page, title)).to_contain_text("✓ 已完成")
        expect(step(page, "设立共建对子")).to_contain_text("已有共建对子 1 个")

        # The regimes' cadences and the metrics are confirmed once.
        step(page, "确认五项制度的频次").get_by_role("link").click()
        page.get_by_role("button", name="频次无误，确认").click()
        expect(page.get_by_text("已确认：")).to_be_visible()
        page.goto(f"{live_server.url}/setup/metrics/")
        page.get_by_role("button", name="指标无误，确认").click()
        expect(step(page, "确认统计指标")).to_contain_text("✓ 已完成")
        expect(checklist(page).locator("h2")).to_contain_text("已完成 5/6")

        # The accounts page names the two paired branches still without a secretary.
        step(page, "为支部书记开通账号").get_by_role("link").click()
        expect(page.get_by_text("县财政局机关党支部").first).to_be_visible()
        expect(page.get_by_text("石门村党支部").first).to_be_visible()

        # The system admin opens their accounts (in /admin/; here, directly).
        organ = Organization.objects.get(code="J01")
        village = Organization.objects.get(code="SM01")
        secretary = make_user("caizheng", role=Role.SECRETARY, org=organ)
        make_user("shimen", role=Role.SECRETARY, org=village)

        # The checklist is complete, and leaves the home page for the dashboard.
        page.get_by_role("link", name="首页").click()
        expect(page.locator("h1").first).to_be_visible()
        expect(checklist(page)).to_have_count(0)
        assert SetupConfirmation.objects.filter(
            organization=county, step=SetupStep.COMPLETE
        ).exists()
    finally:
        context.close()
    assert errors == [], errors

    # The organ branch's secretary logs the county's first activity on a phone.
    phone = phones("organ")
    phone.log_in(secretary)
    page = phone.page
    page.get_by_role("link", name="＋ 登记活动").click()
    expect(page.get_by_role("heading", name="登记活动")).to_be_visible()
    expect(page.get_by_text("县财政局机关党支部 ⇄ 石门村党支部")).to_be_visible()
    page.get_by_label("所属制度").select_option(label="集体活动日制度")
    page.get_by_label("活动类别").select_option(label="学习")
    page.get_by_label("活动主题").fill(TITLE)
    page.get_by_label("地点").fill("石门村党员活动室")
    page.locator("label.participant", has_text="王芳").click()
    page.locator("label.participant", has_text="李强").click()
    page.get_by_role("button", name="提交给对方确认").click()
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(page.locator("h1 + p .status")).to_have_text("待确认")
    assert phone.errors == [], phone.errors

    activity = Activity.objects.get()
    assert activity.title == TITLE
    assert activity.status == Activity.Status.SUBMITTED
    assert activity.pairing == Pairing.objects.get(code="GJ001")
    assert sorted(p.member.name for p in activity.participations.all()) == ["李强", "王芳"]
