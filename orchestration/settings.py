"""Where the warehouse keeps its files. Every path can be moved with an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"

# The DTM operation every key carries, as IOM's own API names it. A second operation is
# configuration and reference data, not new code.
OPERATION = "Iraq conflict"
ADMIN0_PCODE = "IRQ"


def _path(variable: str, default: Path) -> Path:
    return Path(os.environ.get(variable, default)).expanduser().resolve()


def data_dir() -> Path:
    return _path("DTM_DATA_DIR", PROJECT_ROOT / "data")


def landing_dir() -> Path:
    """Files as people send them. The pipeline never modifies or deletes anything here."""
    return _path("DTM_LANDING_DIR", data_dir() / "landing")


def warehouse_path() -> Path:
    """The working DuckDB file (raw → marts), written by one process at a time."""
    return _path("DTM_WAREHOUSE_PATH", data_dir() / "warehouse" / "dtm.duckdb")


def published_dir() -> Path:
    """Publications for BI tools and people: dtm_latest.duckdb and a folder per round."""
    return _path("DTM_PUBLISHED_DIR", data_dir() / "published")


def dagster_home() -> Path:
    """Dagster's run history and instance settings: the Makefile's folder unless told otherwise
    (`.venv/bin/dtm` run by hand finds the same history as `make run`)."""
    return _path("DAGSTER_HOME", PROJECT_ROOT / ".dagster_home")


def marts_postgres() -> str | None:
    """Where the published marts are also served from PostgreSQL: a libpq connection string for
    the pipeline's owner role (`host=… port=… dbname=… user=…`), its password from libpq's
    password file (PGPASSFILE) or PGPASSWORD, never from the string. None: DuckDB file only."""
    return os.environ.get("DTM_MARTS_POSTGRES") or None


def marts_reader_role() -> str:
    """The PostgreSQL role BI users read the marts with (SELECT only)."""
    return os.environ.get("DTM_MARTS_READER_ROLE", "dtm_reader")


def service_dir() -> Path:
    """`make service`'s state: PostgreSQL's data directory, the password file, the Dagster
    home (history in PostgreSQL), process logs and pid files."""
    return _path("DTM_SERVICE_DIR", data_dir() / "service")


def service_host() -> str:
    """Where `make service` listens: loopback unless told otherwise."""
    return os.environ.get("DTM_SERVICE_HOST", "127.0.0.1")


def service_port(name: str) -> int:
    """The port of one of `make service`'s servers (postgres, code_server, webserver)."""
    return int(os.environ.get(f"DTM_{name.upper()}_PORT", SERVICE_PORTS[name]))


SERVICE_PORTS = {"postgres": 55432, "code_server": 4266, "webserver": 3000}
