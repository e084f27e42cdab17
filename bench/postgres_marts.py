"""The marts served from PostgreSQL against the DuckDB file, on the whole sample's publication
(`make run` first): how long a publication into PostgreSQL takes (the first, and a
republication over a served one), and the BI queries' p95 for eight readers at once, against
PostgreSQL (a connection kept, as a BI server's pool does, and a new one each) and against the
DuckDB file (a new connection each, as the main bench measures; and one kept), idle and while the
marts are republished. A PostgreSQL server of its own is started in a scratch folder and stopped.

    .venv/bin/python bench/postgres_marts.py [published dtm_latest.duckdb]
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run_bench import BI_QUERIES  # noqa: E402
from orchestration.publish.postgres_marts import publish_marts  # noqa: E402
from orchestration.service.postgres_server import (  # noqa: E402
    MARTS_DATABASE,
    OWNER_ROLE,
    READER_ROLE,
    LocalPostgres,
)

READERS = 8
SECONDS = 20
RESULTS = ROOT / "bench" / "results" / "postgres_marts.json"
READER = r"""
import json, sys, time
from pathlib import Path
engine, target, mode, stop, out, passfile = sys.argv[1:]
queries = json.loads(Path(out + ".queries").read_text())
seconds = []
if engine == "postgres":
    import psycopg
    connect = lambda: psycopg.connect(target, passfile=passfile, autocommit=True)
else:
    import duckdb
    connect = lambda: duckdb.connect(target, read_only=True)
kept = connect() if mode == "kept" else None
while not Path(stop).exists():
    for sql in queries:
        started = time.perf_counter()
        con = kept or connect()
        con.execute(sql).fetchall()
        if kept is None:
            con.close()
        seconds.append(time.perf_counter() - started)
Path(out).write_text(json.dumps(seconds))
"""


def readers(engine: str, target: str, mode: str, passfile: str, scratch: Path, during=None) -> dict:
    """Eight readers for SECONDS (or while `during` runs): their queries' p50 and p95 in ms."""
    script = scratch / "reader.py"
    script.write_text(READER)
    label = f"{engine}-{mode}-{'idle' if during is None else 'during'}"
    stop = scratch / f"stop-{label}"
    outs = [scratch / f"{label}-{i}.json" for i in range(READERS)]
    for out in outs:
        Path(str(out) + ".queries").write_text(json.dumps(list(BI_QUERIES.values())))
    processes = [
        subprocess.Popen([sys.executable, str(script), engine, target, mode, str(stop), str(out), passfile])
        for out in outs
    ]
    time.sleep(2)  # the readers' imports
    if during is None:
        time.sleep(SECONDS)
    else:
        during()
    stop.touch()
    for process in processes:
        process.wait(timeout=120)
    seconds = sorted(s for out in outs for s in json.loads(out.read_text()))
    return {
        "queries": len(seconds),
        "p50_ms": round(seconds[len(seconds) // 2] * 1000, 1),
        "p95_ms": round(seconds[int(0.95 * len(seconds)) - 1] * 1000, 1),
    }


def main() -> None:
    published = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "data" / "published" / "dtm_latest.duckdb")
    if not published.exists():
        sys.exit(f"{published} is missing: run `make run` first")
    results: dict = {
        "publication": str(published.relative_to(ROOT) if published.is_relative_to(ROOT) else published)
    }
    with tempfile.TemporaryDirectory(prefix="dtm-bench-pg-") as folder:
        scratch = Path(folder)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = LocalPostgres(scratch / "service", "127.0.0.1", port)
        server.start()
        os.environ["PGPASSFILE"] = str(server.password_file)
        try:
            owner = server.conninfo(OWNER_ROLE, MARTS_DATABASE)
            reader = server.conninfo(READER_ROLE, MARTS_DATABASE)
            first = publish_marts(published, owner, READER_ROLE, say=lambda _: None)
            again = publish_marts(published, owner, READER_ROLE, say=lambda _: None)
            results["rows"] = sum(first.rows.values())
            results["first publication into PostgreSQL (s)"] = first.seconds
            results["republication into PostgreSQL (s)"] = again.seconds
            results["swap (s)"] = again.swap_seconds
            passfile = str(server.password_file)
            for engine, target, mode in (
                ("postgres", reader, "kept"),
                ("postgres", reader, "new"),
                ("duckdb", str(published), "new"),
                ("duckdb", str(published), "kept"),
            ):
                results[f"{engine}, connection {mode}, idle"] = readers(
                    engine, target, mode, passfile, scratch
                )
            during: dict = {}

            def republish() -> None:
                during["seconds"] = publish_marts(published, owner, READER_ROLE, say=lambda _: None).seconds

            results["postgres, connection kept, during a republication"] = readers(
                "postgres", reader, "kept", passfile, scratch, during=republish
            )
            results["republication under 8 readers (s)"] = during["seconds"]
        finally:
            server.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    for name, value in results.items():
        print(f"{name:<55} {value}")


if __name__ == "__main__":
    main()
