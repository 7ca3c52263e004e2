"""Batching: group items into batches of 10, or send what is there after at most 1 s.

    receive(item) ──► batcher/<key>   state: items, expireInvocationId
                        │ 1st item: schedule expire() on itself in MAX_BATCH_WAIT, keep its invocation id
                        │ 10th item: cancel that expire, send the batch, clear the state
                        │ expire() fires first: send the undersized batch, clear the state
                        ▼
                      batchReceiver/<key>/receive({items})   (one-way send)

Items, the pending timer and its invocation id live in Restate, so a crash of the service between two
items loses nothing, and each item goes out in exactly one batch.
"""

import restate

from batching.batcher import batch_receiver, batcher

app = restate.app([batcher, batch_receiver])
