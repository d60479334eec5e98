"""gunicorn settings for Cobuild: `gunicorn` in the project folder picks this file up.

Threaded workers (gthread): the pages wait on PostgreSQL, not on the CPU. Every knob can be set
from the environment; the defaults suit a small county server.
"""

import multiprocessing
import os

wsgi_app = "cobuild.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A request still running after this many seconds is killed and its worker replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Workers are replaced now and then, so a slow leak cannot grow without bound.
max_requests = 5000
max_requests_jitter = 500
# Access logging is left to the reverse proxy in front; errors go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
# Uploads up to DATA_UPLOAD_MAX_MEMORY_SIZE plus evidence files: let the proxy cap the body.
limit_request_line = 8190


def worker_exit(server, worker):
    """A worker that ends (max_requests, a reload) drops its waiting background chores: the
    running one finishes within graceful_timeout (a province's parts take about 18 s)."""
    from cobuild import tasks

    tasks.stop()
