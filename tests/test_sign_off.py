"""A round whose national figure halves is loaded and flagged but not published until a person
signs it off; rejected, its batches are quarantined. From the command line and the review_round
job."""

import csv
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.definitions import build_definitions
from orchestration.defs.resources import WarehouseResource
from tests.runs import DOUBTFUL, DOUBTFUL_FILE, ROUND, data_dir, dtm, publication_info, sample_landing


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
def held(tmp_path_factory) -> dict:
    """Round 134, and a doubtful Round 135 after it: both load, Round 135 waits for sign-off."""
    root = tmp_path_factory.mktemp("held")
    landing = sample_landing(root)
    idps = write_doubtful_round(landing, landing)
    env = data_dir(root, landing)
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
