import datetime
import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.utils import timezone

from activities import workflow
from activities.evidence import MultipleFileField, check_count, process_upload
from activities.models import (
    Activity,
    Commitment,
    Evidence,
    Metric,
    Need,
    PeriodUnlock,
    Regime,
)
from pairings import access
from pairings.models import HouseholdVisit, Member, Organization


def process_files(form, files, *, existing, field="evidence", kind=Evidence.Kind.PHOTO):
    """Check and clean uploaded evidence, putting every problem on the form's field."""
    try:
        check_count(existing, len(files))
    except ValidationError as error:
        form.add_error(field, error)
        return []
    processed = []
    for upload in files:
        try:
            processed.append(process_upload(upload, kind=kind))
        except ValidationError as error:
            form.add_error(field, error)
    return processed


Role = access.Role


def _plain(value):
    """A stored figure as people write it: 30, not 30.00."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else value.normalize()


class ParticipantsWidget(forms.CheckboxSelectMultiple):
    option_template_name = "activities/participant_option.html"


class ActivityForm(forms.ModelForm):
    """Log or edit an activity; choices are scoped to what the user may change."""

    participants = forms.ModelMultipleChoiceField(
        label="参加党员",
        queryset=Member.objects.none(),
        required=False,
        widget=ParticipantsWidget,
        help_text="勾选参加活动的双方党员，可输入姓名筛选。",
    )
    side = forms.ChoiceField(
        label="代哪一方登记",
        required=False,
        help_text="上级代办时，选择由哪一方支部登记；另一方负责确认。",
    )
    evidence = MultipleFileField(
        label="佐证材料",
        required=False,
        help_text="照片、签到表、会议记录（JPEG、PNG、WebP 图片或 PDF），选填。",
    )
    evidence_kind = forms.ChoiceField(
        label="材料类型", choices=Evidence.Kind.choices, initial=Evidence.Kind.PHOTO, required=False
    )
    client_id = forms.UUIDField(widget=forms.HiddenInput)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Activity
        fields = [
            "regime",
            "category",
            "date",
            "place",
            "title",
            "summary",
            "villager_count",
        ]
        widgets = {
            "date": forms.DateInput(attrs={"type": "date"}),
            "summary": forms.Textarea(attrs={"rows": 4}),
            "villager_count": forms.NumberInput(attrs={"min": 0, "inputmode": "numeric"}),
        }
        help_texts = {"villager_count": "参加活动的群众人数，没有填 0。"}

    def __init__(self, *args, user, pairing, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.scope = access.scope_of(user)
        self.pairing = self.instance.pairing = pairing
        self.fields["regime"].queryset = Regime.objects.filter(is_active=True)
        self.fields["regime"].empty_label = "其他（不属于五项制度）"
        self.fields["date"].widget.attrs["max"] = timezone.localdate().isoformat()
        if not self.is_bound and not self.instance.pk:
            self.initial.setdefault("date", timezone.localdate())
            self.initial.setdefault("client_id", uuid.uuid4())
        if self.instance.pk:
            self.initial["client_id"] = self.instance.client_id
            self.initial["version"] = self.instance.version
            self.initial.setdefault(
                "participants",
                list(self.instance.participations.values_list("member_id", flat=True)),
            )
        self.metrics = list(Metric.objects.filter(is_active=True, aggregation="flow"))
        existing = (
            {o.metric_id: o.value for o in self.instance.outcomes.all()} if self.instance.pk else {}
        )
        for metric in self.metrics:
            self.fields[f"metric_{metric.code}"] = forms.DecimalField(
                label=f"{metric.name}（{metric.unit}）",
                required=False,
                min_value=0,
                max_value=metric.max_value,
                decimal_places=2,
                max_digits=14,
                initial=_plain(existing.get(metric.pk)),
                widget=forms.NumberInput(attrs={"min": 0, "step": "any", "inputmode": "decimal"}),
            )
        self.fields["participants"].queryset = (
            Member.objects.alive()
            .filter(branch__in=[pairing.helper_id, pairing.helped_id])
            .select_related("branch")
            .order_by("branch__path", "name")
        )
        if self.instance.pk or self.scope.write_branches & pairing.branch_ids:
            del self.fields["side"]
        else:
            self.fields["side"].choices = [
                (pairing.helper_id, f"{pairing.helper}（帮扶方）"),
                (pairing.helped_id, f"{pairing.helped}（受帮扶方）"),
            ]
            self.fields["side"].required = True

    @property
    def metric_fields(self):
        return [self[f"metric_{m.code}"] for m in self.metrics]

    def participants_by_branch(self):
        """Participant choices grouped by branch, the user's own branch first."""
        groups = {}
        for widget in self["participants"]:
            member = widget.data["value"].instance
            groups.setdefault(member.branch, []).append(widget)
        own = self.scope.write_branches
        return sorted(groups.items(), key=lambda item: item[0].pk not in own)

    def clean_date(self):
        date = self.cleaned_data["date"]
        if date > timezone.localdate():
            raise ValidationError("活动日期不能晚于今天。")
        return date

    def clean(self):
        cleaned = super().clean()
        existing = self.instance.evidence.count() if self.instance.pk else 0
        self.processed = process_files(
            self,
            cleaned.get("evidence") or [],
            existing=existing,
            kind=cleaned.get("evidence_kind") or Evidence.Kind.PHOTO,
        )
        pairing = self.pairing
        date = cleaned.get("date")
        if date and not pairing.covers(date):
            end = pairing.end_date or "今"
            self.add_error(
                "date", f"活动日期必须在共建对子的起止日期（{pairing.start_date}至{end}）之内。"
            )
        elif (
            date
            and not access.oversees(self.user, pairing)
            and workflow.is_locked(pairing=pairing, day=date)
        ):
            self.add_error(
                "date",
                f"{date:%Y年%-m月}的活动已于{workflow.lock_date(date):%Y年%-m月%-d日}后锁定，"
                "不能再登记；如需补录请联系县委组织部解锁。",
            )
        return cleaned

    def outcomes(self):
        return {m: self.cleaned_data.get(f"metric_{m.code}") for m in self.metrics}

    def logged_by_branch_id(self):
        """The side this activity is logged for: the secretary's own branch, or the chosen side."""
        if "side" in self.fields:
            return int(self.cleaned_data["side"])
        own = self.scope.write_branches & self.pairing.branch_ids
        return min(own)

    def on_behalf_org_id(self):
        """The supervising organization logging on a branch's behalf (上级代办), if any."""
        if "side" not in self.fields:
            return None
        return access.supervising_org_id(self.user, self.pairing)


class ReturnForm(forms.Form):
    reason = forms.CharField(
        label="退回原因",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="说明需要对方修改什么。",
    )


class NeedForm(forms.ModelForm):
    class Meta:
        model = Need
        fields = ["title", "description", "raised_on"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "raised_on": forms.DateInput(attrs={"type": "date"}),
        }
        help_texts = {"title": "如：灌溉水渠年久失修、村道需要硬化、希望开展甘蔗种植培训。"}

    def clean_raised_on(self):
        day = self.cleaned_data["raised_on"]
        if day > timezone.localdate():
            raise ValidationError("提出日期不能晚于今天。")
        return day


class CommitmentForm(forms.ModelForm):
    class Meta:
        model = Commitment
        fields = ["need", "title", "amount", "due_date"]
        widgets = {
            "due_date": forms.DateInput(attrs={"type": "date"}),
            "amount": forms.NumberInput(attrs={"min": 0, "step": "any", "inputmode": "decimal"}),
        }
        help_texts = {
            "need": "这项实事解决的是哪条需求（可不选）。",
            "amount": "投入的资金或物资折价，没有可不填。",
        }

    def __init__(self, *args, pairing, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.pairing = pairing
        self.fields["need"].queryset = Need.objects.alive().filter(
            pairing=pairing, status__in=[Need.Status.OPEN, Need.Status.COMMITTED]
        )
        self.fields["need"].empty_label = "（不对应具体需求）"
        self.fields["amount"].min_value = 0
        self.fields["amount"].validators.append(MinValueValidator(0))


class ProgressForm(forms.ModelForm):
    evidence = MultipleFileField(
        label="佐证材料", required=False, help_text="照片、验收单等，选填。"
    )

    class Meta:
        model = Commitment
        fields = ["status", "progress", "done_on"]
        widgets = {
            "progress": forms.Textarea(attrs={"rows": 3}),
            "done_on": forms.DateInput(attrs={"type": "date"}),
        }
        help_texts = {"done_on": "办结时填写。"}

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("status") == Commitment.Status.DONE and not cleaned.get("done_on"):
            self.add_error("done_on", "办结时请填写办结日期。")
        done_on = cleaned.get("done_on")
        if done_on and done_on > timezone.localdate():
            self.add_error("done_on", "办结日期不能晚于今天。")
        existing = self.instance.evidence.count() if self.instance.pk else 0
        self.processed = process_files(self, cleaned.get("evidence") or [], existing=existing)
        return cleaned


class UnlockForm(forms.ModelForm):
    class Meta:
        model = PeriodUnlock
        fields = ["branch", "period", "reason", "until"]
        widgets = {
            "reason": forms.Textarea(attrs={"rows": 2}),
            "until": forms.DateInput(attrs={"type": "date"}),
        }
        help_texts = {
            "period": "要解锁的期间，如 2025-03（月）、2025-Q1（季度）、2025（全年）。",
            "reason": "如：补录漏报的联席会记录。",
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = access.writable(
            user, Organization.objects.branches()
        ).order_by("path")
        self.initial.setdefault("until", timezone.localdate() + datetime.timedelta(days=14))

    def clean_until(self):
        until = self.cleaned_data["until"]
        if until < timezone.localdate():
            raise ValidationError("解锁截止日期不能早于今天。")
        return until


class VisitForm(forms.ModelForm):
    class Meta:
        model = HouseholdVisit
        fields = ["date", "summary", "help_given"]
        widgets = {
            "date": forms.DateInput(attrs={"type": "date"}),
            "summary": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, help_pairing, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.help_pairing = help_pairing
        self.initial.setdefault("date", timezone.localdate())

    def clean_date(self):
        day = self.cleaned_data["date"]
        if day > timezone.localdate():
            raise ValidationError("走访日期不能晚于今天。")
        if not self.instance.help_pairing.covers(day):
            raise ValidationError("走访日期必须在一帮一结对的起止日期之内。")
        return day
