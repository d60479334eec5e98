import csv
import datetime
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from activities import compliance
from activities.models import Regime
from pairings import access
from pairings.models import Organization


def _date(value):
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"日期格式应为 YYYY-MM-DD：{value}") from error


def _ratio(ratio):
    return {"num": ratio.num, "den": ratio.den, "rate": ratio.rate}


class Command(BaseCommand):
    help = (
        "Compliance with the work regimes for an organization's subtree and a date range: "
        "every pairing x regime x period (due, count, met, on time) and the roll-ups."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organization code (组织编码)")
        parser.add_argument("--start", required=True, type=_date, help="YYYY-MM-DD")
        parser.add_argument("--end", required=True, type=_date, help="YYYY-MM-DD")
        parser.add_argument("--regime", help="regime code, e.g. joint_meeting")
        parser.add_argument("--format", choices=["table", "csv", "json"], default="table")

    def handle(self, *args, **options):
        org = Organization.objects.alive().filter(code=options["org"]).first()
        if org is None:
            raise CommandError(f"没有编码为 {options['org']} 的党组织。")
        start, end = options["start"], options["end"]
        if start > end:
            raise CommandError("开始日期不能晚于结束日期。")
        codes = None
        if options["regime"]:
            if not Regime.objects.filter(code=options["regime"]).exists():
                raise CommandError(f"没有编码为 {options['regime']} 的制度。")
            codes = {options["regime"]}
        evaluation = compliance.evaluate(
            access.pairings_under(org), start, end, regime_codes=codes, today=timezone.localdate()
        )
        getattr(self, f"write_{options['format']}")(org, evaluation)

    def cell_rows(self, evaluation):
        for cell in evaluation.cells:
            pairing = evaluation.pairings[cell.pairing_id]
            yield {
                "pairing": pairing.code,
                "helper": pairing.helper.name,
                "helped": pairing.helped.name,
                "regime": cell.regime.code,
                "period": cell.period.code,
                "required": cell.required,
                "count": cell.count,
                "due": cell.due,
                "met": cell.met,
                "on_time": cell.on_time,
                "state": cell.state,
            }

    def write_json(self, org, evaluation):
        met, on_time = evaluation.total()
        document = {
            "organization": {"code": org.code, "name": org.name},
            "start": evaluation.start.isoformat(),
            "end": evaluation.end.isoformat(),
            "cells": list(self.cell_rows(evaluation)),
            "by_regime": [
                {"regime": r.code, "name": r.name, "met": _ratio(m), "on_time": _ratio(t)}
                for r, (m, t) in evaluation.by_regime().items()
            ],
            "by_period": [
                {"period": code, "met": _ratio(m), "on_time": _ratio(t)}
                for (_, code), (m, t) in evaluation.by_period().items()
            ],
            "total": {"met": _ratio(met), "on_time": _ratio(on_time)},
        }
        self.stdout.write(json.dumps(document, ensure_ascii=False, indent=2))

    def write_csv(self, org, evaluation):
        rows = list(self.cell_rows(evaluation))
        fields = list(rows[0]) if rows else ["pairing", "regime", "period"]
        writer = csv.DictWriter(self.stdout, fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    def write_table(self, org, evaluation):
        self.stdout.write(f"{org.name}  {evaluation.start} 至 {evaluation.end}")
        self.stdout.write(f"{'制度':<12}{'完成率（完成/应完成）':<24}按时率（按时/应完成）")
        for regime, (met, on_time) in evaluation.by_regime().items():
            self.stdout.write(f"{regime.name:<12}{met!s:<24}{on_time}")
        met, on_time = evaluation.total()
        self.stdout.write(f"{'合计':<12}{met!s:<24}{on_time}")
