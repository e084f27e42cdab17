"""A publication, without Dagster: which round may be published, the read-only warehouse for BI
tools and the round's folder of files for people. The publication asset, `dtm run`, `dtm
sign-off` and the review job call `publish_latest`.

Nothing doubtful is published: a round with a quarantined file newer than its last accepted
one, a round awaiting sign-off and a rejected round are held back, and their rows are left out of
the published file; the previous publishable round is published instead, and the file says why.
A publication is written beside its place and renamed over it: a run killed while publishing
leaves the previous publication whole, and the next publication clears what it left.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration import review, writer_lock
from orchestration.publish.files import write_datapackage, write_round_files
from orchestration.publish.report import write_charts, write_report, write_workbook
from orchestration.publish.warehouse_file import LATEST, mart_descriptions, publish_warehouse

# The latest round with an accepted master list and no quarantined file newer than its last
# accepted one, and not held for sign-off: a gate failure or a doubtful round leaves the
# previous publication in place.
LATEST_PUBLISHABLE_ROUND = """
with batches as (select * from raw.load_batches where status in ('accepted', 'quarantined')),
last_accepted as (select partition_key, max(status_changed_at) as at from batches
                  where status = 'accepted' group by all),
blocked as (select distinct b.partition_key from batches b join last_accepted a using (partition_key)
            where b.status = 'quarantined' and b.loaded_at > a.at)
select partition_key from marts.dim_round
where partition_key not in (select partition_key from blocked)
  and partition_key not in (select unnest(?::varchar[]))
order by reporting_month desc, round_number desc limit 1
"""


class NothingToPublish(Exception):
    pass


@dataclass
class Publication:
    partition_key: str
    warehouse_file: Path
    folder: Path
    round_report: Path
    files_written: int
    megabytes: float
    seconds: float
    withheld: list[review.Review] = field(default_factory=list)
    sign_off: review.Review | None = None


def choose_round(working: Path) -> tuple[str | None, list[review.Review], review.Review | None]:
    """The round to publish, the rounds held back with why, and the chosen round's sign-off."""
    with duckdb.connect(str(working), read_only=True) as con:
        withheld = review.held_rounds(con)
        try:
            rows = con.execute(LATEST_PUBLISHABLE_ROUND, [[w.partition_key for w in withheld]]).fetchall()
        except duckdb.CatalogException:  # no dbt build has finished yet: no marts
            return None, withheld, None
        if not rows:
            return None, withheld, None
        chosen = review.current(con, rows[0][0])
    return rows[0][0], withheld, chosen if chosen and chosen.status == review.SIGNED_OFF else None


def clear_leftovers(published_dir: Path) -> None:
    """What a publication killed half-way left: temporary files and folders (dot-named)."""
    for pattern in (".*.tmp", "rounds/.*.tmp", "rounds/.*.old"):
        for path in published_dir.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def publish_latest(working: Path, published_dir: Path, manifest_path: Path, say=print) -> Publication:
    with writer_lock.hold(working, say=say):
        started = time.perf_counter()
        partition_key, withheld, sign_off = choose_round(working)
        if partition_key is None:
            raise NothingToPublish("No round has passed the gates and sign-off yet: nothing to publish.")
        for held in withheld:
            say(f"Not publishing {held.partition_key}: {held.why}")
        say(f"Publishing {partition_key} to {published_dir}")
        published_dir.mkdir(parents=True, exist_ok=True)
        clear_leftovers(published_dir)
        descriptions = mart_descriptions(manifest_path)
        published = publish_warehouse(working, published_dir, partition_key, descriptions, withheld, sign_off)
        folder = published_dir / "rounds" / partition_key
        building = folder.with_name(f".{partition_key}.tmp")
        written = write_round_files(published, working, building, partition_key)
        with duckdb.connect(str(published), read_only=True) as con:
            written[write_workbook(con, building, partition_key, descriptions)] = []
            charts = write_charts(con, building, partition_key)
            report = write_report(con, working, building, partition_key, charts)
        written |= {path: [] for path in [*charts, report]}
        write_datapackage(building, written, partition_key)
        _swap_in(building, folder)
        return Publication(
            partition_key,
            published_dir / LATEST,
            folder,
            folder / report.name,
            len(written) + 1,
            round(published.stat().st_size / 1e6, 1),
            round(time.perf_counter() - started, 1),
            withheld,
            sign_off,
        )


def _swap_in(building: Path, folder: Path) -> None:
    """The round's new folder in place of the old one: a rename each, the old one removed last."""
    old = folder.with_name(f".{folder.name}.old")
    if folder.exists():
        os.replace(folder, old)
    os.replace(building, folder)
    shutil.rmtree(old, ignore_errors=True)
