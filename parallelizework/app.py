"""Parallelizing work: fan-out / fan-in.

                          split task  ┌──► worker/runSubtask("a") ──┐  gather
    worker/run("a,b,c") ──────────────┼──► worker/runSubtask("b") ──┼────────► "a: DONE,b: DONE,c: DONE"
                                      └──► worker/runSubtask("c") ──┘

Each subtask is its own durable invocation: Restate runs them in parallel, and after a crash a finished
subtask is not run again; the aggregating invocation picks up the results from its journal.
"""

import restate

from parallelizework.fan_out_worker import worker

app = restate.app([worker])
