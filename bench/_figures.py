"""How benchmarks state their figures: percentiles, and whether a target was met."""

from __future__ import annotations


def pct(values: list[float], q: float) -> float:
    """The `q` quantile (nearest rank); NaN for no values."""
    ordered = sorted(values) or [float("nan")]
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"
