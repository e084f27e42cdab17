"""The landing sensor registers new and changed round files and asks for runs of their rounds."""

import hashlib
import shutil

import dagster as dg

from orchestration.defs.partitions import ROUNDS_PARTITIONS_NAME
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.sensors import landing_sensor

LEDGERS = {"load_batches", "quality_failures", "sense_check_findings", "file_rejections"}


def _landing_with(fixtures_dir, tmp_path, names):
    """A landing folder holding copies of these fixtures, and a warehouse beside it."""
    landing = tmp_path / "landing"
    landing.mkdir()
    for name in names:
        shutil.copy(fixtures_dir / name, landing / name)
    return landing, WarehouseResource(database_path=str(tmp_path / "dtm.duckdb"), landing_path=str(landing))


def _evaluate(instance, warehouse, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": warehouse})
    return landing_sensor(context)


def test_new_files_add_partitions_and_one_run_per_contiguous_group(fixtures_dir, tmp_path):
    landing, warehouse = _landing_with(
        fixtures_dir,
        tmp_path,
        [
            "Round62_Master_List_IDP_2017_01_01_IOM_DTM.csv",
            "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv",
            "Round112_Master_List_Returnee_2019_10_31_IOM_DTM.xlsx",
        ],
    )
    (landing / "readme.txt").write_text("not a round file")
    with dg.instance_for_test() as instance:
        first = _evaluate(instance, warehouse)
        (added,) = first.dynamic_partitions_requests
        assert added.partition_keys == [
            "IRQ-conflict-R062-2017-01",
            "IRQ-conflict-R088-2018-01",
            "IRQ-conflict-R112-2019-10",
        ]
        # the three new rounds are neighbours in partition order: one single-run backfill
        (run,) = first.run_requests
        assert run.tags["dagster/asset_partition_range_start"] == "IRQ-conflict-R062-2017-01"
        assert run.tags["dagster/asset_partition_range_end"] == "IRQ-conflict-R112-2019-10"
        # it plans the tables the files feed, with the ledgers, and their checks
        assert {k.path[-1] for k in run.asset_selection} == {
            "dtm_idp_master_list",
            "dtm_returnee_master_list",
            *LEDGERS,
        }
        assert {(k.asset_key.path[-1], k.name) for k in run.asset_check_keys} == {
            ("dtm_idp_master_list", "great_expectations_suite"),
            ("dtm_idp_master_list", "round_over_round"),
            ("dtm_returnee_master_list", "great_expectations_suite"),
            ("dtm_returnee_master_list", "round_over_round"),
            ("dtm_round_files", "round_freshness"),
        }
        # One observation of the landing asset per file, its data version the file's sha256;
        # the cursor is a pointer into the state table, not the state.
        observed = {e.metadata["file"].value: e for e in first.asset_events}
        assert set(observed) == {p.name for p in landing.iterdir()}
        for name, event in observed.items():
            assert event.data_version == hashlib.sha256((landing / name).read_bytes()).hexdigest()
        assert first.cursor == "1"

        instance.add_dynamic_partitions(ROUNDS_PARTITIONS_NAME, added.partition_keys)
        quiet = _evaluate(instance, warehouse, first.cursor)
        assert quiet.run_requests == [] and quiet.dynamic_partitions_requests == []
        assert quiet.asset_events == [] and quiet.cursor == "1"

        # A re-issue of one round (same name, new bytes) asks for that round alone.
        reissued = landing / "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv"
        reissued.write_bytes(reissued.read_bytes().replace(b"\r\n", b"\n"))
        changed = _evaluate(instance, warehouse, quiet.cursor)
        (run,) = changed.run_requests
        assert run.tags["dagster/asset_partition_range_start"] == "IRQ-conflict-R088-2018-01"
        assert run.tags["dagster/asset_partition_range_end"] == "IRQ-conflict-R088-2018-01"
        assert {k.path[-1] for k in run.asset_selection} == {"dtm_idp_master_list", *LEDGERS}
        assert changed.dynamic_partitions_requests == []
        (event,) = changed.asset_events
        assert event.metadata["file"].value == reissued.name
        assert event.metadata["previous_sha256"].value == observed[reissued.name].data_version
        assert event.data_version == hashlib.sha256(reissued.read_bytes()).hexdigest()


def test_a_new_ki_export_asks_for_the_rounds_its_submissions_belong_to(fixtures_dir, tmp_path):
    landing, warehouse = _landing_with(
        fixtures_dir,
        tmp_path,
        [
            "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv",
            "Round109_Master_List_IDP_2019_04_30_IOM_DTM.xlsx",
        ],
    )
    with dg.instance_for_test() as instance:
        first = _evaluate(instance, warehouse)
        instance.add_dynamic_partitions(
            ROUNDS_PARTITIONS_NAME, first.dynamic_partitions_requests[0].partition_keys
        )
        # Submissions of January and February 2019: after Round 88, inside Round 109's period.
        export = "DTM_KI_Assessment_-_all_versions_-_xml_-_2019-03-03-10-15-00.csv"
        shutil.copy(fixtures_dir.parent / "field_files" / export, landing / export)
        arrived = _evaluate(instance, warehouse, first.cursor)
        (run,) = arrived.run_requests
        assert run.tags["dagster/asset_partition_range_start"] == "IRQ-conflict-R109-2019-04"
        assert run.tags["dagster/asset_partition_range_end"] == "IRQ-conflict-R109-2019-04"
        assert arrived.dynamic_partitions_requests == []


def _asked(result) -> list[tuple[str, str]]:
    return [
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in result.run_requests
    ]


def test_a_tick_whose_result_was_lost_is_asked_for_again_and_a_reset_is_not(fixtures_dir, tmp_path):
    """A tick that looked (the state table has the files) but whose result Dagster never
    stored (seen as a service: the tick failed on its storage) leaves the cursor where it was:
    the next tick asks for the same runs and observations. A reset cursor, after ticks were
    stored, hashes every file again and asks for nothing the files do not show changed."""
    landing, warehouse = _landing_with(
        fixtures_dir,
        tmp_path,
        [
            "Round62_Master_List_IDP_2017_01_01_IOM_DTM.csv",
            "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv",
        ],
    )
    with dg.instance_for_test() as instance:
        lost = _evaluate(instance, warehouse)  # its result never stored: no partitions, no cursor
        again = _evaluate(instance, warehouse)
        assert _asked(again) == _asked(lost) == [("IRQ-conflict-R062-2017-01", "IRQ-conflict-R088-2018-01")]
        assert {e.metadata["file"].value for e in again.asset_events} == {p.name for p in landing.iterdir()}
        assert (
            again.dynamic_partitions_requests[0].partition_keys
            == lost.dynamic_partitions_requests[0].partition_keys
        )
        instance.add_dynamic_partitions(
            ROUNDS_PARTITIONS_NAME, again.dynamic_partitions_requests[0].partition_keys
        )

        # a re-issue whose tick is lost: asked for again by the next tick, with its previous sha256
        reissued = landing / "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv"
        before = hashlib.sha256(reissued.read_bytes()).hexdigest()
        reissued.write_bytes(reissued.read_bytes().replace(b"\r\n", b"\n"))
        lost = _evaluate(instance, warehouse, again.cursor)
        retried = _evaluate(instance, warehouse, again.cursor)
        assert _asked(retried) == _asked(lost) == [("IRQ-conflict-R088-2018-01", "IRQ-conflict-R088-2018-01")]
        (event,) = retried.asset_events
        assert event.metadata["previous_sha256"].value == before
        stored = _evaluate(instance, warehouse, retried.cursor)
        assert stored.run_requests == [] and stored.asset_events == []

        # a reset cursor: every file hashed again, nothing changed, nothing asked
        reset = _evaluate(instance, warehouse)
        assert reset.run_requests == [] and reset.asset_events == []
