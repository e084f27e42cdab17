"""Kill `dtm run` with SIGKILL at random moments, run it again, and check that the warehouse
converges to what a clean run gives (mart checksums), that no batch stays pending, and that
nothing half-written or temporary is left in the publication folder.

    .venv/bin/python bench/fault_injection.py [--kills 10] [--rounds 133,134] [--seed 7]

Each trial: a fresh data folder; `dtm run` killed after a random delay (a share of a clean
run's duration), `--kills-per-trial` times in a row; then one `dtm run` to completion. The
table says which stage each kill hit (the last progress line before it) and whether the trial
converged. Results go to bench/results/faults.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestration.sample.generator import generate  # noqa: E402
from orchestration.warehouse import table_checksums  # noqa: E402

DTM = Path(sys.executable).with_name("dtm")
RESULTS = ROOT / "bench" / "results"
STAGES = (  # progress lines, in run order: the last one seen before a kill names the stage
    ("Loading ", "reading"),
    ("rows loaded", "loading"),
    ("Gate ", "gating"),
    ("dbt build for", "dbt"),
    ("Publishing IRQ", "publishing"),
    ("published in", "summary"),
)


def environment(root: Path, landing: Path) -> dict[str, str]:
    (root / "home").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "config" / "dagster.yaml", root / "home" / "dagster.yaml")
    return {
        **{name: value for name, value in os.environ.items() if not name.startswith("DTM_")},
        "DAGSTER_HOME": str(root / "home"),
        "DTM_DATA_DIR": str(root),
        "DTM_LANDING_DIR": str(landing),
    }


def killed_run(env: dict[str, str], delay: float) -> str:
    """`dtm run` killed after `delay` seconds; the stage it was in (or 'finished')."""
    log = Path(env["DTM_DATA_DIR"]) / "run.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(DTM), "run"], env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            process.wait(timeout=delay)
            return "finished"
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
    stage = "start-up"
    for line in log.read_text(errors="replace").splitlines():
        for marker, name in STAGES:
            if marker in line:
                stage = name
    return stage


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=10, help="kills in all")
    parser.add_argument("--kills-per-trial", type=int, default=2)
    parser.add_argument("--rounds", default="133,134")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    chance = random.Random(args.seed)
    work = RESULTS / "faults"
    shutil.rmtree(work, ignore_errors=True)
    landing = work / "landing"
    generate(landing, {int(r) for r in args.rounds.split(",")}, xlsx=False, field_families=False)

    clean_env = environment(work / "clean", landing)
    started = time.perf_counter()
    subprocess.run([str(DTM), "run"], env=clean_env, check=True, capture_output=True)
    clean_seconds = time.perf_counter() - started
    expected = table_checksums(work / "clean" / "warehouse" / "dtm.duckdb", "marts")
    print(f"clean run: {clean_seconds:.1f} s, {len(expected)} marts")

    trials = []
    for trial in range(-(-args.kills // args.kills_per_trial)):
        env = environment(work / f"trial{trial}", landing)
        stages = [
            killed_run(env, chance.uniform(0.05, 1.0) * clean_seconds) for _ in range(args.kills_per_trial)
        ]
        final = subprocess.run([str(DTM), "run"], env=env, capture_output=True, text=True)
        database = work / f"trial{trial}" / "warehouse" / "dtm.duckdb"
        with duckdb.connect(str(database), read_only=True) as con:
            pending = con.execute(
                "select count(*) from raw.load_batches where status = 'pending'"
            ).fetchall()[0][0]
        leftovers = [
            p.name for p in (work / f"trial{trial}" / "published").rglob(".*") if not p.name.endswith(".lock")
        ]
        converged = (
            final.returncode == 0
            and table_checksums(database, "marts") == expected
            and not pending
            and not leftovers
        )
        trials.append(
            {"kills_hit": stages, "converged": converged, "pending": pending, "leftovers": leftovers}
        )
        print(f"trial {trial}: killed in {', '.join(stages):<30} converged: {converged}")

    hits = [stage for t in trials for stage in t["kills_hit"]]
    summary = {
        "kills": sum(1 for s in hits if s != "finished"),
        "stages_hit": {s: hits.count(s) for s in dict.fromkeys(hits)},
        "trials": len(trials),
        "converged": sum(t["converged"] for t in trials),
        "clean_run_seconds": round(clean_seconds, 1),
        "trial_details": trials,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "faults.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "trial_details"}, indent=2))


if __name__ == "__main__":
    main()
