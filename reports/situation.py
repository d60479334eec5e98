"""The situation report (情况汇报): drafted from data in the source's five sections.

Sections one (基本情况), two (主要做法和成效) and four (存在问题) are written from the figures of a
scope and a date range; three (几点体会) and five (下步打算) are the staff's own text. A section's
text is paragraphs separated by blank lines; a level-2 item starts "（一）…。" as in the source.

The wording functions are pure (figures in, text out). `draft` reads the data: the figures
(reports.figures) plus one query for the per-pairing facts behind the problems, so a draft runs
the same number of queries whatever the data size. The workflows at the end save reports and
their versions, which are only ever added.
"""

import datetime
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from activities import compliance, summaries
from activities.models import Activity, Commitment, Metric, Rectification
from cobuild.routers import reads_for_reports
from pairings import access
from pairings.models import Member, Organization
from reports import figures as figures_module
from reports import parts
from reports.models import ReportVersion, SituationReport
from reports.numbers import percent, quantity

HEADINGS = ("一、基本情况", "二、主要做法和成效", "三、几点体会", "四、存在问题", "五、下步打算")
SECTION_HINTS = (
    "根据数据生成：共建对子和支部数、涉及党员和参与率、各类活动次数。",
    "根据数据生成：五项制度各自的活动次数和完成率、各项成效、办好事实事情况。",
    "由工作人员撰写，如：（一）统一认识是前提。……（二）领导重视是关键。……",
    "根据数据提出数据显示的问题，可增删修改。",
    "由工作人员撰写，如：（一）……（二）……",
)
DATA_SECTIONS = ReportVersion.DATA_SECTIONS
DIGITS = "零一二三四五六七八九"
# A level-2 item: a run-in heading "（一）统一认识是前提。" before its text (set in 楷体, as
# reports.docx sets it), or a heading on its own line "（一）统一认识是前提" (no full stop).
RUN_IN_HEADING = re.compile(r"[（(][一二三四五六七八九十百零〇]+[）)][^。\n]*。")
HEADING2 = re.compile(r"[（(][一二三四五六七八九十百零〇]+[）)][^。！？；，,.!?;]{1,30}")

DEFAULT_LOW_PARTICIPATION = 0.5
DEFAULT_FEW_CATEGORIES = 2


def setting(name, default):
    return settings.COBUILD.get(name, default)


# ---------------------------------------------------------------------------------------------
# Words: numbers, dates and names as the report writes them.


def cn_number(n):
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 35 → 三十五 (up to 99)."""
    if n < 10:
        return DIGITS[n]
    tens, ones = divmod(n, 10)
    return f"{DIGITS[tens] if tens > 1 else ''}十{DIGITS[ones] if ones else ''}"


def cn_count(n):
    """A count before a measure word: 两个方面, not 二个方面."""
    return "两" if n == 2 else cn_number(n)


def date_cn(day):
    return f"{day.year}年{day.month}月{day.day}日"


def period_cn(start, end):
    """2025年1月1日至12月31日 (the year said once when both dates share it)."""
    if start.year == end.year:
        return f"{date_cn(start)}至{end.month}月{end.day}日"
    return f"{date_cn(start)}至{date_cn(end)}"


def scope_name(org):
    """The scope as a title names it: 中共青山县委 → 青山县, 石门镇党委 → 石门镇."""
    name = org.name.strip().removeprefix("中共")
    for suffix in ("党工委", "党委员会", "委员会", "党委"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name.removesuffix(suffix)
            break
    else:
        if org.kind == Organization.Kind.COUNTY and name.endswith("委") and len(name) > 2:
            name = name.removesuffix("委")
    return name


def report_title(org):
    return f"{scope_name(org)}“互助共建”活动开展情况汇报"


def area_phrase(org):
    """How the text names the whole scope: 全县, 全镇, 全乡, or the committee's name."""
    name = scope_name(org)
    if org.kind == Organization.Kind.COUNTY:
        return f"全{name[-1] if name[-1] in '县市区旗' else '县'}"
    for suffix in ("街道", "镇", "乡"):
        if name.endswith(suffix):
            return f"全{suffix}"
    return name


def _threshold_percent(value):
    return f"{float(value) * 100:g}%"


# ---------------------------------------------------------------------------------------------
# The facts of each pairing behind the problems: one query, whatever the number of pairings.


class PairingFacts(NamedTuple):
    """What the problems are found from, for one pairing (a tuple: a city's 3,000 come out of the
    parts cache in less than half a dataclass's time)."""

    pk: int
    code: str
    helper: str
    helped: str
    running: bool  # active at some time in the range
    members: int  # members of both branches
    participants: int  # of them, those who took part in the pairing's activities in the range
    activities: int
    donations: int
    categories: int
    overdue_rectifications: int
    overdue_commitments: int
    missed_meetings: int = 0

    @property
    def participation(self):
        return compliance.Ratio(self.participants, self.members)


def _count(queryset, group):
    """A correlated count for each outer row (the queryset filters on OuterRef)."""
    rows = queryset.order_by().values(group).annotate(n=Count("pk"))
    return Coalesce(Subquery(rows.values("n")[:1]), 0, output_field=IntegerField())


def pairing_facts(figures):
    """{pairing id: PairingFacts} for the pairings and range of `figures`, in two queries.

    Activities by pairing and category and the participants of each pairing come from the
    summaries, over the figures' whole months (`counted_range`); the missed joint meetings from
    the figures' compliance roll-up.
    """
    if figures.plan is not None:
        return parts.facts(figures, pairing_facts)
    pairings, start, end, today = figures.scope
    counted = figures.counted_range
    kinds = {}  # pairing id → {category: count}
    for (pk, category), (n, _, _) in summaries.activity_counts(
        pairings, *counted, ("pairing_id", "category")
    ).items():
        kinds.setdefault(pk, {})[category] = n
    members = Member.objects.alive()
    rectifications = Rectification.objects.alive().filter(
        inspection__pairing=OuterRef("pk"),
        inspection__deleted_at__isnull=True,
        status__in=[Rectification.Status.OPEN, Rectification.Status.IN_PROGRESS],
        due_date__lt=today,
    )
    commitments = Commitment.objects.alive().filter(
        pairing=OuterRef("pk"),
        status__in=[Commitment.Status.PLANNED, Commitment.Status.IN_PROGRESS],
        due_date__lt=today,
    )
    rows = (
        pairings.order_by("code")
        .annotate(
            helper_members=_count(members.filter(branch=OuterRef("helper")), "branch"),
            helped_members=_count(members.filter(branch=OuterRef("helped")), "branch"),
            participants=summaries.pairing_participants(*counted),
            overdue_rectifications=_count(rectifications, "inspection__pairing"),
            overdue_commitments=_count(commitments, "pairing"),
        )
        .values(
            "pk",
            "code",
            "helper__name",
            "helped__name",
            "start_date",
            "end_date",
            "helper_members",
            "helped_members",
            "participants",
            "overdue_rectifications",
            "overdue_commitments",
        )
    )
    rollup = figures.rollup
    meeting = next((r for r in rollup.regimes if r.code == "joint_meeting"), None)
    missed = rollup.missed(meeting) if meeting is not None else {}
    facts = {
        row["pk"]: PairingFacts(
            pk=row["pk"],
            code=row["code"],
            helper=row["helper__name"],
            helped=row["helped__name"],
            running=row["start_date"] <= end
            and (row["end_date"] is None or row["end_date"] >= start),
            members=row["helper_members"] + row["helped_members"],
            participants=row["participants"],
            activities=sum(kinds.get(row["pk"], {}).values()),
            donations=kinds.get(row["pk"], {}).get(Activity.Category.DONATION, 0),
            categories=len(kinds.get(row["pk"], {})),
            overdue_rectifications=row["overdue_rectifications"],
            overdue_commitments=row["overdue_commitments"],
            missed_meetings=missed.get(row["pk"], 0),
        )
        for row in rows
    }
    # In code order as Python compares (the parts of a wide scope are put together so; the
    # database's collation may order codes otherwise).
    return dict(sorted(facts.items(), key=lambda item: item[1].code))


# ---------------------------------------------------------------------------------------------
# Problems the data shows (DOMAIN.md, "Problems the data can show"), worded after the source.


@dataclass
class Problem:
    code: str
    heading: str  # the item's first sentence, after （一）
    body: str
    pairings: list = field(default_factory=list)  # [(PairingFacts, what shows it)]

    def text(self, number):
        return f"（{cn_number(number)}）{self.heading}{self.body}"


def thresholds(low=None, few=None):
    """(participation below which a pairing's is low, most categories that are few)."""
    if low is None:
        low = setting("REPORT_LOW_PARTICIPATION", DEFAULT_LOW_PARTICIPATION)
    if few is None:
        few = int(setting("REPORT_FEW_CATEGORIES", DEFAULT_FEW_CATEGORIES))
    return Fraction(str(low)), few


def problem_pairings(facts, low, few):
    """{problem code: [(PairingFacts, what shows it)]}: the pairings behind each problem."""
    running = [f for f in facts.values() if f.running]
    return {
        "donation_only": [
            (f, f"活动{f.activities}次，均为捐款捐物")
            for f in running
            if f.activities and f.donations == f.activities
        ],
        # participants / members < low, in integers (a city's thousands of Fractions cost more)
        "low_participation": [
            (f, f"参与率{f.participation}")
            for f in running
            if f.members and f.participants * low.denominator < low.numerator * f.members
        ],
        "missed_joint_meetings": [
            (f, f"缺{f.missed_meetings}期") for f in facts.values() if f.missed_meetings
        ],
        "few_categories": [
            (f, f"活动{f.activities}次，{f.categories}类")
            for f in running
            if f.activities and f.categories <= few
        ],
        "overdue_rectifications": [
            (f, f"逾期整改{f.overdue_rectifications}项")
            for f in facts.values()
            if f.overdue_rectifications
        ],
        "overdue_commitments": [
            (f, f"逾期实事{f.overdue_commitments}件")
            for f in facts.values()
            if f.overdue_commitments
        ],
    }


class ProblemCounts(NamedTuple):
    """What the problems' text says: numbers that add up over pairings apart (a county's are
    kept in the parts cache, and a province's report adds up a hundred)."""

    donation_only: int = 0
    low_participation: int = 0
    none_took_part: int = 0
    missed_joint_meetings: int = 0
    missed_periods: int = 0
    few_categories: int = 0
    overdue_rectifications: int = 0  # pairings
    rectifications: int = 0
    overdue_commitments: int = 0  # pairings
    commitments: int = 0

    @classmethod
    def of(cls, listed):
        """The counts of problem_pairings()."""
        return cls(
            donation_only=len(listed["donation_only"]),
            low_participation=len(listed["low_participation"]),
            none_took_part=sum(1 for f, _ in listed["low_participation"] if not f.participants),
            missed_joint_meetings=len(listed["missed_joint_meetings"]),
            missed_periods=sum(f.missed_meetings for f, _ in listed["missed_joint_meetings"]),
            few_categories=len(listed["few_categories"]),
            overdue_rectifications=len(listed["overdue_rectifications"]),
            rectifications=sum(
                f.overdue_rectifications for f, _ in listed["overdue_rectifications"]
            ),
            overdue_commitments=len(listed["overdue_commitments"]),
            commitments=sum(f.overdue_commitments for f, _ in listed["overdue_commitments"]),
        )

    @classmethod
    def added_up(cls, counts):
        return cls(*map(sum, zip(*counts, strict=True))) if counts else cls()


def find_problems(facts, *, joint_meeting_name="季度联席会", low=None, few=None):
    """The problems the facts show, in the source's order; each lists the pairings behind it."""
    low, few = thresholds(low, few)
    listed = problem_pairings(facts, low, few)
    return problems_of(ProblemCounts.of(listed), joint_meeting_name, low, few, listed)


def problems_of(n, joint_meeting_name, low, few, listed=None):
    """The problems the counts `n` show, in the source's order, worded after it; each with the
    pairings behind it when `listed` (problem_pairings()) is given."""
    problems = []

    def add(code, heading, body):
        pairings = listed[code] if listed is not None else []
        problems.append(Problem(code, heading, body, pairings))

    if n.donation_only:
        add(
            "donation_only",
            "对“互助共建”活动的认识不够全面。",
            f"有{n.donation_only}个共建对子期内开展的活动全是捐款捐物，没有开展学习、"
            "会议等制度活动。个别党员干部对目的和意义的认识存在差距，认为给些钱物就是"
            "“互助共建”了，还没有从思想上真正转变观念，对从机制上帮助服务、参与基层党的"
            "建设领会不深。",
        )
    if n.low_participation:
        detail = f"，其中{n.none_took_part}个对子期内没有党员参加活动" if n.none_took_part else ""
        add(
            "low_participation",
            "党员的参与面还不够广。",
            f"有{n.low_participation}个共建对子的党员参与率低于"
            f"{_threshold_percent(low)}{detail}，部分党员特别是在职党员参与共建活动的"
            "积极性还没有充分调动起来。",
        )
    if n.missed_joint_meetings:
        add(
            "missed_joint_meetings",
            "共建双方有效沟通还不够。",
            f"有{n.missed_joint_meetings}个共建对子未按期召开{joint_meeting_name}，共缺"
            f"{n.missed_periods}期，共建双方党支部还未找到最佳结合点，"
            "发现问题和困难、及时帮助解决还不够。",
        )
    if n.few_categories:
        add(
            "few_categories",
            "活动形式创新不多。",
            f"有{n.few_categories}个共建对子期内开展的活动不超过{few}类，活动安排还不够"
            "周到，准备还不够充分，对互助共建工作规律的探索还不够，共建双方的优势还没有"
            "得到充分发挥。",
        )
    if n.overdue_rectifications:
        add(
            "overdue_rectifications",
            "互检整改落实还不够到位。",
            f"年度党建互检发现的问题中，有{n.rectifications}项整改事项已过整改期限"
            f"仍未完成，涉及{n.overdue_rectifications}个共建对子。",
        )
    if n.overdue_commitments:
        add(
            "overdue_commitments",
            "承诺的实事还未全部兑现。",
            f"共建单位承诺为农村办的实事中，有{n.commitments}件已过承诺完成日期仍未办结，"
            f"涉及{n.overdue_commitments}个共建对子。",
        )
    return problems


# ---------------------------------------------------------------------------------------------
# The sections written from data.


def basic_situation(f, org):
    """一、基本情况: pairings and branches, members and participation, activities by kind."""
    area = area_phrase(org)
    if not f.pairings:
        first = f"截至{date_cn(f.end)}，{area}尚未结成互助共建对子。"
    else:
        first = (
            f"截至{date_cn(f.end)}，{area}共有{f.organ_branches}个机关党支部与"
            f"{f.village_branches}个农村党支部结成互助共建对子{f.pairings}对"
        )
        if f.members:
            first += (
                f"，涉及党员{f.members}名，其中{f.participants}名党员参加了共建活动，"
                f"参与率{percent(f.participation)}。"
            )
        else:
            first += "。"
    paragraphs = [first]
    if f.activities:
        kinds = "、".join(f"{label}{n}次" for label, n in f.by_category if n)
        second = (
            f"{period_cn(f.start, f.end)}，各共建对子共开展共建活动{f.activities}次，其中{kinds}"
        )
        if f.villagers:
            second += f"，参加活动的群众达{f.villagers}人次"
        paragraphs.append(second + "。")
    elif f.pairings:
        paragraphs.append(f"{period_cn(f.start, f.end)}，各共建对子尚未登记共建活动。")
    return "\n\n".join(paragraphs)


def _regime_paragraphs(f):
    if not f.pairings and not f.activities:
        return []
    rates = f.rollup.by_regime()
    cadenced = f.rollup.cadenced
    rows = [(r, n) for r, n in f.by_regime if r is not None and (r in rates or n)]
    if not rows:
        return []
    names = "、".join(r.name for r, _ in rows)
    total, _ = f.rollup.total()
    intro = f"各共建对子坚持{names}等{cn_count(len(rows))}项工作制度，推动“互助共建”活动经常化开展"
    if total.den:
        intro += f"，制度总体完成率{percent(total)}（完成{total.num}/{total.den}期）"
    paragraphs = [intro + "。"]
    for number, (regime, count) in enumerate(rows, start=1):
        met, on_time = rates.get(regime, (compliance.ZERO, compliance.ZERO))
        text = f"（{cn_number(number)}）落实{regime.name}。开展活动{count}次"
        if met.den:
            text += f"，完成率{percent(met)}（完成{met.num}/{met.den}期）"
            if on_time.num != met.num:
                text += f"，其中按时完成{on_time.num}期"
        elif regime in cadenced:
            text += "，期内尚无到期考核的期数"
        elif regime in rates:
            text += "，该制度不定期开展，只统计次数、不考核"
        paragraphs.append(text + "。")
    other = next((n for r, n in f.by_regime if r is None), 0)
    if other:
        paragraphs.append(
            f"此外，各共建对子还开展了{cn_count(len(rows))}项制度以外的共建活动{other}次。"
        )
    return paragraphs


def _outcome_paragraph(f):
    """The source's shape: services and money first, then what members led the villagers to."""
    services, areas, stocks = [], [], []
    for outcome in f.outcomes:
        if not outcome.value:
            continue
        metric = outcome.metric
        if metric.aggregation == Metric.Aggregation.STOCK:
            stocks.append(f"{metric.name}达{outcome.text}")
        elif metric.unit == "人次":
            services.append(f"开展{metric.name}等服务达{outcome.text}")
        elif metric.unit == "件":
            services.append(f"办成{metric.name}{outcome.text}")
        elif metric.style == Metric.Style.WAN:
            areas.append(f"{metric.name}{outcome.text}")
        else:
            services.append(f"{metric.name}{outcome.text}")
    sentences = []
    if services:
        sentences.append(f"共建双方{'，'.join(services)}。")
    led = (["完成" + "，".join(areas)] if areas else []) + stocks
    if led:
        sentences.append(f"在党员的带动下，{'，'.join(led)}。")
    return "".join(sentences)


def practices_and_results(f):
    """二、主要做法和成效: the regimes kept, the outcomes, the practical deeds done."""
    paragraphs = _regime_paragraphs(f)
    outcomes = _outcome_paragraph(f)
    if outcomes:
        paragraphs.append(f"{period_cn(f.start, f.end)}，{outcomes}")
    if f.deeds_done:
        deeds = f"共建单位为农村办好事实事{f.deeds_done}件"
        if f.deeds_amount:
            deeds += f"，投入资金{quantity(f.deeds_amount, '元')}"
        paragraphs.append(deeds + "，解决了一批群众关心的实际问题。")
    if not paragraphs:
        paragraphs.append(f"{period_cn(f.start, f.end)}，尚无可汇总的共建活动和成效数据。")
    return "\n\n".join(paragraphs)


def existing_problems(problems, start, end):
    """四、存在问题: only what the data shows; if nothing shows, say so plainly."""
    if not problems:
        return (
            "“互助共建”活动开展以来，总体进展顺利。从"
            f"{period_cn(start, end)}的数据看，未发现以捐款捐物代替共建、党员参与率偏低、"
            "未按期召开联席会、活动形式单一、整改事项或承诺实事逾期未办等问题。"
        )
    intro = (
        "“互助共建”活动开展以来，虽取得了一定成效，但也存在一些问题，"
        f"主要有{cn_count(len(problems))}个方面："
    )
    items = [problem.text(number) for number, problem in enumerate(problems, start=1)]
    return "\n\n".join([intro, *items])


# ---------------------------------------------------------------------------------------------
# Drafting: read the data once, write every data section.


@dataclass
class Draft:
    organization: Organization
    start: datetime.date
    end: datetime.date
    title: str
    figures: figures_module.Figures
    facts: dict  # {pairing id: PairingFacts}; None when the problems were counted from parts
    problems: list
    sections: list  # five texts; 3 and 5 empty

    @property
    def generated(self):
        return {str(n): self.sections[n - 1] for n in DATA_SECTIONS}


def compose(figures, organization, problems):
    return [
        basic_situation(figures, organization),
        practices_and_results(figures),
        "",
        existing_problems(problems, figures.start, figures.end),
        "",
    ]


@reads_for_reports
def draft(organization, start, end, *, today, named=False):
    """The report drafted from data for `organization`'s subtree, in a fixed number of queries.

    With `named`, each problem lists the pairings behind it (the annex); otherwise a scope of
    whole counties counts its problems from the counties' counts in the parts cache.
    """
    pairings = access.pairings_under(organization)
    figures = parts.compute(
        (organization.path,),
        pairings,
        start,
        end,
        today=today,
        organizations=Organization.objects.alive().under(organization),
    )
    meeting = next((r for r in figures.rollup.regimes if r.code == "joint_meeting"), None)
    low, few = thresholds()
    facts = listed = None
    if figures.plan is not None and not named:
        counts = ProblemCounts.added_up(
            parts.counted(
                figures,
                pairing_facts,
                lambda county_facts: ProblemCounts.of(problem_pairings(county_facts, low, few)),
                f"{low}:{few}",
            )
        )
    else:
        facts = pairing_facts(figures)
        listed = problem_pairings(facts, low, few)
        counts = ProblemCounts.of(listed)
    problems = problems_of(
        counts, meeting.short_name if meeting else "季度联席会", low, few, listed
    )
    return Draft(
        organization=organization,
        start=start,
        end=end,
        title=report_title(organization),
        figures=figures,
        facts=facts,
        problems=problems,
        sections=compose(figures, organization, problems),
    )


# ---------------------------------------------------------------------------------------------
# The text as documents show it: paragraphs, the lead of a level-2 item, plain text, Word blocks.


def normalize(text):
    """Text as stored: Unix newlines, no trailing spaces on a line, no blank lines at the ends."""
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def paragraphs(text):
    """The paragraphs of a section: every non-blank line, indentation removed."""
    return [line.strip(" \t\u3000") for line in normalize(text).split("\n") if line.strip()]


@dataclass(frozen=True)
class Paragraph:
    text: str

    @property
    def is_heading2(self):
        """A level-2 heading on its own line: "（一）统一认识是前提"."""
        return HEADING2.fullmatch(self.text) is not None

    @property
    def lead(self):
        """The run-in heading "（一）统一认识是前提。" before a level-2 item's text, or "".

        A paragraph that is one sentence ("（二）党员的参与面还不够广。") is a numbered item in
        the body font, as in the Word export.
        """
        match = RUN_IN_HEADING.match(self.text)
        if not match or match.end() == len(self.text):
            return ""
        return match.group()

    @property
    def rest(self):
        return self.text[len(self.lead) :]


def document(sections):
    """[(heading, [Paragraph, …])] for the five sections, in order."""
    return [
        (heading, [Paragraph(p) for p in paragraphs(text)])
        for heading, text in zip(HEADINGS, sections, strict=True)
    ]


def plain_text(title, sections, date=None):
    """The report as plain text, section by section, paragraphs indented two characters."""
    lines = [title, ""]
    for heading, items in document(sections):
        lines.append(f"\u3000\u3000{heading}")
        lines.extend(f"\u3000\u3000{p.text}" for p in items)
    if date is not None:
        lines += ["", date_cn(date)]
    return "\n".join(lines) + "\n"


def docx_blocks(sections):
    """Blocks for reports.docx.render_docx: each section's heading, then its paragraphs.

    A level-2 heading on its own line ("（一）统一认识是前提") is a heading2; render_docx sets the
    run-in heading of a paragraph ("（一）统一认识是前提。正文……") in the heading font itself.
    """
    blocks = []
    for heading, items in document(sections):
        blocks.append(("heading1", heading))
        blocks += [("heading2" if p.is_heading2 else "paragraph", p.text) for p in items]
    return blocks


def render_docx(title, sections, date=None):
    from reports.docx import render_docx as render  # written alongside; imported when used

    return render(title=title, blocks=docx_blocks(sections), date=date)


# ---------------------------------------------------------------------------------------------
# The statistics annex (.xlsx): what the text quotes, with numerators and denominators.


def rollup_organizations(org):
    """The rows of the by-organization sheet: the committees right under the scope (townships,
    the organs' working committee), or its branches when it has no committees (one query)."""
    children = list(
        Organization.objects.alive().filter(path__startswith=org.path, depth=org.depth + 1)
    )
    committees = [c for c in children if not c.is_branch]
    return committees or children


def _rate_cells(met, on_time):
    """Completion and on-time rates over the same denominator (the periods due)."""
    return [met.num, met.den, met.percent, on_time.num, on_time.percent]


def annex_sheets(drafted, rollup):
    """[(title, headers, rows)] for reports.xlsx.workbook_response."""
    f = drafted.figures
    rates = f.rollup.by_regime()
    rate_headers = ["完成期数", "应完成期数", "完成率（%）", "按时完成期数", "按时率（%）"]
    basic = [
        ["统计期间", f"{f.start} 至 {f.end}", ""],
        ["共建对子（对）", f.pairings, "期间内处于共建状态的对子"],
        ["机关党支部（个）", f.organ_branches, ""],
        ["农村党支部（个）", f.village_branches, "受帮扶一方中非机关的支部"],
        ["涉及党员（名）", f.members, "结对双方支部的党员"],
        ["参加活动的党员（名）", f.participants, ""],
        ["党员参与率（%）", f.participation.percent, f"{f.participants}/{f.members}"],
        ["共建活动（次）", f.activities, "已提交或已确认的活动"],
        ["参加活动的群众（人次）", f.villagers, ""],
        ["办好事实事（件）", f.deeds_done, "期间内办结的实事承诺"],
        ["实事投入资金（元）", f.deeds_amount, ""],
        ["未完成的整改事项（项）", f.open_rectifications, f"其中逾期{f.overdue_rectifications}项"],
        ["未办结的实事承诺（件）", f.open_commitments, f"其中逾期{f.overdue_commitments}件"],
    ]
    by_regime = []
    for regime, count in f.by_regime:
        if regime is None:
            by_regime.append(["其他（制度以外）", count, None, None, None, None, None])
            continue
        met, on_time = rates.get(regime, (compliance.ZERO, compliance.ZERO))
        by_regime.append([regime.name, count, *_rate_cells(met, on_time)])
    met, on_time = f.rollup.total()
    by_regime.append(["合计", f.activities, *_rate_cells(met, on_time)])
    by_org = []
    counts = figures_module.counts_by_organization(f, rollup)
    for org, (met, on_time) in f.rollup.by_organization(rollup).items():
        by_org.append([org.name, counts[org][0], *_rate_cells(met, on_time)])
    outcomes = [
        [
            o.metric.name,
            o.metric.unit,
            o.metric.get_aggregation_display(),
            o.value,
            o.text,
        ]
        for o in f.outcomes
    ]
    problems = [
        [problem.heading.rstrip("。"), facts.code, facts.helper, facts.helped, detail]
        for problem in drafted.problems
        for facts, detail in problem.pairings
    ]
    return [
        ("基本情况", ["项目", "数值", "说明"], basic),
        ("按制度", ["制度", "活动次数", *rate_headers], by_regime),
        ("按乡镇和工委", ["组织", "共建对子", *rate_headers], by_org),
        ("成效", ["指标", "单位", "汇总方式", "数值", "汇报中的写法"], outcomes),
        ("存在问题", ["问题", "对子编号", "帮扶支部", "受帮扶支部", "数据情况"], problems),
    ]


# ---------------------------------------------------------------------------------------------
# Workflows: reports and their versions (append-only).


def _add_version(report, *, kind, sections, generated, note, by):
    """The next version of `report`, numbered under a lock so two saves never clash."""
    SituationReport.objects.select_for_update().get(pk=report.pk)
    last = report.versions.order_by("-number").values_list("number", flat=True).first() or 0
    fields = dict(zip(ReportVersion.SECTION_FIELDS, map(normalize, sections), strict=True))
    return ReportVersion.objects.create(
        report=report,
        number=last + 1,
        kind=kind,
        generated={k: normalize(v) for k, v in generated.items()},
        note=note,
        created_by=by,
        **fields,
    )


@transaction.atomic
def create_report(*, organization, start, end, by, today):
    """A new report for a scope and range, with version 1 drafted from data."""
    drafted = draft(organization, start, end, today=today)
    report = SituationReport(
        organization=organization, start=start, end=end, title=drafted.title, created_by=by
    )
    report._history_user = by
    report.save()
    _add_version(
        report,
        kind=ReportVersion.Kind.DRAFTED,
        sections=drafted.sections,
        generated=drafted.generated,
        note="",
        by=by,
    )
    return report


@transaction.atomic
def save_edit(*, report, title, sections, note, by):
    """Save the staff's text as a new version; None when nothing changed.

    The generated texts carry over from the latest version: the data was not read again.
    """
    latest = report.latest_version()
    sections = [normalize(s) for s in sections]
    title = title.strip() or report.title
    if latest is not None and sections == latest.sections and title == report.title:
        return None
    if title != report.title:
        report.title = title
        report._history_user = by
        report._change_reason = "修改标题"
        report.save(update_fields=["title"])
    return _add_version(
        report,
        kind=ReportVersion.Kind.EDITED,
        sections=sections,
        generated=latest.generated if latest else {},
        note=note,
        by=by,
    )


@dataclass
class Refresh:
    version: ReportVersion | None  # None when nothing changed
    replaced: list  # data sections rewritten from the new figures
    kept: list  # data sections the staff edited, kept although the data changed


@transaction.atomic
def refresh_report(*, report, by, today):
    """Re-read the data: sections 1, 2 and 4 are rewritten unless the staff edited them.

    An edited section keeps the staff's text (the new generated text is kept beside it, for
    them to copy from); sections 3 and 5 are always kept. No change → no new version.
    """
    latest = report.latest_version() or ReportVersion(generated={})  # none yet: all from data
    drafted = draft(report.organization, report.start, report.end, today=today)
    sections = list(latest.sections)
    replaced, kept = [], []
    for number in DATA_SECTIONS:
        new = normalize(drafted.sections[number - 1])
        if new == latest.generated_text(number):
            continue
        if latest.is_edited(number):
            kept.append(number)
        else:
            sections[number - 1] = new
            replaced.append(number)
    if not replaced and not kept:
        return Refresh(None, [], [])
    version = _add_version(
        report,
        kind=ReportVersion.Kind.REFRESHED,
        sections=sections,
        generated=drafted.generated,
        note="刷新数据",
        by=by,
    )
    return Refresh(version, replaced, kept)
