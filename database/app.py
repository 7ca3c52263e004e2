"""Database interaction patterns: how Restate handlers should talk to a relational database (PostgreSQL).

    simple          plain reads and writes, as from any service; `durableRead` journals what it read
    keyed/<userId>  one writer per row (virtual object); `updateConditional` versions the row so that a
                    retry cannot apply an update twice; shared `read` runs beside the writes
    idempotency     an idempotency key per update, inserted in the same transaction, expired after a day
    twoPhaseCommit  PREPARE TRANSACTION in one durable step, COMMIT PREPARED in the next: exactly once

You need nothing special to use a database from Restate: access it as from any other service. Restate's
journal, per-key concurrency and durable timers are helpers against the usual trouble: retries,
concurrent requests, and zombie processes.
"""

import restate

from database.idempotency import idempotency
from database.keyed import keyed
from database.simple import simple
from database.two_phase_commit import two_phase_commit

app = restate.app([simple, keyed, idempotency, two_phase_commit])
