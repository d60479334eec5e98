"""Accessibility of the secretary's pages: every control has a name a screen reader reads, text
meets WCAG AA contrast, the compliance matrix never relies on colour alone, and an activity can
be logged with the keyboard alone, the focus moving down the form in the order it is seen."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from activities import compliance
from activities.models import Activity
from pairings.models import Assignment
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

# Every visible or hidden form control without an accessible name: label (for= or wrapping),
# aria-label, aria-labelledby or title.
UNNAMED = """() => [...document.querySelectorAll("input, select, textarea")]
  .filter(el => el.type !== "hidden")
  .filter(el => {
    const byLabel = [...(el.labels || [])].some(l => l.textContent.trim());
    const byAria = (el.getAttribute("aria-label") || "").trim();
    const byRef = (el.getAttribute("aria-labelledby") || "").split(/\\s+/).filter(Boolean)
      .some(id => (document.getElementById(id)?.textContent || "").trim());
    return !(byLabel || byAria || byRef || (el.title || "").trim());
  })
  .map(el => el.outerHTML.slice(0, 120))"""

# Text whose contrast with the background behind it is below WCAG AA: 4.5:1, or 3:1 for large
# text (24px, or 18.66px bold). The background is the first opaque one up the tree.
LOW_CONTRAST = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || c[3] === 1) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || el.closest(".visually-hidden, [hidden]")) continue;
    const fg = rgb(style.color).slice(0, 3);
    const [a, b] = [lum(fg), lum(background(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) {
      low.push(`${ratio.toFixed(2)}: ${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 30)}"`);
    }
  }
  return low;
}"""

# Where the focus is: its name (label text or its own text), its field name, and its position.
FOCUSED = """() => {
  const el = document.activeElement;
  const label = el.labels && el.labels[0] ? el.labels[0].textContent : el.textContent;
  const box = el.getBoundingClientRect();
  return {
    tag: el.tagName.toLowerCase(), name: el.name || "", text: (label || "").trim(),
    top: box.top + window.scrollY, outline: getComputedStyle(el).outlineStyle,
    inForm: !!el.closest("form.form"),
  };
}"""


@pytest.fixture
def county(migration_rows):
    county = make_county(name="测试县委")
    township = make_org(county, name="石门镇党委", kind="committee", sector="rural")
    organ = make_branch(county, name="县财政局机关党支部")
    village = make_branch(township, sector="rural", name="石门村党支部")
    pairing = make_pairing(organ, village)
    make_member(organ, name="王芳")
    make_member(village, name="李强")
    secretary = make_user("caizheng", role=Assignment.Role.SECRETARY, org=organ)
    # The partner's activity waits for this secretary's confirmation (a return form on its page).
    waiting = make_activity(
        pairing,
        logged_by_branch=village,
        title="村里的集体学习",
        date=timezone.localdate(),
        status="submitted",
        submitted_at=timezone.now(),
        on_time=True,
    )
    return secretary, pairing, waiting


def test_the_secretarys_pages_name_every_control_and_meet_contrast(phones, county):
    secretary, pairing, waiting = county
    phone = phones("a11y")
    page = phone.page
    phone.log_in(secretary)
    pages = [
        "/",
        "/activities/",
        f"/activities/new/?pairing={pairing.pk}",
        f"/activities/{waiting.pk}/",
        "/activities/pairings/",
        f"/activities/pairings/{pairing.pk}/",
        "/activities/rectifications/",
        "/activities/help/",
        "/compliance/",
        "/notifications/",
    ]
    for path in pages:
        phone.goto(path)
        page.wait_for_load_state("networkidle")
        # Open every disclosure (filters, the return form) so the controls inside count too.
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        assert page.evaluate(UNNAMED) == [], path
        assert page.evaluate(LOW_CONTRAST) == [], path
    assert phone.errors == [], phone.errors


def test_the_compliance_matrix_shows_a_symbol_besides_the_colour(phones, county):
    secretary, _pairing, _waiting = county
    phone = phones("matrix")
    page = phone.page
    phone.log_in(secretary)
    phone.goto("/compliance/")
    page.locator("a[href*='/compliance/matrix/']").first.click()
    expect(page.get_by_role("list", name="图例")).to_be_visible()
    legend = page.get_by_role("list", name="图例").get_by_role("listitem")
    State = compliance.State
    symbols = {State.LABELS[state]: symbol for state, symbol in State.SYMBOLS.items()}
    assert legend.all_inner_texts() == [f"{symbol}{label}" for label, symbol in symbols.items()]
    # Each cell says its state in a distinct symbol (and in words to screen readers), so no
    # state is told by its colour alone.
    cells = page.locator("table.matrix td.cell")
    assert cells.count() > 0
    for cell in cells.all():
        symbol = cell.locator("span[aria-hidden='true']").inner_text().strip()
        spoken = cell.locator(".visually-hidden").inner_text().strip()
        assert symbols[spoken] == symbol, cell.inner_html()
    assert page.evaluate(LOW_CONTRAST) == []


def test_an_activity_is_logged_with_the_keyboard_alone(phones, county):
    secretary, pairing, _waiting = county
    phone = phones("keyboard")
    page = phone.page
    phone.log_in(secretary)
    phone.goto(f"/activities/new/?pairing={pairing.pk}")
    page.wait_for_load_state("networkidle")

    # The first Tab stop is the skip link; following it lands in the page's content.
    page.keyboard.press("Tab")
    first = page.evaluate(FOCUSED)
    assert first["text"] == "跳到正文"
    assert first["outline"] != "none"
    page.keyboard.press("Enter")

    # Tab walks the form top to bottom, every stop visibly focused, to the submit buttons.
    stops = []
    for _ in range(60):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUSED)
        if not focus["inForm"]:
            continue
        if stops and (focus["name"], focus["text"]) == (stops[-1]["name"], stops[-1]["text"]):
            # Inside one control: the date field's year, month, day and its calendar button
            # (the browser's own, which draws its own focus ring).
            continue
        assert focus["outline"] != "none", focus
        stops.append(focus)
        if focus["text"] == "保存草稿":
            break
    names = [s["name"] for s in stops]
    assert names[:6] == ["regime", "category", "date", "title", "place", "summary"]
    assert names.index("participants") < names.index("villager_count")
    assert names.index("villager_count") < names.index("evidence") < names.index("submit")
    assert [s["text"] for s in stops[-2:]] == ["提交给对方确认", "保存草稿"]
    tops = [s["top"] for s in stops]
    assert tops == sorted(tops), "the focus jumps back up the page"

    # Fill it in with keys only, from the top of the form down.
    def tab_to(name, text=None):
        for _ in range(80):
            focus = page.evaluate(FOCUSED)
            if focus["name"] == name and text in (None, focus["text"]):
                return
            page.keyboard.press("Tab")
        raise AssertionError(f"Tab never reached {name} {text or ''}")

    page.keyboard.press("Shift+Tab")
    assert page.evaluate(FOCUSED)["text"] == "提交给对方确认"
    for _ in range(60):
        page.keyboard.press("Shift+Tab")
        if page.evaluate(FOCUSED)["name"] == "regime":
            break
    page.keyboard.press("ArrowDown")  # 集体活动日制度, the first regime
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")  # 学习
    tab_to("title")  # the date keeps today
    page.keyboard.type("键盘登记的集体学习")
    tab_to("place")
    page.keyboard.type("石门村党员活动室")
    tab_to("participants", "王芳")
    page.keyboard.press("Space")
    tab_to("submit")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="键盘登记的集体学习")).to_be_visible()
    activity = Activity.objects.get(title="键盘登记的集体学习")
    assert activity.regime.code == "activity_day"
    assert activity.category == "study"
    assert activity.place == "石门村党员活动室"
    assert [p.member.name for p in activity.participations.all()] == ["王芳"]
    assert activity.status == Activity.Status.SUBMITTED
    assert phone.errors == [], phone.errors
