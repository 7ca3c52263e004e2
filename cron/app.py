"""Cron jobs: a cron service built from durable timers, task control and K/V state.

    CronJobInitiator/create({cronExpression, service, method, key?, payload?}) ──► new job id
          │ call
          ▼
    CronJob/<jobId>/initiate ── schedule: now (from the journal) + cron expression = next run
          │                      delayed send to itself; its invocation id kept in `job-state`
          ▼
    CronJob/<jobId>/execute ──► one-way send to <service>/<key?>/<method>(payload), then schedule again
    CronJob/<jobId>/getInfo     the job: request, next_execution_time, next_execution_id
    CronJob/<jobId>/cancel      cancels the pending execute, forgets the job

The schedule lives in Restate: it survives restarts of the service and of restate-server, and each run
sends its task once.
"""

import restate

from cron.cron_service import cron_job, cron_job_initiator
from cron.task_service import task_service

app = restate.app([cron_job_initiator, cron_job, task_service])
