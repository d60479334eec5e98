"""After a request that wrote, the counties it wrote in get their year's figures computed at once."""

import logging

from django.db import DatabaseError
from django.utils import timezone

from reports import parts, stamps

logger = logging.getLogger("cobuild.parts")


class RefreshPartsMiddleware:
    """A write in a county renews its stamp, so its part (reports.parts) is missing until
    someone computes it: without this, the county's staff, or a province's after writes in
    a dozen counties, would wait for it on their next dashboard. The writing request computes
    it instead, after its transaction commits (this middleware wraps the audit middleware's
    transaction). The write has been kept whatever happens here: a failure to compute is
    logged, and the reader computes the part as before."""

    SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in self.SAFE_METHODS:
            return self.get_response(request)
        try:
            before = stamps.read()
        except DatabaseError:
            before = None  # the view answers the outage
        response = self.get_response(request)
        if before is not None:
            try:
                parts.refresh(before, today=timezone.localdate())
            except Exception:  # the write is committed: the user must see it succeed
                logger.exception("computing the parts after %s %s", request.method, request.path)
        return response
