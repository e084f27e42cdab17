"""What tells an operator something is wrong: round freshness against DTM's cadence, and
alerts written to an operations folder when a run fails (no network, no personal data)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from orchestration.reference import read_seed


@dataclass(frozen=True)
class Freshness:
    last_reporting_date: date
    today: date
    days_since: int
    overdue_after_days: int
    cadence: str

    @property
    def overdue(self) -> bool:
        return self.days_since > self.overdue_after_days


def freshness(last_reporting_date: date, today: date) -> Freshness:
    """How late the next round is, by the cadence of the period the last round belongs to."""
    for row in read_seed("config/round_cadence.csv"):
        if date.fromisoformat(row["from_date"]) <= last_reporting_date <= date.fromisoformat(row["to_date"]):
            return Freshness(
                last_reporting_date,
                today,
                (today - last_reporting_date).days,
                int(row["overdue_after_days"]),
                row["description"],
            )
    raise ValueError(f"round_cadence.csv has no period for {last_reporting_date}")


def write_alert(folder: Path, run_id: str, job_name: str, failures: list[tuple[str, str]]) -> Path:
    """An alert file per failed run: job, run, and each failed step with the first line of its
    error (file and round names, never cell values)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    alert = {
        "at": stamp,
        "job": job_name,
        "run_id": run_id,
        "failed_steps": [
            {"step": step, "error": message.splitlines()[0][:500] if message else ""}
            for step, message in failures
        ],
    }
    path = folder / f"{stamp}_{job_name}_{run_id[:8]}.json"
    path.write_text(json.dumps(alert, indent=1), encoding="utf-8")
    return path
