# Type stub for queue/__init__.py: the re-export shim exposes the standard library's `queue` API, so type
# checkers (which find this folder first from the repository root) must see that API too. It mirrors
# typeshed's stdlib/queue.pyi (Python 3.11+); the pattern's own modules (queue.app, ...) are checked as usual.
import sys
from _queue import Empty as Empty
from _queue import SimpleQueue as SimpleQueue
from threading import Condition, Lock
from types import GenericAlias
from typing import Any, Generic, TypeVar

from _typeshed import SupportsRichComparisonT

__all__ = ["Empty", "Full", "Queue", "PriorityQueue", "LifoQueue", "SimpleQueue"]
if sys.version_info >= (3, 13):
    __all__ += ["ShutDown"]

_T = TypeVar("_T")

class Full(Exception): ...

if sys.version_info >= (3, 13):
    class ShutDown(Exception): ...

class Queue(Generic[_T]):
    maxsize: int
    mutex: Lock
    not_empty: Condition
    not_full: Condition
    all_tasks_done: Condition
    unfinished_tasks: int
    queue: Any
    def __init__(self, maxsize: int = 0) -> None: ...
    def empty(self) -> bool: ...
    def full(self) -> bool: ...
    def get(self, block: bool = True, timeout: float | None = None) -> _T: ...
    def get_nowait(self) -> _T: ...
    if sys.version_info >= (3, 13):
        def shutdown(self, immediate: bool = False) -> None: ...

    def put(self, item: _T, block: bool = True, timeout: float | None = None) -> None: ...
    def put_nowait(self, item: _T) -> None: ...
    def join(self) -> None: ...
    def qsize(self) -> int: ...
    def task_done(self) -> None: ...
    def __class_getitem__(cls, item: Any, /) -> GenericAlias: ...

class PriorityQueue(Queue[SupportsRichComparisonT]):
    queue: list[SupportsRichComparisonT]

class LifoQueue(Queue[_T]):
    queue: list[_T]
