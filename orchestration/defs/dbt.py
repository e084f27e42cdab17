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
from orchestration.defs.dbt_plan import NodeKey, needed_keys, read_scope
from orchestration.defs.dbt_project import dbt_project, project_digest
from orchestration.defs.partitions import WAREHOUSE_POOL
from orchestration.defs.resources import WarehouseResource
from orchestration.warehouse import (
    built_project,
    change_mark,
    connect,
    ensure_raw_schema,
    record_build,
    set_build_rounds,
)

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
            first = built_project(con) is None
            # Rounds an interrupted run left (loaded, never built) join this build: every dbt
            # run heals what a killed one left.
            scope = read_scope(con, context.instance, context.run.tags, say=context.log.info)
            set_build_rounds(con, [] if scope.project_changed else scope.rounds)
        # dbt runs what the run planned (dagster-dbt selects a subset run's nodes). A run
        # launched with its scope plans what changed until then; what changed since is left to
        # the next build, which the run after every load starts.
        planned = {*context.selected_asset_keys, *context.selected_asset_check_keys}
        # (of every dbt asset: a subset run's context.assets_def holds only what it selected)
        needed = needed_keys(dtm_dbt_models, scope)
        describe_scope(context, scope, first, planned, needed)
        args = dbt_build_args(scope)
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
            # Only a build that finished, and ran all the changes need, records what it has seen.
            if needed <= planned:
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


def describe_scope(
    context: dg.AssetExecutionContext,
    scope: BuildScope,
    first: bool,
    planned: set[NodeKey],
    needed: set[NodeKey],
) -> None:
    """What this build covers and why, in its run's log; a warning for what it has to leave out."""
    context.log.info(f"dbt build for {len(scope.rounds) or 'all'} round partition(s)")
    if unplanned := needed - planned:
        names = ", ".join(sorted(k.to_user_string() for k in unplanned)[:5])
        context.log.warning(
            f"{len(unplanned)} model(s), seed(s) and test(s) that the changes need are not in this run's "
            f"plan ({names} …): it was launched with a narrower selection, or before the warehouse "
            "changed. They are left to the next build; this one does not count as having built the changes"
        )
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
    assets, checks = len(context.selected_asset_keys), len(context.selected_asset_check_keys)
    changed = ", ".join(sorted(scope.changed_tables))
    if planned != needed:
        context.log.info(
            f"This run plans {assets} dbt models and seeds and {checks} tests, and dbt builds what it "
            f"plans; the raw tables that changed ({changed or 'none known'}) reach {len(needed)} dbt "
            "models and tests"
        )
    elif scope.changed_tables:
        context.log.info(
            f"Building the models and tests downstream of the raw tables that changed: {changed} "
            f"({assets} models, {checks} tests: what this run plans)"
        )
    else:
        context.log.info(
            f"No raw table changed since the last build: building every model ({assets}) and test "
            f"({checks}); the seeds stay as they are"
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
