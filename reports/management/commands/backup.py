"""manage.py backup PATH: the database and every stored evidence file in one checksummed archive."""

import time

from django.core.management.base import BaseCommand, CommandError

from cobuild import backup


class Command(BaseCommand):
    help = (
        "备份整个系统：数据库的每一张表和每一个佐证材料文件，写入一个 .tar.gz 归档，"
        "附清单（迁移版本、每张表的行数与 SHA-256 校验和、每个文件的校验和）。"
        "在一个只读事务中导出，网站照常使用时备份的数据也前后一致。"
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="备份文件路径，如 /backups/cobuild-2026-11-28.tar.gz")

    def handle(self, *, path, verbosity, **options):
        started = time.monotonic()
        log = self.stdout.write if verbosity > 1 else (lambda message: None)
        try:
            result = backup.backup(path, log=log)
        except (backup.BackupError, OSError) as error:
            raise CommandError(f"备份失败：{error}") from error
        for name in result.missing_files:
            self.stderr.write(f"警告：数据库记录的文件“{name}”在存储中找不到，未能备份。")
        self.stdout.write(
            self.style.SUCCESS(
                f"备份完成：{result.path}，{result.tables} 张表共 {result.rows} 行，"
                f"{result.files} 个文件，用时 {time.monotonic() - started:.1f} 秒。"
            )
        )
