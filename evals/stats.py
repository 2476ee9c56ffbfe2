"""Latency statistics of the benchmark scripts (evals/load.py, scale.py, bench_web.py, retrieval.py),
one definition so that their p50/p95 figures stay comparable."""
from __future__ import annotations


def percentile(values: list[float], p: float) -> float:
    """The p-quantile (p from 0 to 1), interpolated linearly between the two nearest ranks as
    numpy's default does; 0.0 for no values, so an empty run still prints its report."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    pos = (len(ordered) - 1) * p
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)
