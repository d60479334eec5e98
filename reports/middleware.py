"""After a request that wrote, the counties it wrote in get their year's figures computed at
once; the first request of a day, a change every county reads and a write in more than
parts.REFRESH_LIMIT counties start computing every county's in the background."""

import logging

from django.db import DatabaseError
from django.utils import timezone

from reports import parts, stamps, tasks

logger = logging.getLogger("cobuild.parts")


class RefreshPartsMiddleware:
    """A write in a county renews its stamp, so its part (reports.parts) is missing until
    someone computes it: without this, the county's staff, or a province's after writes in
    a dozen counties, would wait for it on their next dashboard. The writing request computes
    it instead, after its transaction commits (this middleware wraps the audit middleware's
    transaction); a write that renewed every county's stamp, or more than parts.REFRESH_LIMIT,
    leaves them to reports.tasks.warm_parts, in the background (a province's figures take 6–8 s
    of a core, with the lists and the report's facts about 18 s).
    The write has been kept whatever happens here: a failure to compute is logged, and the
    reader computes the part as before.

    So does a day's first request in this process: the parts are kept by day, and the first
    wide page of the day would otherwise compute them all."""

    SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

    def __init__(self, get_response):
        self.get_response = get_response
        self.warmed_on = None

    def __call__(self, request):
        today = timezone.localdate()
        if self.warmed_on != today:
            self.warmed_on = today
            self._run("warming the day's parts", tasks.warm_once_a_day, today)
        if request.method in self.SAFE_METHODS:
            return self.get_response(request)
        try:
            before = stamps.read()
        except DatabaseError:
            before = None  # the view answers the outage
        response = self.get_response(request)
        if before is not None:
            self._run(
                f"computing the parts after {request.method} {request.path}", self._refresh, before
            )
        return response

    @staticmethod
    def _refresh(before):
        if parts.refresh(before, today=timezone.localdate()) is None:
            tasks.warm_parts.enqueue()

    @staticmethod
    def _run(what, chore, *args):
        try:
            chore(*args)
        except Exception:  # the request is answered whatever happens to a chore
            logger.exception(what)
