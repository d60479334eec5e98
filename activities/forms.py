import datetime
import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone

from activities import workflow
from activities.evidence import MultipleFileField, check_count, process_upload
from activities.models import (
    Activity,
    Commitment,
    Evidence,
    Inspection,
    InspectionItem,
    Metric,
    Need,
    PeriodUnlock,
    Rectification,
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


def date_problem(user, pairing, day, *, label="活动日期", subject="的活动", action="登记"):
    """Why a new record dated `day` cannot be made for this pairing by this user, or None.

    The day must lie within the pairing's dates; a secretary cannot add to a locked period.
    """
    if not pairing.covers(day):
        end = pairing.end_date or "今"
        return f"{label}必须在共建对子的起止日期（{pairing.start_date}至{end}）之内。"
    if not access.oversees(user, pairing) and workflow.is_locked(pairing=pairing, day=day):
        locked = workflow.lock_date(day)
        return (
            f"{day:%Y年%-m月}{subject}已于{locked:%Y年%-m月%-d日}后锁定，不能再{action}；"
            "如需补录请联系县委组织部解锁。"
        )
    return None


STALE_PAGE = "页面数据不完整或已被改动，请刷新页面后重新填写。"
VILLAGERS_MAX = 10_000  # the same sanity bound as a record's 人次 figures
UNLOCK_MAX_DAYS = 90  # an unlock reopens a period for a while, never for good


def not_before_pairing(day, pairing, label):
    """`day`, unless it lies before the pairing began (a year-0001 date, say)."""
    if day and day < pairing.start_date:
        raise ValidationError(
            f"{label}不能早于共建对子的开始日期（{pairing.start_date:%Y年%-m月%-d日}）。"
        )
    return day


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
    # Written by the page itself: a bad value means a tampered or broken page, not a typo.
    client_id = forms.UUIDField(widget=forms.HiddenInput, error_messages={"invalid": STALE_PAGE})
    version = forms.IntegerField(
        widget=forms.HiddenInput, required=False, error_messages={"invalid": STALE_PAGE}
    )

    summary = forms.CharField(
        label="活动内容",
        required=False,
        max_length=5000,  # a page and more of text; the model's TextField has no limit
        widget=forms.Textarea(attrs={"rows": 4}),
    )

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
        self.fields["villager_count"].widget.attrs["max"] = VILLAGERS_MAX
        self.fields["villager_count"].validators.append(
            MaxValueValidator(VILLAGERS_MAX, f"参加群众人数不能超过 {VILLAGERS_MAX} 人，请核对。")
        )
        if not self.is_bound and not self.instance.pk:
            self.initial.setdefault("date", timezone.localdate())
            self.initial.setdefault("client_id", uuid.uuid4())
        if self.instance.pk:
            if Inspection.objects.filter(activity=self.instance).exists():
                # An inspection's activity keeps the regime and date the inspection records.
                for name in ("regime", "category", "date"):
                    self.fields[name].disabled = True
                    self.fields[name].help_text = "这是党建互检的活动记录，制度、类别和日期随互检。"
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
        date = cleaned.get("date")
        problem = date and date_problem(self.user, self.pairing, date)
        if problem:
            self.add_error("date", problem)
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
        help_texts = {
            "title": "如：灌溉水渠年久失修、村道需要硬化、希望开展甘蔗种植培训。",
            "description": "涉及多少户、大概需要多少资金或人力、希望什么时候解决，选填。",
            "raised_on": "村里（或支部）提出这项需求的日期，不能晚于今天。",
        }

    def __init__(self, *args, pairing, **kwargs):
        super().__init__(*args, **kwargs)
        self.pairing = pairing

    def clean_raised_on(self):
        day = self.cleaned_data["raised_on"]
        if day > timezone.localdate():
            raise ValidationError("提出日期不能晚于今天。")
        return not_before_pairing(day, self.pairing, "提出日期")


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
            "title": "写清楚办什么、办多少，如：硬化进村道路3公里、捐赠办公电脑2台。",
            "amount": "投入的资金或物资折价，单位元，只填数字；没有可不填。",
            "due_date": "承诺在这天之前办结；过了这天还没办结的，会提醒并标为“已逾期”。",
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

    def clean_due_date(self):
        return not_before_pairing(self.cleaned_data["due_date"], self.instance.pairing, "完成时限")


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
        help_texts = {
            "progress": "目前做到哪一步，如：资金已到位，管道铺设完成一半。",
            "done_on": "办结时填写，不能晚于今天。",
        }

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("status") == Commitment.Status.DONE and not cleaned.get("done_on"):
            self.add_error("done_on", "办结时请填写办结日期。")
        done_on = cleaned.get("done_on")
        if done_on and done_on > timezone.localdate():
            self.add_error("done_on", "办结日期不能晚于今天。")
        elif done_on:
            try:
                not_before_pairing(done_on, self.instance.pairing, "办结日期")
            except ValidationError as error:
                self.add_error("done_on", error)
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
        today = timezone.localdate()
        if until < today:
            raise ValidationError("解锁截止日期不能早于今天。")
        latest = today + datetime.timedelta(days=UNLOCK_MAX_DAYS)
        if until > latest:
            raise ValidationError(
                f"解锁最长{UNLOCK_MAX_DAYS}天：截止日期不能晚于{latest:%Y年%-m月%-d日}。"
            )
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


# ---------------------------------------------------------------------------------------------
# The annual mutual inspection (年度党建互检) and its rectification items (整改事项).


class RectificationRowForm(forms.ModelForm):
    """One rectification item opened with an inspection; a blank row is ignored."""

    class Meta:
        model = Rectification
        fields = ["description", "owner", "due_date"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "due_date": forms.DateInput(attrs={"type": "date"}),
        }
        help_texts = {"owner": "被检查方支部的党员。", "due_date": "应在何时前整改到位。"}

    def __init__(self, *args, members, show_branch, **kwargs):
        super().__init__(*args, **kwargs)
        owner = self.fields["owner"]
        owner.queryset = members
        owner.empty_label = "（暂不指定）"
        if show_branch:
            owner.label_from_instance = lambda member: f"{member.name}（{member.branch}）"


class BaseRectificationFormSet(forms.BaseFormSet):
    def initial_form_count(self):
        # Every row is optional, rows carried over when more were added too: blank rows are
        # ignored, filled ones are checked.
        return 0


RectificationFormSet = forms.formset_factory(
    RectificationRowForm, formset=BaseRectificationFormSet, extra=3, max_num=50, absolute_max=50
)
MORE_ROWS = 3


class InspectionForm(forms.Form):
    """Record one side's annual inspection of the other, with the rectification items it opens.

    A secretary inspects for their own branch; county staff or a supervisor over the pairing
    choose the inspecting side (上级代办). The inspected side is the pairing's other branch.
    """

    side = forms.ChoiceField(
        label="检查方",
        widget=forms.RadioSelect,
        help_text="上级代办时，选择由哪一方检查哪一方。",
    )
    year = forms.TypedChoiceField(
        label="年度", coerce=int, help_text="这次互检考核的是哪一年的共建工作。"
    )
    date = forms.DateField(label="检查日期", widget=forms.DateInput(attrs={"type": "date"}))
    findings = forms.CharField(
        label="检查发现",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="检查中发现的问题和好的做法。",
    )
    satisfaction = forms.ChoiceField(
        label="群众满意度",
        required=False,
        choices=[("", "暂不评价"), *Inspection.Satisfaction.choices],
        widget=forms.RadioSelect,
        help_text="被检查方所在村群众对共建工作的评价；没有征求群众意见的选“暂不评价”。",
    )

    def __init__(self, data=None, *, user, pairing, rows=None, extra_rows=None, **kwargs):
        super().__init__(data, **kwargs)
        self.user = user
        self.pairing = pairing
        self.branches = {pairing.helper_id: pairing.helper, pairing.helped_id: pairing.helped}
        self.on_behalf_org_id = None
        own = sorted(access.scope_of(user).write_branches & pairing.branch_ids)
        if own:
            self.sides = own
        elif access.oversees(user, pairing):
            self.sides = [pairing.helper_id, pairing.helped_id]
            self.on_behalf_org_id = access.supervising_org_id(user, pairing)
        else:
            self.sides = []
        if len(self.sides) == 1:
            del self.fields["side"]
        else:
            self.fields["side"].choices = [
                (pk, f"{self.branches[pk]}检查{self._other(pk)}") for pk in self.sides
            ]
        today = timezone.localdate()
        first = max(pairing.start_date.year, 2000)
        self.fields["year"].choices = [(y, f"{y}年") for y in range(today.year, first - 1, -1)]
        self.fields["date"].widget.attrs["max"] = today.isoformat()
        if not self.is_bound:
            self.initial.setdefault("year", today.year)
            self.initial.setdefault("date", today)
            self.initial.setdefault("satisfaction", "")
        self.items = list(InspectionItem.objects.filter(is_active=True))
        for item in self.items:
            self.fields[f"score_{item.pk}"] = self._score_field(item)
        members = (
            Member.objects.alive()
            .filter(branch__in=[self._other(pk).pk for pk in self.sides])
            .select_related("branch")
            .order_by("branch__path", "name")
        )
        self.rectifications = RectificationFormSet(
            data,
            initial=rows,
            prefix="rect",
            form_kwargs={"members": members, "show_branch": len(self.sides) > 1},
        )
        if extra_rows:
            self.rectifications.extra = extra_rows

    @staticmethod
    def _score_field(item):
        most = f"得分不能超过满分{_plain(item.max_score)}分。"
        return forms.DecimalField(
            label=f"{item.name}（满分{_plain(item.max_score)}分）",
            help_text=item.description,
            min_value=0,
            max_value=item.max_score,
            decimal_places=1,
            error_messages={
                "required": f"请为“{item.name}”打分。",
                "invalid": "请填写分数，如 18 或 17.5。",
                "min_value": "得分不能为负数。",
                "max_value": most,
                "max_decimal_places": "得分最多保留一位小数。",
            },
            widget=forms.NumberInput(
                attrs={"min": 0, "max": item.max_score, "step": "0.1", "inputmode": "decimal"}
            ),
        )

    @classmethod
    def with_more_rows(cls, data, **kwargs):
        """The form again, unbound, keeping what was typed, with more blank rectification rows."""
        typed = cls(data, **kwargs)
        rows = [
            {name: row[name].value() for name in RectificationRowForm.Meta.fields}
            for row in typed.rectifications.forms
            if row.has_changed()
        ]
        return cls(
            initial={name: data[name] for name in typed.fields if name in data},
            rows=rows,
            extra_rows=len(rows) + MORE_ROWS,
            **kwargs,
        )

    def _other(self, branch_id):
        return self.branches[(self.pairing.branch_ids - {branch_id}).pop()]

    @property
    def fixed_sides(self):
        """(inspector, inspected) when the user's own branch inspects; None when chosen."""
        if len(self.sides) != 1:
            return None
        return self.branches[self.sides[0]], self._other(self.sides[0])

    @property
    def score_fields(self):
        return [self[f"score_{item.pk}"] for item in self.items]

    @property
    def has_errors(self):
        return bool(self.errors) or bool(self.rectifications.total_error_count())

    def inspector_id(self):
        if "side" in self.fields:
            return int(self.cleaned_data["side"])
        return self.sides[0]

    def clean_date(self):
        date = self.cleaned_data["date"]
        if date > timezone.localdate():
            raise ValidationError("检查日期不能晚于今天。")
        return date

    def clean(self):
        cleaned = super().clean()
        if not self.sides:
            raise ValidationError("只有共建对子双方的支部或指导该对子的上级党组织可以记录互检。")
        pairing, date = self.pairing, cleaned.get("date")
        problem = date and date_problem(
            self.user, pairing, date, label="检查日期", subject="", action="记录互检"
        )
        if problem:
            self.add_error("date", problem)
        if cleaned.get("year") is None:
            return cleaned
        inspector = self.inspector_id() if "side" not in self.errors else None
        inspection = Inspection(
            pairing=pairing,
            inspector_id=inspector,
            inspected_id=self._other(inspector).pk if inspector else None,
            year=cleaned["year"],
            date=date if "date" not in self.errors else None,
        )
        try:
            inspection.clean()  # the year holds the date; one inspection a year by each side
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                if field == "inspector":
                    field = "side" if "side" in self.fields else None
                    messages = [f"{self.branches[inspector]}：{m}" for m in messages]
                self.add_error(field if field in self.fields else None, messages)
        self._check_rows(inspection)
        return cleaned

    def _check_rows(self, inspection):
        """Each item's owner belongs to the inspected side, and it falls due after the visit."""
        self.rectifications.full_clean()
        for row in self.rectifications.forms:
            data = getattr(row, "cleaned_data", None) or {}
            owner, due = data.get("owner"), data.get("due_date")
            if owner is not None and owner.branch_id != inspection.inspected_id:
                row.add_error("owner", "责任人必须是被检查方支部的党员。")
            if due and inspection.date and due < inspection.date:
                row.add_error("due_date", "整改期限不能早于检查日期。")

    def is_valid(self):
        form_valid = super().is_valid()
        rows_valid = self.rectifications.is_valid()
        return form_valid and rows_valid

    def record(self):
        """The keyword arguments for workflow.record_inspection that come from this form."""
        data = self.cleaned_data
        inspector = self.inspector_id()
        return {
            "pairing": self.pairing,
            "inspector": self.branches[inspector],
            "inspected": self._other(inspector),
            "year": data["year"],
            "date": data["date"],
            "scores": {item: data[f"score_{item.pk}"] for item in self.items},
            "findings": data["findings"],
            "satisfaction": data["satisfaction"],
            "rectifications": [
                {key: row.cleaned_data[key] for key in RectificationRowForm.Meta.fields}
                for row in self.rectifications.forms
                if row.has_changed()
            ],
            "on_behalf_by_id": self.on_behalf_org_id,
        }


# What each rectification step asks for: (date label, note label, note required).
STEP_FIELDS = {
    "start": (None, "说明", False),
    "done": ("完成日期", "整改情况", False),
    "verify": ("验收日期", "验收意见", False),
    "reopen": (None, "退回原因", True),
}


class RectificationStepForm(forms.Form):
    """One step of a rectification item: start, done (dated, with evidence), verify, send back.

    Which side may take which step is the view's question; whether the item's status allows the
    step is asked here (and again by the workflow, under a lock).
    """

    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(max_length=80, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    evidence = MultipleFileField(
        label="佐证材料",
        required=False,
        help_text="整改后的照片、整改报告（JPEG、PNG、WebP 图片或 PDF），选填。",
    )

    def __init__(self, *args, rectification, step, **kwargs):
        super().__init__(*args, prefix=step, **kwargs)
        self.rectification = rectification
        self.step = step
        self.processed = []
        day_label, note_label, note_required = STEP_FIELDS[step]
        if day_label:
            self.fields["day"].label = day_label
            self.fields["day"].widget.attrs["max"] = timezone.localdate().isoformat()
            self.initial.setdefault("day", timezone.localdate())
        else:
            del self.fields["day"]
        self.fields["note"].label = note_label
        self.fields["note"].required = note_required
        if note_required:
            self.fields["note"].error_messages["required"] = f"请填写{note_label}。"
        if step != "done":
            del self.fields["evidence"]

    def clean_day(self):
        day = self.cleaned_data["day"]
        label = self.fields["day"].label
        inspected_on = self.rectification.inspection.date
        done_at = self.rectification.done_at
        if day > timezone.localdate():
            raise ValidationError(f"{label}不能晚于今天。")
        if self.step == "done" and day < inspected_on:
            raise ValidationError(f"完成日期不能早于检查日期（{inspected_on:%Y年%-m月%-d日}）。")
        if self.step == "verify" and done_at and day < done_at:
            raise ValidationError(f"验收日期不能早于完成日期（{done_at:%Y年%-m月%-d日}）。")
        return day

    def clean(self):
        cleaned = super().clean()
        refusal = workflow.rectification_refusal(self.rectification, self.step)
        if refusal:
            raise ValidationError(refusal)
        if "evidence" in self.fields:
            self.processed = process_files(
                self,
                cleaned.get("evidence") or [],
                existing=self.rectification.evidence.count(),
            )
        return cleaned


class RectificationFilterForm(forms.Form):
    UNFINISHED = "unfinished"

    status = forms.ChoiceField(
        label="状态",
        required=False,
        choices=[
            ("", "全部状态"),
            (UNFINISHED, "未完成（待整改、整改中）"),
            *Rectification.Status.choices,
        ],
    )
    overdue = forms.BooleanField(label="只看已逾期", required=False)
    pairing = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def apply(self, rows, today):
        """Filter rows the user may already read; bad filters show nothing."""
        if not self.is_bound:
            return rows
        if not self.is_valid():
            return rows.none()
        data = self.cleaned_data
        unfinished = [Rectification.Status.OPEN, Rectification.Status.IN_PROGRESS]
        if data["status"] == self.UNFINISHED:
            rows = rows.filter(status__in=unfinished)
        elif data["status"]:
            rows = rows.filter(status=data["status"])
        if data["overdue"]:
            rows = rows.filter(status__in=unfinished, due_date__lt=today)
        if data["pairing"]:
            rows = rows.filter(inspection__pairing=data["pairing"])
        return rows
