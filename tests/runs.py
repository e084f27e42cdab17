"""Running `dtm` as a person runs it, in its own process, on a small sample (test_crash_safety.py,
test_sign_off.py)."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb

from orchestration.sample import generator
from orchestration.warehouse import table_checksums

DTM = Path(sys.executable).with_name("dtm")
ROOT = Path(__file__).resolve().parents[1]
ROUND = "IRQ-conflict-R134-2024-12"
DOUBTFUL = "IRQ-conflict-R135-2025-02"
DOUBTFUL_FILE = "Round135_Master_List_IDP_2025_02_28_IOM_DTM.csv"


def data_dir(root: Path, landing: Path) -> dict[str, str]:
    """A fresh Dagster home and warehouse under root, reading `landing`."""
    (root / "home").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "dagster.yaml", root / "home" / "dagster.yaml")
    return {
        **{name: value for name, value in os.environ.items() if not name.startswith("DTM_")},
        "DAGSTER_HOME": str(root / "home"),
        "DTM_DATA_DIR": str(root),
        "DTM_LANDING_DIR": str(landing),
    }


def dtm(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([str(DTM), *args], env=env, capture_output=True, text=True, timeout=900)
    if check:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def run_until(env: dict[str, str], marker: str) -> str:
    """Start `dtm run`, kill -9 it as soon as its output shows `marker`; what it printed."""
    process = subprocess.Popen(
        [str(DTM), "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seen = []
    for line in process.stdout:
        seen.append(line)
        if marker in line:
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=600)
    process.stdout.close()
    assert process.returncode == -signal.SIGKILL, f"the run ended before {marker!r}:\n{''.join(seen)[-3000:]}"
    return "".join(seen)


def marts_checksums(database: Path) -> dict[str, tuple]:
    return table_checksums(database, "marts")


def publication_info(root: Path) -> dict:
    with duckdb.connect(str(root / "published" / "dtm_latest.duckdb"), read_only=True) as con:
        frame = con.execute("select * from marts.publication_info").df()
    return frame.iloc[0].to_dict()


def sample_landing(root: Path) -> Path:
    """Round 134's IDP and returnee lists as the sample writes them (CSV)."""
    landing = root / "landing"
    generator.generate(landing, {134}, xlsx=False, field_families=False)
    return landing
