"""Each expectation of the suites: a frame that breaks only it fails only it; a clean one passes."""

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.quality.frames import validation_frame
from orchestration.quality.gate import failures_of, gate_pending, load_suite, validate
from orchestration.readers.round_files import read_round_file
from orchestration.warehouse import ensure_raw_schema, load_round_file

IDP_FIXTURE = "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv"
RETURNEE_FIXTURE = "Round119_Master_List_Returnee_2020_12_31_IOM_DTM.csv"


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    from pathlib import Path

    fixtures = Path(__file__).parent / "fixtures" / "round_files"
    con = duckdb.connect(str(tmp_path_factory.mktemp("gate") / "dtm.duckdb"))
    ensure_raw_schema(con)
    result = {}
    for list_type, name in (("idp", IDP_FIXTURE), ("returnee", RETURNEE_FIXTURE)):
        outcome = load_round_file(con, read_round_file(fixtures / name), name)
        result[list_type] = validation_frame(con, list_type, [outcome.batch_id])
    con.close()
    return result


def _failed(frame, list_type):
    return {(f.expectation, f.columns) for f in failures_of(validate(frame, load_suite(list_type)))}


@pytest.mark.parametrize("list_type", ["idp", "returnee"])
def test_the_clean_fixture_passes_every_expectation(frames, list_type):
    assert _failed(frames[list_type], list_type) == set()


def _break(frame, column, value, row=2):
    broken = frame.copy()
    broken[column] = broken[column].astype(object)
    broken.loc[row, column] = value
    return broken


BREAKERS = {
    ("expect_column_values_to_not_be_null", "location_id"): lambda f: _break(f, "location_id", None),
    ("expect_column_values_to_match_regex", "location_id"): lambda f: _break(f, "location_id", "27A6001"),
    ("expect_compound_columns_to_be_unique", "batch_id, location_id"): lambda f: _break(
        f, "location_id", f.loc[0, "location_id"]
    ),
    ("expect_column_values_to_not_be_null", "households_count"): lambda f: _break(
        f, "households_count", None
    ),
    ("expect_column_values_to_not_be_null", "individuals_count"): lambda f: _break(
        f, "individuals_count", None
    ),
    ("expect_column_values_to_be_between", "unparseable_count_cells"): lambda f: _break(
        f, "unparseable_count_cells", 1
    ),
    ("expect_column_values_to_be_between", "negative_count_cells"): lambda f: _break(
        f, "negative_count_cells", 2
    ),
    ("expect_column_values_to_be_between", "individuals_per_household"): lambda f: _break(
        f, "individuals_per_household", 40.0
    ),
    ("expect_column_values_to_not_be_null", "governorate_pcode"): lambda f: _break(
        f, "governorate_pcode", None
    ),
    ("expect_column_values_to_be_in_set", "district_known"): lambda f: _break(f, "district_known", False),
    ("expect_column_values_to_be_between", "latitude"): lambda f: _break(f, "latitude", 51.5),
    ("expect_column_values_to_be_between", "longitude"): lambda f: _break(f, "longitude", -0.1),
    ("expect_column_values_to_be_in_set", "totals_row_missing"): lambda f: _break(
        f, "totals_row_missing", True
    ),
}


def _pair_breakers(list_type):
    dims = (
        ("origin", "shelter", "period")
        if list_type == "idp"
        else ("last_displacement", "return_shelter", "return_period")
    )
    return {
        ("expect_column_pair_values_to_be_equal", f"{d}_sum, breakdown_total"): (
            lambda f, d=d: _break(f, f"{d}_sum", f.loc[2, f"{d}_sum"] + 1)
        )
        for d in dims
    }


@pytest.mark.parametrize("list_type", ["idp", "returnee"])
def test_every_expectation_is_broken_alone_by_its_own_frame(frames, list_type):
    breakers = {**BREAKERS, **_pair_breakers(list_type)}
    suite = {
        (
            e["type"],
            ", ".join(
                e["kwargs"].get("column_list")
                or [e["kwargs"][k] for k in ("column", "column_A", "column_B") if k in e["kwargs"]]
            ),
        )
        for e in load_suite(list_type)["expectations"]
    }
    assert suite == set(breakers), "every expectation of the suite has a breaking frame here"
    for expectation, breaker in breakers.items():
        assert _failed(breaker(frames[list_type]), list_type) == {expectation}, expectation


def test_failures_name_the_batch_and_rows_and_quarantine_only_on_errors(frames, tmp_path):
    from pathlib import Path

    fixtures = Path(__file__).parent / "fixtures" / "round_files"
    con = duckdb.connect(str(tmp_path / "dtm.duckdb"))
    ensure_raw_schema(con)
    good = load_round_file(con, read_round_file(fixtures / IDP_FIXTURE), IDP_FIXTURE)
    other = tmp_path / "Round62_Master_List_IDP_2017_01_01_IOM_DTM.csv"
    shutil.copy(fixtures / other.name, other)
    text = other.read_text(encoding="utf-8-sig").replace("Tilkaif", "Atlantis")  # an unknown district
    other.write_text(text, encoding="utf-8-sig")
    warned = load_round_file(con, read_round_file(other), other.name)
    con.execute(
        "update raw.dtm_idp_master_list set shelter__camp = '999' "
        "where batch_id = ? and source_row_number = 3",
        [good.batch_id],
    )
    outcome = gate_pending(con, "idp")
    assert outcome.quarantined == [good.batch_id]
    assert outcome.accepted == [warned.batch_id]
    status = dict(con.execute("select batch_id, status from raw.load_batches").fetchall())
    assert status == {good.batch_id: "quarantined", warned.batch_id: "accepted"}
    failures = con.execute(
        "select source_file, severity, columns, sample_rows from raw.quality_failures order by severity"
    ).fetchall()
    assert (IDP_FIXTURE, "error", "shelter_sum, breakdown_total", [3]) in failures
    assert any(f[0] == other.name and f[1] == "warning" and f[2] == "district_known" for f in failures)
    reason = con.execute(
        "select status_reason from raw.load_batches where batch_id = ?", [good.batch_id]
    ).fetchall()[0][0]
    assert "row 3" in reason and "shelter" in reason


def test_sense_checks_flag_large_moves_against_the_previous_round(tmp_path):
    from pathlib import Path

    from orchestration.quality.sense_checks import sense_check, thresholds

    fixtures = Path(__file__).parent / "fixtures" / "round_files"
    con = duckdb.connect(str(tmp_path / "dtm.duckdb"))
    ensure_raw_schema(con)
    earlier = load_round_file(
        con, read_round_file(fixtures / "Round62_Master_List_IDP_2017_01_01_IOM_DTM.csv"), "r62.csv"
    )
    later = load_round_file(con, read_round_file(fixtures / IDP_FIXTURE), IDP_FIXTURE)
    con.execute("update raw.load_batches set status = 'accepted'")
    # one location of the later round jumps to 99,999 IDPs
    con.execute(
        "update raw.dtm_idp_master_list set individuals = '99999' where batch_id = ? "
        "and source_row_number = 2",
        [later.batch_id],
    )
    findings = sense_check(con, "idp", [later.partition_key])
    assert {"governorate_change_share", "national_change_share"} <= {f.check_name for f in findings}
    assert {f.previous_partition_key for f in findings} == {earlier.partition_key}
    limits = thresholds("idp")
    for f in findings:
        limit = limits[f.check_name]
        assert (f.threshold, f.severity) == (limit.threshold, limit.severity)
        if f.check_name.endswith("change_share"):
            assert abs(f.current_value - f.previous_value) / f.previous_value > limit.threshold
        elif f.check_name.endswith("drop_share") or f.check_name.endswith("loss_share"):
            assert (f.previous_value - f.current_value) / f.previous_value > limit.threshold
        else:
            assert max(f.current_value, f.previous_value) > limit.threshold
    # A national move of this size holds the round for sign-off if it would be published.
    assert any(f.severity == "hold" for f in findings if f.check_name == "national_change_share")
    assert sense_check(con, "idp", [earlier.partition_key]) == []  # no previous round


# A script's start (run with the IDP fixture's path): `broken`, the fixture's validation frame,
# for the lines after it to break (test_gate_worker.py runs one too).
FIXTURE_FRAME_IN_ITS_OWN_PROCESS = """
import sys
from pathlib import Path
import duckdb
from orchestration.quality.frames import validation_frame
from orchestration.readers.round_files import read_round_file
from orchestration.warehouse import ensure_raw_schema, load_round_file
con = duckdb.connect()
ensure_raw_schema(con)
path = Path(sys.argv[1])
batch = load_round_file(con, read_round_file(path), path.name).batch_id
broken = validation_frame(con, "idp", [batch])
"""
GATE_IN_ITS_OWN_PROCESS = (
    FIXTURE_FRAME_IN_ITS_OWN_PROCESS
    + """
from orchestration.quality.gate import failures_of, load_suite, validate
broken.loc[2, "location_id"] = None
print(sorted({f.expectation for f in failures_of(validate(broken, load_suite("idp")))}))
print("scipy.stats._stats_py" in sys.modules)
"""
)


def test_a_gate_finds_failures_without_loading_what_no_suite_uses():
    """GX imports scipy.stats (1.2 s) for expectations no suite here uses; a gate's process
    leaves it unloaded, and still finds what it must."""
    fixture = Path(__file__).parent / "fixtures" / "round_files" / IDP_FIXTURE
    done = subprocess.run(
        [sys.executable, "-c", GATE_IN_ITS_OWN_PROCESS, str(fixture)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    failed, loaded = done.stdout.splitlines()[-2:]
    assert failed == "['expect_column_values_to_not_be_null']"
    assert loaded == "False"


def test_a_reach_month_outside_its_workbooks_year_quarantines_that_rounds_batch(tmp_path):
    """A cluster keeps one workbook a year: the 2019 test workbook with one reach row dated
    December 2018 puts that row in Round 107, whose reach batch the gate quarantines, naming the
    row; the 2019 rounds' batches are accepted."""
    import openpyxl

    from orchestration import landing
    from orchestration.loading import load_rounds
    from orchestration.sample import generator

    class Log:
        def info(self, msg: str) -> None:
            pass

        def warning(self, msg: str) -> None:
            pass

    landing_dir = tmp_path / "landing"
    generator.generate(landing_dir, {107, 108, 109}, xlsx=False, field_families=False)
    name = "Cluster_sheets_test_2019.xlsx"
    book = openpyxl.load_workbook(Path(__file__).parent / "fixtures" / "field_files" / name)
    reach = book["Reach"]
    last_data_row = reach.max_row - 1  # above the totals row
    reach.cell(last_data_row, 1).value = "2018-12"
    book.save(landing_dir / name)
    keys = sorted(landing.by_partition(landing.scan(landing_dir)))
    report = load_rounds(tmp_path / "dtm.duckdb", landing_dir, keys, "test", Log())
    gate = report.gates["cluster_reach"]
    (quarantined,) = gate.quarantined
    assert quarantined.startswith("IRQ-conflict-R107-") and len(gate.accepted) == 2
    (failure,) = [f for f in gate.failures if "month_outside_year" in f.columns]
    assert failure.severity == "error" and failure.batch_id == quarantined


class _Quiet:
    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        pass


def _load_rounds_107_to_109(tmp_path: Path, write_extra) -> "object":
    from orchestration import landing
    from orchestration.loading import load_rounds
    from orchestration.sample import generator

    landing_dir = tmp_path / "landing"
    generator.generate(landing_dir, {107, 108, 109}, xlsx=False, field_families=False)
    write_extra(landing_dir)
    keys = sorted(landing.by_partition(landing.scan(landing_dir)))
    return load_rounds(tmp_path / "dtm.duckdb", landing_dir, keys, "test", _Quiet())


def test_rows_a_workbook_repeats_are_quarantined_before_dbt(tmp_path):
    """An activity listed twice, a second headline indicator, a reach row repeated, a row
    without its HRP code: staging keys each once and by its project (dbt's uniqueness and
    not-null tests failed, and with them every build). The gate quarantines the batch, naming
    the rows."""
    import openpyxl

    name = "Cluster_sheets_test_2019.xlsx"

    def write(landing_dir: Path) -> None:
        book = openpyxl.load_workbook(Path(__file__).parent / "fixtures" / "field_files" / name)
        activities, reach = book["Activities"], book["Reach"]
        activities.append([cell.value for cell in activities[3]])  # row 5: row 3 again
        activities.cell(4, 5).value = "Yes"  # row 4: a second headline of the project
        reach.insert_rows(3)  # row 3: row 2 (January, Ninewa, IDPs) again
        for column, cell in enumerate(reach[2], start=1):
            reach.cell(3, column).value = cell.value
        reach.cell(4, 2).value = None  # row 4 (February): a reach row of no project
        book.save(landing_dir / name)

    report = _load_rounds_107_to_109(tmp_path, write)
    failed = {
        (f.batch_id.split("/")[1], f.columns): f.sample_rows
        for gate in report.gates.values()
        for f in gate.failures
        if f.severity == "error"
    }
    assert sorted(failed.pop(("cluster_activity", "batch_id, hrp_code, activity"))) == [3, 5]
    assert failed.pop(("cluster_activity", "headline_of_project")) == (4,)
    reach_key = "batch_id, hrp_code, activity, governorate, district, population_group_key, reference_month"
    assert sorted(failed.pop(("cluster_reach", reach_key))) == [2, 3]
    assert failed.pop(("cluster_reach", "hrp_code")) == (4,)
    assert failed == {}
    assert len(report.gates["cluster_activity"].quarantined) == 1
    (reach_quarantined,) = report.gates["cluster_reach"].quarantined
    assert reach_quarantined.startswith("IRQ-conflict-R108-")  # January's round; April's is accepted
    assert report.gates["cluster_project"].accepted and not report.gates["cluster_project"].quarantined


def test_a_priority_need_that_is_not_a_choice_of_the_form_is_quarantined(tmp_path, monkeypatch):
    """A select_multiple cell with a word the form does not have (`other`, a comma list):
    staging would carry it as a need and dbt's accepted-values test fail every build."""
    import csv

    from orchestration.informants import SECRET_VARIABLE

    monkeypatch.setenv(SECRET_VARIABLE, "test-only-informant-secret-3b8e")
    name = "DTM_KI_Assessment_-_all_versions_-_xml_-_2019-03-03-10-15-00.csv"

    def write(landing_dir: Path) -> None:
        source = Path(__file__).parent / "fixtures" / "field_files" / name
        with source.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle, delimiter=";"))
        column = rows[0].index("needs/priority_needs")
        rows[2][column] += " other"
        rows[4][column] = "food,shelter"
        # KoBo's statuses as a label export writes them pass; one KoBo has not does not
        status = rows[0].index("_validation_status")
        rows[5][status], rows[6][status], rows[7][status] = "Not approved", "On hold", "Approved"
        rows[8][status] = "validation_status_pending"
        with (landing_dir / name).open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, delimiter=";").writerows(rows)

    report = _load_rounds_107_to_109(tmp_path, write)
    failures = {f.columns: f for f in report.gates["ki_report"].failures}
    needs, status = failures.pop("unknown_priority_needs"), failures.pop("validation_status")
    assert failures == {} and needs.severity == status.severity == "error"
    assert sorted(needs.sample_rows) == [3, 5] and sorted(needs.sample_values) == ["food,shelter", "other"]
    assert status.sample_rows == (9,) and status.sample_values == ("pending",)
    assert report.gates["ki_report"].quarantined == [needs.batch_id] == [status.batch_id]
