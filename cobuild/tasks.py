"""A task backend (django.tasks) that runs each task in a thread of the process that enqueued
it, after the request that enqueued it has gone on: one task at a time per process, in order.

Django ships backends that run a task at once in the caller (ImmediateBackend) or never
(DummyBackend). Cobuild's tasks are chores a page would otherwise do for its reader (computing
every county's parts after a change they all read), so they need no queue that outlives the
process. When a gunicorn worker ends (gunicorn.conf.py's worker_exit calls stop()), the task
running finishes and the waiting ones are dropped: the next reader does those chores, as it
would without them. An installation with a worker queue (the django-tasks package's database
backend, say) sets COBUILD_TASKS_BACKEND to it instead.
"""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connections
from django.tasks.backends.immediate import ImmediateBackend
from django.tasks.base import TaskResult, TaskResultStatus
from django.utils.crypto import get_random_string

# One per process: Django makes a backend object per thread, and the tasks must not run at once.
_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cobuild-task")
# The tasks enqueued and not started yet, by task and arguments.
_waiting = {}
_waiting_lock = threading.Lock()


def stop():
    """Drop the tasks waiting to start; the running one finishes (the process waits for it).
    An enqueue after this raises RuntimeError (the middleware logs it)."""
    with _waiting_lock:
        _waiting.clear()
        _worker.shutdown(wait=False, cancel_futures=True)


class ThreadBackend(ImmediateBackend):
    """A task enqueued again while the same task with the same arguments waits to start is not
    queued twice: the waiting one runs after both (ten changes to the regimes in a row compute
    every county's parts twice, after the first and after the last, not ten times, when they
    come while the first runs). First in, first out: no priorities."""

    supports_priority = False

    def enqueue(self, task, args, kwargs):
        self.validate_task(task)
        result = TaskResult(
            task=task,
            id=get_random_string(32),
            status=TaskResultStatus.READY,
            enqueued_at=None,
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        key = (task.module_path, json.dumps([args, kwargs], sort_keys=True, default=str))
        with _waiting_lock:
            if key in _waiting:
                return _waiting[key]
            _waiting[key] = result
        try:
            _worker.submit(self._run, key, result)
        except RuntimeError:  # the process is ending (stop()): the next reader does the chore
            with _waiting_lock:
                del _waiting[key]
            raise
        return result

    def _run(self, key, result):
        with _waiting_lock:
            del _waiting[key]  # started: a change from now on needs another run
        try:
            self._execute_task(result)  # logs a failure (django.tasks), as a worker would
        finally:
            connections.close_all()  # this thread's own: back to the pool, or closed
