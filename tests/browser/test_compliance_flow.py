"""County staff find a missed joint meeting in the matrix; once it is logged, the cell turns met."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from activities import compliance
from activities.models import Activity, Regime
from pairings.models import Assignment
from tests.factories import make_branch, make_county, make_org, make_pairing, make_user

pytestmark = pytest.mark.browser

Role = Assignment.Role


def last_ended_quarter(today):
    current = compliance.period_containing("quarter", today)
    return compliance.period_containing("quarter", current.start - datetime.timedelta(days=1))


def test_missed_quarter_is_found_drilled_into_and_turns_met(phones, settings):
    # Generous grace and lock delays, so the last quarter is open and on time whenever this runs.
    settings.COBUILD = {**settings.COBUILD, "GRACE_DAYS": 400, "LOCK_DELAY_DAYS": 400}
    today = timezone.localdate()
    missed = last_ended_quarter(today)
    before = last_ended_quarter(missed.start)
    county = make_county(name="测试县委")
    township = make_org(county, name="石门镇党委", kind="committee", sector="rural")
    organ = make_branch(county, name="县财政局机关党支部")
    village = make_branch(township, sector="rural", name="石门村党支部")
    pairing = make_pairing(organ, village, start_date=before.start)
    Activity.objects.create(
        pairing=pairing,
        regime=Regime.objects.get(code="joint_meeting"),
        category="meeting",
        date=before.start + datetime.timedelta(days=20),
        title="上季度联席会",
        logged_by_branch=organ,
        status="confirmed",
        submitted_at=timezone.now(),
        on_time=True,
        confirmed_at=timezone.now(),
    )
    secretary = make_user("caizheng", role=Role.SECRETARY, org=organ)
    staff = make_user("zuzhibu", role=Role.COUNTY_STAFF, org=county)
    matrix = f"/compliance/matrix/?regime=joint_meeting&start={before.start}&end={today}"

    county_phone = phones("county")
    page = county_phone.page
    county_phone.log_in(staff)
    page.get_by_role("link", name="制度落实").click()
    page.get_by_role("link", name="对子 × 期间明细").click()
    county_phone.goto(matrix)
    header = page.locator("table.matrix thead th")
    expect(header.nth(1)).to_have_text(before.label)
    expect(header.nth(2)).to_have_text(missed.label)
    row = page.locator("table.matrix tbody tr", has_text="石门村党支部")
    expect(row.locator("td").nth(0)).to_contain_text("✓")
    expect(row.locator("td").nth(1)).to_contain_text("✗")
    expect(row.locator("td").nth(1)).to_contain_text("未完成")  # also in words, not colour only
    county_phone.shot("matrix-missed")
    row.get_by_role("link", name="县财政局机关党支部 ⇄ 石门村党支部").click()
    expect(page.get_by_text(f"✗ {missed.label}未完成")).to_be_visible()
    county_phone.shot("pairing-missed")

    # The secretary logs the meeting that was held but not recorded.
    secretary_phone = phones("secretary")
    spage = secretary_phone.page
    secretary_phone.log_in(secretary)
    spage.get_by_role("link", name="＋ 登记活动").click()
    spage.get_by_label("所属制度").select_option(label="季度联席会制度")
    spage.get_by_label("活动类别").select_option(label="会议")
    spage.get_by_label("活动日期").fill((missed.start + datetime.timedelta(days=40)).isoformat())
    spage.get_by_label("活动主题").fill("补录：季度联席会")
    spage.get_by_role("button", name="提交给对方确认").click()
    expect(spage.locator("h1")).to_have_text("补录：季度联席会")
    secretary_phone.shot("logged")

    county_phone.goto(matrix)
    row = page.locator("table.matrix tbody tr", has_text="石门村党支部")
    expect(row.locator("td").nth(1)).to_contain_text("✓")
    expect(row.locator("td").nth(1)).to_contain_text("按时完成")
    county_phone.shot("matrix-met")
    assert county_phone.errors == [] and secretary_phone.errors == []
