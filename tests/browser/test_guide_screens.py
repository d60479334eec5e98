"""The pages the guides in docs/ show, walked on the demo county, each checked for what the guide
says about it. With `--screenshots DIR` (`make screenshots`), each is also saved under the name
the guide uses: desktop pages at 1280 wide, secretaries' pages at phone size (360 wide).
"""

import datetime
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from activities.models import Need
from pairings import access
from pairings.models import Pairing
from reports import demo
from reports.models import SetupConfirmation, SetupStep
from tests.browser.conftest import second_factor
from tests.factories import make_commitment, make_submitted_activity

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 740}
MEETING = "第四季度联席会：商定明年帮扶项目"
DEED = "修缮村党员活动室屋顶"
SECTIONS = ["一、基本情况", "二、主要做法和成效", "三、几点体会", "四、存在问题", "五、下步打算"]


@pytest.fixture
def demo_county(migration_rows):
    demo.seed(scale="demo", seed=1)
    county = User.objects.get(username="county")
    # The demo county has finished setting up: its home page is the dashboard.
    SetupConfirmation.objects.get_or_create(
        organization=county.assignments.get().organization,
        step=SetupStep.COMPLETE,
        defaults={"confirmed_by": county},
    )


def record(errors, message):
    """Console errors (a failed load, a CSP violation), but not the admin's missing favicon."""
    source = (message.location or {}).get("url", "")
    if message.type == "error" and "favicon" not in source:
        errors.append(f"{message.text} ({source})")


@pytest.fixture
def open_page(browser, live_server):
    """`open_page(username, phone=False)` → a signed-in page; contexts closed afterwards, and
    no page may log a console error."""
    contexts, errors = [], []

    def open_as(username, *, phone=False):
        options = {"viewport": PHONE, "is_mobile": True, "has_touch": True} if phone else {}
        context = browser.new_context(
            **({"viewport": DESKTOP} | options), device_scale_factor=1, locale="zh-CN"
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: record(errors, m))
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", demo.DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()
        second_factor(page, User.objects.get(username=username))
        page.wait_for_url(lambda url: "/accounts/" not in url)
        return page

    yield open_as
    for context in contexts:
        context.close()
    assert errors == [], errors


def test_staff_guide_pages(demo_county, open_page, live_server, guide_shots):
    page = open_page("county")
    nav = page.get_by_role("navigation", name="主导航")

    # 首页看板: the county's pairings running this year, its regimes and outcomes.
    today = timezone.localdate()
    running = (
        Pairing.objects.alive()
        .filter(start_date__lte=datetime.date(today.year, 12, 31))
        .exclude(end_date__lt=datetime.date(today.year, 1, 1))
        .count()
    )
    assert running > 0
    expect(page.locator("section.setup-checklist")).to_have_count(0)
    pairings_stat = page.locator(".stat", has_text="共建对子（个）")
    expect(pairings_stat.locator(".stat-value")).to_have_text(str(running))
    expect(page.get_by_role("heading", name="五项制度落实")).to_be_visible()
    expect(page.get_by_role("heading", name="主要成效")).to_be_visible()
    guide_shots(page, "staff-dashboard.png")

    # 制度落实 → 对子 × 期间明细: every cell says its state with a symbol and words.
    nav.get_by_role("link", name="制度落实").click()
    expect(page.get_by_role("heading", name="五项制度落实情况")).to_be_visible()
    page.get_by_role("link", name="对子 × 期间明细").click()
    legend = page.locator("main")
    for symbol, words in (
        ("✓", "按时完成"),
        ("◐", "完成但逾期"),
        ("✗", "未完成"),
        ("…", "本期进行中"),
    ):
        expect(legend.get_by_text(words).first).to_be_visible()
        expect(legend).to_contain_text(symbol)
    expect(page.get_by_role("link", name="导出 Excel")).to_be_visible()
    guide_shots(page, "staff-compliance-matrix.png")

    # 情况汇报: drafted from the data, in the five sections the county's format asks for.
    nav.get_by_role("link", name="情况汇报").click()
    page.get_by_role("link", name="起草新汇报").click()
    page.get_by_role("button", name="根据数据起草").click()
    expect(page.get_by_role("heading", name="编辑汇报")).to_be_visible()
    page.get_by_role("link", name="情况汇报").first.click()
    page.locator("main a", has_text="“互助共建”活动开展情况汇报").first.click()
    for section in SECTIONS:
        expect(page.locator(".official").get_by_text(section, exact=True)).to_be_visible()
    for button in ("编辑", "刷新数据", "版本与对比", "打印版", "导出 Word", "统计附表 Excel"):
        expect(page.get_by_role("main").get_by_text(button, exact=True).first).to_be_visible()
    guide_shots(page, "staff-report.png")


def test_secretary_guide_pages(demo_county, open_page, live_server, guide_shots):
    # The village branch has just logged this quarter's joint meeting, for the organ to confirm.
    pairing = Pairing.objects.get(code="GJ-001")
    make_submitted_activity(
        pairing,
        "joint_meeting",
        timezone.localdate(),
        title=MEETING,
        place="柳坝村村委会会议室",
        villager_count=6,
        category="meeting",
        logged_by_branch=pairing.helped,
    )
    # A deed past its due date, so that the bell has a reminder whatever the day of the seeding.
    make_commitment(
        pairing, title=DEED, due_date=timezone.localdate() - datetime.timedelta(days=10)
    )
    call_command("send_reminders", verbosity=0)
    page = open_page("organ_secretary", phone=True)

    # 首页: each pairing's regimes this period, and what waits for this secretary.
    expect(page.get_by_role("heading", name="我的共建对子")).to_be_visible()
    # How many the demo county leaves waiting depends on the day it was seeded.
    heading = page.get_by_role("heading", name=re.compile(r"^等待您确认（\d+）$"))
    waiting = page.locator("section", has=heading)
    expect(waiting.get_by_role("link", name=MEETING)).to_be_visible()
    guide_shots(page, "secretary-home.png")

    # 登记活动: choose the pairing, then the form (regime, participants, outcomes, photos).
    page.get_by_role("link", name="＋ 登记活动").click()
    page.get_by_role("link", name="柳坝村党支部").first.click()
    expect(page.get_by_role("heading", name="登记活动")).to_be_visible()
    page.get_by_label("所属制度").select_option(label="集体活动日制度")
    page.get_by_label("活动类别").select_option(label="学习")
    page.get_by_label("活动主题").fill("学习新修订的《中国共产党纪律处分条例》")
    page.get_by_label("地点").fill("柳坝村党员活动室")
    expect(page.locator("label.participant").first).to_be_visible()
    expect(page.get_by_label("实用技术培训（人次）")).to_be_visible()
    expect(page.locator("#id_evidence")).to_be_attached()
    expect(page.get_by_role("button", name="提交给对方确认")).to_be_visible()
    guide_shots(page, "secretary-form.png", full_page=True)

    # 确认或退回: the partner's entry, waiting on the home page.
    page.goto(f"{live_server.url}/")
    waiting = page.locator("section", has=heading)
    waiting.get_by_role("link", name=MEETING).click()
    expect(page.locator("h1 + p .status")).to_have_text("待确认")
    expect(page.get_by_role("button", name="确认", exact=True)).to_be_visible()
    page.locator(".return-box summary").click()
    expect(page.get_by_label("退回原因")).to_be_visible()
    guide_shots(page, "secretary-confirm.png", full_page=True)

    # 需求与困难, and the bell's reminders.
    page.goto(f"{live_server.url}/activities/needs/")
    expect(page.get_by_role("heading", name="需求与困难")).to_be_visible()
    # The demo county's needs depend on the day it was seeded: count what this secretary may read.
    readable = access.readable(User.objects.get(username="organ_secretary"), Need.objects.all())
    expect(page.get_by_text(f"共 {readable.count()} 条")).to_be_visible()
    guide_shots(page, "secretary-needs.png")
    page.get_by_role("link", name="提醒").click()
    expect(page.locator(".notification", has_text=DEED).first).to_be_visible()
    guide_shots(page, "secretary-reminders.png")


def test_admin_guide_pages(demo_county, open_page, live_server, guide_shots):
    # The system administrator's user list in /admin/.
    page = open_page("admin")
    page.goto(f"{live_server.url}/admin/auth/user/")
    for username in ("county", "organ_secretary", "auditor"):
        expect(page.locator("#result_list").get_by_role("link", name=username)).to_be_visible()
    guide_shots(page, "admin-users.png")

    # The audit administrator's search: the sign-ins just made are there.
    page = open_page("auditor")
    page.goto(f"{live_server.url}/audit/")
    expect(page.get_by_role("heading", name="审计日志")).to_be_visible()
    page.get_by_label("事件").select_option(label="登录")
    page.get_by_role("button", name="查询").click()
    rows = page.locator("table tbody tr")
    expect(rows.filter(has_text="admin").first).to_be_visible()
    expect(page.get_by_role("link", name="导出Excel")).to_be_visible()
    guide_shots(page, "admin-audit.png")
