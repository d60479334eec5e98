"""The form renderer writes a plain <select> in Python: the markup Django's templates write."""

import datetime

from django import forms
from django.forms.renderers import DjangoTemplates
from django.test.html import parse_html
from django.utils.safestring import mark_safe

from cobuild.renderers import Renderer


class Choices(forms.Form):
    plain = forms.ChoiceField(
        label="范围", required=False, choices=[("", "全部"), ('x<"y">', "甲 & 乙"), ("2", "丙")]
    )
    grouped = forms.ChoiceField(
        label="制度", choices=[("季度", [("1", "联席会"), ("2", "<交叉学习>")]), ("3", "其他")]
    )
    many = forms.MultipleChoiceField(
        label="多选",
        choices=[(1, "一"), (2, mark_safe("<b>二</b>"))],
        widget=forms.SelectMultiple(attrs={"disabled": True, "hidden": False, "data-x": 'a"b'}),
    )
    yes_no = forms.NullBooleanField(label="是否", help_text="说明")
    # Labels the templates localize: a date, a number, a date as a group's name.
    day = forms.ChoiceField(
        label="日期",
        choices=[
            ("a", datetime.date(2026, 6, 1)),
            (datetime.date(2026, 1, 1), [("b", 12345.5), ("c", 7)]),
        ],
    )


class OwnOptionSelect(forms.Select):
    option_template_name = "django/forms/widgets/input_option.html"


def markup(form, name):
    return parse_html(str(form[name]))


def test_a_select_reads_as_django_s_templates_write_it():
    chosen = {"plain": 'x<"y">', "grouped": "2", "many": ["1", "2"], "yes_no": "x", "day": "b"}
    for data in [None, chosen]:
        django_s = Choices(data, renderer=DjangoTemplates())
        ours = Choices(data, renderer=Renderer())
        for name in Choices.base_fields:
            assert markup(ours, name) == markup(django_s, name), name
    html = str(Choices(chosen, renderer=Renderer())["plain"])
    assert '<option value="x&lt;&quot;y&quot;&gt;" selected>甲 &amp; 乙</option>' in html
    assert "2026年6月1日" in str(Choices(renderer=Renderer())["day"])


def test_options_with_their_own_template_still_use_it():
    class Form(forms.Form):
        pick = forms.ChoiceField(choices=[("1", "一")], widget=OwnOptionSelect)

    ours, django_s = Form(renderer=Renderer()), Form(renderer=DjangoTemplates())
    assert markup(ours, "pick") == markup(django_s, "pick")
    assert "<input" in str(ours["pick"])


def test_the_project_renders_its_selects_in_python():
    # Django's own templates put a line break after each option; this renderer does not.
    form = Choices()
    assert str(form["plain"]) != str(Choices(renderer=DjangoTemplates())["plain"])
    assert markup(form, "plain") == markup(Choices(renderer=DjangoTemplates()), "plain")
