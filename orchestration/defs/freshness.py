"""The freshness of rounds against DTM's cadence: a check on the landing folder."""

from datetime import date

import dagster as dg

from orchestration import landing
from orchestration.defs.ingest import LANDING_ROUND_FILES
from orchestration.defs.resources import WarehouseResource
from orchestration.monitoring import freshness
from orchestration.rounds import parse_round_text


def today() -> date:
    """The clock of the freshness check (tests replace it)."""
    return date.today()


@dg.asset_check(
    asset=LANDING_ROUND_FILES,
    name="round_freshness",
    description="Red when no new round file has arrived for longer than DTM's cadence of the period "
    "(seed config/round_cadence.csv: monthly, then every two months from Round 107, then three to four).",
)
def round_freshness(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    dates = [
        parsed.file_date
        for f in landing.scan(warehouse.landing)
        if f.round_id is not None and (parsed := parse_round_text(f.path.stem)).file_date
    ]
    if not dates:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "no round file in the landing folder"})
    state = freshness(max(dates), today())
    return dg.AssetCheckResult(
        passed=not state.overdue,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "last_round_date": str(state.last_reporting_date),
            "days_since": state.days_since,
            "overdue_after_days": state.overdue_after_days,
            "cadence": state.cadence,
        },
    )


defs = dg.Definitions(asset_checks=[round_freshness])
