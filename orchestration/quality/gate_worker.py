"""Great Expectations started ahead of the gates, in a process of its own.

Importing GX takes 2.3–3.0 s and about 83 MB, and the first gate of every `dtm run` waited for
it (importing it in a thread meanwhile was slower: both threads need the GIL, measured). `dtm
run` starts this worker first, before it imports Dagster: it imports GX on the other core while
`dtm` starts and the load run reads and loads the files. Each gate then sends its frame and
suite and gets back its failures and its Data Docs page; the gate records them in the warehouse
as before.
Without a worker (the tests' own gates, the service's run processes) or once it has gone, a
gate validates in its own process: the verdict is the same either way (tested).

The protocol is pickles on the worker's standard input and a private copy of its standard
output (its fd 1 is pointed at stderr, so nothing GX prints can break a reply). The worker ends
at end of file on its input: when `dtm` ends, even killed. A worker never asked (a run with
nothing to load) is killed at `dtm`'s end instead of waited for.
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import subprocess
import sys
import threading
from typing import IO, TYPE_CHECKING, Any

from orchestration import helper_process, process_exit
from orchestration.helper_process import read_message, write_message

if TYPE_CHECKING:
    import pandas as pd

    from orchestration.quality.gate import Failure

_worker: subprocess.Popen | None = None
_asked = False  # whether this process has sent the worker a request
_lock = threading.Lock()


def start() -> None:
    """Start the worker for this process's gates (nothing if one is running already)."""
    global _worker
    if _worker is not None and _worker.poll() is None:
        return
    _worker = subprocess.Popen(
        [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
    )
    atexit.register(_stop, _worker)


def _stop(worker: subprocess.Popen) -> None:
    """At this process's end: a worker never asked (a run with nothing to load) is killed, not
    waited for, since it may still be importing GX."""
    if _asked:
        helper_process.stop(worker)
    else:
        worker.kill()
        worker.wait()


def check(frame: pd.DataFrame, suite: dict, render: bool) -> tuple[list[Failure], str | None]:
    """The frame's failures against the suite and, with `render`, its Data Docs page (HTML):
    from the worker if one is running, else computed here."""
    from orchestration.quality import gate

    global _asked
    with _lock:
        worker = _worker if _worker is not None and _worker.poll() is None else None
        if worker is not None:
            _asked = True
            try:
                _send(worker.stdin, (frame, suite, render))
                reply = _receive(worker.stdout)
            except (BrokenPipeError, EOFError):
                reply = None  # the worker has gone (killed, out of memory): validated here
            if reply is not None:
                failed, value = reply
                if failed:
                    raise value
                return value
    return gate.check_frame(frame, suite, render)


def _send(stream: IO[bytes], value: Any) -> None:
    write_message(stream, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def _receive(stream: IO[bytes]) -> Any:
    return pickle.loads(read_message(stream))


def serve() -> None:
    """Import GX, then answer each request on standard input until its end."""
    # Armed first: at the end of its input the worker ends without freeing GX's objects one by
    # one (1-2 s that `dtm` would wait for at its end; process_exit.py).
    process_exit.arm()
    # Ctrl-C reaches the whole process group: `dtm` stops its run and closes this worker's input,
    # which ends it (no traceback of its own).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what GX prints goes to stderr, never into a reply
    requests = sys.stdin.buffer
    from orchestration.quality import gate

    gate.import_gx()
    while True:
        try:
            frame, suite, render = _receive(requests)
        except EOFError:
            process_exit.finish(0)
        try:
            reply = (False, gate.check_frame(frame, suite, render))
        except Exception as error:  # the gate's own error, raised in the process that asked
            reply = (True, error)
        try:
            _send(replies, reply)
        except (pickle.PicklingError, TypeError, AttributeError):
            _send(replies, (True, RuntimeError(f"the gate failed: {reply[1]!r}")))


if __name__ == "__main__":
    serve()
