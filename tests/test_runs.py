"""`dtm run` as a person runs it, in its own process, on a small sample: a doubtful round is held
until a person signs it off or rejects it (command line and Dagster job), a run killed with
kill -9 at five different stages is finished by the next one (the marts equal a clean run's),
and a second writer is told so in one sentence."""

import csv
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration import writer_lock
from orchestration.definitions import build_definitions
from orchestration.defs.resources import WarehouseResource
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


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("landing")
    generator.generate(landing, {134}, xlsx=False, field_families=False)
    return landing


@pytest.fixture(scope="module")
def clean(tmp_path_factory, sample) -> dict:
    root = tmp_path_factory.mktemp("clean")
    env = data_dir(root, sample)
    output = dtm(env, "run").stdout
    assert f"Published: {ROUND}" in output
    return {"root": root, "env": env, "marts": marts_checksums(root / "warehouse" / "dtm.duckdb")}


def test_runs_killed_at_five_stages_are_finished_by_the_next_run(tmp_path, sample, clean):
    env = data_dir(tmp_path, sample)
    stages = {
        "reading": "Loading 1 round(s)",
        "loading": "[1/2]",
        "gating": "Gate idp:",
        "dbt": "dbt build for",
        "publishing": "Publishing IRQ-conflict",
    }
    for stage, marker in stages.items():
        printed = run_until(env, marker)
        assert "Traceback" not in printed, stage
    # Two `dtm run`s at once: one finishes the work, the other says it waits, then finds it done.
    first, second = (
        subprocess.Popen(
            [str(DTM), "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    )
    outputs = [process.communicate(timeout=900)[0] for process in (first, second)]
    assert first.returncode == second.returncode == 0, outputs
    assert "Traceback" not in "".join(outputs)
    (finished,) = [o for o in outputs if "interrupted run left undone" in o or "publication is behind" in o]
    (waited,) = [o for o in outputs if o is not finished]
    assert "is being written by pid" in waited and "waiting for it to finish" in waited
    assert "already loaded and published" in waited
    database = tmp_path / "warehouse" / "dtm.duckdb"
    assert marts_checksums(database) == clean["marts"]
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("select count(*) from raw.load_batches where status = 'pending'").fetchall() == [
            (0,)
        ]
        assert con.execute("select count(*) from raw.load_batches").fetchall() == [(2,)]
    leftovers = [p.name for p in (tmp_path / "published").rglob(".*") if not p.name.endswith(".lock")]
    assert leftovers == []
    assert publication_info(tmp_path)["partition_key"] == ROUND
    # `--no-wait` while another writer holds the warehouse: one sentence and exit 3.
    with writer_lock.hold(database):
        busy = dtm(env, "run", "--no-wait", check=False)
    assert busy.returncode == 3 and "is being written by pid" in busy.stderr
    assert "Traceback" not in busy.stdout + busy.stderr


def write_doubtful_round(sample: Path, landing: Path) -> int:
    """Round 135 as a file that passes every structural check and gate but holds half of
    Round 134's locations: national IDPs fall by about half. Returns its IDPs."""
    source = next(sample.glob("Round134_Master_List_IDP_*.csv"))
    with source.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body, totals = rows[0], rows[1:-1], rows[-1]
    kept = body[: len(body) // 2]
    new_totals = [f"Totals: Locations:{len(kept):,}"]
    for i in range(1, len(header)):
        new_totals.append(f"{sum(int(r[i]) for r in kept):,}" if totals[i] else "")
    with (landing / DOUBTFUL_FILE).open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([header, *kept, new_totals])
    return sum(int(r[header.index("Individuals")]) for r in kept)


@pytest.fixture(scope="module")
def held(tmp_path_factory, sample, clean) -> dict:
    """The clean warehouse, then a doubtful Round 135: it loads, and waits for sign-off."""
    root = tmp_path_factory.mktemp("held")
    shutil.copytree(clean["root"], root, dirs_exist_ok=True)
    landing = root / "landing"
    shutil.copytree(sample, landing)
    idps = write_doubtful_round(sample, landing)
    env = {**clean["env"], "DAGSTER_HOME": str(root / "home"), "DTM_DATA_DIR": str(root)}
    env["DTM_LANDING_DIR"] = str(landing)
    output = dtm(env, "run").stdout
    return {"root": root, "env": env, "output": output, "idps": idps}


def copy_of(held: dict, tmp_path: Path) -> dict:
    shutil.copytree(held["root"], tmp_path / "copy")
    root = tmp_path / "copy"
    return {
        **held,
        "root": root,
        "env": {
            **held["env"],
            "DAGSTER_HOME": str(root / "home"),
            "DTM_DATA_DIR": str(root),
            "DTM_LANDING_DIR": str(root / "landing"),
        },
    }


def test_a_round_that_halves_is_loaded_but_not_published_until_signed_off(held):
    root = held["root"]
    assert f"{DOUBTFUL} awaits sign-off" in held["output"] or "held back" in held["output"]
    info = publication_info(root)
    assert info["partition_key"] == ROUND
    assert DOUBTFUL in info["withheld_rounds"] and "awaiting sign-off" in info["withheld_rounds"]
    with duckdb.connect(str(root / "published" / "dtm_latest.duckdb"), read_only=True) as con:
        published = {
            r[0] for r in con.execute("select partition_key from marts.national_figures_by_round").fetchall()
        }
    assert DOUBTFUL not in published  # not a single row of the doubtful round is published
    with duckdb.connect(str(root / "warehouse" / "dtm.duckdb"), read_only=True) as con:
        (flag,) = con.execute(
            "select review_status, is_held_for_review from marts.dim_round where partition_key = ?",
            [DOUBTFUL],
        ).fetchall()
        (idps,) = con.execute(
            "select idps from marts.national_figures_by_round where partition_key = ?", [DOUBTFUL]
        ).fetchall()[0]
    assert flag == ("awaiting_sign_off", True) and idps == held["idps"]  # in the marts, flagged


def test_signing_off_from_the_command_line_publishes_with_the_decision(held, tmp_path):
    state = copy_of(held, tmp_path)
    refused = dtm(state["env"], "sign-off", "134", "--by", "A. Officer", "--note", "x", check=False)
    assert refused.returncode == 2 and "not awaiting sign-off" in refused.stderr
    done = dtm(state["env"], "sign-off", DOUBTFUL, "--by", "A. Officer", "--note", "Camp closures confirmed")
    assert "signed off by A. Officer" in done.stdout
    info = publication_info(state["root"])
    assert info["partition_key"] == DOUBTFUL and info["review_status"] == "signed_off"
    assert info["signed_off_by"] == "A. Officer" and info["sign_off_note"] == "Camp closures confirmed"
    assert "national" in info["sign_off_figures"]  # the figures they saw
    assert info["withheld_rounds"] is None


def test_rejecting_from_the_command_line_quarantines_the_round(held, tmp_path):
    state = copy_of(held, tmp_path)
    dtm(state["env"], "reject", "135", "--by", "A. Officer", "--note", "Half the sheet is missing")
    info = publication_info(state["root"])
    assert info["partition_key"] == ROUND and "rejected at sign-off by A. Officer" in info["withheld_rounds"]
    with duckdb.connect(str(state["root"] / "warehouse" / "dtm.duckdb"), read_only=True) as con:
        assert con.execute(
            "select status, status_reason from raw.load_batches where partition_key = ?", [DOUBTFUL]
        ).fetchall() == [("quarantined", "rejected at sign-off by A. Officer: Half the sheet is missing")]
        assert con.execute(
            "select count(*) from marts.fct_idp_locations where partition_key = ?", [DOUBTFUL]
        ).fetchall() == [(0,)]


@pytest.mark.parametrize(("decision", "published"), [("sign_off", DOUBTFUL), ("reject", ROUND)])
def test_the_review_round_job_signs_off_or_rejects_from_the_ui(held, tmp_path, decision, published):
    state = copy_of(held, tmp_path)
    root = state["root"]
    warehouse = WarehouseResource(
        database_path=str(root / "warehouse" / "dtm.duckdb"),
        landing_path=str(root / "landing"),
        published_path=str(root / "published"),
    )
    result = (
        build_definitions(warehouse)
        .resolve_job_def("review_round")
        .execute_in_process(
            instance=dg.DagsterInstance.ephemeral(),
            run_config={
                "ops": {
                    "record_review": {
                        "config": {
                            "round": DOUBTFUL,
                            "decision": decision,
                            "by": "B. Lead",
                            "note": "from the UI",
                        }
                    }
                }
            },
        )
    )
    assert result.success
    info = publication_info(root)
    assert info["partition_key"] == published
    with duckdb.connect(str(warehouse.database), read_only=True) as con:
        (by, status) = con.execute(
            "select decided_by, status from raw.round_reviews where partition_key = ? "
            "order by recorded_at desc limit 1",
            [DOUBTFUL],
        ).fetchall()[0]
    assert by == "B. Lead" and status == ("signed_off" if decision == "sign_off" else "rejected")
