"""Runs `dtm` executes in its own process, recorded as the code location's own.

`execute_in_process` records a run with no origin: the UI lists it among all runs but not on its
job's page, its timeline or its assets' history by job, and re-executing it warns that the job
may have changed. These runs carry the origin of workspace.yaml's code location and the job's own
snapshot, as a run launched from the UI does, and still execute in this process (no code server,
no subprocess per step).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
from dagster._core.code_pointer import ModuleCodePointer
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
from dagster._core.execution.api import create_execution_plan, execute_run
from dagster._core.execution.execution_result import ExecutionResult
from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.snap import snapshot_from_execution_plan
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from orchestration.defs.partitions import WAREHOUSE_POOL
from orchestration.defs.selection import Selection

# workspace.yaml's code location: the UI finds a run's job by these two names.
LOCATION_NAME = "dtm_warehouse"
MODULE = "orchestration.definitions"
ROOT = Path(__file__).resolve().parents[1]
# One process, steps one after the other: what execute_in_process does, and what a re-execution
# from the UI inherits with the run's config.
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


def job_origins(job_name: str) -> tuple[RemoteJobOrigin, JobPythonOrigin]:
    """Where the job lives: the code location as the workspace loads it, and its Python module."""
    target = LoadableTargetOrigin(
        executable_path=sys.executable, module_name=MODULE, working_directory=str(ROOT)
    )
    remote = RemoteJobOrigin(
        RemoteRepositoryOrigin(
            ManagedGrpcPythonEnvCodeLocationOrigin(target, LOCATION_NAME), SINGLETON_REPOSITORY_NAME
        ),
        job_name,
    )
    code = JobPythonOrigin(
        job_name,
        RepositoryPythonOrigin(
            executable_path=sys.executable,
            code_pointer=ModuleCodePointer(MODULE, "defs", str(ROOT)),
        ),
    )
    return remote, code


def execute(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    job_name: str,
    *,
    tags: Mapping[str, str] | None = None,
    run_config: Mapping | None = None,
    selection: Selection | None = None,
) -> ExecutionResult:
    """Create the run as the UI would (origin, snapshot, repository tag; a subset of the job's
    assets and checks when `selection` is given) and execute it here."""
    ensure_pool(instance)
    job = defs.resolve_job_def(job_name)
    remote, code = job_origins(job_name)
    config = {**(run_config or {}), **IN_PROCESS}
    # The job's own tags first, as a launch from the UI merges them.
    all_tags = {**job.tags, **(tags or {})}
    if selection is None:
        run = instance.create_run_for_job(
            job, run_config=config, tags=all_tags, remote_job_origin=remote, job_code_origin=code
        )
    else:
        run = _create_subset_run(instance, job, selection, config, all_tags, remote, code)
    return execute_run(InMemoryJob(job), run, instance)


def _create_subset_run(
    instance: dg.DagsterInstance,
    job: dg.JobDefinition,
    selection: Selection,
    run_config: Mapping,
    tags: Mapping[str, str],
    remote: RemoteJobOrigin,
    code: JobPythonOrigin,
) -> dg.DagsterRun:
    """A run of the job's subset, recorded as the webserver records a launch of selected assets
    and checks (create_run_for_job keeps every check of a selected asset, and only those)."""
    subset = job.get_subset(asset_selection=selection.assets, asset_check_selection=selection.checks)
    plan = create_execution_plan(
        subset,
        run_config=run_config,
        instance_ref=instance.get_ref() if instance.is_persistent else None,
        tags=tags,
    )
    return instance.create_run(
        job_name=job.name,
        run_id=None,
        run_config=run_config,
        status=None,
        tags=tags,
        root_run_id=None,
        parent_run_id=None,
        step_keys_to_execute=plan.step_keys_to_execute,
        execution_plan_snapshot=snapshot_from_execution_plan(plan, subset.get_job_snapshot_id()),
        job_snapshot=subset.get_job_snapshot(),
        parent_job_snapshot=subset.get_parent_job_snapshot(),
        asset_selection=selection.assets,
        asset_check_selection=selection.checks,
        resolved_op_selection=None,
        op_selection=None,
        remote_job_origin=remote,
        job_code_origin=code,
        asset_graph=subset.asset_layer.asset_graph,
    )


class RunSequence:
    """Runs that make one piece of work (load runs, then the marts' build), read as one result."""

    def __init__(self, results: list[ExecutionResult]) -> None:
        self.results = results

    @property
    def success(self) -> bool:
        return bool(self.results) and all(result.success for result in self.results)

    @property
    def run_ids(self) -> list[str]:
        return [result.run_id for result in self.results]

    @property
    def all_events(self) -> list:
        return [event for result in self.results for event in result.all_events]

    def get_asset_materialization_events(self) -> list:
        return [e for result in self.results for e in result.get_asset_materialization_events()]

    def get_asset_check_evaluations(self) -> list:
        return [e for result in self.results for e in result.get_asset_check_evaluations()]


def ensure_pool(instance: dg.DagsterInstance) -> None:
    """The one-writer pool as a limit the instance holds (the UI's Concurrency page lists it),
    not only dagster.yaml's default for pools nobody has set."""
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits and WAREHOUSE_POOL not in storage.get_concurrency_keys():
        storage.set_concurrency_slots(WAREHOUSE_POOL, 1)
