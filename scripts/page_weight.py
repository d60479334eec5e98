"""Weigh the secretary's pages as a phone downloads them: compressed bytes of the HTML and of every
stylesheet, script, icon and image the page loads, on a first visit (empty cache) and on a repeat
visit (only what the browser may not keep from the first: the HTML, and any file not cached
forever by name).

Run it against a running server set up as in production (DEBUG off, collectstatic done, so static
files have hashed names and whitenoise serves them precompressed and cached forever); see
docs/guide-secretary.md, 页面大小, for the steps. Standard library only.

    python scripts/page_weight.py --base-url http://127.0.0.1:8106 --username village_secretary
"""

import argparse
import gzip
import http.cookiejar
import re
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser

import brotli  # installed with whitenoise's brotli support, which compresses the static files

ACCEPT_ENCODING = "gzip, deflate, br"  # what Chromium sends
FIRST_BUDGET = 200 * 1024
REPEAT_BUDGET = 30 * 1024
FOREVER = 365 * 24 * 3600  # a max-age of at least a year counts as cached forever


class Assets(HTMLParser):
    """The files a page makes the browser fetch, and its links (to find the next page)."""

    def __init__(self):
        super().__init__()
        self.files = []  # (kind, url)
        self.links = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("href"):
            rel = (attrs.get("rel") or "").split()
            if "stylesheet" in rel:
                self.files.append(("css", attrs["href"]))
            elif "icon" in rel:
                self.files.append(("img", attrs["href"]))
        elif tag == "script" and attrs.get("src"):
            self.files.append(("js", attrs["src"]))
        elif tag == "img" and attrs.get("src") and not attrs["src"].startswith("data:"):
            self.files.append(("img", attrs["src"]))
        elif tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])


@dataclass
class Fetched:
    url: str
    status: int
    body: bytes  # as sent: compressed when the server compressed it
    headers: dict

    @property
    def cached_forever(self):
        control = self.headers.get("cache-control", "")
        age = re.search(r"max-age=(\d+)", control)
        return "immutable" in control or bool(age and int(age.group(1)) >= FOREVER)


@dataclass
class Weight:
    name: str
    path: str
    html: int = 0
    by_kind: dict = field(default_factory=lambda: {"css": 0, "js": 0, "img": 0})
    repeat_files: int = 0  # bytes of files that a repeat visit downloads again
    uncompressed: list = field(default_factory=list)

    @property
    def first(self):
        return self.html + sum(self.by_kind.values())

    @property
    def repeat(self):
        return self.html + self.repeat_files


class Client:
    def __init__(self, base):
        self.base = base.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def fetch(self, url, data=None, *, compressed=True):
        url = urllib.parse.urljoin(self.base + "/", url)
        headers = {"User-Agent": "cobuild-page-weight", "Referer": self.base + "/"}
        if compressed:
            headers["Accept-Encoding"] = ACCEPT_ENCODING
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body, headers=headers)
        with self.opener.open(request) as response:
            return Fetched(
                response.geturl(),
                response.status,
                response.read(),
                {k.lower(): v for k, v in response.headers.items()},
            )

    def csrf(self):
        return next((c.value for c in self.jar if c.name == "csrftoken"), "")

    def log_in(self, username, password):
        self.fetch("/accounts/login/")
        page = self.fetch(
            "/accounts/login/",
            {"csrfmiddlewaretoken": self.csrf(), "username": username, "password": password},
        )
        if "/accounts/login/" in page.url:
            sys.exit(f"登录失败：{username}（用户名或密码不对，或服务器要求二次验证）")


def weigh(client, name, path):
    """One page on a first and a repeat visit."""
    page = client.fetch(path)
    weight = Weight(name, urllib.parse.urlparse(page.url).path)
    weight.html = len(page.body)
    weight.uncompressed.append(len(client.fetch(path, compressed=False).body))
    parser = Assets()
    parser.feed(decoded(page))
    # The service worker script, which offline.js registers on every signed-in page; the
    # browser checks it for updates on later visits too, so it counts on repeat visits.
    files = [*parser.files, ("js", "/sw.js")] if "offline" in decoded(page) else parser.files
    seen = set()
    for kind, url in files:
        if url in seen:
            continue
        seen.add(url)
        asset = client.fetch(url)
        weight.by_kind[kind] += len(asset.body)
        if not asset.cached_forever:
            weight.repeat_files += len(asset.body)
    return weight, [urllib.parse.urljoin(page.url, link) for link in parser.links]


def decoded(fetched):
    encoding = fetched.headers.get("content-encoding", "")
    body = fetched.body
    if encoding == "gzip":
        body = gzip.decompress(body)
    elif encoding == "br":
        body = brotli.decompress(body)
    return body.decode("utf-8", "replace")


def secretary_pages(client):
    """Home, the activity list, the new-activity form and one activity's page."""
    weights = []
    home, _ = weigh(client, "首页", "/")
    weights.append(home)
    listing, links = weigh(client, "活动列表", "/activities/")
    weights.append(listing)
    new, new_links = weigh(client, "登记活动", "/activities/new/")
    if "pairing=" not in new.path + client.fetch("/activities/new/").url:
        # Several pairings: the page asks which one first; weigh the form of the first too.
        new.name = "选择对子"
        weights.append(new)
        choice = next(link for link in new_links if "pairing=" in link)
        new, _ = weigh(client, "登记活动", choice)
    weights.append(new)
    detail = next(
        (
            link
            for link in links
            if re.fullmatch(r"/activities/\d+/", urllib.parse.urlparse(link).path)
        ),
        None,
    )
    if detail:
        weights.append(weigh(client, "活动详情", detail)[0])
    return weights


def kb(n):
    return f"{n / 1024:.1f} KB"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--username", default="village_secretary")
    parser.add_argument("--password", default="Cobuild#2026")
    args = parser.parse_args(argv)

    client = Client(args.base_url)
    client.log_in(args.username, args.password)
    weights = secretary_pages(client)

    print("| 页面 | 地址 | HTML | CSS | JS | 图片 | 首次打开合计 | 再次打开 | HTML 未压缩 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for w in weights:
        print(
            f"| {w.name} | {w.path} | {kb(w.html)} | {kb(w.by_kind['css'])} | "
            f"{kb(w.by_kind['js'])} | {kb(w.by_kind['img'])} | **{kb(w.first)}** | "
            f"**{kb(w.repeat)}** | {kb(w.uncompressed[0])} |"
        )
    worst_first = max(w.first for w in weights)
    worst_repeat = max(w.repeat for w in weights)
    print()
    print(
        f"最重的页面：首次 {kb(worst_first)}（上限 {kb(FIRST_BUDGET)}），"
        f"再次 {kb(worst_repeat)}（上限 {kb(REPEAT_BUDGET)}）。"
    )
    over = worst_first > FIRST_BUDGET or worst_repeat > REPEAT_BUDGET
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
