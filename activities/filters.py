from django import forms
from django.db.models import Q

from activities.models import Activity, Regime
from pairings import access

OTHER = "other"
# Up to this many pairings the filter is a drop-down; a wider scope (a city, a province) types
# the pairing's code instead of loading thousands of options into every page.
PAIRING_OPTIONS = 200


class ActivityFilterForm(forms.Form):
    """The activity list's filters; every choice is limited to what the user may see."""

    q = forms.CharField(label="搜索", required=False, max_length=100)
    pairing = forms.ModelChoiceField(label="共建对子", queryset=None, required=False)
    regime = forms.ChoiceField(label="制度", required=False)
    category = forms.ChoiceField(
        label="类别", required=False, choices=[("", "全部类别"), *Activity.Category.choices]
    )
    status = forms.ChoiceField(
        label="状态", required=False, choices=[("", "全部状态"), *Activity.Status.choices]
    )
    date_from = forms.DateField(
        label="起始日期", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="截止日期", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        pairings = access.visible_pairings(user).order_by("code")
        if pairings[: PAIRING_OPTIONS + 1].count() > PAIRING_OPTIONS:
            self.fields["pairing"] = forms.ModelChoiceField(
                label="共建对子编号",
                queryset=pairings,
                required=False,
                to_field_name="code",
                widget=forms.TextInput(attrs={"placeholder": "对子编号"}),
                error_messages={"invalid_choice": "没有这个编号的共建对子，或不在您的查看范围内。"},
            )
        else:
            self.fields["pairing"].queryset = pairings
            self.fields["pairing"].empty_label = "全部对子"
        self.fields["regime"].choices = [
            ("", "全部制度"),
            *[(r.code, r.name) for r in Regime.objects.all()],
            (OTHER, "其他（不属于五项制度）"),
        ]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "截止日期不能早于起始日期。")
        return cleaned

    def apply(self, activities):
        if not self.is_bound:
            return activities
        if not self.is_valid():
            return activities.none()
        data = self.cleaned_data
        if data["q"]:
            activities = activities.filter(
                Q(title__icontains=data["q"])
                | Q(place__icontains=data["q"])
                | Q(summary__icontains=data["q"])
            )
        if data["pairing"]:
            activities = activities.filter(pairing=data["pairing"])
        if data["regime"] == OTHER:
            activities = activities.filter(regime__isnull=True)
        elif data["regime"]:
            activities = activities.filter(regime__code=data["regime"])
        for field in ("category", "status"):
            if data[field]:
                activities = activities.filter(**{field: data[field]})
        if data["date_from"]:
            activities = activities.filter(date__gte=data["date_from"])
        if data["date_to"]:
            activities = activities.filter(date__lte=data["date_to"])
        return activities
