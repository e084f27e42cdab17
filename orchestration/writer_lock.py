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

import duckdb

_depth: dict[Path, int] = {}


def _wait_for_other_handles(database: Path, say: Callable[[str], None]) -> None:
    """A process this lock does not know of may still hold DuckDB's own lock: the dbt of a run
    killed with kill -9 finishes its build after its parent is gone. Wait for it, saying so once,
    instead of failing with DuckDB's lock error."""
    said = False
    while database.exists():
        try:
            duckdb.connect(str(database)).close()
            return
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise
            if not said:
                holder = (
                    str(error).split("(PID", 1)[-1].split(")")[0].strip() if "(PID" in str(error) else "?"
                )
                say(
                    f"A process left by an earlier run (pid {holder}) still has {database} open; "
                    "waiting for it …"
                )
                said = True
            time.sleep(1)


class WarehouseBusy(Exception):
    """Another process is writing the warehouse and this one will not wait."""


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
            handle.seek(0)
            holder = handle.read().strip() or "another process"
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
        _wait_for_other_handles(database, say)
        _depth[path] = 1
        try:
            yield
        finally:
            _depth.pop(path, None)
            fcntl.flock(handle, fcntl.LOCK_UN)
