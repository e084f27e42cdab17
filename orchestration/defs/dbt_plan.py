"""What a build of the marts plans, as Dagster assets and checks: its scope read from the
warehouse when its run is launched (by `dtm`, or by the sensor after a load), and read again when
the run builds, to find what changed in between.

A run plans its assets and checks when it is launched. dbt then runs what the run planned: a
check planned and not run would show in the UI as skipped, over the result that still holds for
its table, and a table planned and not rebuilt would show a run that did not touch it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.dbt_scope import BuildScope, needed_nodes
from orchestration.defs.dbt_project import load_manifest, project_digest
from orchestration.defs.partitions import ROUNDS_PARTITIONS_NAME, run_round_partitions
from orchestration.defs.selection import Selection
from orchestration.rounds import sort_partition_keys
from orchestration.warehouse import built_project, changed_raw_tables, connect_now, unfinished_rounds

# A run tagged so builds the rounds changed since the last build (not every round) when it names
# no round partition: build_marts' and review_round's, whose decision changes one round.
CHANGED_ROUNDS_TAG = "dtm/dbt_rounds_changed"
# Where dagster-dbt keeps a dbt node's unique id on its asset and check specs.
UNIQUE_ID = "dagster_dbt/unique_id"

NodeKey = dg.AssetKey | dg.AssetCheckKey


def build_rounds(
    instance: dg.DagsterInstance,
    tags: Mapping[str, str],
    undone: list[str],
    say: Callable[[str], None] | None = None,
) -> list[str]:
    """The rounds a build covers: its run's partitions with what interrupted runs left, or, for
    build_marts and review_round, the rounds whose batches or sign-off changed."""
    ordered = instance.get_dynamic_partitions(ROUNDS_PARTITIONS_NAME)
    rounds = run_round_partitions(tags, ordered)
    if not rounds and tags.get(CHANGED_ROUNDS_TAG):
        return undone
    if rounds and (extra := sorted(set(undone) - set(rounds))):
        if say:
            say(f"Also building {len(extra)} round(s) an interrupted run left: {', '.join(extra[:5])}")
        return sort_partition_keys([*rounds, *extra])
    return rounds


def read_scope(
    con: duckdb.DuckDBPyConnection,
    instance: dg.DagsterInstance,
    tags: Mapping[str, str],
    say: Callable[[str], None] | None = None,
) -> BuildScope:
    """What a build of a run with these tags covers, as the warehouse stands."""
    return BuildScope(
        build_rounds(instance, tags, unfinished_rounds(con), say),
        frozenset(changed_raw_tables(con)),
        built_project(con) != project_digest(),
    )


def node_keys(assets_def: dg.AssetsDefinition) -> dict[str, NodeKey]:
    """Each dbt node's asset or check key, by the node's unique id."""
    keys: dict[str, NodeKey] = {assets_def.get_asset_spec(k).metadata[UNIQUE_ID]: k for k in assets_def.keys}
    keys.update({spec.metadata[UNIQUE_ID]: spec.key for spec in assets_def.check_specs})
    return keys


def needed_keys(assets_def: dg.AssetsDefinition, scope: BuildScope) -> set[NodeKey]:
    """The assets and checks a build of this scope has to run."""
    keys = node_keys(assets_def)
    return {keys[u] for u in needed_nodes(load_manifest(), scope) if u in keys}


def planned_selection(assets_def: dg.AssetsDefinition, scope: BuildScope) -> Selection | None:
    """The assets and checks a build of this scope runs; None when that is every one of them."""
    chosen = needed_keys(assets_def, scope)
    if len(chosen) == len(assets_def.keys) + len(assets_def.check_keys):
        return None
    return Selection(
        frozenset(k for k in chosen if isinstance(k, dg.AssetKey)),
        frozenset(k for k in chosen if isinstance(k, dg.AssetCheckKey)),
    )


def scope_now(database: Path, instance: dg.DagsterInstance, tags: Mapping[str, str]) -> BuildScope | None:
    """What a build with these tags launched now covers, read from the warehouse; None when there
    is no warehouse or raw layer yet, or another process is writing it (a sensor does not wait)."""
    with connect_now(database) as con:
        if con is None:
            return None
        try:
            return read_scope(con, instance, tags)
        except duckdb.CatalogException:  # no raw layer yet: the first build, of everything
            return None


def launch_selection(
    assets_def: dg.AssetsDefinition, database: Path, instance: dg.DagsterInstance, tags: Mapping[str, str]
) -> Selection | None:
    """What a build launched now plans; None (every asset and check) when its scope cannot be
    read now: the build then runs everything its run plans."""
    scope = scope_now(database, instance, tags)
    return None if scope is None else planned_selection(assets_def, scope)


def marts_are_current(database: Path, instance: dg.DagsterInstance, tags: Mapping[str, str]) -> bool:
    """A build with these tags launched now would change no mart: the last successful build
    built every batch, ledger row and sign-off the warehouse holds, with this dbt project."""
    scope = scope_now(database, instance, tags)
    return scope is not None and scope.changes_nothing
