"""One writer at a time for the working DuckDB file, across processes.

DuckDB lets one process open a file read-write; a second writer gets a lock error with a
traceback. `dtm run`, `dtm sign-off`, the UI's runs and the commands that erase data all take
this advisory lock (flock on `.<warehouse name>.lock` beside the file) first, so a second writer
waits for the first, saying so in one sentence, or stops with that sentence. The operating system
releases the lock when its process ends, however it ends (kill -9 included). Re-entrant within
a process: a Dagster step run in process by `dtm run` holds what the command holds.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from orchestration.warehouse import open_waiting

_depth: dict[Path, int] = {}
# The holder writes its line just after it takes the lock: a file found empty is read again for
# up to a second before the holder is called "another process".
HOLDER_READS = 20
HOLDER_READ_PAUSE = 0.05


class WarehouseBusy(Exception):
    """Another process is writing the warehouse and this one will not wait."""


def _holder(handle) -> str:
    for _ in range(HOLDER_READS):
        handle.seek(0)
        if line := handle.read().strip():
            return line
        time.sleep(HOLDER_READ_PAUSE)
    return "another process"


def lock_path(database: Path) -> Path:
    return database.with_name(f".{database.name}.lock")


@contextmanager
def hold(database: Path, *, wait: bool = True, say: Callable[[str], None] = print) -> Iterator[None]:
    path = lock_path(database).resolve()
    if _depth.get(path):
        _depth[path] += 1
        try:
            yield
        finally:
            _depth[path] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle)
            if not wait:
                raise WarehouseBusy(
                    f"{database} is being written by {holder}; run again when it has finished."
                ) from None
            say(f"{database} is being written by {holder}; waiting for it to finish …")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        command = " ".join(Path(part).name if i == 0 else part for i, part in enumerate(sys.argv[:2]))
        handle.write(f"pid {os.getpid()} ({command}) since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC\n")
        handle.flush()
        if database.exists():
            # A process outside this lock may hold DuckDB's own: the dbt of a run killed with
            # kill -9 finishes its build after its parent is gone.
            open_waiting(database, say=say).close()
        _depth[path] = 1
        try:
            yield
        finally:
            _depth.pop(path, None)
            fcntl.flock(handle, fcntl.LOCK_UN)
