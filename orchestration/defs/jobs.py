"""Jobs and the schedules that run them: loading rounds (ingest), building the marts (dbt),
publishing the latest round, reviewing a round, and the daily freshness check."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.dbt_plan import CHANGED_ROUNDS_TAG
from orchestration.defs.freshness import round_freshness
from orchestration.defs.publish import PUBLICATION, publish_round_folder
from orchestration.defs.review import ROUND_REVIEWS


def _baghdad_schedule(name: str, job, cron: str, description: str) -> dg.ScheduleDefinition:
    """A schedule on the operation's clock (Baghdad time), on from the start."""
    return dg.ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone="Asia/Baghdad",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=description,
    )


rounds_job = dg.define_asset_job(
    "load_rounds",
    selection=dg.AssetSelection.groups("raw") | dg.AssetSelection.checks(round_freshness),
    description="Ingest the landing files of the selected rounds into the raw tables, gate them and run "
    "the sense checks (a range of rounds is one run); the landing folder's freshness is checked "
    "too. A round's partition is materialized only where it received a batch. Launched by the "
    "landing sensor or `dtm`, a run plans only the tables its files bring news of; a check it "
    "plans that gets nothing new states its standing result again. When it succeeds, the "
    "build_after_load sensor starts build_marts.",
)

# dbt runs in a run of its own: the ingest step reports each round it loaded and skips the
# rest, and Dagster skips every step downstream of a skipped output in the same run.
marts_job = dg.define_asset_job(
    "build_marts",
    selection=dg.AssetSelection.groups("reference", "staging", "intermediate", "marts"),
    tags={CHANGED_ROUNDS_TAG: "true"},
    description="Build the dbt models (seeds, staging, intermediate, marts) and run their tests for the "
    "rounds whose batches or sign-off changed since the last build (every round when the dbt "
    "project changed). Started after every successful load, planning only the models and tests "
    "downstream of the raw tables that changed; launched by hand (safe at any time), it builds all "
    "it plans.",
)

# The publication and what serves it (the PostgreSQL marts, where configured).
PUBLICATION_AND_SERVED = dg.AssetSelection.assets(PUBLICATION).downstream()

publish_job = dg.define_asset_job(
    "publish_round",
    selection=PUBLICATION_AND_SERVED,
    description="Publish the latest round that passed every gate: dtm_latest.duckdb, the round's files and, "
    "where configured, the marts in PostgreSQL.",
)
monthly_publication = _baghdad_schedule(
    "monthly_publication",
    publish_job,
    "0 6 1 * *",
    "On the 1st of every month at 06:00 Baghdad time, publish the latest round that passed every gate.",
)

freshness_job = dg.define_asset_job(
    "check_round_freshness",
    selection=dg.AssetSelection.checks(round_freshness),
    description="Check that a round file arrived within DTM's cadence of the period.",
)
daily_freshness = _baghdad_schedule(
    "daily_round_freshness",
    freshness_job,
    "0 7 * * *",
    "Every day at 07:00 Baghdad time, check the freshness of the landing folder's rounds.",
)


review_round = dg.define_asset_job(
    "review_round",
    # Every model, not only those downstream of the reviews: a rejection quarantines the round's
    # batches, which the location facts read. The dbt step builds only the changed round.
    selection=dg.AssetSelection.assets(ROUND_REVIEWS)
    | PUBLICATION_AND_SERVED
    | dg.AssetSelection.groups("staging", "intermediate", "marts"),
    tags={CHANGED_ROUNDS_TAG: "true"},
    description="Sign off or reject a round held for review (config of record_review: round, decision, "
    "by, note), rebuild the marts the decision changes (that round's) and publish the latest "
    "publishable round.",
)


@dg.job(
    description="Publish the folder of files of any publishable round (config: round, a partition key "
    "or number). dtm_latest.duckdb stays on the latest publishable round; publishing that round "
    "publishes it too."
)
def publish_chosen_round():
    publish_round_folder()


defs = dg.Definitions(
    jobs=[rounds_job, marts_job, publish_job, freshness_job, review_round, publish_chosen_round],
    schedules=[monthly_publication, daily_freshness],
)
