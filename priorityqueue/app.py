"""Priority queue built from state and awakeables.

myService/expensiveMethod ──push(ticket, priority)──► queue/<name>  state: items, inFlight (<= 10)
          │  waits on its ticket (awakeable)               │ tick: resolve the tickets of the
          │◄───────────────── resolved ────────────────────┘ most urgent items while slots are free
          ▼
    expensive operation (ctx.run) ──done(ticket)──► queue frees the slot, admits the next item
    (cancelled while waiting ──drop(ticket)──► queue forgets the item)
"""

import restate

from priorityqueue.queue_service import queue
from priorityqueue.service import my_service

app = restate.app([queue, my_service])
