"""A run's subset of a job's assets and checks, as its launch plans them."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class Selection:
    """The assets and checks a run plans: what its step materializes and evaluates."""

    assets: frozenset[dg.AssetKey]
    checks: frozenset[dg.AssetCheckKey]


def request_selection(selection: Selection | None) -> dict:
    """A sensor's RunRequest arguments for this plan (None: the whole job)."""
    if selection is None:
        return {}
    return {"asset_selection": sorted(selection.assets), "asset_check_keys": sorted(selection.checks)}
