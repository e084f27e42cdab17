"""The publication's DuckDB memory is bounded: comparing every round of the working and the last
published file reads both whole, and the blocks read are evicted instead of kept (DuckDB's
default keeps them up to 80% of the machine's memory); it spills outside the published folder
and leaves nothing behind."""

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

ROUNDS, ROWS_A_ROUND = 16, 400_000

# In a process of its own, so its peak memory is the publication's alone. The second argument,
# a DuckDB memory limit, stands in for the bound when given (DuckDB's default, to compare).
PUBLISH = """
import json, sys
from pathlib import Path
from orchestration.publish import warehouse_file
working, limit, base, target = sys.argv[1:5]
warehouse_file.PUBLICATION_MEMORY_LIMIT = limit or warehouse_file.PUBLICATION_MEMORY_LIMIT
said = []
warehouse_file.write_published_file(
    Path(working), Path(target), "R7", {}, previous=Path(base), say=said.append
)
# VmHWM, not ru_maxrss: that one keeps the peak of the process forked before the exec (pytest's)
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"peak_mb": peak_kb / 1024, "said": said}))
"""


def test_a_publication_reads_both_files_whole_and_holds_a_fraction_of_them(tmp_path):
    working = tmp_path / "working.duckdb"
    with duckdb.connect(str(working)) as con:
        con.execute("create schema marts")
        # random doubles barely compress: the file is about as large as its rows
        con.execute(
            f"create table marts.fct_wide as select 'R' || (i // {ROWS_A_ROUND}) as partition_key, "
            "i as row_id, random() as a, random() as b, random() as c, random() as d "
            f"from range({ROUNDS * ROWS_A_ROUND}) as t(i)"
        )
    published = tmp_path / "published"
    published.mkdir()
    spills = tmp_path / "tmp"
    spills.mkdir()
    cwd = Path(__file__).resolve().parents[1]

    def publish(limit: str, base: str, target: str) -> dict:
        files = [str(published / base), str(published / target)]
        done = subprocess.run(
            [sys.executable, "-c", PUBLISH, str(working), limit, *files],
            env={**os.environ, "TMPDIR": str(spills)},
            cwd=cwd,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.splitlines()[-1])

    publish("", "none.duckdb", "base.duckdb")
    with duckdb.connect(str(working)) as con:  # one round's figures change
        con.execute("update marts.fct_wide set a = a + 1 where partition_key = 'R3'")
    bounded = publish("", "base.duckdb", "bounded.duckdb")
    unbounded = publish("80%", "base.duckdb", "unbounded.duckdb")

    # only the changed round was rewritten, and the file holds the working rows exactly
    assert "1 of 1 per-round table(s) changed, in 1 round(s): R3" in bounded["said"][0]
    with duckdb.connect(str(published / "bounded.duckdb"), read_only=True) as con:
        con.execute(f"attach '{working}' as working (read_only)")
        differing = con.execute(
            "select count(*) from "
            "(select * from working.marts.fct_wide except all select * from marts.fct_wide)"
        ).fetchall()[0][0]
        assert differing == 0
    # DuckDB's default kept both files' blocks; the bound held at most about one file's half
    file_mb = working.stat().st_size / 1e6
    assert file_mb > 150, file_mb
    assert bounded["peak_mb"] < unbounded["peak_mb"] - file_mb / 2, (bounded, unbounded, file_mb)
    # what spilled went to the temporary directory, and nothing is left there or beside the files
    assert list(spills.iterdir()) == []
    left = sorted(p.name for p in published.iterdir())
    assert left == ["base.duckdb", "bounded.duckdb", "unbounded.duckdb"]
