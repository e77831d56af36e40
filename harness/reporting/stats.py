"""Paired significance for two runs on the same cases.

Wilson intervals, percentiles, and the exact McNemar test, which is what a paired pass/fail comparison
on a few dozen cases needs: the chi-square approximation is wrong with only a handful of discordant pairs.
"""
import math
from math import comb

EXACT_UP_TO = 2000  # discordant pairs summed with exact integers; more use floats (relative error ~1e-15)


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
    if n <= EXACT_UP_TO:
        tail = sum(comb(n, k) for k in range(min(b, c) + 1))
        return min(1.0, 2 * tail / 2**n)  # exact integer arithmetic until this one division
    # big integers grow with n: past a few thousand pairs, sum the same terms as floats in log space,
    # from the largest (k = min(b, c)) down until they no longer change the sum
    k = min(b, c)
    log_half_n = n * math.log(2)
    log_term = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) - log_half_n
    tail, term = 0.0, math.exp(log_term)
    while k >= 0 and term > tail * 1e-17:
        tail += term
        term *= k / (n - k + 1)  # C(n, k-1) / C(n, k)
        k -= 1
    return min(1.0, 2 * tail)


def wilson(passed: int, total: int, z: float = 1.96) -> tuple[float, float] | None:
    """95% Wilson score interval for a proportion; None when there is nothing to estimate."""
    if total == 0:
        return None
    p = passed / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100), as numpy's default."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
