"""Apportionment: integers proportional to weights that sum exactly to a total."""

from __future__ import annotations

import numpy as np


def largest_remainder(weights: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Integer rows proportional to `weights` that sum exactly to `totals` (Hamilton's method)."""
    weights = np.where(weights.sum(axis=1, keepdims=True) > 0, weights, 1.0)
    exact = weights / weights.sum(axis=1, keepdims=True) * totals[:, None]
    base = np.floor(exact).astype(np.int64)
    short = totals - base.sum(axis=1)
    order = np.argsort(-(exact - base), axis=1, kind="stable")
    rank = np.argsort(order, axis=1, kind="stable")
    return base + (rank < short[:, None])
