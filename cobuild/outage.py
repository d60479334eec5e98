"""A database outage answers 503 with a Chinese page, never a success and never a traceback.

Django turns an exception into a 500 wherever it is raised. Two places catch the database's:

- `DatabaseOutageMiddleware.process_exception` for those raised in a view (also with DEBUG on);
- `server_error`, the project's handler500, for those raised anywhere else (a session read in a
  middleware, a session save after the view): Django calls it inside the `except` block, so the
  exception is still at hand.

The page is rendered without the request, so no context processor touches the database. Once the
database is back, the next request opens a fresh connection (CONN_MAX_AGE 0, or health checks
for persistent ones): the site recovers by itself.
"""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.views import defaults

logger = logging.getLogger("cobuild.outage")

DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 10


def unavailable():
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseOutageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_ERRORS):
            logger.error(
                "database unavailable on %s %s: %s", request.method, request.path, exception
            )
            return unavailable()
        return None


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    """handler500: a database error anywhere in the request becomes the 503 page."""
    if isinstance(sys.exc_info()[1], DATABASE_ERRORS):
        return unavailable()
    return defaults.server_error(request, template_name)
