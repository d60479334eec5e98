"""A task backend (django.tasks) that runs each task in a thread of the process that enqueued
it, after the request that enqueued it has gone on: one task at a time per process, in order.

Django ships backends that run a task at once in the caller (ImmediateBackend) or never
(DummyBackend). Cobuild's tasks are chores a page would otherwise do for its reader (computing
every county's parts after a change they all read), so they need no queue that outlives the
process: if the process ends first, the next reader does the chore, as it would without them.
An installation with a worker queue (the django-tasks package's database backend, say) sets
COBUILD_TASKS_BACKEND to it instead.
"""

from concurrent.futures import ThreadPoolExecutor

from django.db import connections
from django.tasks.backends.immediate import ImmediateBackend
from django.tasks.base import TaskResult, TaskResultStatus
from django.utils.crypto import get_random_string

# One per process: Django makes a backend object per thread, and the tasks must not run at once.
_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cobuild-task")


class ThreadBackend(ImmediateBackend):
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
        _worker.submit(self._run, result)
        return result

    def _run(self, result):
        try:
            self._execute_task(result)  # logs a failure (django.tasks), as a worker would
        finally:
            connections.close_all()  # this thread's own: back to the pool, or closed
