"""Import a ledger workbook (共建台账) from the command line: the same import as the web page."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from reports.importer import run_import


class Command(BaseCommand):
    help = (
        "导入共建台账工作簿（.xlsx）：先预检并列出将新增、更新、不变的行和所有问题；"
        "有任何问题则不做任何修改并以状态1退出，否则写入（加 --dry-run 只预检不写入）。"
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="工作簿路径（.xlsx）")
        parser.add_argument("--dry-run", action="store_true", help="只预检，不写入数据库。")
        parser.add_argument(
            "--user",
            help="以该用户的名义导入（记入导入记录，并只允许改动其管辖范围）；不填则不限范围。",
        )

    def handle(self, *args, path, dry_run, user, **options):
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"找不到文件：{path}")
        importer = None
        if user:
            try:
                importer = get_user_model().objects.get(username=user)
            except get_user_model().DoesNotExist as error:
                raise CommandError(f"没有用户“{user}”。") from error
        result = run_import(file.read_bytes(), file.name, user=importer, apply=not dry_run)
        if result.refused:
            raise CommandError(f"{result.refused}未做任何修改。")
        plan = result.plan
        self.stdout.write("预检结果：")
        for sheet in plan.sheets.values():
            if sheet.present:
                self.stdout.write(
                    f"  {sheet.name}：新增{sheet.created}行，更新{sheet.updated}行，"
                    f"不变{sheet.unchanged}行"
                )
            else:
                self.stdout.write(f"  {sheet.name}：（文件中没有这张表）")
        for warning in plan.warnings:
            self.stdout.write(f"提示：{warning}")
        if plan.problems:
            self.stdout.write(f"发现{len(plan.problems)}个问题：")
            for p in plan.problems:
                where = f"第{p.row}行" if p.row else ""
                column = f"{p.column}列" if p.column else ""
                header = f"“{p.header}”" if p.header else ""
                value = f"（原值：{p.value}）" if p.value else ""
                self.stdout.write(f"  {p.sheet} {where}{column}{header}{value}：{p.reason}")
            raise CommandError(f"有{len(plan.problems)}个问题，未做任何修改。")
        if dry_run:
            self.stdout.write(self.style.SUCCESS("预检通过（--dry-run，未写入）。"))
        elif result.run is not None:
            self.stdout.write(self.style.SUCCESS(f"已导入（导入记录 #{result.run.pk}）。"))
