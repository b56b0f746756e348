"""pass@k (Chen et al. 2021's unbiased estimator) and ranked n@k (AlphaCode / CodeRL's filtered 1@k)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with ``n`` samples of which ``c`` are correct.

    ``1 - C(n-c, k) / C(n, k)`` in HumanEval's numerically stable product form; 1.0 when
    ``n - c < k`` (every k-subset holds a correct sample), 0.0 when ``c == 0``.
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if k < 1 or k > n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n (n={n})")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float | None:
    """pass@k averaged over problems given ``(n, c)`` per problem; problems with ``n < k`` are skipped.

    Returns None when no problem has ``k`` samples.
    """
    vals = [pass_at_k(n, c, k) for n, c in counts if n >= k]
    return float(np.mean(vals)) if vals else None


def n_at_k(passed: Sequence[bool], scores: Sequence[float] | None, n: int, k: int) -> float:
    """Expected n@k of one problem: draw ``k`` of the samples at random, submit the ``n`` best by score.

    Solved when one of the submitted samples passes. ``scores``: higher is better (a critic score,
    the example-test pass fraction, a log-prob); None or ties keep sample order (earlier first).
    Exact expectation over all k-subsets, so ``n == k`` equals pass@k and ``k == len(passed)``
    is "the top n of all samples".
    """
    N = len(passed)
    if k < 1 or k > N or n < 1:
        raise ValueError(f"{n}@{k} needs 1 <= n and 1 <= k <= number of samples ({N})")
    order = list(range(N)) if scores is None else sorted(range(N), key=lambda i: (-scores[i], i))
    ranked = [bool(passed[i]) for i in order]
    total = math.comb(N, k)
    hits = 0
    passes_before = 0
    for pos, ok in enumerate(ranked):  # pos samples rank above this one
        if ok:
            fails_before = pos - passes_before
            after = N - pos - 1
            # this sample is the subset's best passing one and lands among its top n:
            # none of the passes above it drawn, at most n-1 of the fails above it drawn
            hits += sum(
                math.comb(fails_before, m) * math.comb(after, k - 1 - m) for m in range(min(n, k))
            )
            passes_before += 1
    return hits / total
