"""dbt started ahead of its builds, while the load run reads and gates the files.

A dbt process spends about 3 s importing dbt-core and its DuckDB adapter before it reads its
command. `dtm` starts this server when a build is coming: it imports dbt on the other core
while the load run works, then waits. Each build's `dtm-dbt` (started by dagster-dbt as
always, with its arguments, environment, folder and pipes) hands its command to the server
and relays the exit code: the server forks, and dbt runs in the fork with the client's
standard input, output and error (passed as file descriptors), so dagster-dbt reads its log
lines as from any dbt process. The server itself never runs a command, so every fork starts
from dbt as freshly imported, and a process that builds more than once (the end-to-end
tests' in-process runs; `dtm` builds once a command) pays the import once. Without a server
(the service's runs, a server that failed to start or was killed) `dtm-dbt` runs dbt itself.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import os
import select
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


_server: subprocess.Popen | None = None


def start() -> None:
    """Start a server for this process's dbt builds (nothing if one is running already)."""
    global _server
    if _server is not None and _server.poll() is None:
        return
    folder = Path(tempfile.mkdtemp(prefix="dtm-dbt-"))
    path = folder / "dbt.sock"
    # Listening before the server starts: a dtm-dbt started at once finds it (and waits in the
    # backlog while dbt is imported), rather than missing a socket not yet made.
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)
    # Its standard input stays open while this process may still build: at its end the server
    # reads end of file and ends too, whether this process exits or is killed. Its output is
    # each command's client's (a server that fails before leaves dtm-dbt to run dbt, which
    # says what failed).
    _server = subprocess.Popen(
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
    atexit.register(_stop, _server, folder)


def _stop(process: subprocess.Popen, folder: Path) -> None:
    helper_process.stop(process)
    shutil.rmtree(folder, ignore_errors=True)  # the server removes it as it ends


def delegate(args: list[str]) -> int | None:
    """Hand this dbt command to the server `dtm` started, and return dbt's exit code; None when
    no server takes it (there is none, or it has gone)."""
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
    if not started:  # the server ended before it took the command (it failed to import dbt)
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


def _end_with_parent(control: int, path: Path, imported: int) -> None:
    """While dbt is imported: end of file on the parent's pipe means the parent is done (or
    gone, even killed) before its build, and the server removes its socket and ends at once.
    Ends without a word once `imported` is readable."""
    while True:
        ready, _, _ = select.select([control, imported], [], [])
        if imported in ready:
            return
        _end_if_parent_gone(control, path)


def _end_if_parent_gone(control: int, path: Path) -> None:
    """At end of file on the parent's pipe (`control` is readable): remove the socket and end.
    A fork still building runs on to its end, waited for: what the forks used (the build's
    peak memory among it) counts, as before, among `dtm`'s children's."""
    if not os.read(control, 4096):
        _remove(path)
        _reap(0)
        os._exit(0)


def _remove(path: Path) -> None:
    """The socket and its folder (which `dtm`, at its end, may have removed already)."""
    shutil.rmtree(path.parent, ignore_errors=True)


def _restore_priority() -> None:
    """The build at the priority it was started with, where the system lets a process raise its
    own again (root, or a nice limit that allows it); else it runs niced, which matters only
    while the machine is busy with other work."""
    with contextlib.suppress(PermissionError):
        os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0) - IMPORT_NICENESS)


def serve(listener: socket.socket, path: Path, run: Callable[[], None]) -> None:
    """Import dbt, then fork for each command until the end of this process's parent."""
    # Armed before dbt is imported: its exit handlers (multiprocessing's among them, which
    # releases the semaphores dbt made) run before a fork ends without its teardown.
    process_exit.arm()
    # Ctrl-C reaches the whole process group: dbt's fork stops its build, the server waits for
    # the parent's end (or its next build).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # dbt is needed after the gates, GX (the gate worker, started beside this server) before
    # them: on 2 cores the three imports at once made the first gate wait for GX.
    os.nice(IMPORT_NICENESS)
    control = 0
    imported, done = os.pipe()
    watcher = threading.Thread(target=_end_with_parent, args=(control, path, imported), daemon=True)
    watcher.start()
    for name in PRELOADED:
        __import__(name)
    for module, classes in VALIDATED:
        for name in classes:
            getattr(importlib.import_module(module), name).json_schema()
    # Only this thread may be running when the server forks (a fork copies no other thread,
    # and whatever lock another held would stay held in the fork).
    os.write(done, b"x")
    watcher.join()
    os.close(imported)
    os.close(done)
    # What dbt imported is left out of the garbage collector's rounds: a fork's collections skip
    # it, and do not copy the pages that hold it by touching them.
    gc.freeze()
    while True:
        ready, _, _ = select.select([listener, control], [], [])
        _reap(os.WNOHANG)
        if control in ready:
            _end_if_parent_gone(control, path)
        if listener in ready:
            connection, _ = listener.accept()
            if os.fork() == 0:
                listener.close()
                _run_command(connection, run)
            connection.close()


def _reap(options: int) -> None:
    """Wait for the forks that have ended (all of them, without WNOHANG)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, options)[0]:
            pass


def _run_command(connection: socket.socket, run: Callable[[], None]) -> None:
    """In the fork: run the client's command with its pipes, folder and environment, send back
    its exit code and end as dtm-dbt does."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    header, fds, _, _ = socket.recv_fds(connection, LENGTH.size, 3)
    (length,) = LENGTH.unpack(header)
    try:
        request = json.loads(read_exactly(connection.makefile("rb"), length))
    except EOFError:
        os._exit(1)  # the client went away before its whole command came
    for fd, standard in zip(fds, (0, 1, 2), strict=True):
        os.dup2(fd, standard)  # standard input was the parent's pipe: this fork lets it go
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
