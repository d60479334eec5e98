"""Compliance pages: how the regimes are kept, by regime, organization, pairing and period."""

import datetime

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from activities import compliance
from cobuild import audit
from cobuild.routers import reads_for_reports
from pairings import access
from pairings.models import Organization
from reports import parts
from reports.xlsx import workbook_response

MATRIX_PAGE = 50
SUMMARY_LIST_LIMIT = 50
# A matrix cell. A row's cells are put together with str.format from pieces escaped beforehand
# (each state's texts once, here; the link's parts once a page) or numbers: 50 rows of 12 cells
# are 600 cells, and format_html escaped each of their eight values anew.
MATRIX_CELL = (
    '<td class="cell cell-{state}"><a href="{link}" title="{label}：{count:d}次（应{required:d}次）">'
    '<span aria-hidden="true">{symbol}</span><span class="visually-hidden">{label}</span>{small}'
    "</a></td>"
)
MATRIX_STATES = {
    state: {
        "state": escape(state),
        "label": escape(label),
        "symbol": escape(compliance.State.SYMBOLS[state]),
    }
    for state, label in compliance.State.LABELS.items()
}
# The dates a query may name, and its longest span: beyond them the arithmetic would run for
# minutes (or past the year 9999) for no reader.
EARLIEST = datetime.date(2000, 1, 1)
LATEST = datetime.date(2099, 12, 31)
MAX_DAYS = 5 * 366


class BoundedRange:
    """A form's `start` and `end` dates: within EARLIEST–LATEST, in order, and at most MAX_DAYS
    apart (an open end runs to today). Mixed into the compliance, dashboard and report forms."""

    span_message = "查询期间最长5年，请缩短起止日期。"

    def clean(self):
        cleaned = super().clean()
        for name in ("start", "end"):
            day = cleaned.get(name)
            if day and not EARLIEST <= day <= LATEST:
                self.add_error(name, f"日期须在{EARLIEST.year}年至{LATEST.year}年之间。")
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            self.add_error("end", "截止日期不能早于起始日期。")
        elif start and ((end or max(timezone.localdate(), start)) - start).days > MAX_DAYS:
            self.add_error("end" if end else "start", self.span_message)
        return cleaned


class ListedChoiceIterator(forms.models.ModelChoiceIterator):
    def __init__(self, field):
        super().__init__(field)
        self.queryset = field.listed if field.listed is not None else field.queryset


class ScopeField(forms.ModelChoiceField):
    """The organization a page is narrowed to: it accepts any of its queryset, and lists only
    `listed`. A province's list of every committee (2,201 of them) took about a tenth of a second
    to render on each dashboard, and nobody picks from a list that long."""

    iterator = ListedChoiceIterator
    listed = None


def listed_scopes(user, chosen):
    """The organizations a scope list shows: the user's own (subtree roots) and the level under
    them, and the one chosen; the rows of the by-organization table lead further down."""
    q = Q(pk__in=[chosen] if chosen else [])
    for path in access.scope_of(user).read_paths:
        depth = len(path) // Organization.steplen
        q |= Q(path=path) | Q(path__startswith=path, depth=depth + 1)
    return q


class ComplianceFilter(BoundedRange, forms.Form):
    org = ScopeField(label="范围", queryset=None, required=False, empty_label="我的全部范围")
    regime = forms.ChoiceField(label="制度", required=False)
    start = forms.DateField(
        label="起始日期", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="截止日期", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.today = timezone.localdate()
        scopes = access.visible_scopes(user).order_by("path")
        chosen = str(self.data.get(self.add_prefix("org")) or "").strip() if self.is_bound else ""
        chosen = int(chosen) if chosen.isascii() and chosen.isdigit() and len(chosen) < 10 else None
        field = self.fields["org"]
        field.listed = scopes.filter(listed_scopes(user, chosen))
        field.queryset = scopes  # the widget's choices take `listed` from here
        self.active_regimes = compliance.regimes_with_rules(active_only=True)  # [(regime, rules)]
        self.regime_rules = [  # of them, those with a cadence
            (r, rules)
            for r, rules in self.active_regimes
            if any(rule.cadence != "none" for rule in rules)
        ]
        self.regimes = [r for r, _ in self.regime_rules]
        self.fields["regime"].choices = [
            ("", "全部制度"),
            *[(r.code, r.name) for r in self.regimes],
        ]

    @property
    def values(self):
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return {
            "org": data.get("org"),
            "regime": data.get("regime") or "",
            "start": data.get("start") or datetime.date(self.today.year, 1, 1),
            "end": data.get("end") or self.today,
        }

    def pairings(self):
        pairings = access.visible_pairings(self.user)
        org = self.values["org"]
        if org is not None:
            pairings = access.pairings_under(org, pairings)
        return pairings.order_by("code")

    def roots(self):
        """The paths whose whole subtrees hold `pairings()`, or None (reports.parts)."""
        return access.whole_subtrees(self.user, self.values["org"])

    def rollup_organizations(self):
        """The rows of the by-organization table: the level under the chosen scope."""
        org = self.values["org"]
        visible = access.visible_scopes(self.user)
        if org is not None:
            return list(
                visible.filter(path__startswith=org.path, depth=org.depth + 1).order_by("path")
            )
        # The level under the user's highest scope: its depth is its path's length.
        paths = access.scope_of(self.user).read_paths
        if not paths:
            return []
        depth = min(len(path) for path in paths) // Organization.steplen
        return list(visible.filter(depth=depth + 1).order_by("path"))


def _require_scope(user):
    if access.scope_of(user).is_empty:
        raise PermissionDenied("您没有可以查看的共建对子。")


@require_GET
@reads_for_reports
def compliance_summary(request):
    _require_scope(request.user)
    form = ComplianceFilter(request.GET or None, user=request.user)
    values = form.values
    codes = {values["regime"]} if values["regime"] else None
    pairings = form.pairings()
    regimes = form.active_regimes
    export = request.GET.get("export") == "xlsx"
    # The rates, and the regimes not done this period and those missed last period: all of
    # them in the export, the first SUMMARY_LIST_LIMIT on the page (a city's came to thousands,
    # 1.4 MB of HTML; the matrix and the export hold all).
    within = (pairings, values["start"], values["end"])
    chosen = {"regime_codes": codes, "today": form.today, "regimes": regimes}
    if export:  # every cell, for the sheet of details
        evaluation = rates = compliance.evaluate(*within, **chosen)
        lists = compliance.short_lists(pairings, form.today, regime_codes=codes, regimes=regimes)
    elif codes:  # the page shows rates only: rolled up in SQL
        rates = compliance.rollup(*within, **chosen)
        lists = compliance.short_lists(
            pairings, form.today, regime_codes=codes, limit=SUMMARY_LIST_LIMIT, regimes=regimes
        )
    else:  # every regime: the dashboard's roll-up, and the lists, from the counties' parts
        found = parts.plan(form.roots())  # None unless the scope is whole counties
        rates = parts.rollup(found, *within, today=form.today, regimes=regimes)
        lists = parts.short_lists(
            found, pairings, form.today, limit=SUMMARY_LIST_LIMIT, regimes=regimes
        )
    organizations = form.rollup_organizations()
    by_org = rates.by_organization(organizations)
    if export:
        audit.record_export(
            request, what="compliance", title="制度落实情况", rows=len(evaluation.cells)
        )
        return workbook_response(
            f"制度落实情况_{values['start']}_{values['end']}.xlsx",
            [
                (
                    "按制度",
                    ["制度", "完成", "应完成", "完成率（%）", "按时", "按时率（%）"],
                    [
                        [r.name, m.num, m.den, m.percent, t.num, t.percent]
                        for r, (m, t) in evaluation.by_regime().items()
                    ],
                ),
                (
                    "按组织",
                    ["组织", "完成", "应完成", "完成率（%）", "按时", "按时率（%）"],
                    [
                        [o.name, m.num, m.den, m.percent, t.num, t.percent]
                        for o, (m, t) in by_org.items()
                    ],
                ),
                (
                    "本期未完成",
                    [
                        "对子编号",
                        "帮扶支部",
                        "受帮扶支部",
                        "制度",
                        "期间",
                        "已完成",
                        "应完成",
                        "剩余天数",
                    ],
                    [
                        [
                            s.code,
                            s.helper,
                            s.helped,
                            s.regime.name,
                            s.period.label,
                            s.done,
                            s.required,
                            s.days_left,
                        ]
                        for s in lists.not_done
                    ],
                ),
                (
                    "上期未完成",
                    ["对子编号", "帮扶支部", "受帮扶支部", "制度", "期间"],
                    [
                        [s.code, s.helper, s.helped, s.regime.name, s.period.label]
                        for s in lists.missed
                    ],
                ),
                (
                    "明细",
                    [
                        "对子编号",
                        "帮扶支部",
                        "受帮扶支部",
                        "制度",
                        "期间",
                        "应完成次数",
                        "已完成次数",
                        "是否考核",
                        "是否完成",
                        "是否按时",
                        "状态",
                    ],
                    [
                        [
                            evaluation.pairings[c.pairing_id].code,
                            evaluation.pairings[c.pairing_id].helper.name,
                            evaluation.pairings[c.pairing_id].helped.name,
                            c.regime.name,
                            c.period.code,
                            c.required,
                            c.count,
                            c.due,
                            c.met,
                            c.on_time,
                            compliance.State.LABELS[c.state],
                        ]
                        for c in evaluation.cells
                    ],
                ),
            ],
        )
    query = request.GET.copy()
    query.pop("export", None)
    return render(
        request,
        "reports/compliance.html",
        {
            "form": form,
            "values": values,
            "any_pairings": pairings.exists(),
            "by_regime": rates.by_regime(),
            "total": rates.total(),
            "by_org": by_org,
            "not_done": lists.not_done,
            "not_done_total": lists.not_done_total,
            "missed": lists.missed,
            "missed_total": lists.missed_total,
            "limit": SUMMARY_LIST_LIMIT,
            "query": query.urlencode(),
        },
    )


def _matrix_row(pairing, cells, link_start, link_ends):
    """A pairing's cells as HTML (MATRIX_CELL); `link_start` and `link_ends` (one per period)
    are escaped already, and the link puts the pairing's id between them."""
    return mark_safe(
        "".join(
            MATRIX_CELL.format(
                link=f"{link_start}{pairing.pk:d}{link_end}",
                count=cell.count,
                required=cell.required,
                small=f"<small>{cell.count:d}</small>" if cell.count else "",
                **MATRIX_STATES[cell.state],
            )
            for cell, link_end in zip(cells, link_ends, strict=True)
        )
    )


@require_GET
@reads_for_reports
def compliance_matrix(request):
    _require_scope(request.user)
    form = ComplianceFilter(request.GET or None, user=request.user)
    values = form.values
    regime = next((r for r in form.regimes if r.code == values["regime"]), None)
    regime = regime or next((r for r in form.regimes if r.code == "joint_meeting"), None)
    regime = regime or (form.regimes[0] if form.regimes else None)
    if regime is None:
        raise PermissionDenied("没有需要考核的制度。")
    pairings = form.pairings()
    export = request.GET.get("export") == "xlsx"
    page = None
    if not export:
        page = Paginator(pairings, MATRIX_PAGE).get_page(request.GET.get("page"))
        pairings = list(page.object_list)  # read with their branches
    evaluation = compliance.evaluate(
        pairings,
        values["start"],
        values["end"],
        regime_codes={regime.code},
        today=form.today,
        regimes=form.regime_rules,
    )
    periods = []
    grid = {}
    for cell in evaluation.cells:
        if cell.period not in periods:
            periods.append(cell.period)
        grid.setdefault(cell.pairing_id, {})[cell.period] = cell
    ordered = sorted(evaluation.pairings.values(), key=lambda p: p.code)
    if export:
        audit.record_export(
            request, what="compliance_matrix", title=f"{regime.name}落实情况", rows=len(ordered)
        )
        return workbook_response(
            f"{regime.name}_{values['start']}_{values['end']}.xlsx",
            [
                (
                    regime.short_name,
                    ["对子编号", "帮扶支部", "受帮扶支部", *[p.label for p in periods]],
                    [
                        [
                            p.code,
                            p.helper.name,
                            p.helped.name,
                            *[
                                compliance.State.LABELS[grid[p.pk][period].state]
                                for period in periods
                            ],
                        ]
                        for p in ordered
                    ],
                )
            ],
        )
    # Each cell links to its activities: the list filtered by pairing, regime and period.
    link_start = escape(f"{reverse('activities:list')}?pairing=")
    regime_query = urlencode({"regime": regime.code})
    link_ends = [
        escape(
            f"&{regime_query}&{urlencode({'date_from': p.start.isoformat(), 'date_to': p.end.isoformat()})}"
        )
        for p in periods
    ]
    rows = [
        (
            pairing,
            _matrix_row(
                pairing, [grid[pairing.pk][period] for period in periods], link_start, link_ends
            ),
        )
        for pairing in ordered
    ]
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("export", None)
    return render(
        request,
        "reports/compliance_matrix.html",
        {
            "form": form,
            "regime": regime,
            "periods": periods,
            "rows": rows,
            "page": page,
            "query": query.urlencode(),
            "legend": [
                (compliance.State.SYMBOLS[s], compliance.State.LABELS[s], s)
                for s in compliance.State.LABELS
            ],
        },
    )
