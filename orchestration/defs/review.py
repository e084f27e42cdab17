"""Sign-off from the UI: the op of the review_round job (jobs.py) records a person's decision on a
round held for review, then publishes (the same work as `dtm sign-off` / `dtm reject`)."""

import dagster as dg
from pydantic import Field

from orchestration import review, writer_lock
from orchestration.defs.partitions import WAREHOUSE_POOL
from orchestration.defs.publish import publish
from orchestration.defs.resources import WarehouseResource
from orchestration.warehouse import connect, ensure_raw_schema

DECISIONS = {"sign_off": review.SIGNED_OFF, "reject": review.REJECTED}


class ReviewConfig(dg.Config):
    round: str = Field(description="The round held for review: its partition key or number.")
    decision: str = Field(description="sign_off or reject.")
    by: str = Field(description="Who decides: recorded with the decision.")
    note: str = Field(description="Why: recorded with the decision.")


@dg.op(pool=WAREHOUSE_POOL)
def record_review(context: dg.OpExecutionContext, config: ReviewConfig, warehouse: WarehouseResource):
    """Record the decision (who, when, note, the figures they saw). A rejected round's batches
    are quarantined; then the latest publishable round is published. The marts show the
    decision, and drop a rejected round's rows, at the next load of that round (the landing
    sensor, `dtm run`, or load_rounds for its partition)."""
    if config.decision not in DECISIONS:
        raise dg.Failure(f"decision is sign_off or reject, not {config.decision!r}")
    with writer_lock.hold(warehouse.database, say=context.log.info):
        with connect(warehouse.database) as con:
            ensure_raw_schema(con)
            try:
                decided = review.decide(con, config.round, DECISIONS[config.decision], config.by, config.note)
            except review.ReviewError as error:
                raise dg.Failure(str(error)) from None
        context.log.info(f"{decided.partition_key}: {decided.status} by {decided.decided_by}")
        done = publish(context, warehouse)
    return dg.Output(
        None,
        metadata={
            "round": decided.partition_key,
            "decision": decided.status,
            "by": decided.decided_by,
            "note": decided.note or "",
            "figures_seen": dg.MetadataValue.md(decided.reasons or "none"),
            "published_round": done.partition_key,
        },
    )
