"""Stateful actors and state machines: the machine operator.

    machineOperator/<machineId>/setUp ─┐   one invocation at a time per machine id (the others queue up);
    machineOperator/<machineId>/tearDown ┘  different machines transition in parallel

    status (state):   (none) ──setUp──► UP ──tearDown──► DOWN ──setUp──► UP ...
    each transition:  log "Beginning", maybe fail (or crash the process), durable sleep 5 s, log "Done"

A failed or crashed transition is retried by Restate and resumes from the journal.
"""

import restate

from statefulactors.machine_operator import machine_operator

app = restate.app([machine_operator])
