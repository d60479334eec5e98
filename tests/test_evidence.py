"""Evidence uploads: checked by content, cleaned of metadata, stored under random names, and
downloaded only within the user's scope."""

import io
import os
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import SimpleTestCase, TestCase, override_settings
from django.urls import URLResolver, get_resolver, reverse
from django.utils.datastructures import MultiValueDict
from django.views.static import serve as static_serve
from PIL import ExifTags, Image

from activities.evidence import (
    MultipleFileField,
    check_count,
    human_size,
    process_upload,
)
from activities.models import Evidence
from pairings.models import Assignment
from tests.factories import (
    make_activity,
    make_branch,
    make_commitment,
    make_county,
    make_evidence,
    make_inspection,
    make_pairing,
    make_rectification,
    make_user,
)

Role = Assignment.Role
FORMAT_ERROR = "文件“{}”不是支持的格式：只能上传 JPEG、PNG、WebP 图片或 PDF 文件。"
PIXEL_ERROR = "图片“{}”的像素过多（超过 4000 万像素），请缩小后再上传。"
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp|pdf)$")


def image_bytes(fmt, size=(40, 20), color=(200, 30, 30), mode="RGB", **save_kwargs):
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, fmt, **save_kwargs)
    return buffer.getvalue()


def two_colour_jpeg(**save_kwargs):
    """40×20: red on the left half, blue on the right."""
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (20, 0, 40, 20))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, **save_kwargs)
    return buffer.getvalue()


def png_claiming(width, height):
    """A 1×1 PNG whose header claims another size (what a decompression bomb declares)."""
    data = bytearray(image_bytes("PNG", size=(1, 1)))
    struct.pack_into(">II", data, 16, width, height)  # IHDR width and height
    struct.pack_into(">I", data, 29, zlib.crc32(data[12:29]))  # IHDR checksum
    return bytes(data)


def upload(name, data, content_type="image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def opened(content_file):
    content_file.seek(0)
    return Image.open(io.BytesIO(content_file.read()))


def refusal(data, name):
    with pytest.raises(ValidationError) as caught:
        process_upload(upload(name, data))
    return caught.value.messages


class ImageProcessingTests(SimpleTestCase):
    def test_jpeg_with_gps_is_reencoded_without_exif_and_gets_a_thumbnail(self):
        exif = Image.Exif()
        exif[ExifTags.Base.Make] = "TestPhone"
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[ExifTags.GPS.GPSLatitudeRef] = "N"
        gps[ExifTags.GPS.GPSLatitude] = (22.0, 30.0, 15.0)
        gps[ExifTags.GPS.GPSLongitudeRef] = "E"
        gps[ExifTags.GPS.GPSLongitude] = (100.0, 45.0, 30.0)
        original = image_bytes("JPEG", size=(800, 600), exif=exif.tobytes(), comment=b"secret")
        assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)

        processed = process_upload(upload("IMG_0001.JPG", original))

        stored = processed.file.read()
        assert b"Exif" not in stored
        assert b"secret" not in stored
        image = opened(processed.file)
        assert image.format == "JPEG"
        assert not image.getexif()
        assert "exif" not in image.info
        assert image.size == (800, 600)
        thumb = opened(processed.thumbnail)
        assert thumb.format == "JPEG"
        assert thumb.size == (320, 240)
        assert processed.content_type == "image/jpeg"
        assert processed.size == len(stored)
        assert processed.kind == Evidence.Kind.PHOTO

    def test_exif_orientation_is_applied_to_the_pixels(self):
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = 6  # shot with the phone held upright: turn 90° right
        processed = process_upload(upload("portrait.jpg", two_colour_jpeg(exif=exif.tobytes())))

        image = opened(processed.file).convert("RGB")
        assert image.size == (20, 40)
        red, _, blue = image.getpixel((10, 5))
        assert red > 200 and blue < 60  # the left (red) half is now on top
        red, _, blue = image.getpixel((10, 35))
        assert blue > 200 and red < 60

    def test_png_stays_png_and_keeps_transparency(self):
        data = image_bytes("PNG", mode="RGBA", color=(0, 128, 0, 100))
        processed = process_upload(upload("签到表.png", data, "image/png"))

        image = opened(processed.file)
        assert image.format == "PNG"
        assert image.mode == "RGBA"
        assert processed.content_type == "image/png"
        assert processed.file.name.endswith(".png")
        assert opened(processed.thumbnail).format == "JPEG"

    def test_webp_stays_webp(self):
        processed = process_upload(upload("会场.webp", image_bytes("WEBP"), "image/webp"))

        assert opened(processed.file).format == "WEBP"
        assert processed.content_type == "image/webp"
        assert processed.file.name.endswith(".webp")

    def test_large_photo_is_downscaled_to_2560_on_the_long_side(self):
        processed = process_upload(upload("wide.png", image_bytes("PNG", size=(3000, 1000))))

        assert opened(processed.file).size == (2560, 853)
        assert opened(processed.thumbnail).size == (320, 107)

    def test_stored_name_is_random_and_the_users_name_is_kept_for_display(self):
        first = process_upload(upload("C:\\fakepath\\活动照片.JPG", image_bytes("JPEG")))
        second = process_upload(upload("../../etc/活动照片.JPG", image_bytes("JPEG")))

        assert first.original_name == "活动照片.JPG"
        assert second.original_name == "活动照片.JPG"
        assert STORED_NAME.match(first.file.name)
        assert first.file.name != second.file.name
        assert first.thumbnail.name.endswith(".jpg")

    def test_long_name_is_cut_to_200_characters_keeping_the_extension(self):
        processed = process_upload(upload("照" * 300 + ".jpg", image_bytes("JPEG")))

        assert len(processed.original_name) == 200
        assert processed.original_name.endswith("照.jpg")

    def test_pdf_is_accepted_untouched_without_thumbnail(self):
        processed = process_upload(upload("会议记录.pdf", PDF_BYTES, "application/pdf"))

        assert processed.file.read() == PDF_BYTES
        assert processed.thumbnail is None
        assert processed.content_type == "application/pdf"
        assert processed.original_name == "会议记录.pdf"
        assert STORED_NAME.match(processed.file.name) and processed.file.name.endswith(".pdf")
        assert processed.size == len(PDF_BYTES)
        assert processed.kind == Evidence.Kind.OTHER  # a PDF is no photo

    def test_pdf_keeps_the_kind_it_was_given(self):
        processed = process_upload(
            upload("会议记录.pdf", PDF_BYTES, "application/pdf"), kind=Evidence.Kind.MINUTES
        )

        assert processed.kind == Evidence.Kind.MINUTES

    def test_heic_is_accepted_only_when_pillow_can_read_it(self):
        try:
            import pillow_heif  # an optional plugin, absent unless installed

            pillow_heif.register_heif_opener()
            buffer = io.BytesIO()
            Image.new("RGB", (40, 20), (200, 30, 30)).save(buffer, "HEIF")
            data = buffer.getvalue()
        except ImportError:
            # An ISO-BMFF file that says it is HEIC: what an iPhone sends, minus the image.
            data = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
        try:
            Image.open(io.BytesIO(data)).load()
            readable = True
        except Exception:
            readable = False

        if readable:
            processed = process_upload(upload("IMG_0002.HEIC", data, "image/heic"))
            assert processed.content_type == "image/jpeg"
            assert processed.file.name.endswith(".jpg")
        else:
            messages = refusal(data, "IMG_0002.HEIC")
            assert messages[0].startswith("文件“IMG_0002.HEIC”是 HEIC 格式的照片")


class RefusalTests(SimpleTestCase):
    def test_html_with_a_png_header_is_refused(self):
        data = b"\x89PNG\r\n\x1a\n<html><script>alert(document.cookie)</script></html>"

        assert refusal(data, "photo.png") == [FORMAT_ERROR.format("photo.png")]

    def test_executable_renamed_jpg_is_refused(self):
        data = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200

        assert refusal(data, "photo.jpg") == [FORMAT_ERROR.format("photo.jpg")]

    def test_windows_executable_renamed_jpg_is_refused(self):
        data = b"MZ\x90\x00" + b"\x00" * 200

        assert refusal(data, "photo.jpg") == [FORMAT_ERROR.format("photo.jpg")]

    def test_gif_and_svg_are_refused(self):
        svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'

        assert refusal(image_bytes("GIF"), "a.gif") == [FORMAT_ERROR.format("a.gif")]
        assert refusal(svg, "a.svg") == [FORMAT_ERROR.format("a.svg")]

    def test_truncated_jpeg_is_refused(self):
        data = image_bytes("JPEG", size=(400, 300))

        assert refusal(data[: len(data) // 2], "half.jpg") == [FORMAT_ERROR.format("half.jpg")]

    def test_pdf_header_alone_does_not_make_a_pdf(self):
        data = b"%PDX-1.4 <html></html>"

        assert refusal(data, "a.pdf") == [FORMAT_ERROR.format("a.pdf")]

    def test_empty_file_is_refused(self):
        assert refusal(b"", "empty.jpg") == ["文件“empty.jpg”是空文件，请重新选择。"]

    @override_settings(COBUILD={**settings.COBUILD, "EVIDENCE_MAX_BYTES": 1024})
    def test_file_over_the_size_limit_is_refused_before_it_is_read(self):
        class Unreadable(SimpleUploadedFile):
            def read(self, *args):
                raise AssertionError("read a file that is too big")

        big = Unreadable("big.jpg", b"x" * 2000, content_type="image/jpeg")

        with pytest.raises(ValidationError) as caught:
            process_upload(big)
        assert caught.value.messages == ["文件“big.jpg”超过 1 KB 的大小限制。"]

    def test_default_size_limit_is_10_mb(self):
        assert settings.COBUILD["EVIDENCE_MAX_BYTES"] == 10 * 1024 * 1024
        assert human_size(settings.COBUILD["EVIDENCE_MAX_BYTES"]) == "10 MB"

    def test_image_over_40_megapixels_is_refused_before_decoding(self):
        assert refusal(png_claiming(8000, 6000), "big.png") == [PIXEL_ERROR.format("big.png")]

    def test_decompression_bombs_are_refused(self):
        # Past Pillow's own limits: 100 Mpx (it warns) and 400 Mpx (it raises).
        for width in (10_000, 20_000):
            assert refusal(png_claiming(width, width), "bomb.png") == [
                PIXEL_ERROR.format("bomb.png")
            ]

    def test_too_many_files_are_refused(self):
        check_count(4, 5)  # exactly nine is fine

        with pytest.raises(ValidationError) as caught:
            check_count(5, 5)
        assert caught.value.messages == [
            "每条记录最多 9 个佐证材料文件：已有 5 个，本次又选了 5 个。"
        ]

    @override_settings(COBUILD={**settings.COBUILD, "EVIDENCE_MAX_FILES": 2})
    def test_file_count_limit_comes_from_settings(self):
        with pytest.raises(ValidationError):
            check_count(0, 3)


class EvidenceForm(forms.Form):
    evidence = MultipleFileField(label="佐证材料", required=False)


class MultipleFileFieldTests(SimpleTestCase):
    def test_several_files_clean_to_a_list(self):
        files = MultiValueDict(
            {"evidence": [upload("a.jpg", image_bytes("JPEG")), upload("b.pdf", PDF_BYTES)]}
        )
        form = EvidenceForm(data={}, files=files)

        assert form.is_valid()
        assert [f.name for f in form.cleaned_data["evidence"]] == ["a.jpg", "b.pdf"]

    def test_no_file_cleans_to_an_empty_list(self):
        form = EvidenceForm(data={}, files=MultiValueDict())

        assert form.is_valid()
        assert form.cleaned_data["evidence"] == []

    def test_required_field_without_files_is_an_error(self):
        class RequiredForm(forms.Form):
            evidence = MultipleFileField(label="佐证材料")

        form = RequiredForm(data={}, files=MultiValueDict())

        assert not form.is_valid()
        assert form.errors["evidence"] == ["这个字段是必填项。"]

    def test_widget_accepts_several_files_of_the_supported_types(self):
        html = str(EvidenceForm()["evidence"])

        assert "multiple" in html
        assert 'accept="image/jpeg,image/png,image/webp,application/pdf"' in html


class StorageSettingsTests(SimpleTestCase):
    def run_settings(self, **env):
        code = (
            "import django; django.setup();"
            "from django.core.files.storage import default_storage as s;"
            "print(type(s._wrapped).__name__ if hasattr(s, '_wrapped') else '', end=' ');"
            "s._setup() if hasattr(s, '_setup') else None;"
            "w = s._wrapped;"
            "print(type(w).__name__, w.bucket_name, w.default_acl, w.file_overwrite,"
            " w.querystring_auth, 'X-Amz-Signature' in w.url('evidence/a.jpg'))"
        )
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cobuild.settings",
            "DEBUG": "true",
            **env,
        }
        return subprocess.run(
            [sys.executable, "-c", code],
            env=environment,
            cwd=Path(settings.BASE_DIR),
            capture_output=True,
            text=True,
            timeout=60,
        )

    def test_s3_bucket_makes_the_default_storage_private_s3_with_signed_urls(self):
        result = self.run_settings(
            S3_BUCKET="cobuild-evidence",
            S3_ENDPOINT_URL="http://127.0.0.1:9000",
            S3_ACCESS_KEY_ID="key",
            S3_SECRET_ACCESS_KEY="secret",
        )

        assert result.returncode == 0, result.stderr
        assert result.stdout.split()[-6:] == [
            "S3Storage",
            "cobuild-evidence",
            "None",
            "False",
            "True",
            "True",
        ]

    def test_s3_bucket_without_its_secret_fails_at_start_up(self):
        result = self.run_settings(S3_BUCKET="cobuild-evidence", S3_SECRET_ACCESS_KEY="")

        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr

    def test_no_route_serves_uploads_as_static_files(self):
        def views(resolver):
            for pattern in resolver.url_patterns:
                if isinstance(pattern, URLResolver):
                    yield from views(pattern)
                else:
                    yield pattern.callback

        assert static_serve not in set(views(get_resolver(settings.ROOT_URLCONF)))


def content(response):
    """The streamed body; reading it to the end closes the file, as a WSGI server would."""
    return b"".join(response.streaming_content)


class DownloadViewTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        county = make_county()
        organ = make_branch(county, name="县财政局机关党支部")
        village = make_branch(county, sector="rural", name="石门村党支部")
        cls.pairing = make_pairing(organ, village)
        other_organ = make_branch(county)
        other_village = make_branch(county, sector="rural")
        make_pairing(other_organ, other_village)
        cls.organ_secretary = make_user(role=Role.SECRETARY, org=organ)
        cls.partner_secretary = make_user(role=Role.SECRETARY, org=village)
        cls.outsider = make_user(role=Role.SECRETARY, org=other_village)
        cls.staff = make_user(role=Role.COUNTY_STAFF, org=county)
        cls.activity = make_activity(cls.pairing)
        cls.photo_bytes = two_colour_jpeg()
        cls.photo = cls.evidence_from(
            upload("活动照片.HEIC.jpg", cls.photo_bytes), activity=cls.activity
        )
        cls.pdf = cls.evidence_from(
            upload("会议记录.pdf", PDF_BYTES, "application/pdf"), activity=cls.activity
        )

    @staticmethod
    def evidence_from(file, **owner):
        processed = process_upload(file)
        return make_evidence(
            **owner,
            kind=processed.kind,
            file=processed.file,
            thumbnail=processed.thumbnail or "",
            original_name=processed.original_name,
            content_type=processed.content_type,
            size=processed.size,
        )

    def get(self, user, name, evidence, method="get"):
        if user:
            self.client.force_login(user)
        pk = evidence if isinstance(evidence, int) else evidence.pk
        url = reverse(f"activities:{name}", args=[pk])
        return getattr(self.client, method)(url)

    def test_partner_secretary_sees_the_photo_inline_with_its_type(self):
        response = self.get(self.partner_secretary, "evidence_file", self.photo)

        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Cache-Control"] == "private, max-age=3600"
        assert response["Content-Disposition"] == (
            "inline; filename*=utf-8''%E6%B4%BB%E5%8A%A8%E7%85%A7%E7%89%87.HEIC.jpg"
        )
        body = content(response)
        self.photo.file.open("rb")
        assert body == self.photo.file.read()
        self.photo.file.close()

    def test_download_takes_a_fixed_number_of_queries(self):
        self.client.force_login(self.partner_secretary)
        url = reverse("activities:evidence_file", args=[self.photo.pk])

        # session, user, the user's assignments, the evidence row (scope and trash in one),
        # and the download's audit row
        with self.assertNumQueries(5):
            content(self.client.get(url))

    def test_partner_secretary_sees_the_thumbnail(self):
        response = self.get(self.partner_secretary, "evidence_thumbnail", self.photo)

        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert Image.open(io.BytesIO(content(response))).size == (40, 20)

    def test_pdf_downloads_as_an_attachment_under_its_original_name(self):
        response = self.get(self.organ_secretary, "evidence_file", self.pdf)

        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == (
            "attachment; filename*=utf-8''%E4%BC%9A%E8%AE%AE%E8%AE%B0%E5%BD%95.pdf"
        )
        assert content(response) == PDF_BYTES

    def test_pdf_has_no_thumbnail(self):
        assert self.get(self.organ_secretary, "evidence_thumbnail", self.pdf).status_code == 404

    def test_row_with_an_unexpected_type_downloads_as_bytes_never_as_html(self):
        evidence = make_evidence(activity=self.activity, content_type="text/html")

        response = self.get(self.staff, "evidence_file", evidence)

        assert response.status_code == 200
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment;")
        content(response)

    def test_secretary_of_an_unrelated_branch_gets_404_for_file_and_thumbnail(self):
        assert self.get(self.outsider, "evidence_file", self.photo).status_code == 404
        assert self.get(self.outsider, "evidence_thumbnail", self.photo).status_code == 404

    def test_anonymous_is_sent_to_login(self):
        response = self.get(None, "evidence_file", self.photo)

        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))

    def test_post_is_not_allowed(self):
        assert self.get(self.staff, "evidence_file", self.photo, "post").status_code == 405
        assert self.get(self.staff, "evidence_thumbnail", self.photo, "post").status_code == 405

    def test_guessed_id_gets_404(self):
        missing = Evidence.objects.order_by("-pk").first().pk + 1000

        assert self.get(self.staff, "evidence_file", missing).status_code == 404
        assert self.get(self.staff, "evidence_thumbnail", missing).status_code == 404

    def test_evidence_of_a_trashed_activity_gets_404(self):
        self.activity.trash(by=self.staff)

        assert self.get(self.staff, "evidence_file", self.photo).status_code == 404
        assert self.get(self.staff, "evidence_thumbnail", self.photo).status_code == 404

    def test_evidence_of_a_trashed_pairing_gets_404(self):
        self.pairing.trash(by=self.staff)

        assert self.get(self.staff, "evidence_file", self.photo).status_code == 404

    def test_commitment_evidence_is_served_until_the_commitment_is_trashed(self):
        commitment = make_commitment(self.pairing)
        evidence = make_evidence(commitment=commitment)

        response = self.get(self.partner_secretary, "evidence_file", evidence)
        assert response.status_code == 200
        content(response)
        assert self.get(self.outsider, "evidence_file", evidence).status_code == 404

        commitment.trash(by=self.staff)
        assert self.get(self.partner_secretary, "evidence_file", evidence).status_code == 404

    def test_rectification_evidence_is_served_until_the_rectification_is_trashed(self):
        rectification = make_rectification(make_inspection(self.pairing))
        evidence = make_evidence(rectification=rectification)

        response = self.get(self.partner_secretary, "evidence_file", evidence)
        assert response.status_code == 200
        content(response)
        assert self.get(self.outsider, "evidence_file", evidence).status_code == 404

        rectification.trash(by=self.staff)
        assert self.get(self.partner_secretary, "evidence_file", evidence).status_code == 404

    def test_file_missing_from_storage_gets_404(self):
        evidence = make_evidence(activity=self.activity)
        evidence.file.storage.delete(evidence.file.name)

        assert self.get(self.staff, "evidence_file", evidence).status_code == 404
