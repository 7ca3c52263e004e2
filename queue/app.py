"""(Delayed) message queue: Restate as a durable task queue.

    task_submitter ──/send (idempotency-key = task id, ?delay=10s)──► Restate ──► asyncTaskWorker/runTask
          │                                                            (queue, durable timer)
          └──── /restate/invocation/asyncTaskWorker/runTask/<task id>/attach ◄── the result, later

The submitter does not wait for the worker: the one-way send returns as soon as Restate has the task.
The idempotency key makes a resubmitted task a no-op, and lets any process fetch the result later.
"""

import restate

from .async_task_worker import async_task_worker

app = restate.app([async_task_worker])
