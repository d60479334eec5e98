"""The service worker that lets a secretary open the activity form and log activities offline."""

from django.contrib.auth.decorators import login_not_required
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe


@require_safe
@login_not_required
@cache_control(no_cache=True, max_age=0)
def service_worker(request):
    """static/js/sw.js under the site's root, so it may serve every page it caches.

    Rendered as a template so it names the static files by their hashed (cache-forever) names.
    """
    response = render(request, "sw.js", content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    return response
