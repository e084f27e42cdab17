"""Dagster as a service on one machine (`make service`): PostgreSQL, then the code location as a
gRPC code server, the daemon (sensors, schedules, the run queue) and the webserver, each a
process of its own with a log and a pid file under data/service/. `make service-stop` stops
them in the reverse order. deploy/ holds the configuration they run with; the README's
"Running as a service" shows the same processes as systemd units.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestration import settings
from orchestration.service.postgres_server import (
    DAGSTER_DATABASE,
    DAGSTER_ROLE,
    MARTS_DATABASE,
    OWNER_ROLE,
    READER_ROLE,
    LocalPostgres,
)

DEPLOY_DIR = settings.PROJECT_ROOT / "deploy"
BIN = Path(sys.executable).parent
LOCATION = "dtm_warehouse"
STOP_SECONDS = 30


@dataclass(frozen=True)
class Server:
    name: str
    command: Callable[[Service], list[str]]
    ready: Callable[[Service], bool]


@dataclass(frozen=True)
class Service:
    root: Path  # data/service
    host: str
    ports: dict[str, int]

    @classmethod
    def from_settings(cls) -> Service:
        return cls(
            settings.service_dir(),
            settings.service_host(),
            {name: settings.service_port(name) for name in settings.SERVICE_PORTS},
        )

    @property
    def postgres(self) -> LocalPostgres:
        return LocalPostgres(self.root, self.host, self.ports["postgres"])

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.ports['webserver']}"

    def environment(self) -> dict[str, str]:
        """Every service process's environment: deploy/dagster.yaml's storage and workspace.yaml's
        code server (by variable), the marts' PostgreSQL target, libpq's password file."""
        return {
            **os.environ,
            **self.postgres.environment(),
            "DAGSTER_HOME": str(self.dagster_home),
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.ports["postgres"]),
            "DAGSTER_PG_DB": DAGSTER_DATABASE,
            "DAGSTER_PG_USERNAME": DAGSTER_ROLE,
            "DTM_CODE_SERVER_HOST": self.host,
            "DTM_CODE_SERVER_PORT": str(self.ports["code_server"]),
            "DTM_MARTS_POSTGRES": self.postgres.conninfo(OWNER_ROLE, MARTS_DATABASE),
            "DTM_MARTS_READER_ROLE": READER_ROLE,
        }

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        return self.root / "run" / f"{name}.pid"

    def pid(self, name: str) -> int | None:
        """The process's id, if it still runs."""
        try:
            pid = int(self.pid_file(name).read_text())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        return pid


def _code_server_ready(service: Service) -> bool:
    done = subprocess.run(
        [
            str(BIN / "dagster"),
            "api",
            "grpc-health-check",
            "-p",
            str(service.ports["code_server"]),
            "-h",
            service.host,
        ],
        capture_output=True,
    )
    return done.returncode == 0


def _http_ready(service: Service) -> bool:
    try:
        with urllib.request.urlopen(f"{service.url}/server_info", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _daemon_ready(service: Service) -> bool:
    done = subprocess.run(
        [str(BIN / "dagster-daemon"), "liveness-check"], capture_output=True, env=service.environment()
    )
    return done.returncode == 0


WORKSPACE = str(DEPLOY_DIR / "workspace.yaml")
SERVERS = (
    Server(
        "code_server",
        lambda s: [
            str(BIN / "dagster"),
            "code-server",
            "start",
            "-h",
            s.host,
            "-p",
            str(s.ports["code_server"]),
            "-m",
            "orchestration.definitions",
            "--location-name",
            LOCATION,
        ],
        _code_server_ready,
    ),
    Server("daemon", lambda s: [str(BIN / "dagster-daemon"), "run", "-w", WORKSPACE], _daemon_ready),
    Server(
        "webserver",
        lambda s: [
            str(BIN / "dagster-webserver"),
            "-w",
            WORKSPACE,
            "-h",
            s.host,
            "-p",
            str(s.ports["webserver"]),
        ],
        _http_ready,
    ),
)


def _reset_signals() -> None:
    # A process started from a background shell inherits SIGINT ignored, and Dagster's
    # processes then ignore the stop they are sent (measured with `dagster dev`).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start(service: Service, say: Callable[[str], None] = print, only: tuple[str, ...] = ()) -> None:
    """Start what is not running (PostgreSQL first), waiting until each answers."""
    for folder in ("logs", "run"):
        (service.root / folder).mkdir(parents=True, exist_ok=True)
    service.dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEPLOY_DIR / "dagster.yaml", service.dagster_home / "dagster.yaml")
    # The UI's "Join the Dagster community" dialog counted as seen (as `make ui` does): it
    # loads a page from dagster.io, and nothing here reaches the network.
    (service.dagster_home / ".nux").mkdir(exist_ok=True)
    (service.dagster_home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    if not only or "postgres" in only:
        service.postgres.start()
        say(f"PostgreSQL 18 on {service.host}:{service.ports['postgres']} (data: {service.postgres.data})")
    environment = service.environment()
    for server in SERVERS:
        if only and server.name not in only:
            continue
        if service.pid(server.name):
            say(f"{server.name} already runs (pid {service.pid(server.name)})")
            continue
        if server.name == "daemon":
            # the one-writer pool's limit, in the instance (the Concurrency page shows it)
            subprocess.run(
                [str(BIN / "dagster"), "instance", "concurrency", "set", "dtm_warehouse", "1"],
                env=environment,
                check=True,
                capture_output=True,
            )
        with service.log(server.name).open("ab") as log:
            process = subprocess.Popen(
                server.command(service),
                env=environment,
                cwd=settings.PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_reset_signals,
            )
        service.pid_file(server.name).write_text(str(process.pid))
        _wait(service, server, process)
        say(f"{server.name} runs (pid {process.pid}, log {service.log(server.name)})")
    say(f"Dagster UI: {service.url}")


def _wait(service: Service, server: Server, process: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = service.log(server.name).read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{server.name} stopped at start (exit {process.returncode}):\n{tail}")
        if server.ready(service):
            return
        time.sleep(1)
    raise RuntimeError(f"{server.name} did not answer in {seconds:.0f} s; see {service.log(server.name)}")


def stop(service: Service, say: Callable[[str], None] = print, only: tuple[str, ...] = ()) -> None:
    """Stop the servers in the reverse order, PostgreSQL last: a stop each, then a kill for
    what has not stopped after STOP_SECONDS."""
    for server in reversed(SERVERS):
        if only and server.name not in only:
            continue
        pid = service.pid(server.name)
        if pid is None:
            continue
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while service.pid(server.name) and time.monotonic() < deadline:
            time.sleep(0.2)
            _reap(pid)
        if service.pid(server.name):
            os.killpg(pid, signal.SIGKILL)
            _reap(pid)
        service.pid_file(server.name).unlink(missing_ok=True)
        say(f"{server.name} stopped")
    if (not only or "postgres" in only) and service.postgres.is_initialised():
        service.postgres.stop()
        say("PostgreSQL stopped")


def _reap(pid: int) -> None:
    """Collect a child that has exited (a server started by this same process, in tests)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def status(service: Service) -> dict[str, bool]:
    return {
        "postgres": service.postgres.is_running(),
        **{server.name: service.pid(server.name) is not None for server in SERVERS},
    }
