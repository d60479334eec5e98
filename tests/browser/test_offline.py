"""A secretary logs an activity while the phone loses its connection: nothing typed is lost, the
entry waits on the phone as 待发送, and reaches the server exactly once when the connection returns."""

import pytest
from django.db.models import F
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from activities.models import Activity
from pairings.models import Assignment
from tests.browser.test_a11y import LOW_CONTRAST, UNNAMED
from tests.factories import (
    make_activity,
    make_branch,
    make_county,
    make_member,
    make_org,
    make_pairing,
    make_user,
)

pytestmark = pytest.mark.browser

TITLE = "四月集体学习：乡村振兴政策"


@pytest.fixture
def secretary(migration_rows):
    county = make_county(name="测试县委")
    township = make_org(county, name="石门镇党委", kind="committee", sector="rural")
    organ = make_branch(county, name="县财政局机关党支部")
    village = make_branch(township, sector="rural", name="石门村党支部")
    pairing = make_pairing(organ, village)
    make_member(organ, name="王芳")
    make_member(village, name="李强")
    user = make_user("caizheng", role=Assignment.Role.SECRETARY, org=organ)
    return user, pairing


def make_photo(folder):
    path = folder / "学习现场.jpg"
    Image.new("RGB", (1200, 900), (30, 90, 160)).save(path, "JPEG", quality=85)
    return path


def outbox(page):
    return page.locator("#outbox")


def test_an_activity_finished_offline_is_sent_once_when_the_connection_returns(
    phones, secretary, tmp_path
):
    user, _pairing = secretary
    phone = phones("offline")
    page = phone.page
    phone.log_in(user)
    page.get_by_role("link", name="＋ 登记活动").click()
    expect(page.get_by_role("heading", name="登记活动")).to_be_visible()
    page.get_by_label("所属制度").select_option(label="集体活动日制度")
    page.get_by_label("活动类别").select_option(label="学习")
    page.get_by_label("活动主题").fill(TITLE)
    client_id = page.locator('input[name="client_id"]').input_value()

    # The connection drops in the middle of logging; the secretary carries on and submits.
    page.context.set_offline(True)
    page.get_by_label("地点").fill("石门村党员活动室")
    page.locator("label.participant", has_text="王芳").click()
    page.locator("label.participant", has_text="李强").click()
    page.locator("#id_evidence").set_input_files(make_photo(tmp_path))
    page.get_by_role("button", name="提交给对方确认").click()

    expect(page.get_by_role("status").filter(has_text="待发送")).to_be_visible()
    item = outbox(page).get_by_role("listitem").filter(has_text=TITLE)
    expect(item).to_contain_text("待发送")
    expect(outbox(page).get_by_role("heading", name="待发送（1）")).to_be_visible()
    phone.shot("waiting")
    assert page.evaluate(UNNAMED) == []
    assert page.evaluate(LOW_CONTRAST) == []
    assert not Activity.objects.exists()

    # Back online: the entry goes by itself, once.
    page.context.set_offline(False)
    expect(page.get_by_text("联网后已发送 1 条活动")).to_be_visible()
    expect(outbox(page)).to_be_hidden()
    expect(page.get_by_role("status").filter(has_text="这条活动已发送")).to_be_visible()
    phone.shot("sent")
    activity = Activity.objects.get(client_id=client_id)
    assert activity.title == TITLE
    assert activity.place == "石门村党员活动室"
    assert activity.status == Activity.Status.SUBMITTED
    assert sorted(p.member.name for p in activity.participations.all()) == ["李强", "王芳"]
    assert activity.evidence.count() == 1

    # Reloading sends nothing again, and the sent entry's draft is gone from the form.
    page.reload()
    expect(page.get_by_role("heading", name="登记活动")).to_be_visible()
    page.wait_for_load_state("networkidle")
    expect(outbox(page)).to_be_hidden()
    expect(page.get_by_label("活动主题")).to_have_value("")
    assert page.locator('input[name="client_id"]').input_value() != client_id
    page.get_by_role("link", name="首页").click()
    page.wait_for_load_state("networkidle")
    expect(outbox(page)).to_be_hidden()
    assert Activity.objects.count() == 1
    assert phone.errors == [], phone.errors


def test_what_is_typed_survives_a_reload_and_a_wrong_entry_keeps_it(phones, secretary):
    user, pairing = secretary
    phone = phones("draft")
    page = phone.page
    phone.log_in(user)
    phone.goto(f"/activities/new/?pairing={pairing.pk}")
    page.get_by_label("活动类别").select_option(label="学习")
    page.get_by_label("活动主题").fill(TITLE)
    page.locator("label.participant", has_text="李强").click()
    client_id = page.locator('input[name="client_id"]').input_value()

    # The page is closed by accident (or the browser killed): what was typed comes back.
    page.reload()
    expect(page.get_by_role("status").filter(has_text="未提交的内容")).to_be_visible()
    expect(page.get_by_label("活动主题")).to_have_value(TITLE)
    expect(page.get_by_label("活动类别")).to_have_value("study")
    expect(page.get_by_label("李强")).to_be_checked()
    expect(page.get_by_label("王芳")).not_to_be_checked()
    assert page.locator('input[name="client_id"]').input_value() == client_id

    # A wrong value is refused next to the field, with everything typed still in place.
    page.get_by_label("群众人数").fill("-3")
    page.get_by_role("button", name="提交给对方确认").click()
    expect(page.get_by_role("alert").filter(has_text="请修改下面标出的内容")).to_be_visible()
    field = page.locator(".field", has=page.get_by_label("群众人数"))
    expect(field.locator(".field-error")).to_have_text("确保该值大于或等于0。")
    expect(page.get_by_label("活动主题")).to_have_value(TITLE)
    assert not Activity.objects.exists()

    page.get_by_label("群众人数").fill("12")
    page.get_by_role("button", name="提交给对方确认").click()
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    activity = Activity.objects.get()
    assert str(activity.client_id) == client_id
    assert activity.villager_count == 12

    # Once the server has it, the form starts empty again.
    phone.goto(f"/activities/new/?pairing={pairing.pk}")
    expect(page.get_by_label("活动主题")).to_have_value("")
    expect(page.get_by_role("status").filter(has_text="未提交的内容")).to_have_count(0)
    # The refused post (HTTP 400 with the errors as JSON) is the only thing the console reports.
    errors = [e for e in phone.errors if "status of 400" not in e]
    assert errors == [], errors


def test_the_home_page_and_the_form_open_without_a_connection_once_seen(phones, secretary):
    user, pairing = secretary
    phone = phones("cached")
    page = phone.page
    phone.log_in(user)
    # The service worker takes over; the pages opened from now on are kept for offline use.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.get_by_role("link", name="＋ 登记活动").click()
    expect(page.get_by_role("heading", name="登记活动")).to_be_visible()
    page.get_by_role("link", name="首页").click()
    expect(page.get_by_role("heading", name="我的共建对子")).to_be_visible()

    page.context.set_offline(True)
    with pytest.raises(PlaywrightError):
        phone.goto("/activities/")  # never opened: not kept, and the network is really off
    page.wait_for_url("chrome-error://chromewebdata/")
    phone.goto("/")
    expect(page.get_by_role("heading", name="我的共建对子")).to_be_visible()
    page.get_by_role("link", name="＋ 登记活动").click()
    expect(page.get_by_role("heading", name="登记活动")).to_be_visible()
    page.get_by_label("活动类别").select_option(label="学习")
    page.get_by_label("活动主题").fill(TITLE)
    page.get_by_role("button", name="保存草稿").click()
    expect(outbox(page).get_by_role("listitem").filter(has_text=TITLE)).to_contain_text("待发送")
    client_id = page.locator('input[name="client_id"]').input_value()
    phone.shot("offline-form")
    assert not Activity.objects.exists()

    # The home page (kept too) shows it waiting.
    page.get_by_role("link", name="首页").click()
    expect(page.get_by_role("heading", name="我的共建对子")).to_be_visible()
    expect(outbox(page).get_by_role("listitem").filter(has_text=TITLE)).to_contain_text("待发送")
    phone.shot("offline-home")

    page.context.set_offline(False)
    expect(page.get_by_text("联网后已发送 1 条活动")).to_be_visible()
    activity = Activity.objects.get()
    assert str(activity.client_id) == client_id
    assert activity.status == Activity.Status.DRAFT
    assert activity.pairing == pairing


def test_a_photo_over_the_size_limit_is_refused_before_it_is_queued(
    phones, secretary, tmp_path, settings
):
    settings.COBUILD = {**settings.COBUILD, "EVIDENCE_MAX_BYTES": 20_000}
    user, pairing = secretary
    phone = phones("big-photo")
    page = phone.page
    phone.log_in(user)
    phone.goto(f"/activities/new/?pairing={pairing.pk}")
    page.get_by_label("活动类别").select_option(label="学习")
    page.get_by_label("活动主题").fill(TITLE)
    big = tmp_path / "大照片.png"
    Image.effect_noise((200, 200), 100).save(big)  # noise does not compress: about 40 KB
    assert big.stat().st_size > 20_000

    page.context.set_offline(True)
    page.locator("#id_evidence").set_input_files(big)
    page.get_by_role("button", name="提交给对方确认").click()

    field = page.locator(".field", has=page.locator("#id_evidence"))
    expect(field.locator(".field-error")).to_have_text(
        "文件“大照片.png”超过 20 KB，请换一张较小的照片。"
    )
    expect(outbox(page)).to_be_hidden()
    expect(page.get_by_label("活动主题")).to_have_value(TITLE)


def test_an_edit_keeps_what_is_typed_until_the_server_has_it(phones, secretary):
    user, pairing = secretary
    activity = make_activity(pairing, title="草稿里的活动", date=timezone.localdate())
    phone = phones("edit")
    page = phone.page
    phone.log_in(user)
    phone.goto(f"/activities/{activity.pk}/edit/")
    page.get_by_label("活动主题").fill("改过的主题")

    page.reload()
    expect(page.get_by_role("status").filter(has_text="未提交的内容")).to_be_visible()
    expect(page.get_by_label("活动主题")).to_have_value("改过的主题")
    page.get_by_role("button", name="保存草稿").click()
    expect(page.get_by_role("heading", name="改过的主题")).to_be_visible()

    phone.goto(f"/activities/{activity.pk}/edit/")
    expect(page.get_by_label("活动主题")).to_have_value("改过的主题")
    expect(page.get_by_role("status").filter(has_text="未提交的内容")).to_have_count(0)
    activity.refresh_from_db()
    assert activity.title == "改过的主题"

    # Typed, not saved, and meanwhile someone else changes it: their change is shown, not undone.
    page.get_by_label("地点").fill("村委会议室")
    Activity.objects.filter(pk=activity.pk).update(place="镇党建中心", version=F("version") + 1)
    page.reload()
    expect(page.get_by_role("status")).to_contain_text("已被他人修改")
    expect(page.get_by_label("地点")).to_have_value("镇党建中心")
    page.get_by_role("button", name="仍然恢复我上次填写的内容").click()
    expect(page.get_by_label("地点")).to_have_value("村委会议室")
    assert phone.errors == [], phone.errors


def test_a_queued_entry_the_server_refuses_is_kept_and_fixed_with_its_photo(
    phones, secretary, tmp_path
):
    user, pairing = secretary
    phone = phones("refused")
    page = phone.page
    phone.log_in(user)
    phone.goto(f"/activities/new/?pairing={pairing.pk}")
    page.get_by_label("活动类别").select_option(label="学习")
    page.get_by_label("活动主题").fill(TITLE)
    page.get_by_label("群众人数").fill("-3")  # the server refuses this
    page.locator("#id_evidence").set_input_files(make_photo(tmp_path))
    page.context.set_offline(True)
    page.get_by_role("button", name="提交给对方确认").click()
    expect(outbox(page).get_by_role("listitem").filter(has_text=TITLE)).to_contain_text("待发送")

    # Back online, the server refuses it: it stays on the phone, marked, with the reason.
    page.context.set_offline(False)
    item = outbox(page).get_by_role("listitem").filter(has_text=TITLE)
    expect(item).to_contain_text("✗ 需修改")
    expect(item).to_contain_text("参加群众人数：确保该值大于或等于0。")
    expect(page.get_by_role("status").filter(has_text="没有被接收")).to_be_visible()
    assert not Activity.objects.exists()
    phone.shot("refused")

    # Opened again: what was typed, the photo and the error next to the field.
    item.get_by_role("link", name="打开修改").click()
    expect(page.get_by_label("活动主题")).to_have_value(TITLE)
    expect(page.get_by_label("群众人数")).to_have_value("-3")
    field = page.locator(".field", has=page.get_by_label("群众人数"))
    expect(field.locator(".field-error")).to_have_text("确保该值大于或等于0。")
    assert page.locator("#id_evidence").evaluate("input => input.files[0].name") == "学习现场.jpg"
    page.get_by_label("群众人数").fill("8")
    page.get_by_role("button", name="提交给对方确认").click()

    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(outbox(page)).to_be_hidden()
    activity = Activity.objects.get()
    assert activity.villager_count == 8
    assert activity.evidence.count() == 1
    errors = [e for e in phone.errors if "status of 400" not in e]
    assert errors == [], errors
