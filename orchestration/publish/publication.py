"""A publication, without Dagster: which round may be published, the read-only warehouse for BI
tools and the round's folder of files for people. The publication asset, `dtm run`, `dtm
publish`, `dtm sign-off` and the review job call `publish`.

Everything here reads the marts, never raw: which rounds may be published is
`marts.dim_round.is_publishable`, why a round is held back is `marts.round_quality`. Nothing
doubtful is published: a round awaiting sign-off or rejected, and a round with a quarantined
file newer than its last accepted one, are not publishable; the rows of held rounds are left out
of the published file, and the file says why.

A publication is written beside its place and renamed over it: a run killed while publishing
leaves the previous publication whole, and the next publication clears what it left.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration import review, rounds, writer_lock
from orchestration.publish import charts_process
from orchestration.publish.files import write_datapackage, write_round_files
from orchestration.publish.report import write_report, write_workbook
from orchestration.publish.warehouse_file import (
    LATEST,
    PUBLISHED_SCHEMA,
    install_latest,
    mart_descriptions,
    quiet_connect,
    write_published_file,
)

PUBLISHABLE_ROUNDS = f"""
select partition_key from {PUBLISHED_SCHEMA}.dim_round
where is_publishable
order by reporting_month desc, round_number desc
"""
HELD_ROUNDS = f"""
select partition_key, review_status, review_reasons, review_figures, decided_by, decision_note,
       reviewed_at
from {PUBLISHED_SCHEMA}.round_quality where {{condition}} order by reporting_month, round_number
"""


class NothingToPublish(Exception):
    """No round may be published (or not the one asked for): one sentence that says why."""


@dataclass
class Publication:
    partition_key: str
    warehouse_file: Path | None  # dtm_latest.duckdb, where this publication is the latest
    folder: Path
    round_report: Path
    files_written: int
    megabytes: float
    seconds: float
    withheld: list[review.Review] = field(default_factory=list)
    sign_off: review.Review | None = None

    @property
    def is_latest(self) -> bool:
        return self.warehouse_file is not None


@dataclass(frozen=True)
class Choice:
    partition_key: str | None
    latest: str | None  # the latest publishable round
    withheld: list[review.Review]
    sign_off: review.Review | None


def _reviews(con: duckdb.DuckDBPyConnection, condition: str, params: list) -> list[review.Review]:
    return [
        review.Review(key, status, [], reasons or "", json.loads(figures or "{}"), by, note, at)
        for key, status, reasons, figures, by, note, at in con.execute(
            HELD_ROUNDS.format(condition=condition), params
        ).fetchall()
    ]


def choose_round(working: Path, partition_key: str | None = None) -> Choice:
    """The round to publish (the latest publishable one, or the one asked for if it may be
    published), the rounds held back for review with why, and the chosen round's sign-off."""
    with duckdb.connect(str(working), read_only=True) as con:
        try:
            publishable = [row[0] for row in con.execute(PUBLISHABLE_ROUNDS).fetchall()]
        except (duckdb.CatalogException, duckdb.BinderException):
            # no dbt build has finished yet, or the marts are from another version of the models
            return Choice(None, None, [], None)
        withheld = _reviews(con, "is_held_for_review", [])
        chosen = partition_key if partition_key is not None else next(iter(publishable), None)
        if chosen is not None and chosen not in publishable:
            raise NothingToPublish(_why_not(con, chosen))
        sign_off = None
        if chosen is not None:
            signed = _reviews(con, "partition_key = ? and review_status = ?", [chosen, review.SIGNED_OFF])
            sign_off = signed[0] if signed else None
    return Choice(chosen, next(iter(publishable), None), withheld, sign_off)


def resolve_round(working: Path, round_text: str) -> str:
    """A partition key from what a person types (the key itself or a round number), from the
    marts."""
    with duckdb.connect(str(working), read_only=True) as con:
        try:
            return rounds.resolve_round(con, round_text, f"{PUBLISHED_SCHEMA}.round_quality")
        except rounds.UnknownRound as error:
            raise NothingToPublish(f"{error} Nothing to publish.") from None


def _why_not(con: duckdb.DuckDBPyConnection, partition_key: str) -> str:
    rows = con.execute(
        f"select has_accepted_master_list, is_blocked_by_quarantine, is_held_for_review, review_status, "
        f"review_reasons, master_lists_missing from {PUBLISHED_SCHEMA}.round_quality where partition_key = ?",
        [partition_key],
    ).fetchall()
    if not rows:
        return f"{partition_key} is not in the warehouse: nothing to publish."
    listed, blocked, held, status, reasons, missing = rows[0]
    if held:
        return f"{partition_key} is not published: {status.replace('_', ' ')} ({reasons})."
    if blocked:
        return f"{partition_key} is not published: its newest file failed the quality gate (quarantined)."
    if not listed:
        return f"{partition_key} is not published: no master list of it passed the quality gate."
    if missing:
        return (
            f"{partition_key} is not published: its {missing} list arrived and did not pass (refused or "
            "quarantined), so a publication would lack those figures."
        )
    return f"{partition_key} is not published: no IDP list of it has arrived."


def clear_leftovers(published_dir: Path) -> None:
    """What a publication killed half-way left: temporary files and folders (dot-named)."""
    for pattern in (".*.tmp", "rounds/.*.tmp", "rounds/.*.old"):
        for path in published_dir.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def publish(
    working: Path, published_dir: Path, manifest_path: Path, partition_key: str | None = None, say=print
) -> Publication:
    """Publish the latest publishable round (or `partition_key`, if it may be published): its
    folder of files, and, where it is the latest, dtm_latest.duckdb. An earlier round's
    publication writes its folder only: dtm_latest.duckdb stays on the latest round."""
    with writer_lock.hold(working, say=say):
        started = time.perf_counter()
        choice = choose_round(working, partition_key)
        if choice.partition_key is None:
            raise NothingToPublish("No round has passed the gates and sign-off yet: nothing to publish.")
        chosen = choice.partition_key
        is_latest = chosen == choice.latest
        for held in choice.withheld:
            say(f"Not publishing {held.partition_key}: {held.why}")
        say(f"Publishing {chosen} to {published_dir}" + ("" if is_latest else " (its folder only)"))
        published_dir.mkdir(parents=True, exist_ok=True)
        clear_leftovers(published_dir)
        descriptions = mart_descriptions(manifest_path)
        rounds_dir = published_dir / "rounds"
        rounds_dir.mkdir(parents=True, exist_ok=True)
        # An earlier round's file is built beside the folder and removed after it.
        target = rounds_dir / (f"{chosen}.duckdb" if is_latest else f".{chosen}.duckdb.files.tmp")
        # The last publication is the base: only what differs from it is written.
        published = write_published_file(
            working,
            target,
            chosen,
            descriptions,
            choice.withheld,
            choice.sign_off,
            published_dir / LATEST,
            say,
        )
        try:
            folder = rounds_dir / chosen
            building = folder.with_name(f".{chosen}.tmp")
            drawing = charts_process.start(published, building, chosen)
            try:
                written = write_round_files(published, building, chosen)
                with quiet_connect(published) as con:
                    written[write_workbook(con, building, chosen)] = []
                    charts = charts_process.finish(drawing, building)
                    report = write_report(con, building, chosen, charts)
            finally:
                drawing.kill()  # a no-op once it has finished; else it would outlive a failure
                drawing.wait()
            written |= {path: [] for path in [*charts, report]}
            write_datapackage(building, written, chosen)
            _swap_in(building, folder)
            megabytes = round(published.stat().st_size / 1e6, 1)
        finally:
            if not is_latest:
                published.unlink(missing_ok=True)
        if is_latest:
            install_latest(published_dir, published)
        return Publication(
            chosen,
            published_dir / LATEST if is_latest else None,
            folder,
            folder / report.name,
            len(written) + (1 if is_latest else 0),
            megabytes,
            round(time.perf_counter() - started, 1),
            choice.withheld,
            choice.sign_off,
        )


def _swap_in(building: Path, folder: Path) -> None:
    """The round's new folder in place of the old one: a rename each, the old one removed last."""
    old = folder.with_name(f".{folder.name}.old")
    if folder.exists():
        os.replace(folder, old)
    os.replace(building, folder)
    shutil.rmtree(old, ignore_errors=True)
