"""The fault run: the load run, with PostgreSQL hard-stopped for 10 s in the middle.

    .venv/bin/python loadtest/fault.py            (or: make fault)

PostgreSQL here is the run's own private cluster (loadtest/cluster.py), never the machine's
shared server: `pg_ctl stop -m immediate` at STOP_AT seconds, started again OUTAGE seconds later
(in a `finally`, whatever happens). Then it checks, and exits 1 if any check fails:

1. during the outage every write (POST) answered 503 with the Chinese outage page, never a
   success, never another error; the fault script's own activity sent mid-outage too;
2. after PostgreSQL is back, the site answers again within 10 s without being restarted;
3. every activity acknowledged to a client (302 to its page) exists exactly once, under the
   acknowledged id, with exactly the participants and figures sent, its photo stored, its history
   rows, and (once the audit log app is merged) its audit row;
4. every submission never acknowledged is sent again with the same client_id and then exists
   exactly once; acknowledged ones sent again give back the same activity, no duplicate.
"""

import json
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loadtest.harness import Site, arguments, figures, machine, now, say
from loadtest.photo import PHOTO

STOP_AT = 20  # seconds into the load
OUTAGE = 10  # seconds PostgreSQL stays down
RECOVERY_LIMIT = 10  # seconds the site may take to answer again once PostgreSQL is up
OUTAGE_MARK = "数据库暂时无法连接"
SAMPLE_RESENDS = 20
WARM_ACKS = 10  # activities acknowledged before the stop

# The audit log (another branch): one "create" row per activity. The check is skipped, and says
# so, only while that table does not exist in the migrated database.
AUDIT_TABLE = "cobuild_auditevent"
AUDIT_CREATE_SQL = (
    f"SELECT count(*) FROM {AUDIT_TABLE} "
    "WHERE object_type = 'activities.activity' AND object_id = %s AND event = 'create'"
)


def csrf_token(html):
    marker = 'name="csrfmiddlewaretoken" value="'
    start = html.find(marker)
    return html[start + len(marker) : html.index('"', start + len(marker))] if start >= 0 else ""


def login(base, username, password):
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=10)
    answer = session.post(
        f"{base}/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": csrf_token(page.text),
        },
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302:
        raise SystemExit(f"{username} 登录失败（{answer.status_code}）。")
    return session


def send(session, base, fields, pairing, token=None):
    """Post an activity form as the locust secretaries do; (status, activity id or None, body)."""
    if token is None:
        token = csrf_token(session.get(f"{base}/activities/", timeout=30).text)
    answer = session.post(
        f"{base}/activities/new/?pairing={pairing}",
        data={**fields, "csrfmiddlewaretoken": token},
        files={"evidence": ("现场照片.jpg", PHOTO, "image/jpeg")},
        allow_redirects=False,
        timeout=30,
    )
    location = answer.headers.get("Location", "") if answer.status_code == 302 else ""
    parts = location.strip("/").split("/")
    pk = (
        int(parts[1])
        if len(parts) == 2 and parts[0] == "activities" and parts[1].isdigit()
        else None
    )
    return answer.status_code, pk, answer.text


class Probe(threading.Thread):
    """A logged-in user reading the activity list four times a second: when does it answer?"""

    def __init__(self, session, base):
        super().__init__(daemon=True)
        self.session, self.base = session, base
        self.answers = []  # (time, status, outage page?)
        self.running = True

    def run(self):
        while self.running:
            at = time.time()
            try:
                answer = self.session.get(f"{self.base}/activities/", timeout=5)
                status, page = answer.status_code, OUTAGE_MARK in answer.text
            except requests.RequestException:
                status, page = 0, False
            self.answers.append((at, status, page))
            time.sleep(max(0, 0.25 - (time.time() - at)))


def acknowledged(journal):
    if not journal.exists():
        return 0
    text = journal.read_text(encoding="utf-8")
    return text.count('"kind": "submission"') - text.count('"activity": null')


def read_journal(path):
    requests_, submissions = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        (submissions if record["kind"] == "submission" else requests_).append(record)
    return requests_, submissions


def main():
    options = arguments("故障测试：负载进行中停掉 PostgreSQL 10 秒再启动，核对没有丢失或重复。")
    say(
        f"故障测试 {now()}：{options.users} 个用户，{options.time} 秒；第 {STOP_AT} 秒后（且已有 "
        f"{WARM_ACKS} 条活动保存成功）硬停 "
        f"PostgreSQL（pg_ctl stop -m immediate），{OUTAGE} 秒后启动；{machine()}"
    )
    problems = []
    with Site(options) as site:
        base = site.url
        plan = json.loads(site.plan.read_text(encoding="utf-8"))
        password = plan["password"]
        probe = Probe(login(base, plan["probe"], password), base)
        writer = login(base, plan["pairs"][0]["helper"], password)
        own_fields, own_token = own_activity_fields(writer, base, plan["pairs"][0]["pairing"])
        journal = site.out / "journal.jsonl"
        prefix = site.out / "fault"
        locust = site.locust(prefix, journal)
        began = time.time()
        probe.start()
        # Stop once the load is really on: STOP_AT seconds in and at least WARM_ACKS activities
        # acknowledged (logins are slow on a busy box), but leave time to watch the recovery.
        latest = began + max(STOP_AT, options.time - OUTAGE - 20)
        while time.time() < began + STOP_AT or (
            acknowledged(journal) < WARM_ACKS and time.time() < latest
        ):
            time.sleep(0.5)

        stop_began = time.time()
        site.cluster.stop("immediate")
        stopped = time.time()
        say(
            f"第 {stopped - began:.0f} 秒：PostgreSQL 已硬停（用时 {stopped - stop_began:.1f} 秒）。"
        )
        try:
            time.sleep(3)
            # A write of our own in the middle of the outage: it must be refused with the page.
            own = send(writer, base, own_fields, plan["pairs"][0]["pairing"], own_token)
            time.sleep(max(0, OUTAGE - (time.time() - stopped)))
        finally:
            start_began = time.time()
            site.cluster.start()
            started = time.time()
        say(
            f"PostgreSQL 停止 {start_began - stopped:.1f} 秒后重新启动（启动用时 {started - start_began:.1f} 秒）。"
        )

        locust.wait(timeout=options.time + 60)
        probe.running = False
        probe.join()

        (site.out / "timeline.json").write_text(
            json.dumps(
                {
                    "load_began": began,
                    "stop_began": stop_began,
                    "stopped": stopped,
                    "start_began": start_began,
                    "started": started,
                    "probe": probe.answers,
                }
            )
        )

        # 2. Recovery.
        back = next(
            (at for at, status, _ in probe.answers if at >= started and status == 200), None
        )
        recovery = None if back is None else back - started
        if recovery is None or recovery > RECOVERY_LIMIT:
            problems.append(f"数据库恢复后 {RECOVERY_LIMIT} 秒内网站没有恢复（{recovery}）。")
        probe_outage = [
            (s, p) for at, s, p in probe.answers if stopped <= at and at + 5 <= start_began
        ]

        # 1. Answers during the outage.
        requests_, submissions = read_journal(journal)
        during = [r for r in requests_ if r["t0"] >= stopped and r["t1"] <= start_began]
        by_status = {}
        for record in during:
            key = f"{record['method']} {record['status'] or record.get('error', '无应答')}"
            if record["status"] != 503:
                key = f"{record['method']} {record['name']} {record['status']}"
            by_status[key] = by_status.get(key, 0) + 1
        bad = [
            r
            for r in during
            if (r["method"] == "POST" and r["status"] != 503)
            or (r["status"] >= 500 and not r.get("outage_page"))
        ]
        if bad:
            problems.append(
                f"停机期间有 {len(bad)} 个请求不是带中文页面的 503，例如："
                + json.dumps(bad[0], ensure_ascii=False)
            )
        if own[0] != 503 or OUTAGE_MARK not in own[2]:
            problems.append(f"停机期间本脚本提交的活动得到 {own[0]}，不是带中文页面的 503。")
        false_success = [
            s
            for s in submissions
            if s["t0"] >= stopped and s["t1"] <= start_began and s["activity"]
        ]
        if false_success:
            problems.append(f"停机期间有 {len(false_success)} 条活动提交得到了“成功”应答。")
        if any(s != 503 or not p for s, p in probe_outage):
            problems.append("停机期间探测请求有不是带中文页面的 503 的应答。")

        # 4. Resends: everything never acknowledged, and a sample of what was.
        acked = {}
        for s in submissions:
            if s["activity"]:
                if s["client_id"] in acked and acked[s["client_id"]]["activity"] != s["activity"]:
                    problems.append(f"同一 client_id {s['client_id']} 得到两个不同的活动。")
                acked.setdefault(s["client_id"], s)
        sent = {s["client_id"]: s for s in submissions}
        sent[own_fields["client_id"]] = {
            "client_id": own_fields["client_id"],
            "pairing": plan["pairs"][0]["pairing"],
            "user": plan["pairs"][0]["helper"],
            "fields": own_fields,
            "participants": own_fields["participants"],
            "outcomes": {k: v for k, v in own_fields.items() if k.startswith("metric_")},
        }
        sessions = {}
        unacked = [s for cid, s in sent.items() if cid not in acked]
        sample = list(acked.values())[:SAMPLE_RESENDS]
        resent_new = resent_same = 0
        for s in unacked + sample:
            session = sessions.get(s["user"]) or login(base, s["user"], password)
            sessions[s["user"]] = session
            status, pk, _ = send(session, base, s["fields"], s["pairing"])
            if pk is None:
                problems.append(f"重新提交 {s['client_id']} 得到 {status}，没有保存。")
                continue
            if s["client_id"] in acked:
                if pk != acked[s["client_id"]]["activity"]:
                    problems.append(f"重新提交已确认保存的 {s['client_id']} 得到另一条活动 {pk}。")
                resent_same += 1
            else:
                acked[s["client_id"]] = {**s, "activity": pk}
                resent_new += 1

        if options.sabotage:
            sabotage(site, acked)

        # 3. The database against what the clients were told.
        checked, audit_note = check_database(site, acked, sent, problems)
        lines, total = figures(prefix)
        say(f"压测结束，结果目录：{site.out}")

    say("")
    say(
        f"压测：共 {total['Request Count']} 个请求，平均每秒 {float(total['Requests/s']):.1f} 个；"
        f"失败 {total['Failure Count']} 个（停机期间的 503 计为失败）。"
    )
    for line in lines:
        say(line)
    say("")
    say(
        "停机期间的应答（请求完全落在停机窗口内）："
        + "，".join(f"{k} × {v}" for k, v in sorted(by_status.items()))
    )
    say(
        f"停机期间探测（每 0.25 秒读一次活动列表）：{len(probe_outage)} 次，"
        f"全部为带中文页面的 503：{'是' if all(s == 503 and p for s, p in probe_outage) else '否'}"
    )
    say(
        f"停机期间本脚本提交的活动：{own[0]}，中文停机页面：{'是' if OUTAGE_MARK in own[2] else '否'}"
    )
    say(
        f"网站恢复：PostgreSQL 可以连接后 {recovery:.2f} 秒内（上限 {RECOVERY_LIMIT} 秒）探测请求即成功，"
        f"未重启 gunicorn；从发出启动命令算起 {back - start_began:.1f} 秒（含数据库崩溃恢复 "
        f"{started - start_began:.1f} 秒）"
        if recovery is not None
        else "网站没有恢复"
    )
    say(
        f"活动提交：{len(submissions)} 次（含客户端重试 {sum(1 for s in submissions if s['retry'])} 次），"
        f"不同的 client_id {len(sent)} 个，压测中得到成功应答 {len(acked) - resent_new} 个；"
        f"事后重新提交：未得到应答的 {resent_new} 个（现已保存），已应答的抽样 {resent_same} 个（返回同一条活动）"
    )
    say(
        f"数据库核对：已应答的 {len(acked)} 条活动逐条核对（恰好一条、参加党员、成效、照片文件、"
        f"变更历史），{checked} 条在原编号下找到，发现问题 {len(problems)} 个；{audit_note}"
    )
    if problems:
        say(f"结论：失败，{len(problems)} 个问题：")
        for problem in problems[:20]:
            say(f"- {problem}")
        return 1
    say("结论：通过——停机期间写入一律 503 中文页面，没有虚假的成功；恢复及时；没有丢失，没有重复。")
    return 0


def own_activity_fields(session, base, pairing):
    """The fault script's own activity form, read while the database is up, sent during the
    outage (and again after it)."""
    page = session.get(f"{base}/activities/new/?pairing={pairing}", timeout=30).text

    def value(name):
        marker = f'name="{name}" value="'
        start = page.index(marker) + len(marker)
        return page[start : page.index('"', start)]

    return {
        "regime": "",
        "category": "study",
        "date": value("date"),
        "title": "停机期间提交的活动",
        "place": "党员活动室",
        "summary": "故障测试在数据库停止期间提交，恢复后重新提交。",
        "villager_count": "0",
        "evidence_kind": "photo",
        "client_id": value("client_id"),
        "submit": "1",
        "participants": [],
    }, csrf_token(page)


def sabotage(site, acked):
    """Damage the throwaway database the way a lost write would, to show the checks catch it:
    one acknowledged activity no longer exists under its client_id, another loses a participant."""
    with_members = [s for s in acked.values() if s["participants"]]
    first, second = with_members[0], with_members[-1]
    with psycopg.connect(site.database_url) as db, db.cursor() as cursor:
        cursor.execute(
            "UPDATE activities_activity SET client_id = gen_random_uuid() WHERE id = %s",
            [first["activity"]],
        )
        cursor.execute(
            "DELETE FROM activities_participation WHERE id = (SELECT min(id) FROM "
            "activities_participation WHERE activity_id = %s)",
            [second["activity"]],
        )
    say(
        f"（--sabotage：已弄丢活动 #{first['activity']}，删掉活动 #{second['activity']} 的一名参加党员）"
    )


def check_database(site, acked, sent, problems):
    """Each acknowledged activity exactly once with all it was sent with; no duplicates at all."""
    media = site.out / "media"
    with psycopg.connect(site.database_url) as db, db.cursor() as cursor:
        cursor.execute(
            "SELECT client_id::text, count(*) FROM activities_activity "
            "WHERE client_id::text = ANY(%s) GROUP BY client_id HAVING count(*) > 1",
            [list(sent)],
        )
        for client_id, count in cursor.fetchall():
            problems.append(f"client_id {client_id} 有 {count} 条活动（重复）。")
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [AUDIT_TABLE])
        audit_present = cursor.fetchone()[0]
        checked = 0
        for client_id, s in acked.items():
            cursor.execute(
                "SELECT id FROM activities_activity WHERE client_id = %s::uuid", [client_id]
            )
            rows = [r[0] for r in cursor.fetchall()]
            if rows != [s["activity"]]:
                problems.append(
                    f"已应答的活动 {client_id}（#{s['activity']}）在数据库中为 {rows}：丢失。"
                )
                continue
            pk = rows[0]
            cursor.execute(
                "SELECT member_id FROM activities_participation WHERE activity_id = %s", [pk]
            )
            members = sorted(r[0] for r in cursor.fetchall())
            if members != sorted(int(m) for m in s["participants"]):
                problems.append(
                    f"活动 #{pk} 的参加党员 {members} 与提交的 {s['participants']} 不符。"
                )
            cursor.execute(
                "SELECT 'metric_' || m.code, o.value FROM activities_outcome o "
                "JOIN activities_metric m ON m.id = o.metric_id WHERE o.activity_id = %s",
                [pk],
            )
            outcomes = {code: value for code, value in cursor.fetchall()}
            wanted = {code: Decimal(v) for code, v in s["outcomes"].items()}
            if outcomes != wanted:
                problems.append(f"活动 #{pk} 的成效 {outcomes} 与提交的 {wanted} 不符。")
            cursor.execute(
                "SELECT file, thumbnail FROM activities_evidence WHERE activity_id = %s", [pk]
            )
            evidence = cursor.fetchall()
            if len(evidence) != 1 or not all((media / name).is_file() for name in evidence[0]):
                problems.append(f"活动 #{pk} 的照片记录或文件不完整：{evidence}。")
            cursor.execute(
                "SELECT count(*) FROM activities_historicalactivity WHERE id = %s AND history_type = '+'",
                [pk],
            )
            created = cursor.fetchone()[0]
            cursor.execute(
                "SELECT count(*) FROM activities_historicalparticipation "
                "WHERE activity_id = %s AND history_type = '+'",
                [pk],
            )
            participations = cursor.fetchone()[0]
            if created != 1 or participations != len(s["participants"]):
                problems.append(
                    f"活动 #{pk} 的变更历史不完整（新增记录 {created}，参加党员记录 {participations}）。"
                )
            if audit_present:
                cursor.execute(AUDIT_CREATE_SQL, [str(pk)])
                if cursor.fetchone()[0] != 1:
                    problems.append(f"活动 #{pk} 没有恰好一条“新增”审计记录。")
            checked += 1
    audit_note = (
        "审计记录：已核对每条活动恰好一条“新增”审计记录"
        if audit_present
        else f"审计记录：跳过——审计日志表 {AUDIT_TABLE} 尚不存在（审计功能合并后此项自动生效）"
    )
    return checked, audit_note


if __name__ == "__main__":
    sys.exit(main())
