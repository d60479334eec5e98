"""The project's select template (templates/django/forms/widgets/select.html) writes the plain
options out instead of including a template for each: the same markup as Django's own."""

from django import forms
from django.forms.renderers import DjangoTemplates
from django.test import SimpleTestCase


class Choices(forms.Form):
    plain = forms.ChoiceField(choices=[("", "全部"), ("a", "甲 & <乙>")], initial="a")
    grouped = forms.ChoiceField(choices=[("组", [("1", "一"), ("2", "二")]), ("3", "三")])
    many = forms.MultipleChoiceField(choices=[("x", "X"), ("y", "Y")], initial=["x", "y"])
    maybe = forms.NullBooleanField()


class SelectTemplateTests(SimpleTestCase):
    def test_selects_are_the_markup_django_s_own_templates_give(self):
        ours, django = Choices(), Choices(renderer=DjangoTemplates())
        assert str(ours["plain"]) != str(django["plain"])  # the project's template is in use
        for name in Choices.base_fields:
            self.assertHTMLEqual(str(ours[name]), str(django[name]))
        bound = Choices({"grouped": "2"})
        self.assertHTMLEqual(
            str(bound["grouped"]),
            str(Choices({"grouped": "2"}, renderer=DjangoTemplates())["grouped"]),
        )
        assert '<option value="a" selected>甲 &amp; &lt;乙&gt;</option>' in str(ours["plain"])
        assert '<option value="2" selected>二</option>' in str(bound["grouped"])
