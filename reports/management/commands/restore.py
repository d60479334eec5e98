"""manage.py restore PATH: replace the database and stored files with a checked backup."""

import time

from django.core.management.base import BaseCommand, CommandError

from cobuild import backup


class Command(BaseCommand):
    help = (
        "从备份恢复：先核对备份文件的清单和每一项的校验和、以及数据库迁移版本，"
        "全部相符才动手；然后在一个事务中清空并重新写入每一张表，逐表复核行数和校验和"
        "（不符则全部撤销），最后写回佐证材料文件。当前数据库中的数据将被备份中的数据替换。"
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="backup 命令生成的备份文件")
        parser.add_argument(
            "--noinput", "--no-input", action="store_true", help="不询问确认，直接恢复。"
        )
        parser.add_argument(
            "--check", action="store_true", help="只核对备份文件（校验和与迁移版本），不恢复。"
        )

    def handle(self, *, path, noinput, check, verbosity, **options):
        started = time.monotonic()
        try:
            manifest = backup.verify_archive(path)
            backup.check_compatible(manifest)
        except backup.BackupError as error:
            raise CommandError(str(error)) from error
        rows = sum(t["rows"] for t in manifest["tables"].values())
        self.stdout.write(
            f"备份文件核对无误：{manifest['created_at']} 生成，{len(manifest['tables'])} 张表共 "
            f"{rows} 行，{len(manifest['files'])} 个文件。"
        )
        if check:
            return
        if not noinput:
            answer = input("恢复将用备份替换当前数据库中的全部数据。输入 yes 继续：")
            if answer.strip().lower() != "yes":
                raise CommandError("已取消，数据库未作任何改动。")
        log = self.stdout.write if verbosity > 1 else (lambda message: None)
        try:
            result = backup.restore(path, log=log)
        except backup.BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"恢复完成：{result.tables} 张表共 {result.rows} 行，{result.files} 个文件，"
                f"用时 {time.monotonic() - started:.1f} 秒。"
            )
        )
