"""Benchmark the ledger import: a generated county workbook, imported on the current database.

Prints the seconds, the number of queries and the peak memory of reading + planning + applying,
then of importing the same file again (which must change nothing).
"""

import datetime
import io
import random
import resource
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from openpyxl import Workbook

from reports.importer import run_import, spec
from reports.importer.template import activity_metrics, headers_of

CATEGORIES = list(spec.CATEGORIES)
REGIMES = ["集体活动日", "交叉学习", "季度联席会", "年度互检", "日常互助", "其他"]


def county_workbook(*, members=15_000, activities=20_000, prefix="B", seed=1):
    """A whole county in the template's sheets: townships, branches, members, pairings, ledgers."""
    rng = random.Random(seed)
    metrics = activity_metrics()
    branch_size = 50
    villages = members // branch_size // 2
    organs = members // branch_size - villages
    townships = max(1, villages // 12)
    root = f"{prefix}"
    orgs = [
        [root, "基准县委", "", "县委", "其他"],
        [f"{prefix}J", "县直机关工委", root, "党工委", "机关"],
    ]
    orgs += [[f"{prefix}T{t:02d}", f"第{t}镇党委", root, "党委", "农村"] for t in range(townships)]
    organ_codes = [f"{prefix}J{i:03d}" for i in range(organs)]
    village_codes = [f"{prefix}T{i % townships:02d}V{i:03d}" for i in range(villages)]
    orgs += [
        [c, f"机关第{i}党支部", f"{prefix}J", "党支部", "机关"] for i, c in enumerate(organ_codes)
    ]
    orgs += [
        [c, f"{c}村党支部", f"{prefix}T{i % townships:02d}", "党支部", "农村"]
        for i, c in enumerate(village_codes)
    ]
    by_branch = {}
    member_rows = []
    for b, branch in enumerate(organ_codes + village_codes):
        for k in range(branch_size):
            code = f"{prefix}M{b:03d}{k:02d}"
            by_branch.setdefault(branch, []).append(code)
            member_rows.append(
                [
                    code,
                    f"党员{b}-{k}",
                    rng.choice(["男", "女"]),
                    branch,
                    "书记" if k == 0 else "党员",
                    "是" if branch in organ_codes else "否",
                    "正式",
                    f"138{rng.randint(0, 99_999_999):08d}",
                ]
            )
    pairings = []
    for i, village in enumerate(village_codes):
        organ = organ_codes[i % len(organ_codes)]
        pairings.append([f"{prefix}P{i:03d}", organ, village, datetime.date(2019, 1, 1), None])
    first, days = (
        datetime.date(2019, 1, 1),
        (datetime.date(2025, 12, 31) - datetime.date(2019, 1, 1)).days,
    )
    activity_rows = []
    for n in range(activities):
        code, organ, village, _, _ = pairings[n % len(pairings)]
        people = rng.sample(by_branch[organ], 3) + rng.sample(by_branch[village], 4)
        day = first + datetime.timedelta(days=rng.randint(0, days))
        activity_rows.append(
            [
                code,
                day,
                rng.choice(REGIMES),
                rng.choice(CATEGORIES),
                f"第{n}次共建活动",
                "村委会",
                "、".join(people),
                rng.randint(0, 40),
                *[rng.choice([None, rng.randint(1, 50)]) for _ in metrics],
            ]
        )
    figures = [[f"{prefix}T{t:02d}", "民营橡胶面积", "2025", 10000 + t] for t in range(townships)]
    workbook = Workbook(write_only=True)
    for sheet, rows in (
        (spec.ORGS, orgs),
        (spec.MEMBERS, member_rows),
        (spec.PAIRINGS, pairings),
        (spec.ACTIVITIES, activity_rows),
        (spec.FIGURES, figures),
    ):
        worksheet = workbook.create_sheet(sheet)
        worksheet.append(headers_of(sheet, metrics))
        for row in rows:
            worksheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


class Counter:
    """Counts the statements run (an executemany of a batch counts once)."""

    def __init__(self, log):
        self.log = log

    def __call__(self, execute, sql, params, many, context):
        self.log.append(1)
        return execute(sql, params, many, context)


class Command(BaseCommand):
    help = "生成一个含2万条活动、1.5万名党员的台账工作簿，在当前数据库上导入两次并报告耗时。"

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=15_000)
        parser.add_argument("--activities", type=int, default=20_000)
        parser.add_argument("--prefix", default="B", help="生成数据的编码前缀（须未被使用）。")
        parser.add_argument("--save", help="把生成的工作簿另存到此路径。")

    def handle(self, *args, **options):
        data = county_workbook(
            members=options["members"], activities=options["activities"], prefix=options["prefix"]
        )
        if options["save"]:
            with open(options["save"], "wb") as out:
                out.write(data)
        self.stdout.write(
            f"工作簿：{len(data) / 1024 / 1024:.1f}MB，{options['members']}名党员，"
            f"{options['activities']}条活动；数据库：{connection.vendor}"
        )
        for label in ("首次导入", "再次导入"):
            started, cpu = time.perf_counter(), time.process_time()
            queries = []
            with connection.execute_wrapper(Counter(queries)):
                result = run_import(data, "bench.xlsx", apply=True)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            if not result.ok:
                problems = result.refused or result.problems[:5]
                raise CommandError(f"导入失败：{problems}")
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            counts = "；".join(
                f"{name} 新增{c['created']} 更新{c['updated']} 未变{c['unchanged']}"
                for name, c in result.plan.counts.items()
            )
            self.stdout.write(
                f"{label}：{seconds:.1f}秒（本进程CPU {cpu:.1f}秒），{len(queries)}次查询，"
                f"峰值内存{peak:.0f}MB\n  {counts}"
            )
