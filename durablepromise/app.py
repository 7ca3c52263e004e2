"""Durable promises as a service.

    any process ──► promise/resolve|reject|peek|await|dispose {"promiseId": ...}   (front service)
                          │  forwards to
                          ▼
                    promises/<promiseId>   state: value {value|error}, listeners [awakeable ids]
                          │  resolves the listeners' awakeables once completed
                          ▼
    waiting `promise/await` calls and handlers (qna/ask) get the value

Also served: `qna`, the question-and-answer service of example 4, built on the client library.
"""

import restate

from durablepromise.example4 import qna
from durablepromise.promises import promise, promises

app = restate.app([promises, promise, qna])
