"""The writer lock names its holder, even to a process that asks in the moment between the
holder taking the lock and writing its line."""

import subprocess
import sys
import time

import pytest

from orchestration import writer_lock

# Takes the lock as writer_lock.hold does, then writes its line a moment later.
SLOW_HOLDER = """
import fcntl, sys, time
with open(sys.argv[1], "a+") as handle:
    fcntl.flock(handle, fcntl.LOCK_EX)
    handle.seek(0)
    handle.truncate()
    print("locked", flush=True)
    time.sleep(0.3)
    handle.write("pid 4242 (dtm run) since now\\n")
    handle.flush()
    time.sleep(5)
"""


def test_a_holder_that_has_not_yet_written_its_line_is_still_named(tmp_path):
    database = tmp_path / "dtm.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", SLOW_HOLDER, str(writer_lock.lock_path(database))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with pytest.raises(writer_lock.WarehouseBusy) as busy, writer_lock.hold(database, wait=False):
            pass
        assert "is being written by pid 4242 (dtm run)" in str(busy.value)
        assert time.monotonic() - started < writer_lock.HOLDER_READS * writer_lock.HOLDER_READ_PAUSE + 1
    finally:
        holder.kill()
        holder.wait()
