"""Evidence downloads: the only way an uploaded file leaves the server, and only within scope."""

import logging
from pathlib import PurePosixPath

from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from activities.models import Evidence
from cobuild import audit
from pairings import access

logger = logging.getLogger(__name__)

# The types process_upload stores; anything else (a row made by hand) downloads as bytes.
SERVED_TYPES = {"image/jpeg", "image/png", "image/webp", "application/pdf"}


def _evidence_for(user, pk):
    """The evidence row if the user may read it (its owners out of the trash, access.py)."""
    return access.get_for_user(user, Evidence.objects.all(), pk=pk)


def _download_name(evidence, stored_name):
    """The user's file name with the extension of what is actually stored (HEIC became .jpg)."""
    extension = PurePosixPath(stored_name).suffix
    stem = PurePosixPath(evidence.original_name).stem or f"佐证材料{evidence.pk}"
    return f"{stem}{extension}"


def _serve(field, *, content_type, filename, as_attachment):
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        logger.warning("Evidence file missing from storage: %s", field.name)
        raise Http404("文件不存在。") from None
    response = FileResponse(
        handle, content_type=content_type, as_attachment=as_attachment, filename=filename
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    # Should a file ever be rendered as a page, it runs nothing and reaches nothing.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@require_GET
def evidence_file(request, pk):
    """The stored file: images shown inline, PDFs (and anything unexpected) downloaded."""
    evidence = _evidence_for(request.user, pk)
    content_type = evidence.content_type
    if content_type not in SERVED_TYPES:
        content_type = "application/octet-stream"
    response = _serve(
        evidence.file,
        content_type=content_type,
        filename=_download_name(evidence, evidence.file.name),
        as_attachment=not content_type.startswith("image/"),
    )
    # Recorded once the file is found, before a byte of it leaves (thumbnails are not recorded:
    # pages show them by the dozen).
    audit.record(audit.Kind.EVIDENCE_DOWNLOAD, request=request, obj=evidence)
    return response


@require_GET
def evidence_thumbnail(request, pk):
    """The small JPEG made at upload; PDFs have none (404)."""
    evidence = _evidence_for(request.user, pk)
    if not evidence.thumbnail:
        raise Http404("该材料没有缩略图。")
    return _serve(
        evidence.thumbnail,
        content_type="image/jpeg",
        filename=_download_name(evidence, evidence.thumbnail.name),
        as_attachment=False,
    )
