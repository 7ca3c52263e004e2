"""The (delayed) message queue pattern, and a stand-in for the standard library's `queue` module.

Under `python -m queue` (run from the repository root) this folder is the top-level package `queue`, and it
shadows the standard library's `queue` for everything in that process: `concurrent.futures`,
`logging.handlers`, restate-sdk and hypercorn all `import queue`. So this file loads the standard library's
`queue.py` under a private name and re-exports its public names: `queue.Queue`, `queue.SimpleQueue`, ...
keep working, and `queue.task_submitter`, `queue.app`, ... are this pattern's modules.
"""

import importlib.util
import sys
import sysconfig
from pathlib import Path

_NAME = "_stdlib_queue"
if _NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_NAME, Path(sysconfig.get_paths()["stdlib"]) / "queue.py")
    assert _spec is not None and _spec.loader is not None
    sys.modules[_NAME] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[_NAME])
_stdlib = sys.modules[_NAME]

__all__ = list(_stdlib.__all__)  # Empty, Full, Queue, PriorityQueue, LifoQueue, SimpleQueue (+ ShutDown on 3.13)
globals().update({name: getattr(_stdlib, name) for name in __all__})
