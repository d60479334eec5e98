"""The secretary's pages stay light (issue: under 200 KB on a first visit, under 30 KB after).

scripts/page_weight.py measures a production server (docs/guide-secretary.md, 页面大小); this
guard weighs the same pages in-process on every test run: the HTML as GZipMiddleware sends it,
and each static file it loads gzipped at level 9 as whitenoise's collectstatic does (brotli,
which browsers prefer, is smaller still), so a page that grows past its budget fails here first.
"""

import gzip
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import TestCase
from django.urls import reverse

from tests.factories import make_activity, make_two_pairing_county

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "page_weight.py"
spec = importlib.util.spec_from_file_location("page_weight", SCRIPT)
page_weight = importlib.util.module_from_spec(spec)
spec.loader.exec_module(page_weight)


class PageWeightTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()
        cls.activity = make_activity(cls.w.pairing_a, title="三月集体学习")

    def setUp(self):
        self.client.force_login(self.w.organ_a_secretary)

    def weigh(self, url):
        """(first visit, repeat visit) in compressed bytes."""
        response = self.client.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
        assert response.status_code == 200, url
        assert response["Content-Encoding"] == "gzip", url
        html = len(response.content)
        parser = page_weight.Assets()
        parser.feed(gzip.decompress(response.content).decode())
        files = 0
        for _kind, src in dict.fromkeys(parser.files):
            assert src.startswith(settings.STATIC_URL), f"{url} loads {src} from elsewhere"
            path = finders.find(src.removeprefix(settings.STATIC_URL))
            files += len(gzip.compress(Path(path).read_bytes(), compresslevel=9))
        worker = self.client.get(reverse("service_worker"), HTTP_ACCEPT_ENCODING="gzip")
        sw = len(worker.content)
        return html + files + sw, html + sw

    def test_the_secretarys_pages_are_light_on_first_and_repeat_visits(self):
        pages = [
            reverse("home"),
            reverse("activities:list"),
            f"{reverse('activities:new')}?pairing={self.w.pairing_a.pk}",
            reverse("activities:detail", args=[self.activity.pk]),
        ]
        for url in pages:
            first, repeat = self.weigh(url)
            assert first < page_weight.FIRST_BUDGET, (url, first)
            assert repeat < page_weight.REPEAT_BUDGET, (url, repeat)
            # Far below the budgets today (about 17 KB and 5 KB): room for what is to come.
            assert first < 40 * 1024, (url, first)

    def test_production_serves_static_files_compressed_under_hashed_names(self):
        """With DEBUG off: whitenoise's storage (gzip and brotli copies, names that change with
        the content, and so cached forever by whitenoise), and pages gzipped after whitenoise."""
        env = {**os.environ, "DEBUG": "false", "SECRET_KEY": "x" * 50}
        code = (
            "import django; django.setup(); from django.conf import settings as s; "
            "print(s.STORAGES['staticfiles']['BACKEND']); print(*s.MIDDLEWARE[:3])"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**env, "DJANGO_SETTINGS_MODULE": "cobuild.settings"},
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        assert out[0] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
        assert out[1].split() == [
            "django.middleware.security.SecurityMiddleware",
            "whitenoise.middleware.WhiteNoiseMiddleware",
            "django.middleware.gzip.GZipMiddleware",
        ]
