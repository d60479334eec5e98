"""What the load run and the fault run share: a private PostgreSQL cluster with the demo county,
gunicorn in front of it with production settings, locust against it, and the figures.

Everything is started here and stopped here (in `finally`), on 127.0.0.1 only.
"""

import argparse
import contextlib
import csv
import datetime
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from loadtest.cluster import PrivateCluster

ROOT = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
BIN = PYTHON.parent


def arguments(description, *, default_time=60):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--users", type=int, default=20, help="并发用户数（默认 20，上限 50）")
    parser.add_argument("--spawn-rate", type=float, default=2, help="每秒启动的用户数")
    parser.add_argument("--time", type=int, default=default_time, help="压测时长（秒）")
    parser.add_argument("--http-port", type=int, default=8104, help="gunicorn 端口（127.0.0.1）")
    parser.add_argument("--pg-port", type=int, default=55104, help="临时 PostgreSQL 端口")
    parser.add_argument("--database", default="cobuild_reliability_load", help="数据库名")
    parser.add_argument("--scale", default="demo", choices=["demo", "county"], help="演示数据规模")
    parser.add_argument("--pairs", type=int, default=10, help="参与压测的共建对子数")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn 进程数（默认按CPU）")
    parser.add_argument("--out", default=None, help="结果目录（默认临时目录）")
    parser.add_argument(
        "--sabotage",
        action="store_true",
        help="（仅故障测试）核对前故意在临时数据库中弄丢一条活动、删掉另一条的一名参加党员，"
        "以证明核对能发现问题：此时应以非零状态退出",
    )
    options = parser.parse_args()
    if not 1 <= options.users <= 50 or not 1 <= options.time <= 300:
        parser.error("用户数须在 1–50 之间，时长须在 1–300 秒之间。")
    return options


def say(message):
    print(message, flush=True)


class Site:
    """The private cluster, the seeded database and gunicorn; a context manager."""

    def __init__(self, options):
        self.options = options
        self.out = Path(options.out or tempfile.mkdtemp(prefix="cobuild-load-"))
        self.out.mkdir(parents=True, exist_ok=True)
        self.cluster = None
        self.gunicorn = None
        self.url = f"http://127.0.0.1:{options.http_port}"
        self.database_url = None
        self.env = None

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self):
        options = self.options
        started = time.monotonic()
        say(f"准备：临时 PostgreSQL 集群（127.0.0.1:{options.pg_port}）……")
        self.cluster = PrivateCluster(options.pg_port).init()
        self.cluster.start()
        self.cluster.create_database(options.database)
        self.database_url = f"{self.cluster.url}/{options.database}"
        media = self.out / "media"
        media.mkdir(exist_ok=True)
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Plain HTTP on 127.0.0.1: no TLS in front, so no secure cookies or HTTPS redirect.
            "SECURE_COOKIES": "false",
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_HSTS_SECONDS": "0",
            "MEDIA_ROOT": str(media),
            "LOG_LEVEL": "ERROR",
            "GUNICORN_BIND": f"127.0.0.1:{options.http_port}",
        }
        if options.workers:
            self.env["GUNICORN_WORKERS"] = str(options.workers)
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("collectstatic", "--noinput", "-v", "0")
        say(f"准备：生成演示数据（--scale {options.scale}）……")
        self.manage("seed_demo", "--scale", options.scale)
        self.plan = self.out / "plan.json"
        subprocess.run(
            [PYTHON, ROOT / "loadtest" / "prepare.py", self.plan, str(options.pairs)],
            env=self.env,
            cwd=ROOT,
            check=True,
        )
        say("准备：启动 gunicorn……")
        self.gunicorn_log = open(self.out / "gunicorn.log", "w")  # noqa: SIM115
        self.gunicorn = subprocess.Popen(
            [BIN / "gunicorn", "-c", ROOT / "gunicorn.conf.py"],
            env=self.env,
            cwd=ROOT,
            stdout=self.gunicorn_log,
            stderr=subprocess.STDOUT,
        )
        self.wait_until_up()
        say(f"准备完成，用时 {time.monotonic() - started:.0f} 秒。")

    def manage(self, *args):
        subprocess.run(
            [PYTHON, ROOT / "manage.py", *args],
            env=self.env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def wait_until_up(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.gunicorn.poll() is not None:
                raise SystemExit("gunicorn 启动失败，见 " + str(self.out / "gunicorn.log"))
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/accounts/login/", timeout=5) as answer,
            ):
                if answer.status == 200:
                    return
            time.sleep(0.5)
        raise SystemExit("gunicorn 在 60 秒内没有就绪。")

    def locust(self, csv_prefix, journal):
        """Start locust headless against the site; returns the running process."""
        options = self.options
        env = {**self.env, "LOAD_PLAN": str(self.plan), "LOAD_JOURNAL": str(journal)}
        return subprocess.Popen(
            [
                BIN / "locust",
                "-f",
                ROOT / "loadtest" / "locustfile.py",
                "--headless",
                "--users",
                str(options.users),
                "--spawn-rate",
                str(options.spawn_rate),
                "--run-time",
                f"{options.time}s",
                "--stop-timeout",
                "10",
                "--host",
                self.url,
                "--csv",
                str(csv_prefix),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            env=env,
            cwd=ROOT,
            stdout=open(self.out / "locust.log", "w"),
            stderr=subprocess.STDOUT,
        )

    def __exit__(self, *exc):
        if self.gunicorn is not None and self.gunicorn.poll() is None:
            self.gunicorn.send_signal(signal.SIGTERM)
            try:
                self.gunicorn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.gunicorn.kill()
        if self.cluster is not None:
            self.cluster.destroy()
        return False


def machine():
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} 核，开始时系统负载 {load[0]:.2f}；gunicorn gthread "
        f"{os.environ.get('GUNICORN_WORKERS') or (os.cpu_count() or 1) * 2 + 1} 进程 × 4 线程"
    )


def read_csv(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except FileNotFoundError:
        return []


def figures(csv_prefix):
    """The locust CSV summary as a Markdown table (per page: requests, failures, rps, p50, p95,
    max) and the errors; returns (lines, the aggregated row)."""
    rows = read_csv(f"{csv_prefix}_stats.csv")
    lines = [
        "| 页面 | 请求数 | 失败 | 每秒请求 | p50 (ms) | p95 (ms) | 最大 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        name = "**合计**" if row["Name"] == "Aggregated" else f"{row['Type']} {row['Name']}"
        lines.append(
            f"| {name} | {row['Request Count']} | {row['Failure Count']} | "
            f"{float(row['Requests/s']):.1f} | {row['50%']} | {row['95%']} | "
            f"{float(row['Max Response Time']):.0f} |"
        )
    failures = read_csv(f"{csv_prefix}_failures.csv")
    if failures:
        lines.append("")
        lines.append("错误：")
        for row in failures:
            lines.append(f"- {row['Occurrences']} × {row['Method']} {row['Name']}：{row['Error']}")
    else:
        lines.append("")
        lines.append("错误：无")
    total = next(r for r in rows if r["Name"] == "Aggregated")
    return lines, total


def now():
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
