"""dbt models as Dagster assets: staging → intermediate → marts, sources mapped onto raw."""

import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from packaging.version import Version

from orchestration import writer_lock
from orchestration.dbt_scope import BuildScope, dbt_build_args
from orchestration.defs.dbt_project import dbt_project, load_manifest, project_digest
from orchestration.defs.partitions import ROUNDS_PARTITIONS_NAME, WAREHOUSE_POOL, run_round_partitions
from orchestration.defs.resources import WarehouseResource
from orchestration.rounds import sort_partition_keys
from orchestration.warehouse import (
    built_project,
    change_mark,
    changed_raw_tables,
    connect,
    ensure_raw_schema,
    record_build,
    set_build_rounds,
    unfinished_rounds,
)

# A run tagged so builds the rounds changed since the last build (not every round) when it names
# no round partition: the review_round job's, whose decision changes one round.
CHANGED_ROUNDS_TAG = "dtm/dbt_rounds_changed"
# The dbt of this environment, so a run works from a venv that is not activated; started in the
# warehouse's folder, so a new warehouse's build keeps the prepared parse (dbt_launcher.py).
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dtm-dbt"))
# The kinds of node a dbt unique_id names (its first part).
DBT_NODE_TYPES = frozenset({"model", "seed", "snapshot", "test", "unit_test"})


@contextmanager
def dbt_environment(**variables: str) -> Iterator[None]:
    """Environment variables set while the dbt process starts, then restored."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class WarehouseDbtResource(DbtCliResource):
    """dagster-dbt's dbt resource without two costs of every call that this project does not use
    (measured: 8 s of a 31 s build): it asks the dbt executable its version (a `dbt --version`
    process, 3.5 s) where the installed dbt-core package says it, and it opens a dbt adapter in
    this process (4.4 s of imports and profile loading) that serves only dagster-dbt's
    fetch_row_counts and fetch_column_metadata; row counts are counted here, after dbt."""

    @cached_property
    def _cli_version(self) -> Version:
        return Version(version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


# What each generic dbt test checks, in words, for the check's description in the UI.
TEST_DESCRIPTIONS = {
    "not_null": "{column_name} is never empty.",
    "unique": "{column_name} is unique.",
    "accepted_values": "{column_name} only takes the values {values}.",
    "relationships": "every {column_name} is in {to}.{field}.",
    "unique_combination_of_columns": "one row per {combination_of_columns}.",
}

# A test of a model whose rows of a round come from that round alone (macros/round_conditions.sql).
ROUND_SCOPE = " Checked on the rows of the rounds each build covers (a plain `dbt build`: every round)."


def _argument(value: Any) -> str:
    """A test argument as people read it: a list joined, ref('dim_admin1') as dim_admin1."""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value).removeprefix("ref('").removesuffix("')")


def describe_dbt_test(test: Mapping[str, Any], tested: Mapping[str, Any] | None = None) -> str:
    """A dbt test in words: its generic test with its arguments, or a singular test's file; on a
    model that declares its round column (`tested`, the model it is attached to), which rows a
    build checks."""
    generic = test.get("test_metadata") or {}
    template = TEST_DESCRIPTIONS.get(generic.get("name", ""))
    if template is None:
        return (
            f"dbt test {test['name']} ({test['original_file_path']}): passes when its query returns no row."
        )
    arguments = {key: _argument(value) for key, value in (generic.get("kwargs") or {}).items()}
    described = "dbt test: " + template.format_map(defaultdict(str, arguments))
    if tested and tested.get("config", {}).get("meta", {}).get("round_column"):
        described += ROUND_SCOPE
    return described


class LayerTranslator(DagsterDbtTranslator):
    """Groups by layer (staging, intermediate, marts, reference); sources keep the key
    [source, table] = ["raw", ...] the ingest assets produce, so the graph is one piece; every
    dbt test's check says in words what it checks."""

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        test = manifest["nodes"][unique_id]
        tested = manifest["nodes"].get(test.get("attached_node") or "")
        return spec._replace(description=describe_dbt_test(test, tested))

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        """A seed is its properties' description (dagster-dbt would add an empty Raw SQL block:
        a seed has no SQL); a model keeps its SQL under its description."""
        if dbt_resource_props["resource_type"] == "seed":
            return dbt_resource_props["description"]
        return super().get_description(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


# The marts hold every round, so the dbt models are not partitioned: per-round partitions of
# ~40 models would write thousands of events a backfill (most of a whole-history run's time).
# Which rounds the incremental facts rebuild comes from the run's partition tags instead.
@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=LayerTranslator(),
    pool=WAREHOUSE_POOL,
)
def dtm_dbt_models(
    context: dg.AssetExecutionContext, dbt: WarehouseDbtResource, warehouse: WarehouseResource
):
    with writer_lock.hold(warehouse.database, say=context.log.info):
        with connect(warehouse.database) as con:
            ensure_raw_schema(con)
            mark = change_mark(con)
            # Rounds an interrupted run loaded but never built join this build: every dbt run
            # heals what a killed one left.
            undone = unfinished_rounds(con)
            changed = changed_raw_tables(con)
            built = built_project(con)
            scope = BuildScope(
                build_rounds(context, undone),
                frozenset(changed),
                built != project_digest(),
                whole_project=downstream_in_run(context),
            )
            set_build_rounds(con, [] if scope.project_changed else scope.rounds)
        describe_scope(context, scope, built is None)
        args = dbt_build_args(scope, load_manifest())
        # dbt finds the working file through its profile: this run's warehouse, for the dbt
        # process only (the process's own environment is left as it was).
        with dbt_environment(DTM_WAREHOUSE_PATH=str(warehouse.database)):
            # A target folder per warehouse, kept between builds: dbt's partial parsing reads
            # what the last build parsed (dagster-dbt's default, a new folder per run, parses the
            # whole project every time, since the profile's path differs from the prepared one).
            invocation = dbt.cli(
                args, context=context, raise_on_error=False, target_path=dbt_target_path(warehouse.database)
            )
            events = []
            try:
                for event in invocation.stream():
                    events.append(event)
                    if isinstance(event, dg.Output):
                        context.log.info(f"dbt built {event.output_name}")
            except BaseException as error:
                let_dbt_finish(invocation.process)
                if stale := stale_manifest(error, invocation.manifest):
                    raise stale from error
                raise
        # Row counts once dbt has let the file go (DuckDB: one writer), through this run's own
        # connection: dagster-dbt's fetch_row_counts would leave dbt's adapter holding the file.
        nodes = invocation.manifest["nodes"]
        with connect(warehouse.database) as con:
            yield from (with_row_count(con, nodes, event) for event in events)
            if error := invocation.get_error():
                raise error
            # Only a build that finished records what it has seen.
            record_build(con, mark, project_digest())


def let_dbt_finish(process: subprocess.Popen) -> None:
    """dbt once its events' reader has failed: the rest of its log is read and dropped, so that
    dbt finishes its command instead of blocking for ever on a full pipe while it holds the
    warehouse (the run, then waiting for the file, hung with it). An interrupt has stopped it
    already (dagster-dbt sends it SIGINT and closes the pipe)."""
    if process.stdout is not None and not process.stdout.closed:
        for _ in process.stdout:
            pass
    process.wait()


def stale_manifest(error: BaseException, manifest: Mapping[str, Any]) -> dg.Failure | None:
    """The failure to report when dbt ran a node the prepared manifest does not hold: the
    project changed since `make manifest` prepared it (dagster-dbt raised a bare KeyError)."""
    key = error.args[0] if isinstance(error, KeyError) and error.args else None
    if not isinstance(key, str) or key.partition(".")[0] not in DBT_NODE_TYPES or key in manifest["nodes"]:
        return None
    return dg.Failure(
        f"dbt ran {key}, which the prepared manifest ({dbt_project.manifest_path}) does not hold: the "
        "dbt project changed since it was prepared. `make manifest` (or `make run`) prepares it again."
    )


def dbt_target_path(database: Path) -> Path:
    """dbt's target folder (artifacts, compiled SQL, partial parse) for this warehouse."""
    return database.parent / "operations" / "dbt_target"


def build_rounds(context: dg.AssetExecutionContext, undone: list[str]) -> list[str]:
    """The rounds this build covers: the run's partitions with what interrupted runs left, or,
    for build_marts and review_round, the rounds whose batches or sign-off changed."""
    ordered = context.instance.get_dynamic_partitions(ROUNDS_PARTITIONS_NAME)
    rounds = run_round_partitions(context.run.tags, ordered)
    if not rounds and context.run.tags.get(CHANGED_ROUNDS_TAG):
        return undone
    if rounds and (extra := sorted(set(undone) - set(rounds))):
        context.log.info(
            f"Also building {len(extra)} round(s) an interrupted run left: {', '.join(extra[:5])}"
        )
        return sort_partition_keys([*rounds, *extra])
    return rounds


def downstream_in_run(context: dg.AssetExecutionContext) -> bool:
    """Whether this run also materializes assets that depend on dbt's (review_round: the
    publication after the sign-off)."""
    layer = context.job_def.asset_layer
    ours = set(context.assets_def.keys)
    return any(ours & set(layer.get(key).parent_keys) for key in layer.selected_asset_keys if key not in ours)


def describe_scope(context: dg.AssetExecutionContext, scope: BuildScope, first: bool) -> None:
    context.log.info(f"dbt build for {len(scope.rounds) or 'all'} round partition(s)")
    if scope.project_changed:
        # Marts built by another version of the models (or none yet): rounds outside this run
        # would keep what the old models made of them. New models rebuild the incremental facts
        # from scratch too (their columns may differ).
        context.log.info(
            "No marts built yet: building every round"
            if first
            else "The dbt project changed since the marts were built: rebuilding every round"
        )
        return
    if scope.whole_project:
        context.log.info(
            "Assets downstream of dbt run in this run too: building every model (Dagster skips a "
            "step whose upstream outputs the run did not produce)"
        )
    elif scope.changed_tables:
        context.log.info(
            "Building the models and tests downstream of the raw tables that changed: "
            + ", ".join(sorted(scope.changed_tables))
        )


def with_row_count(con, nodes: Mapping[str, Any], event):
    """A model's output with `dagster/row_count` of the table it built (views are not counted:
    counting runs their query)."""
    unique_id = event.metadata.get("unique_id") if isinstance(event, dg.Output) else None
    node = nodes.get(getattr(unique_id, "value", unique_id))
    if node is None or node["config"].get("materialized") == "view":
        return event
    (count,) = con.execute(f"select count(*) from {node['relation_name']}").fetchall()[0]
    return event.with_metadata({**event.metadata, "dagster/row_count": count})


dbt_resource = WarehouseDbtResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)

defs = dg.Definitions(assets=[dtm_dbt_models], resources={"dbt": dbt_resource})
