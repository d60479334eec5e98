"""Browser tests: Playwright drives Debian's chromium against pytest-django's live server.

No browser is downloaded: `.ci/run` installs Debian's `chromium` (and a CJK font, so screenshots
show hanzi rather than boxes) when they are missing. Without chromium these tests fail, never skip.
"""

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"width": 360, "height": 740}
PASSWORD = "Cobuild#2026"  # what tests.factories.make_user sets


@pytest.fixture(scope="module")
def browser() -> Browser:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests need Debian's chromium "
            "(apt-get install chromium fonts-wqy-microhei, as .ci/run does).",
            pytrace=False,
        )
    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API keeps an event loop running in this thread; without this, Django
        # refuses the tests' own ORM calls with SynchronousOnlyOperation.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep the call's report on the item, so fixtures can tell that the test failed."""
    report = yield
    if report.when == "call":
        item.failed_call = report.failed
    return report


def second_factor(page, user):
    """After the password: county staff and supervisors answer the two-step page (enrolling
    the first time), as a person with an authenticator app would. Others go straight on."""
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    if "/accounts/otp/" not in page.url:
        return
    device = TOTPDevice.objects.filter(user=user).order_by("-pk").first()
    # A code is good once: after this user's last one, take the next time step.
    now = int((time.time() - device.t0) // device.step)
    if device.last_t >= now + 1:
        time.sleep(device.step)
        now += 1
    step = max(now, device.last_t + 1)
    page.fill("#id_code", f"{totp(device.bin_key, device.step, device.t0, drift=step - now):06d}")
    if "/setup/" in page.url:
        page.get_by_role("button", name="完成设置").click()
        page.get_by_role("link", name="我已保存，继续").click()  # after noting the backup codes
    else:
        page.get_by_role("button", name="验证").click()


@dataclass
class Phone:
    """One person's browser context at phone size, with its console errors and screenshots."""

    name: str
    page: Page
    server: str
    shots: Path
    errors: list[str] = field(default_factory=list)

    def goto(self, path):
        self.page.goto(f"{self.server}{path}")

    def log_in(self, user):
        """Sign in through the login page, landing on the home page."""
        self.goto("/accounts/login/")
        self.page.fill("#id_username", user.username)
        self.page.fill("#id_password", PASSWORD)
        self.page.get_by_role("button", name="登录").click()
        second_factor(self.page, user)
        self.page.wait_for_url(f"{self.server}/")

    def shot(self, step, *, fits=True):
        """Screenshot the whole page; unless told otherwise, check it is no wider than the phone."""
        number = len(list(self.shots.glob("*.png"))) + 1
        self.page.screenshot(
            path=self.shots / f"{number:02d}-{self.name}-{step}.png", full_page=True
        )
        if fits:
            width = self.page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{self.page.url} is {width}px wide on a phone"

    def console(self, message):
        """Collect console errors (CSP violations and failed loads show up here)."""
        source = (message.location or {}).get("url", "")
        if message.type == "error" and "favicon" not in source:
            self.errors.append(f"{self.page.url}: {message.text} ({source})")


@pytest.fixture
def phones(browser, live_server, migration_rows, tmp_path_factory, request):
    """`phones(name)` → a new signed-out Phone on the live server; all closed afterwards."""
    shots = tmp_path_factory.mktemp("screenshots")
    opened = []

    def open_phone(name):
        context = browser.new_context(
            viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
        )
        context.set_default_timeout(10_000)
        phone = Phone(name=name, page=context.new_page(), server=live_server.url, shots=shots)
        phone.page.on("console", phone.console)
        phone.page.on("pageerror", lambda error: phone.errors.append(f"uncaught: {error}"))
        opened.append(phone)
        return phone

    yield open_phone
    for phone in opened:
        if getattr(request.node, "failed_call", False):
            phone.shot("failed", fits=False)
        phone.page.context.close()
    print(f"\nscreenshots: {shots}")
