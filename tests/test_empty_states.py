"""An empty list says what is missing and, for whoever can add it, links to where it is added."""

import re

import pytest
from django.urls import reverse

from pairings.models import Assignment
from tests.factories import make_branch, make_county, make_org, make_user

Role = Assignment.Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def county():
    return make_county(name="青山县委")


@pytest.fixture
def staff(client, county):
    user = make_user(role=Role.COUNTY_STAFF, org=county)
    client.force_login(user)
    return user


def empty_text(response):
    """The empty-state element's text and the links inside it."""
    assert response.status_code == 200
    html = response.content.decode()
    match = re.search(r'class="empty"[^>]*>(.*?)</(?:li|td|p)>', html, re.S)
    assert match, "no empty state on the page"
    inner = match.group(1)
    return re.sub(r"<[^>]+>", "", inner), re.findall(r'href="([^"]+)"', inner)


@pytest.mark.parametrize(
    ("url", "says", "link"),
    [
        ("activities:list", "还没有活动记录", "activities:new"),
        ("activities:pairings", "还没有共建对子", "import_home"),
        ("activities:need_list", "还没有需求与困难", "activities:pairings"),
        ("activities:rectification_list", "还没有整改事项", "activities:pairings"),
        ("activities:trash", "回收站是空的", "activities:list"),
        ("pairings:members", "还没有党员", "import_home"),
        ("report_list", "还没有情况汇报", "report_new"),
        ("compliance", "没有共建对子", "import_home"),
        ("compliance_matrix", "没有共建对子", "import_home"),
        ("notifications", "暂时没有提醒", "home"),
    ],
)
def test_county_staff_see_what_is_missing_and_where_to_add_it(client, staff, url, says, link):
    text, links = empty_text(client.get(reverse(url)))
    assert says in text
    assert reverse(link) in links


def test_a_filtered_empty_roster_asks_to_change_the_filters(client, county, staff):
    response = client.get(reverse("pairings:organizations"), {"q": "不存在的支部"})
    text, _ = empty_text(response)
    assert "没有符合条件的党组织" in text


def test_others_are_told_who_adds_it_and_get_no_link_they_cannot_use(client, county):
    township = make_org(county, name="石门镇党委", kind="committee", sector="rural")
    make_branch(township, sector="rural", name="石门村党支部")
    supervisor = make_user(role=Role.SUPERVISOR, org=township)
    client.force_login(supervisor)

    text, links = empty_text(client.get(reverse("activities:pairings")))
    assert "共建对子由县委组织部设立" in text
    assert reverse("import_home") not in links

    text, links = empty_text(client.get(reverse("pairings:members")))
    assert "党员名册由县委组织部导入" in text
    assert links == []

    # The import page itself is county staff's: others are refused it.
    assert client.get(reverse("import_home")).status_code in (403, 404)


def test_a_filtered_empty_list_asks_to_change_the_filters(client, staff):
    text, _ = empty_text(client.get(reverse("activities:list"), {"q": "没有这样的活动"}))
    assert "没有符合条件的活动，请调整筛选条件" in text


# -- error pages ------------------------------------------------------------------------------


def test_a_missing_page_says_so_in_chinese_and_leads_home(client, staff):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "页面不存在" in html and "不在您的查看范围内" in html
    assert 'class="button" href="/"' in html


def test_a_refused_action_says_why_and_who_grants_it(client, county):
    from tests.factories import make_pairing

    organ = make_branch(county, name="县财政局机关党支部")
    village = make_branch(county, sector="rural", name="石门村党支部")
    pairing = make_pairing(organ, village)
    client.force_login(make_user(role=Role.SECRETARY, org=village))
    response = client.get(reverse("activities:commitment_new", args=[pairing.pk]))
    assert response.status_code == 403
    html = response.content.decode()
    assert "实事承诺由帮扶方支部登记。" in html and "请联系安全管理员" in html
    assert 'class="button" href="/"' in html


@pytest.mark.parametrize(
    ("template", "says"),
    [("400.html", "请求有误"), ("500.html", "系统出错了")],
)
def test_the_standalone_error_pages_say_what_happened_and_lead_home(template, says):
    """400 and 500 render without the site's context (the request may be what failed)."""
    from django.template.loader import render_to_string

    html = render_to_string(template)
    assert says in html and 'lang="zh-Hans"' in html
    assert 'href="/"' in html


# -- help text where a user would hesitate --------------------------------------------------------


def test_the_import_and_report_forms_explain_their_fields(client, staff):
    html = client.get(reverse("import_home")).content.decode()
    assert "不接受 .xls 和 .csv" in html and "不超过 20MB" in html
    assert 'aria-describedby="id_file_helptext"' in html

    html = client.get(reverse("report_new")).content.decode()
    assert "半年汇报到6月30日，全年汇报到12月31日" in html


def test_the_need_and_commitment_forms_explain_their_fields(client, county):
    from tests.factories import make_pairing

    organ = make_branch(county, name="县财政局机关党支部")
    village = make_branch(county, sector="rural", name="石门村党支部")
    pairing = make_pairing(organ, village)
    client.force_login(make_user(role=Role.SECRETARY, org=organ))

    html = client.get(reverse("activities:need_new", args=[pairing.pk])).content.decode()
    assert "不能晚于今天" in html
    html = client.get(reverse("activities:commitment_new", args=[pairing.pk])).content.decode()
    assert "单位元，只填数字" in html and "标为“已逾期”" in html
