"""Evidence uploads (photos, sign-in sheets, minutes): check, clean and name them for storage.

A file is judged by its content, never by its name or the browser's content type. Images are
decoded and re-encoded, so whatever rode along (EXIF with GPS position, comments, a script after
the image data) is dropped; PDFs are kept as they are and only ever downloaded as attachments.
Files are stored under random names; the user's name is kept for display only.
"""

import io
import uuid
from dataclasses import dataclass

import filetype
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from activities.models import Evidence

MAX_PIXELS = 40_000_000  # a 40-megapixel photo is beyond any phone's; more is a bomb
LONG_SIDE = 2560  # stored images are downscaled to this on the long side
THUMB_SIDE = 320
JPEG_QUALITY = 85
NAME_LENGTH = 200  # Evidence.original_name

# No image/heic here: iPhones then convert their HEIC photos to JPEG as they upload them.
ACCEPT = "image/jpeg,image/png,image/webp,application/pdf"

# What the content says (filetype) → the Pillow formats that may decode it, and how it is stored.
IMAGE_TYPES = {
    "image/jpeg": ({"JPEG", "MPO"}, "JPEG"),  # MPO: phones' multi-picture JPEGs
    "image/png": ({"PNG"}, "PNG"),
    "image/webp": ({"WEBP"}, "WEBP"),
    "image/heic": ({"HEIF", "HEIC"}, "JPEG"),  # only with a HEIF plugin registered in Pillow
}
OUTPUT = {  # Pillow format → (content type, extension)
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
PDF = "application/pdf"


@dataclass(frozen=True)
class ProcessedUpload:
    kind: str
    file: ContentFile
    thumbnail: ContentFile | None
    original_name: str
    content_type: str
    size: int


def display_name(name):
    """The user's file name without any folder part or control characters, at most 200 chars."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if len(name) > NAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: NAME_LENGTH - len(ext) - 1] + "." + ext
        else:
            name = name[:NAME_LENGTH]
    return name


def human_size(n):
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= factor:
            return f"{n / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} 字节"


def _refuse_format(name):
    return ValidationError(
        "文件“%(name)s”不是支持的格式：只能上传 JPEG、PNG、WebP 图片或 PDF 文件。",
        code="evidence_format",
        params={"name": name},
    )


def _refuse_heic(name):
    return ValidationError(
        "文件“%(name)s”是 HEIC 格式的照片，系统暂不能处理：请转换为 JPEG 后再上传"
        "（苹果手机可在“设置—相机—格式”中选择“兼容性最佳”）。",
        code="evidence_heic",
        params={"name": name},
    )


def _refuse_pixels(name):
    return ValidationError(
        "图片“%(name)s”的像素过多（超过 %(limit)s 万像素），请缩小后再上传。",
        code="evidence_pixels",
        params={"name": name, "limit": MAX_PIXELS // 10_000},
    )


def _read(upload, name):
    """The upload's bytes, refused before reading when it is too big or empty."""
    limit = settings.COBUILD["EVIDENCE_MAX_BYTES"]
    too_big = ValidationError(
        "文件“%(name)s”超过 %(limit)s 的大小限制。",
        code="evidence_too_large",
        params={"name": name, "limit": human_size(limit)},
    )
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise too_big
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise too_big
    if not data:
        raise ValidationError(
            "文件“%(name)s”是空文件，请重新选择。", code="evidence_empty", params={"name": name}
        )
    return data


def _to_srgb(image):
    """Apply an embedded colour profile (phones' Display P3) so it can be dropped."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA"):
        return image
    try:
        return ImageCms.profileToProfile(
            image,
            ImageCms.ImageCmsProfile(io.BytesIO(icc)),
            ImageCms.createProfile("sRGB"),
            outputMode=image.mode,
        )
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image


def _upright(image):
    """The image turned as its EXIF orientation says (a broken EXIF block leaves it as it is)."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:
        return image.copy()


def _flatten(image):
    """RGB on a white background (for JPEG, which has no transparency)."""
    if image.mode in ("RGB", "L"):
        return image
    image = image.convert("RGBA")
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    return background


def _normalise(image, output):
    """A mode the output format stores, with transparency kept where the format has it."""
    if output == "JPEG":
        return _flatten(image)
    if "transparency" in image.info or image.mode == "PA":
        return image.convert("RGBA")
    if output == "PNG" and image.mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if output == "WEBP" and image.mode in ("RGB", "RGBA"):
        return image
    return image.convert("RGBA" if image.mode in ("RGBA", "LA") else "RGB")


def _encode(image, output):
    buffer = io.BytesIO()
    if output == "JPEG":
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif output == "WEBP":
        image.save(buffer, "WEBP", quality=JPEG_QUALITY)
    else:
        image.save(buffer, "PNG")
    return buffer.getvalue()


def _process_image(data, mime, name):
    formats, output = IMAGE_TYPES[mime]
    Image.init()
    registered = [f for f in formats if f in Image.OPEN]
    if not registered:
        raise _refuse_heic(name) if mime == "image/heic" else _refuse_format(name)
    try:
        with Image.open(io.BytesIO(data), formats=registered) as opened:
            width, height = opened.size
            if width * height > MAX_PIXELS:
                raise _refuse_pixels(name)
            opened.load()
            image = _upright(opened)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # The warning is only an exception where warnings are errors (tests); elsewhere the
        # pixel check above refuses the same image.
        raise _refuse_pixels(name) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _refuse_format(name) from None
    image = _to_srgb(image)
    image = _normalise(image, output)
    image.info = {}  # no EXIF, XMP, comments or colour profile reach the stored file
    image.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
    encoded = _encode(image, output)
    image = _flatten(image)  # may be the same image: shrunk in place only once it is encoded
    image.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return encoded, output, _encode(image, "JPEG")


def process_upload(upload, *, kind=Evidence.Kind.PHOTO):
    """Check one uploaded file by its content and make it ready to store as Evidence.

    Raises ValidationError (in Chinese, naming the file) for anything but a JPEG, PNG, WebP or
    (when Pillow can read it) HEIC image, or a PDF; for an empty or too big file; and for an
    image with too many pixels. A PDF passed as a photo is kept as kind "other".
    """
    name = display_name(getattr(upload, "name", ""))
    shown = name or "未命名文件"
    data = _read(upload, shown)
    guess = filetype.guess(data)
    mime = guess.mime if guess else None
    stem = uuid.uuid4().hex
    if mime == PDF and data.startswith(b"%PDF-"):
        if kind == Evidence.Kind.PHOTO:
            kind = Evidence.Kind.OTHER
        return ProcessedUpload(
            kind=kind,
            file=ContentFile(data, name=f"{stem}.pdf"),
            thumbnail=None,
            original_name=name,
            content_type=PDF,
            size=len(data),
        )
    if mime not in IMAGE_TYPES:
        raise _refuse_format(shown)
    encoded, output, thumb = _process_image(data, mime, shown)
    content_type, extension = OUTPUT[output]
    return ProcessedUpload(
        kind=kind,
        file=ContentFile(encoded, name=f"{stem}.{extension}"),
        thumbnail=ContentFile(thumb, name=f"{stem}.jpg"),
        original_name=name,
        content_type=content_type,
        size=len(encoded),
    )


def check_count(existing_count, new_count):
    """Refuse when a record would hold more evidence files than allowed."""
    limit = settings.COBUILD["EVIDENCE_MAX_FILES"]
    if existing_count + new_count > limit:
        raise ValidationError(
            "每条记录最多 %(limit)s 个佐证材料文件：已有 %(existing)s 个，本次又选了 %(new)s 个。",
            code="evidence_count",
            params={"limit": limit, "existing": existing_count, "new": new_count},
        )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True

    def __init__(self, attrs=None):
        super().__init__({"accept": ACCEPT, **(attrs or {})})


class MultipleFileField(forms.FileField):
    """Several files in one field; cleans to a list of uploads (empty when none were chosen)."""

    widget = MultipleFileInput

    def clean(self, data, initial=None):
        if not isinstance(data, list | tuple):
            data = [data]
        files = [upload for upload in data if upload]
        if not files:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        cleaned, errors = [], []
        for upload in files:
            try:
                cleaned.append(super().clean(upload, initial))
            except ValidationError as error:
                errors.extend(error.error_list)
        if errors:
            raise ValidationError(errors)
        return cleaned
