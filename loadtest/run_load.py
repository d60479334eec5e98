"""The load run: 20 users for 60 s against gunicorn and a private PostgreSQL, on 127.0.0.1.

    .venv/bin/python loadtest/run_load.py            (or: make load)

Secretaries log activities with a photo, participants and figures and submit them; partner
secretaries confirm; county staff open the dashboards. Prints requests per second, p50/p95 per
page and the errors; exits non-zero if any request failed.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loadtest.harness import Site, arguments, figures, machine, now, say


def main():
    options = arguments("负载测试：秘书登记活动、对方确认、县委组织部查看统计。")
    say(f"负载测试 {now()}：{options.users} 个用户，{options.time} 秒，{machine()}")
    with Site(options) as site:
        prefix = site.out / "load"
        started = time.monotonic()
        locust = site.locust(prefix, site.out / "journal.jsonl")
        locust.wait(timeout=options.time + 60)
        say(f"压测结束，实际用时 {time.monotonic() - started:.0f} 秒。结果目录：{site.out}")
        lines, total = figures(prefix)
    for line in lines:
        say(line)
    failed = int(total["Failure Count"])
    say(f"结论：有 {failed} 个请求失败。" if failed else "结论：全部请求成功。")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
