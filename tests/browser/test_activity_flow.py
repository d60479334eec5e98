"""One activity's whole life on phones: logged, returned, fixed, confirmed, seen by the county."""

import re

import pytest
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from activities.models import Activity
from pairings.models import Assignment
from tests.factories import make_branch, make_county, make_member, make_org, make_pairing, make_user

pytestmark = pytest.mark.browser

Role = Assignment.Role
TITLE = "三月集体学习：新修订的党章"
FIXED_TITLE = "三月集体学习：学习新修订的党章"
REASON = "活动主题请写完整：学习新修订的党章。"


def make_photo(folder):
    path = folder / "集体学习合影.jpg"
    Image.new("RGB", (800, 600), (178, 34, 34)).save(path, "JPEG", quality=80)
    return path


def expect_status(page, label):
    expect(page.locator("h1 + p .status")).to_have_text(label)


def test_activity_is_logged_returned_fixed_and_confirmed_on_phones(phones, tmp_path):
    county = make_county(name="测试县委")
    township = make_org(county, name="石门镇党委", kind="committee", sector="rural")
    organ = make_branch(county, name="县财政局机关党支部")
    village = make_branch(township, sector="rural", name="石门村党支部")
    make_pairing(organ, village)
    make_member(organ, name="王芳")
    make_member(organ, name="陈明")
    make_member(village, name="李强")
    make_member(village, name="赵敏")
    organ_secretary = make_user("caizheng", role=Role.SECRETARY, org=organ)
    village_secretary = make_user("shimen", role=Role.SECRETARY, org=village)
    staff = make_user("zuzhibu", role=Role.COUNTY_STAFF, org=county)
    photo = make_photo(tmp_path)

    # The organ branch's secretary logs the activity from the home page and submits it.
    organ_phone = phones("organ")
    page = organ_phone.page
    organ_phone.log_in(organ_secretary)
    organ_phone.shot("home")
    page.get_by_role("link", name="＋ 登记活动").click()
    expect(page.get_by_role("heading", name="登记活动")).to_be_visible()
    expect(page.get_by_text("县财政局机关党支部 ⇄ 石门村党支部")).to_be_visible()
    page.get_by_label("所属制度").select_option(label="集体活动日制度")
    page.get_by_label("活动类别").select_option(label="学习")
    page.get_by_label("活动主题").fill(TITLE)
    page.get_by_label("地点").fill("石门村党员活动室")
    page.locator("label.participant", has_text="王芳").click()
    page.locator("label.participant", has_text="李强").click()
    page.get_by_label("实用技术培训（人次）").fill("30")
    page.locator("#id_evidence").set_input_files(photo)
    organ_phone.shot("form")
    page.get_by_role("button", name="提交给对方确认").click()
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    expect_status(page, "待确认")
    expect(page.get_by_text("实用技术培训：30人次")).to_be_visible()
    expect(page.get_by_text("参加党员（2人）")).to_be_visible()
    thumbnail = page.locator(".gallery img")
    thumbnail.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle()
    )
    organ_phone.shot("submitted")

    # The village secretary finds it waiting on the home page and returns it with a reason.
    village_phone = phones("village")
    page = village_phone.page
    village_phone.log_in(village_secretary)
    waiting = page.locator("section", has=page.get_by_role("heading", name="等待您确认（1）"))
    expect(waiting).to_be_visible()
    village_phone.shot("home-waiting")
    waiting.get_by_role("link", name=TITLE).click()
    expect_status(page, "待确认")
    page.locator(".return-box summary").click()
    page.get_by_label("退回原因").fill(REASON)
    village_phone.shot("returning")
    page.get_by_role("button", name="退回给对方修改").click()
    expect_status(page, "已退回")
    expect(page.locator(".notice")).to_contain_text(REASON)
    village_phone.shot("returned")

    # The organ secretary sees it under 被退回, fixes the title and submits it again.
    page = organ_phone.page
    organ_phone.goto("/")
    returned = page.locator("section", has=page.get_by_role("heading", name=re.compile("被退回")))
    expect(returned).to_contain_text(REASON)
    organ_phone.shot("home-returned")
    returned.get_by_role("link", name=TITLE).click()
    expect_status(page, "已退回")
    expect(page.get_by_role("button", name="重新提交")).to_be_visible()
    page.get_by_role("link", name="修改", exact=True).click()
    expect(page.get_by_role("heading", name="修改活动")).to_be_visible()
    expect(page.get_by_label("王芳")).to_be_checked()
    expect(page.get_by_label("李强")).to_be_checked()
    expect(page.get_by_role("status")).to_contain_text(REASON)  # the reason, beside the form
    page.get_by_label("活动主题").fill(FIXED_TITLE)
    organ_phone.shot("fixing")
    page.get_by_role("button", name="重新提交").click()
    expect(page.get_by_role("heading", name=FIXED_TITLE)).to_be_visible()
    expect_status(page, "待确认")
    organ_phone.shot("resubmitted")

    # The village secretary confirms it.
    page = village_phone.page
    village_phone.goto("/")
    waiting = page.locator("section", has=page.get_by_role("heading", name="等待您确认（1）"))
    waiting.get_by_role("link", name=FIXED_TITLE).click()
    page.get_by_role("button", name="确认", exact=True).click()
    expect_status(page, "已确认")
    expect(page.get_by_text("已确认这条活动。")).to_be_visible()
    village_phone.shot("confirmed")

    # The county's staff find it among confirmed activities.
    county_phone = phones("county")
    page = county_phone.page
    county_phone.log_in(staff)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="活动").click()
    page.get_by_text("筛选与搜索").click()
    page.get_by_label("状态").select_option(label="已确认")
    page.get_by_role("button", name="筛选").click()
    item = page.locator(".item-list li", has_text=FIXED_TITLE)
    expect(item).to_contain_text("已确认")
    expect(page.get_by_text("共 1 条")).to_be_visible()
    county_phone.shot("confirmed-list")

    activity = Activity.objects.get()
    assert activity.title == FIXED_TITLE
    assert activity.status == Activity.Status.CONFIRMED
    assert activity.logged_by_branch == organ
    assert activity.date == timezone.localdate()
    assert sorted(p.member.name for p in activity.participations.all()) == ["李强", "王芳"]
    assert [(o.metric.code, o.value) for o in activity.outcomes.all()] == [("training", 30)]
    assert activity.evidence.count() == 1
    assert activity.on_time is not None
    for phone in (organ_phone, village_phone, county_phone):
        assert phone.errors == [], phone.errors
