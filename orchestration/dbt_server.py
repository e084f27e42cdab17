"""dbt started ahead of its build, while the load run reads and gates the files.

A dbt process spends about 3 s importing dbt-core and its DuckDB adapter before it reads its
command. `dtm` starts this server when a build is coming: it imports dbt on the other core
while the load run works, then waits. The build's `dtm-dbt` (started by dagster-dbt as
always, with its arguments, environment, folder and pipes) hands its command to the server
and relays the exit code: dbt runs in the server's process with the client's standard input,
output and error (passed as file descriptors), so dagster-dbt reads its log lines as from any
dbt process. A server serves one command; without one (the service's runs, a second build,
a server that failed to start) `dtm-dbt` runs dbt itself.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from orchestration import helper_process, process_exit
from orchestration.helper_process import LENGTH, read_exactly

SERVER_VARIABLE = "DTM_DBT_SERVER"
# How much lower the server's priority is while it imports dbt (serve says why).
IMPORT_NICENESS = 10
# What a dbt command imports before it runs (measured: 2.8 s of dbt-core, 0.6 s of the adapter).
PRELOADED = ("dbt.cli.main", "dbt.task.build", "dbt.parser.manifest", "dbt.adapters.duckdb")
# The contracts dbt validates the project and profile against: each builds its JSON schema on
# first use (0.4 s together), kept for the process.
VALIDATED = (
    ("dbt.contracts.project", ("Project", "ProjectFlags", "PackageConfig", "ProfileConfig")),
    ("dbt.adapters.duckdb.credentials", ("DuckDBCredentials",)),
)


_waiting: subprocess.Popen | None = None


def start() -> None:
    """Start a server for this process's next dbt build (nothing if one is waiting already)."""
    global _waiting
    if _waiting is not None and _waiting.poll() is None:
        return
    folder = Path(tempfile.mkdtemp(prefix="dtm-dbt-"))
    path = folder / "dbt.sock"
    # Listening before the server starts: a dtm-dbt started at once finds it (and waits in the
    # backlog while dbt is imported), rather than missing a socket not yet made.
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    # Its standard input stays open while this process may still build: at its end the server
    # reads end of file and ends too, whether this process exits or is killed. Its output is
    # the client's, once it has one (a server that fails before leaves dtm-dbt to run dbt,
    # which says what failed).
    _waiting = subprocess.Popen(
        [sys.executable, "-m", __name__, str(listener.fileno()), str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=[listener.fileno()],
    )
    listener.close()  # the server's copy listens
    # Named with this process's pid: only the dtm-dbt this process starts (its child) uses it,
    # not one started by a process this one starts.
    os.environ[SERVER_VARIABLE] = f"{os.getpid()}:{path}"
    atexit.register(_stop, _waiting, folder)


def _stop(process: subprocess.Popen, folder: Path) -> None:
    helper_process.stop(process)
    shutil.rmtree(folder, ignore_errors=True)  # the server removes it once it has a command


def delegate(args: list[str]) -> int | None:
    """Hand this dbt command to the server `dtm` started, and return dbt's exit code; None when
    no server takes it (there is none, or another command took it)."""
    owner, _, path = os.environ.get(SERVER_VARIABLE, "").partition(":")
    if owner != str(os.getppid()):
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
    except OSError:
        connection.close()
        return None
    request = json.dumps({"argv": [sys.argv[0], *args], "env": dict(os.environ), "cwd": os.getcwd()})
    payload = request.encode()
    socket.send_fds(connection, [LENGTH.pack(len(payload))], [0, 1, 2])
    connection.sendall(payload)
    replies = connection.makefile("rb")
    started = replies.readline()
    if not started:  # the server ended before it took the command (it failed to start dbt)
        return None
    pid = json.loads(started)["pid"]
    _forward_signals(lambda number: os.kill(pid, number))
    ended = replies.readline()
    if not ended:
        print(f"dbt's process (pid {pid}) ended without an exit code", file=sys.stderr)
        return 1
    return json.loads(ended)["exit"]


def _forward_signals(send: Callable[[int], None]) -> None:
    """What dagster-dbt sends this process to stop dbt (SIGINT, then SIGTERM) goes to dbt."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda received, frame: send(received))


def _end_with_parent(control: int, serving: threading.Event, path: Path) -> None:
    """End of file on the parent's pipe: the parent is done (or gone, even killed) without a
    build for this server, which removes its socket and ends at once, even while it imports
    dbt. A command taken runs to its end."""
    while os.read(control, 4096):
        pass
    if not serving.is_set():
        _remove(path)
        os._exit(0)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.parent.rmdir()


def _restore_priority() -> None:
    """The build at the priority it was started with, where the system lets a process raise its
    own again (root, or a nice limit that allows it); else it runs niced, which matters only
    while the machine is busy with other work."""
    with contextlib.suppress(PermissionError):
        os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0) - IMPORT_NICENESS)


def serve(listener: socket.socket, path: Path, run: Callable[[], None]) -> None:
    """Import dbt, wait for one command (or the end of this process's parent), run it with the
    client's pipes, folder and environment, and send back its exit code."""
    # Armed before dbt is imported: its exit handlers (multiprocessing's among them, which
    # releases the semaphores dbt made) run before the process ends without its teardown.
    process_exit.arm()
    # dbt is needed after the gates, GX (the gate worker, started beside this server) before
    # them: on 2 cores the three imports at once made the first gate wait for GX.
    os.nice(IMPORT_NICENESS)
    serving = threading.Event()
    threading.Thread(target=_end_with_parent, args=(os.dup(0), serving, path), daemon=True).start()
    for name in PRELOADED:
        __import__(name)
    for module, classes in VALIDATED:
        for name in classes:
            getattr(importlib.import_module(module), name).json_schema()
    connection, _ = listener.accept()
    serving.set()
    listener.close()
    _remove(path)
    header, fds, _, _ = socket.recv_fds(connection, LENGTH.size, 3)
    (length,) = LENGTH.unpack(header)
    try:
        request = json.loads(read_exactly(connection.makefile("rb"), length))
    except EOFError:
        os._exit(1)  # the client went away before its whole command came
    for fd, standard in zip(fds, (0, 1, 2), strict=True):
        os.dup2(fd, standard)
        os.close(fd)
    sys.stdout.reconfigure(line_buffering=True)  # the client's log lines as they come
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.pop(SERVER_VARIABLE, None)
    os.chdir(request["cwd"])
    sys.argv = request["argv"]
    _restore_priority()
    connection.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
    code = 0
    try:
        run()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    connection.sendall(json.dumps({"exit": code}).encode() + b"\n")
    # As dtm-dbt ends: the exit handlers run, dbt's objects are left (process_exit.py says why).
    # Without the handlers, multiprocessing's resource tracker printed "leaked semaphore
    # objects" into the build's log at the end of every build.
    process_exit.finish(code)


if __name__ == "__main__":
    from orchestration.dbt_launcher import run_dbt

    serve(socket.socket(fileno=int(sys.argv[1])), Path(sys.argv[2]), run_dbt)
