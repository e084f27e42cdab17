"""Sign-off from the UI: the review_round job (jobs.py) records a person's decision on a round
held for review (the same work as `dtm sign-off` / `dtm reject`), rebuilds the marts it changes
and publishes, in one run, so the UI shows every asset the decision touched."""

import dagster as dg
from pydantic import Field

from orchestration import review, writer_lock
from orchestration.defs.partitions import WAREHOUSE_POOL
from orchestration.defs.resources import WarehouseResource
from orchestration.warehouse import connect, ensure_raw_schema

ROUND_REVIEWS = dg.AssetKey(["raw", "round_reviews"])
DECISIONS = {"sign_off": review.SIGNED_OFF, "reject": review.REJECTED}


class ReviewConfig(dg.Config):
    round: str = Field(description="The round held for review: its partition key or number.")
    decision: str = Field(description="sign_off or reject.")
    by: str = Field(description="Who decides: recorded with the decision.")
    note: str = Field(description="Why: recorded with the decision.")


@dg.multi_asset(
    name="record_review",
    specs=[
        dg.AssetSpec(
            ROUND_REVIEWS,
            group_name="review",
            kinds={"duckdb"},
            description="Every sign-off state of a round whose figures moved beyond a hold threshold: "
            "awaiting sign-off (written by the ingest's sense checks), signed off or rejected (written "
            "here, from the review_round job's config: who, when, the note and the figures they saw), "
            "or cleared by a corrected file. marts.round_reviews and marts.round_quality show it.",
        )
    ],
    pool=WAREHOUSE_POOL,
)
def record_review(context: dg.AssetExecutionContext, config: ReviewConfig, warehouse: WarehouseResource):
    """Record the decision. A rejected round's batches are quarantined; the dbt models and the
    publication downstream in the same run rebuild the round and publish the latest publishable
    round."""
    if config.decision not in DECISIONS:
        raise dg.Failure(f"decision is sign_off or reject, not {config.decision!r}")
    with writer_lock.hold(warehouse.database, say=context.log.info), connect(warehouse.database) as con:
        ensure_raw_schema(con)
        try:
            decided = review.decide(con, config.round, DECISIONS[config.decision], config.by, config.note)
        except review.ReviewError as error:
            raise dg.Failure(str(error)) from None
    context.log.info(f"{decided.partition_key}: {decided.status} by {decided.decided_by}")
    return dg.MaterializeResult(
        asset_key=ROUND_REVIEWS,
        metadata={
            "round": decided.partition_key,
            "decision": decided.status,
            "by": decided.decided_by,
            "note": decided.note or "",
            "figures_seen": dg.MetadataValue.md(decided.reasons or "none"),
        },
    )


defs = dg.Definitions(assets=[record_review])
