"""The load scenario: secretaries log activities with a photo, partners confirm them, staff open
the dashboards. Run it through loadtest/run_load.py or loadtest/fault.py, which set it up.

Environment: LOAD_PLAN (the JSON written by loadtest/prepare.py: logins per pairing),
LOAD_JOURNAL (a JSON-lines file: every request, and every activity submission with what was sent
and how it was answered; the fault run checks the database against it).

Bounded on purpose: only 127.0.0.1/localhost, at most MAX_USERS users and MAX_SECONDS seconds.
"""

import itertools
import json
import os
import random
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from locust import HttpUser, between, events, task
from locust.util.timespan import parse_timespan

from loadtest.photo import PHOTO
from loadtest.totp import totp

MAX_USERS = 50
MAX_SECONDS = 300
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
OUTAGE_MARK = "数据库暂时无法连接"
OTP_PAGE = "/accounts/otp/"  # two-factor login's code page, where it is installed

PLAN = json.loads(Path(os.environ["LOAD_PLAN"]).read_text(encoding="utf-8"))
# Open for the whole run (closed when locust exits); one line per record, flushed at once.
JOURNAL = open(os.environ.get("LOAD_JOURNAL", os.devnull), "a", buffering=1, encoding="utf-8")  # noqa: SIM115
_pair_numbers = itertools.count()


def journal(**record):
    JOURNAL.write(json.dumps(record, ensure_ascii=False) + "\n")


@events.init.add_listener
def refuse_unbounded_or_remote(environment, **kwargs):
    host = urlparse(environment.host or "").hostname
    if host not in LOCAL_HOSTS:
        raise SystemExit(f"只允许对本机压测（127.0.0.1），拒绝对 {host} 发起请求。")
    options = environment.parsed_options
    if options is not None:
        run_time = options.run_time
        if isinstance(run_time, str):
            run_time = parse_timespan(run_time)
        if options.num_users is None or options.num_users > MAX_USERS:
            raise SystemExit(f"必须用 -u 限定并发用户数，且不超过 {MAX_USERS}。")
        if not run_time or run_time > MAX_SECONDS:
            raise SystemExit(f"必须用 -t 限定时长，且不超过 {MAX_SECONDS} 秒。")


@events.request.add_listener
def journal_request(request_type, name, response_time, response, exception, start_time, **kwargs):
    status = getattr(response, "status_code", 0) or 0
    record = {
        "kind": "request",
        "method": request_type,
        "name": name,
        "status": status,
        "t0": start_time,
        "t1": start_time + response_time / 1000,
    }
    if exception is not None and status == 0:
        record["error"] = type(exception).__name__
    if status >= 500:
        record["outage_page"] = OUTAGE_MARK in (getattr(response, "text", "") or "")
    journal(**record)


def csrf_token(html):
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    return match.group(1) if match else ""


def login(client, username, password):
    """Log in through the login form, as a person would; True when it worked."""
    page = client.get("/accounts/login/", name="登录页")
    if page.status_code != 200:
        return False
    answer = client.post(
        "/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": csrf_token(page.text),
        },
        allow_redirects=False,
        name="登录",
    )
    return answer.status_code == 302


def staff_login(client, username, password):
    """County staff log in here: password, then — where two-factor login is installed and the
    load set-up gave this login an authenticator key — the TOTP code the app would show."""
    page = client.get("/accounts/login/", name="登录页")
    if page.status_code != 200:
        return False
    answer = client.post(
        "/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": csrf_token(page.text),
        },
        allow_redirects=False,
        name="登录",
    )
    if answer.status_code != 302:
        return False
    key = PLAN.get("totp", {}).get(username)
    if key is None:
        return True
    # The second step, as the site asks for it before any other page answers.
    second = client.get(OTP_PAGE, allow_redirects=False, name="登录（验证码页）")
    if second.status_code != 200 or 'name="code"' not in second.text:
        return False
    verified = client.post(
        OTP_PAGE,
        data={"code": totp(key), "csrfmiddlewaretoken": csrf_token(second.text)},
        allow_redirects=False,
        name="登录（验证码）",
    )
    return verified.status_code == 302


_staff_numbers = itertools.count()


class Secretary(HttpUser):
    """The helping branch's secretary: logs an activity with participants, figures and a photo,
    and submits it for the partner's confirmation; now and then looks at the list."""

    weight = 5
    wait_time = between(1, 3)

    def on_start(self):
        self.pair = PLAN["pairs"][next(_pair_numbers) % len(PLAN["pairs"])]
        self.logged_in = False
        self.pending = []  # submissions answered with anything but success: sent again as they were

    def ensure_login(self):
        if not self.logged_in:
            self.logged_in = login(self.client, self.pair["helper"], PLAN["password"])
        return self.logged_in

    @task(4)
    def log_activity(self):
        if not self.ensure_login():
            return
        if self.pending:
            self.submit(self.pending.pop(0), retry=True)
            return
        form = self.client.get(
            f"/activities/new/?pairing={self.pair['pairing']}", name="登记活动（表单）"
        )
        if form.status_code != 200:
            return
        html = form.text
        client_id = re.search(r'name="client_id" value="([^"]+)"', html)
        date = re.search(r'name="date" value="([^"]+)"', html)
        if not client_id or not date:
            return
        members = re.findall(r'name="participants" value="(\d+)"', html)
        metrics = re.findall(r'name="(metric_\w+)"', html)
        regimes = [
            r
            for r in re.findall(
                r'<option value="(\d+)"',
                html.split('name="regime"', 1)[-1].split("</select>", 1)[0],
            )
        ]
        participants = sorted(random.sample(members, min(len(members), random.randint(2, 5))))
        outcomes = {
            name: str(random.randint(1, 50))
            for name in random.sample(metrics, min(2, len(metrics)))
        }
        data = {
            "pairing": self.pair["pairing"],
            "client_id": client_id.group(1),
            "fields": {
                "regime": random.choice(regimes) if regimes else "",
                "category": "study",
                "date": date.group(1),
                "title": f"压测活动 {client_id.group(1)[:8]}",
                "place": "党员活动室",
                "summary": "负载测试生成的活动记录。",
                "villager_count": str(random.randint(0, 30)),
                "evidence_kind": "photo",
                "client_id": client_id.group(1),
                "submit": "1",
                "participants": participants,
                **outcomes,
            },
            "participants": participants,
            "outcomes": outcomes,
        }
        self.submit(data, token=csrf_token(html))

    def submit(self, data, *, token=None, retry=False):
        if token is None:  # a retry: a fresh token from a page that needs no form state
            page = self.client.get("/activities/", name="活动列表")
            if page.status_code != 200:
                self.pending.append(data)
                return
            token = csrf_token(page.text)
        sent = time.time()
        answer = self.client.post(
            f"/activities/new/?pairing={data['pairing']}",
            data={**data["fields"], "csrfmiddlewaretoken": token},
            files={"evidence": ("现场照片.jpg", PHOTO, "image/jpeg")},
            allow_redirects=False,
            name="登记活动（提交）",
        )
        location = answer.headers.get("Location", "") if answer.status_code == 302 else ""
        saved = re.fullmatch(r"/activities/(\d+)/", location)
        journal(
            kind="submission",
            client_id=data["client_id"],
            pairing=data["pairing"],
            user=self.pair["helper"],
            fields=data["fields"],
            participants=data["participants"],
            outcomes=data["outcomes"],
            status=answer.status_code,
            activity=int(saved.group(1)) if saved else None,
            retry=retry,
            t0=sent,
            t1=time.time(),
        )
        if not saved:
            self.pending.append(data)

    @task(1)
    def browse(self):
        if self.ensure_login():
            self.client.get("/activities/", name="活动列表")


class Partner(HttpUser):
    """The helped branch's secretary: confirms the activities waiting for them."""

    weight = 3
    wait_time = between(1, 3)

    def on_start(self):
        self.pair = PLAN["pairs"][next(_pair_numbers) % len(PLAN["pairs"])]
        self.logged_in = False

    @task
    def confirm(self):
        if not self.logged_in:
            self.logged_in = login(self.client, self.pair["helped"], PLAN["password"])
            if not self.logged_in:
                return
        listing = self.client.get(
            f"/activities/?status=submitted&pairing={self.pair['pairing']}",
            name="活动列表（待确认）",
        )
        if listing.status_code != 200:
            return
        ids = re.findall(r'href="/activities/(\d+)/"', listing.text)
        if not ids:
            return
        pk = random.choice(ids[:10])
        detail = self.client.get(f"/activities/{pk}/", name="活动详情")
        if detail.status_code == 200 and f'action="/activities/{pk}/confirm/"' in detail.text:
            self.client.post(
                f"/activities/{pk}/confirm/",
                data={"csrfmiddlewaretoken": csrf_token(detail.text)},
                allow_redirects=False,
                name="确认活动",
            )


class Staff(HttpUser):
    """County staff: the dashboard and the compliance overview."""

    weight = 2
    wait_time = between(2, 5)

    def on_start(self):
        # One load user per staff login: a TOTP code is accepted only once.
        self.username = PLAN["staff"][next(_staff_numbers) % len(PLAN["staff"])]
        self.logged_in = False

    def ensure_login(self):
        if not self.logged_in:
            self.logged_in = staff_login(self.client, self.username, PLAN["password"])
        return self.logged_in

    def page(self, path, name):
        """A staff page must answer itself: a redirect (to a sign-in step) counts as a failure."""
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code} {answer.headers.get('Location', '')}")

    @task(3)
    def dashboard(self):
        if self.ensure_login():
            self.page("/", "首页（统计看板）")

    @task(1)
    def compliance(self):
        if self.ensure_login():
            self.page("/compliance/", "制度落实情况")
