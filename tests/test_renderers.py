"""The form renderer writes a plain <select> in Python: the same HTML as Django's templates."""

import re

from django import forms
from django.forms.renderers import DjangoTemplates
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


class OwnOptionSelect(forms.Select):
    option_template_name = "django/forms/widgets/input_option.html"


def written(form, name):
    return re.sub(r">\s+<", "><", str(form[name])).strip()


def test_a_select_reads_as_django_s_templates_write_it():
    for data in [None, {"plain": 'x<"y">', "grouped": "2", "many": ["1", "2"], "yes_no": "x"}]:
        django_s = Choices(data, renderer=DjangoTemplates())
        ours = Choices(data, renderer=Renderer())
        for name in ["plain", "grouped", "many", "yes_no"]:
            assert written(ours, name) == written(django_s, name)
    html = str(Choices({"plain": 'x<"y">'}, renderer=Renderer())["plain"])
    assert '<option value="x&lt;&quot;y&quot;&gt;" selected>甲 &amp; 乙</option>' in html


def test_options_with_their_own_template_still_use_it():
    class Form(forms.Form):
        pick = forms.ChoiceField(choices=[("1", "一")], widget=OwnOptionSelect)

    assert written(Form(renderer=Renderer()), "pick") == written(
        Form(renderer=DjangoTemplates()), "pick"
    )
    assert "<input" in str(Form(renderer=Renderer())["pick"])
