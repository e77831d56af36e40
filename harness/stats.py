"""Paired significance for two runs on the same cases.

Interval and percentile helpers live in report.py (`wilson`, `percentile`); this module adds the
exact McNemar test, which is what a paired pass/fail comparison on a few dozen cases needs: the
chi-square approximation is wrong when there are only a handful of discordant pairs.
"""
from math import comb


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts b (fixed) and c (broken).

    Under the null each discordant pair is a fair coin, so this is a two-sided binomial test
    with p = 0.5: p = min(1, 2 * sum_{k<=min(b,c)} C(b+c, k) / 2^(b+c)); 1.0 when b + c = 0.
    """
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be non-negative, got b={b}, c={c}")
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2**n)  # exact integer arithmetic until this one division
