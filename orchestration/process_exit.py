"""How the `dtm` and `dtm-dbt` processes end once their command has finished.

Python's own end of a process frees its objects one by one; with the millions that Dagster,
dbt and GX leave, that took 1.4–2.4 s of every `dtm` command after its last line was printed.
Here the exit handlers run as usual (threads joined, logs flushed, temporary folders removed,
child processes joined), and then the process exits without that teardown.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import NoReturn

_exit_code: int | None = None


def _end_process() -> None:
    # No code: the command raised, and Python ends the process as it always does.
    if _exit_code is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_code)


def arm() -> None:
    """Call first, before importing what the command needs: exit handlers run last registered
    first, so this one runs after those of every module imported later."""
    atexit.register(_end_process)


def finish(code: int | None) -> NoReturn:
    """End the process with `code` once the exit handlers have run."""
    global _exit_code
    _exit_code = code or 0
    sys.exit(_exit_code)
