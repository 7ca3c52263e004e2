"""Rate limiting with a token bucket (a port of Go's golang.org/x/time/rate.Limiter).

myService/expensiveMethod ──reserve(n)──► limiter/myService-expensiveMethod   state: limit (tokens/s), burst,
          │◄── reservation: ok, dateToAct ──┘ takes n tokens now or owes them    tokens, last, lastEvent
          │     (not ok: more than burst → 429)
          ▼
    durable sleep until dateToAct ──► "expensive!"
    (cancelled while sleeping ──cancelReservation──► limiter gives the tokens back)
"""

import restate

from ratelimit.limiter import limiter
from ratelimit.service import my_service

app = restate.app([limiter, my_service])
