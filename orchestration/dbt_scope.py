"""What one dbt build covers: the nodes the changed raw tables reach, and nothing a round
cannot change. A build's run is launched with them as its selection of assets and checks, so
that Dagster plans what dbt runs and nothing else (a check planned and not run shows as skipped,
over the result that still holds for its table).

A new round changes some raw tables (its master lists, the ledgers of its batches); the models
no changed table reaches hold the same rows as before, and their tests the same results, so the
build leaves them out. Seeds and unit tests depend on the dbt project alone (seed files, SQL
and fixtures): they run when the project changed, which rebuilds everything, and not per round.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

# Constant, so dbt's partial parsing survives from one build to the next (a changed --vars makes
# it parse the whole project again); the rounds are listed in raw.dbt_build_rounds instead.
DBT_VARS = {"build_rounds": "listed"}
DBT_VARS_ARGS = ("--vars", json.dumps(DBT_VARS))
# A build of a few rounds runs one node at a time (the profile's two threads otherwise). Its
# queries are small, and a second dbt thread only contended with DuckDB's own threads and with
# `dtm`, which handles dbt's events, for the 2 cores: a new round's build_marts 11.0-15.2 s with
# two threads, 11.3-12.2 s with one, and dbt's process 564-645 MB against 485-491 MB (measured,
# interleaved). Measured again on c9ce62e: two threads made the run 13.3-14.4 s against
# 15.0-15.5 s, but dbt's process 563-587 MB against 430-435 MB (over the 500 MB a new round's run
# may take), whether DuckDB was bounded at 2 GB or 150 MB (so not its buffers) or glibc kept one
# malloc arena. The whole sample's first build needs both: 38.8 s with one, 30.4 s with two.
ONE_NODE_AT_A_TIME_UP_TO_ROUNDS = 3


@dataclass(frozen=True)
class BuildScope:
    rounds: list[str]  # the rounds the incremental facts rebuild and tests check; [] = every round
    changed_tables: frozenset[str]  # raw tables with rows new since the last build; empty = all
    project_changed: bool  # the dbt project differs from the one that built the marts

    @property
    def changes_nothing(self) -> bool:
        """No round, raw table or project changed since the last build: a build of the changed
        rounds would make the same marts (build_marts launched so rebuilds everything)."""
        return not (self.rounds or self.changed_tables or self.project_changed)


# A model's `meta` key naming the raw tables whose batches its read of the batch ledger is about.
LEDGER_OF = "ledger_of"


def reached_nodes(manifest: Mapping[str, Any], raw_tables: Collection[str]) -> set[str]:
    """Unique ids of every node downstream of these raw tables (dbt sources of schema raw).

    A staging model of a data table also reads raw.load_batches (its accepted batches): its
    rows change only when batches of its own table changed, and those tables are among
    `raw_tables` then, so a change of raw.load_batches alone does not reach it. Likewise a
    model that reads the ledger's staging for some tables' batches only (its `meta.ledger_of`:
    int_cluster_projects_withheld, the workbooks' quarantined sheets): a batch's status is set
    in the run that loads it into its table, so the ledger alone reaches it only when one of
    those tables changed."""
    project = manifest["metadata"].get("project_name", "dtm_warehouse")
    children, parents = manifest["child_map"], manifest["parent_map"]
    ledger = f"source.{project}.raw.load_batches"
    ledger_views = {node for node, above in parents.items() if above == [ledger]}

    def via_own_table(child: str) -> bool:
        return any(p.startswith("source.") and p != ledger for p in parents.get(child, []))

    def about_other_tables(child: str) -> bool:
        meta = manifest["nodes"].get(child, {}).get("config", {}).get("meta", {})
        return LEDGER_OF in meta and not set(meta[LEDGER_OF]) & set(raw_tables)

    reached: set[str] = set()
    stack = [f"source.{project}.raw.{table}" for table in raw_tables]
    while stack:
        node = stack.pop()
        for child in children.get(node, []):
            if child in reached or (node == ledger and via_own_table(child)):
                continue
            if node in ledger_views and about_other_tables(child):
                continue
            reached.add(child)
            stack.append(child)
    return reached


def needed_nodes(manifest: Mapping[str, Any], scope: BuildScope) -> set[str]:
    """Unique ids of the models, seeds and tests a build of this scope has to run (what a run
    launched with it plans): every node when the project changed; else every model and test when no table is
    known to have changed, or the models and tests the changed tables reach."""
    nodes = manifest["nodes"]
    if scope.project_changed:
        return set(nodes)
    candidates = reached_nodes(manifest, scope.changed_tables) if scope.changed_tables else nodes
    return {u for u in candidates if u in nodes and nodes[u]["resource_type"] in ("model", "test")}


def dbt_build_args(scope: BuildScope) -> list[str]:
    """`dbt build` for this scope: everything with a full refresh when the project changed, else
    what the run planned (dagster-dbt selects a run's subset) without the unit tests, which
    depend on the project alone; one node at a time for a few rounds."""
    args = ["build", *DBT_VARS_ARGS]
    if scope.project_changed:
        return [*args, "--full-refresh"]
    if 0 < len(scope.rounds) <= ONE_NODE_AT_A_TIME_UP_TO_ROUNDS:
        args += ["--threads", "1"]
    return [*args, "--exclude", "resource_type:unit_test"]
