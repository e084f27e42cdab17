"""`dtm`: the warehouse's command line (what `make run` calls).

dtm run               generate the sample if the landing folder is empty, load the rounds whose
                      files are new or changed and finish what an interrupted run left undone
                      (visible in the UI), publish, print a summary
dtm sign-off ROUND    sign off a round held for review (its figures moved beyond a threshold)
dtm reject ROUND      reject it: its batches are quarantined and the previous round stays published
dtm publish           publish the latest publishable round (dtm_latest.duckdb and its folder);
                      with --round ROUND, any publishable round's folder
dtm generate-sample   write the deterministic sample landing zone
dtm summary           print the latest round's national figures
dtm erase-informant   erase every report of one key informant (by phone number or name)
dtm erase-expired     blank informants' personal data held longer than the retention period
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import duckdb
from dagster._core.execution.execution_result import ExecutionResult

from orchestration import dbt_server, landing, review, settings, writer_lock
from orchestration.attributed_runs import RunSequence, execute
from orchestration.defs.partitions import ROUNDS_PARTITIONS_NAME, partition_range_tags, plan_runs
from orchestration.landing_state import observe, state_path
from orchestration.publish.publication import NothingToPublish, choose_round
from orchestration.publish.warehouse_file import LATEST
from orchestration.quality import gate_worker
from orchestration.warehouse import connect, ensure_raw_schema, warehouse_status

if TYPE_CHECKING:
    from orchestration.defs.selection import Selection

SUMMARY_SQL = """
select partition_key, round_number, reporting_date, idps, returnees, idp_locations
from marts.national_figures_by_round
order by reporting_date desc, round_number desc
limit 1
"""
FIELD_SUMMARY_SQL = """
select
    (select count(*) from marts.project_beneficiaries_vs_budget),
    (select count(distinct year) from marts.project_beneficiaries_vs_budget),
    (select coalesce(sum(reports), 0) from marts.ki_coverage_by_governorate),
    (select count(distinct partition_key) from marts.ki_coverage_by_governorate)
"""


SAMPLE_FILE_WORDS = {
    "master_list": "master lists",
    "ki_report": "KI exports",
    "cluster_sheet": "cluster workbooks",
}


def generate_sample(landing_dir: Path, scale: int = 1) -> None:
    from orchestration.sample.generator import generate

    started = time.perf_counter()
    times = "" if scale == 1 else f" at {scale}x locations"
    print(f"Generating the sample landing zone{times} in {landing_dir} …", flush=True)

    def progress(lists: int, total: int) -> None:
        if lists % 40 == 0:  # a line every few seconds
            print(f"  {lists} of {total} master lists written", flush=True)

    written = generate(landing_dir, scale=scale, progress=progress)
    families = Counter(landing.family_of(path) for path in written)
    print(
        f"  {len(written)} files written in {time.perf_counter() - started:.1f} s: "
        + ", ".join(f"{count} {SAMPLE_FILE_WORDS[family]}" for family, count in families.items()),
        flush=True,
    )


LOG_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def load_rounds(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    files: list[landing.LandingFile],
    partition_keys: list[str] | None = None,
) -> RunSequence | None:
    """Register the landing folder's rounds as partitions and load them, one run per group of
    neighbouring rounds (all of them, or those given), then build the marts in a run of their own."""
    round_keys = set(landing.by_partition(files))
    registered = instance.get_dynamic_partitions(ROUNDS_PARTITIONS_NAME)
    new_keys, groups = plan_runs(round_keys, partition_keys or round_keys, registered)
    if not groups:
        print("No round files to load.", file=sys.stderr)
        return None
    instance.add_dynamic_partitions(ROUNDS_PARTITIONS_NAME, new_keys)
    # The load runs' gates and the build that follows: GX and dbt are imported on the other core
    # while the first load run reads its files (`dtm run` started the gates' worker already).
    gate_worker.start()
    dbt_server.start()
    from orchestration.defs.load_plan import launch_selection, plan_text

    database = defs.resources["warehouse"].database
    results = []
    for group in groups:
        # Planned at each launch: the group before has changed what the warehouse holds.
        selection = launch_selection(database, files, set(group))
        print(
            f"Loading {len(group)} round(s), {group[0]} … {group[-1]}, in one run ({plan_text(selection)})",
            flush=True,
        )
        results.append(
            _run(defs, instance, "load_rounds", tags=partition_range_tags(group), selection=selection)
        )
        if not results[-1].success:
            return RunSequence(results)
    from orchestration.defs.dbt_plan import marts_are_current

    if marts_are_current(database, instance, defs.resolve_job_def("build_marts").tags):
        # A reload of files already loaded (`dtm run --all`): a build would rebuild every model
        # and test of the whole history to the same rows.
        print("The load changed nothing the marts are built from: they stand as they are", flush=True)
        return RunSequence(results)
    results.append(build_marts(defs, instance))
    return RunSequence(results)


def build_marts(defs: dg.Definitions, instance: dg.DagsterInstance) -> ExecutionResult:
    """dbt for the rounds whose batches or sign-off changed since the last build, its run
    planning what dbt will build (this command is the warehouse's only writer)."""
    from orchestration.defs.dbt import dtm_dbt_models
    from orchestration.defs.dbt_plan import launch_selection

    print("Building the marts (dbt) of the rounds that changed", flush=True)
    dbt_server.start()
    job = defs.resolve_job_def("build_marts")
    database = defs.resources["warehouse"].database
    selection = launch_selection(dtm_dbt_models, database, instance, job.tags)
    return _run(defs, instance, "build_marts", selection=selection)


def _run(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    job: str,
    tags: dict[str, str] | None = None,
    selection: Selection | None = None,
) -> ExecutionResult:
    """One run of the code location's job in this process, timed, its outcome printed."""
    started = time.perf_counter()
    result = execute(defs, instance, job, tags=tags, run_config=LOG_CONFIG, selection=selection)
    outcome = "succeeded" if result.success else "FAILED"
    print(f"Run {result.run_id} ({job}) {outcome} in {time.perf_counter() - started:.1f} s", flush=True)
    return result


def publish(
    defs: dg.Definitions, instance: dg.DagsterInstance, round_text: str | None = None
) -> ExecutionResult:
    """Publish the latest round that passed every gate (what the monthly schedule runs), or the
    folder of the round asked for."""
    started = time.perf_counter()
    run_config: dict = dict(LOG_CONFIG)
    job = "publish_round"
    if round_text is not None:
        job = "publish_chosen_round"
        run_config["ops"] = {"publish_round_folder": {"config": {"round": round_text}}}
    result = execute(defs, instance, job, run_config=run_config)
    seconds = time.perf_counter() - started
    if result.success:
        folder = next(
            (
                str(m.value)
                for event in result.all_events
                if event.is_successful_output or event.is_step_materialization
                for name, m in (event.event_specific_data.metadata or {}).items()
                if name == "files"
            ),
            "",
        )
        print(f"Run {result.run_id} published in {seconds:.1f} s: {folder}")
    else:
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        why = failure.event_specific_data.error.message.splitlines()[0].split(": ", 1)[-1] if failure else ""
        print(f"Run {result.run_id} FAILED to publish in {seconds:.1f} s: {why}", file=sys.stderr)
    return result


def observe_landing(instance: dg.DagsterInstance, files: list[landing.LandingFile]) -> None:
    """One observation of the landing asset per new or changed file (the sensor's own record,
    shared with it: a file is observed once, by whichever looks first)."""
    looked = observe(state_path(settings.warehouse_path().parent), files)
    for observed in looked.changed:
        instance.report_runless_asset_event(observed.observation())


def print_summary() -> None:
    if not settings.warehouse_path().exists():
        print(f"No warehouse yet at {settings.warehouse_path()}.")
        return
    with connect(settings.warehouse_path(), read_only=True) as con:
        try:
            row = con.execute(SUMMARY_SQL).fetchall()
            field = con.execute(FIELD_SUMMARY_SQL).fetchall()[0]
        except duckdb.CatalogException:
            print("The warehouse has no marts yet: no dbt build has finished. `dtm run` builds them.")
            return
        rejected = con.execute(
            "select source_file, reason from raw.file_rejections where withdrawn_at is null "
            "order by source_file"
        ).fetchall()
    if not row:
        print("The warehouse holds no round yet.")
        return
    key, number, day, idps, returnees, locations = row[0]
    print()
    print(f"Latest round: Round {number} ({day:%d %B %Y}), partition {key}")
    # A round whose list did not pass has no figure, which is not zero (nor published).
    print(
        f"  IDPs (individuals):      {idps:>12,} in {locations:,} locations"
        if idps is not None
        else "  IDPs (individuals):      no accepted IDP list of the round"
    )
    print(
        f"  Returnees (individuals): {returnees:>12,}"
        if returnees is not None
        else "  Returnees (individuals): no accepted returnee list of the round"
    )
    projects, years, reports, rounds = field
    print(f"  HRP projects: {projects} over {years} year(s); KI reports: {reports:,} over {rounds} round(s)")
    print(f"Warehouse: {settings.warehouse_path()}")
    published = published_round(settings.published_dir())
    print(
        f"Published: {published[0]} ({settings.published_dir() / LATEST})"
        if published
        else "Published: nothing yet"
    )
    choice = choose_round(settings.warehouse_path())
    if key != choice.latest and key not in {held.partition_key for held in choice.withheld}:
        try:
            choose_round(settings.warehouse_path(), key)
        except NothingToPublish as why:
            print(f"  {why}")
    for held in choice.withheld:
        print(f"  held back: {held.partition_key}: {held.why}")
        if held.status == review.AWAITING:
            print(
                f"    decide with: dtm sign-off {held.partition_key} --by NAME --note TEXT  (or dtm reject …)"
            )
    for source_file, reason in rejected:
        print(f"  refused: {source_file}: {reason}")


def erase_informant(phone: str | None, name: str | None) -> int:
    """Erase one informant's reports from the warehouse and list the landing files that still
    hold them (the landing folder is the data owner's to change, at the source)."""
    from orchestration.field_files import read_field_file
    from orchestration.informants import SecretMissing, informant_key, informant_keys, resolve_secret
    from orchestration.readers.ki_reports import KiExport
    from orchestration.retention import erase_informant as erase

    landing_dir = settings.landing_dir()
    ki_files = [f for f in landing.scan(landing_dir) if f.family == "ki_report"]
    try:
        secret, _ = resolve_secret(landing_dir, [(f.name, landing.fingerprint(f)) for f in ki_files])
    except SecretMissing as error:
        print(error, file=sys.stderr)
        return 2
    key = informant_key(secret, phone, name)
    if key is None:
        print("Give a valid phone number (--phone) or a name (--name).", file=sys.stderr)
        return 2
    with connect(settings.warehouse_path()) as con:
        ensure_raw_schema(con)
        erasure = erase(con, key)
    print(f"Erased {erasure.rows_erased} report(s) of informant {key[:8]}… from the warehouse;")
    print("their reports will not be loaded again. KI marts are rebuilt from the rest at the next run.")
    holding = []
    for landing_file in ki_files:
        read = read_field_file(landing_file.path, landing_file.family)
        if isinstance(read, KiExport) and key in informant_keys(secret, read.frame):
            holding.append(landing_file.name)
    for file_name in holding:
        print(f"  still in the landing folder (replace it at the source): {file_name}")
    return 0


def erase_expired(days: int | None) -> int:
    from orchestration.retention import erase_expired as blank
    from orchestration.retention import retention_days

    with connect(settings.warehouse_path()) as con:
        ensure_raw_schema(con)
        count = blank(con, days=days, log_empty=True)
    print(f"Personal data of {count} KI report(s) held over {days or retention_days()} days blanked.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dtm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_command = commands.add_parser(
        "run", help="load the rounds whose files are new or changed (sample if empty), publish"
    )
    run_command.add_argument("--all", action="store_true", help="reload every round of the landing folder")
    run_command.add_argument(
        "--no-wait", action="store_true", help="stop at once if another run is writing the warehouse"
    )
    for name, verb in (("sign-off", "sign off"), ("reject", "reject")):
        decide = commands.add_parser(name, help=f"{verb} a round held for review")
        decide.add_argument(
            "round", help="the round: its partition key (IRQ-conflict-R134-2024-12) or number"
        )
        decide.add_argument("--by", required=True, help="who decides (recorded with the decision)")
        decide.add_argument("--note", required=True, help="why (recorded with the decision)")
    publish_command = commands.add_parser(
        "publish", help="publish the latest publishable round, or with --round any publishable round's folder"
    )
    publish_command.add_argument(
        "--round", default=None, help="the round: its partition key (IRQ-conflict-R119-2020-12) or number"
    )
    sample = commands.add_parser("generate-sample", help="write the sample landing zone")
    sample.add_argument("--landing", type=Path, default=None)
    sample.add_argument(
        "--scale", type=int, default=1, help="places per list multiplied (the same people): a larger sample"
    )
    commands.add_parser("summary", help="print the latest round's national figures")
    erase = commands.add_parser("erase-informant", help="erase every report of one key informant")
    erase.add_argument("--phone", help="the informant's phone number, in any format")
    erase.add_argument("--name", help="the informant's name (for informants who gave no phone)")
    expired = commands.add_parser("erase-expired", help="blank personal data past the retention period")
    expired.add_argument(
        "--days", type=int, default=None, help="retention period (default: DTM_KI_RETENTION_DAYS)"
    )
    service = commands.add_parser("service", help="Dagster on PostgreSQL with its daemon (make service)")
    service.add_argument("action", choices=["start", "stop", "status"])
    service.add_argument(
        "--only", nargs="*", default=[], help="some of: postgres code_server daemon webserver"
    )
    args = parser.parse_args(argv)

    if args.command == "erase-informant":
        return erase_informant(args.phone, args.name)
    if args.command == "erase-expired":
        return erase_expired(args.days)

    if args.command == "service":
        return service_command(args.action, tuple(args.only))
    if args.command == "generate-sample":
        generate_sample(args.landing or settings.landing_dir(), args.scale)
        return 0
    if args.command == "summary":
        print_summary()
        return 0
    if args.command == "publish":
        return _locked(lambda: publish_command_run(args.round), wait=True)
    if args.command in ("sign-off", "reject"):
        decision = review.SIGNED_OFF if args.command == "sign-off" else review.REJECTED
        return _locked(lambda: decide_round(args.round, decision, args.by, args.note), wait=True)
    return _locked(lambda: run(args.all), wait=not args.no_wait)


def service_command(action: str, only: tuple[str, ...]) -> int:
    """`dtm service start|stop|status`: the processes of `make service`."""
    from orchestration.service import processes
    from orchestration.service.postgres_server import MARTS_DATABASE, READER_ROLE

    service = processes.Service.from_settings()
    if action == "start":
        try:
            processes.start(service, say=lambda text: print(text, flush=True), only=only)
        except RuntimeError as error:  # a server that stopped at start or never answered, with its log
            print(error, file=sys.stderr)
            return 1
        print(
            f"BI users: PostgreSQL {service.host}:{service.ports['postgres']}, database {MARTS_DATABASE}, "
            f"schema marts, role {READER_ROLE} (its password: {service.postgres.password_file})"
        )
    elif action == "stop":
        processes.stop(service, say=lambda text: print(text, flush=True), only=only)
    else:
        for name, running in processes.status(service).items():
            print(f"{name}: {'running' if running else 'stopped'}")
    return 0


def dagster_instance() -> dg.DagsterInstance:
    """The Dagster home's instance, disposed at exit: its SQLite databases are closed, so their
    write-ahead logs are folded in, before the process ends (process_exit skips the teardown
    that would otherwise close them)."""
    home = settings.dagster_home()
    if not (home / "dagster.yaml").exists():  # as the Makefile prepares it
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(settings.PROJECT_ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    instance = dg.DagsterInstance.get()
    atexit.register(instance.dispose)
    return instance


def _locked(work, *, wait: bool) -> int:
    """Run a command that writes the warehouse as its only writer (see writer_lock)."""
    try:
        with writer_lock.hold(settings.warehouse_path(), wait=wait, say=lambda text: print(text, flush=True)):
            return work()
    except writer_lock.WarehouseBusy as busy:
        print(busy, file=sys.stderr)
        return 3


def run(everything: bool) -> int:
    """Load what is new, finish what an interrupted run left undone, publish."""
    landing_dir = settings.landing_dir()
    if not landing_dir.exists() or not any(landing_dir.iterdir()):
        generate_sample(landing_dir)
    from orchestration.definitions import defs
    from orchestration.defs.dbt_project import project_digest

    files = landing.scan(landing_dir)
    status = warehouse_status(settings.warehouse_path())
    if status.unfinished_rounds:
        print(
            f"Finishing what an interrupted run left undone: {len(status.unfinished_rounds)} round(s) "
            "loaded but not yet gated or built",
            flush=True,
        )
    wanted = (
        None
        if everything
        else sorted(
            set(landing.pending_partitions(files, status.known_files, status.conflicted, status.held_bytes))
            | set(status.unfinished_rounds)
        )
    )
    instance = dagster_instance()
    if settings.warehouse_path().exists():
        from orchestration.history_repair import repair_raw_history

        for key in repair_raw_history(instance, settings.warehouse_path()):
            print(
                f"{key}: its history claimed rounds without data (an earlier version); repaired", flush=True
            )
    observe_landing(instance, files)
    if wanted == [] and status.built_project != project_digest():
        # The models changed since the marts were built (an upgrade): the build rebuilds every round.
        print("The marts were built by another version of the dbt project: rebuilding them", flush=True)
        built = build_marts(defs, instance)
        ok = built.success and publish(defs, instance).success
        print_summary()
        return 0 if ok else 1
    if wanted == []:
        if publication_is_current():
            # Refused as versions of one list or workbook that arrived together, until only one
            # is left.
            in_conflict = landing.in_conflict(files, status.conflicted)
            versions = sorted(f.name for f in in_conflict)
            # Neither loaded nor refused: the KI exports and workbooks whose rows all wait.
            waiting = [
                f.name
                for f in landing.field_files(files)
                if f not in in_conflict and landing.is_new(f, status.known_files, status.held_bytes)
            ]
            exceptions = [
                f"{len(names)} {why}: {', '.join(names[:5])}{' …' if len(names) > 5 else ''}"
                for names, why in (
                    (waiting, "whose rows wait for a round's master list"),
                    (
                        versions,
                        "refused as versions of one list or workbook with different rows, until one is left",
                    ),
                )
                if names
            ]
            # With no round publishable, nothing is published: the summary below says why.
            done = "loaded and published" if published_round(settings.published_dir()) else "loaded"
            print(
                f"Every file in {landing_dir} is already {done} (dtm run --all reloads them)"
                + (f", except {'; and '.join(exceptions)}." if exceptions else ".")
            )
            print_summary()
            return 0
        print("Every file is loaded, but the publication is behind the warehouse: publishing.", flush=True)
        ok = publish(defs, instance).success
        print_summary()
        return 0 if ok else 1
    result = load_rounds(defs, instance, files, wanted)
    if result is not None and result.success:
        if publication_is_current():  # a reload that changed nothing
            print("The publication is current: nothing to publish again (dtm publish does it anyway)")
        else:
            publish(defs, instance)
    print_summary()
    return 0 if result is not None and result.success else 1


def published_round(published_dir: Path) -> tuple[str, object] | None:
    """The round dtm_latest.duckdb publishes and when (UTC), or None."""
    latest = published_dir / LATEST
    if not latest.exists():
        return None
    with duckdb.connect(str(latest), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        key, at = con.execute("select partition_key, published_at from marts.publication_info").fetchall()[0]
    return key, at.replace(tzinfo=None)


def publication_is_current() -> bool:
    """The published file is the round a publication would take now, published after the last
    dbt build and the last batch change it built (raw.pipeline_state holds both marks), with its
    folder whole."""
    published = published_round(settings.published_dir())
    candidate = choose_round(settings.warehouse_path()).partition_key
    if published is None or candidate is None:
        return candidate is None
    with connect(settings.warehouse_path(), read_only=True) as con:
        mark = con.execute("select max(mark) from raw.pipeline_state").fetchall()[0][0]
    folder = settings.published_dir() / "rounds" / published[0]
    return (
        published[0] == candidate
        and (mark is None or published[1] >= mark)
        and (folder / "datapackage.json").exists()
        and _postgres_serves(published)
    )


def _postgres_serves(published: tuple[str, object]) -> bool:
    """Where the marts are served from PostgreSQL too: it serves this very publication (a
    publication whose PostgreSQL step failed is published again by the next run)."""
    conninfo = settings.marts_postgres()
    if conninfo is None:
        return True
    from orchestration.publish.postgres_marts import served_publication

    return served_publication(conninfo) == published


def publish_command_run(round_text: str | None) -> int:
    """`dtm publish`: the latest publishable round, or the folder of the one asked for."""
    if not settings.warehouse_path().exists():
        print(f"No warehouse yet at {settings.warehouse_path()}: `dtm run` loads the landing folder first.")
        return 1
    from orchestration.definitions import defs

    ok = publish(defs, dagster_instance(), round_text).success
    print_summary()
    return 0 if ok else 1


def decide_round(round_text: str, decision: str, by: str, note: str) -> int:
    """Record a sign-off or a rejection, rebuild a rejected round's marts, publish."""
    # A build follows the decision: its dbt is imported on the other core while the definitions
    # load (a refused decision ends the server with this process).
    dbt_server.start()
    from orchestration.definitions import defs

    with connect(settings.warehouse_path()) as con:
        ensure_raw_schema(con)
        try:
            decided = review.decide(con, round_text, decision, by, note)
        except review.ReviewError as error:
            print(error, file=sys.stderr)
            return 2
    verb = "signed off" if decision == review.SIGNED_OFF else "rejected (its batches are quarantined)"
    print(f"{decided.partition_key} {verb} by {decided.decided_by} at {decided.at:%Y-%m-%d %H:%M} UTC.")
    instance = dagster_instance()
    # The publication reads the marts: the round is rebuilt first, so they carry the decision
    # (a sign-off or a quarantine is a change the build picks up).
    if not build_marts(defs, instance).success:
        return 1
    ok = publish(defs, instance).success
    print_summary()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
