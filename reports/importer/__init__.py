"""Ledger import (导入台账): a county's rosters and paper ledgers from one Excel workbook.

check_upload → read_workbook → build_plan (create / update / unchanged, and every problem) →
apply_plan (one transaction). `run_import` does it all; nothing is written while any problem
remains, and a re-import of the same file plans no change. `export_workbook` writes the same
five sheets back from the database.
"""

import hashlib
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from reports.importer.problems import Problem, Refused
from reports.importer.read import check_upload, read_workbook

__all__ = ["Problem", "Refused", "Result", "run_import", "sha256_of"]


@dataclass
class Result:
    plan: object = None  # Plan; None when the file was refused as a whole
    run: object = None  # the ImportRun once applied
    refused: str = ""

    @property
    def problems(self):
        return self.plan.problems if self.plan else []

    @property
    def ok(self):
        return not self.refused and self.plan is not None and self.plan.ok


def sha256_of(data):
    return hashlib.sha256(data).hexdigest()


def run_import(data, filename, *, user=None, apply=False, today=None):
    """Check, read and plan the workbook; with apply=True and no problem, write it.

    Planning and writing happen in one transaction, so what is written is what was planned
    against the database as it is at that moment (never a stale preview).
    """
    from reports.importer.apply import apply_plan
    from reports.importer.plan import build_plan

    try:
        check_upload(data, filename)
        workbook = read_workbook(data)
    except Refused as refusal:
        return Result(refused=refusal.message)
    try:
        with transaction.atomic():
            plan = build_plan(workbook, user=user, today=today)
            result = Result(plan=plan)
            if apply and plan.ok:
                result.run = apply_plan(
                    plan, user=user, filename=filename, sha256=sha256_of(data), size=len(data)
                )
    except IntegrityError:
        # Someone changed the same rows between the plan and the write: nothing was written.
        return Result(
            refused="导入时数据库拒绝了写入（可能有人同时修改了相同的数据），未做任何修改，请重新导入。"
        )
    return result
