"""Ratings from pairwise judgements: Bradley-Terry (``choix``) as Elo, judge agreement, position bias.

Elo: Bradley-Terry log-strengths θ (``choix.ilsr_pairwise``, a small L2 ``alpha`` so a model that never
loses stays finite) map to ``R = 1500 + 400 / ln 10 · (θ - mean θ)``, so a 400-point gap means 10:1 odds.
Confidence intervals: percentile bootstrap over the comparisons (resampled with replacement, refit).

Usage:

```python
from bertopic_sae.judges import bradley_terry_elo, combine_orders, position_bias
table = bradley_terry_elo(combine_orders(comparisons))
print(table.models, table.elo, table.low, table.high)
print(position_bias(comparisons))
```
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .pairwise import Comparison

__all__ = [
    "EloTable",
    "Agreement",
    "PositionBias",
    "bradley_terry_elo",
    "combine_orders",
    "calibrate",
    "judge_agreement",
    "position_bias",
    "one_order",
]


class EloTable(NamedTuple):
    """Elo (mean 1500) of every model with bootstrap confidence bounds."""

    models: list[str]
    """Model names, in the order of the arrays."""
    elo: np.ndarray
    """Elo from all comparisons."""
    low: np.ndarray
    """Lower bootstrap bound (2.5th percentile for ``level=0.95``)."""
    high: np.ndarray
    """Upper bootstrap bound."""
    wins: np.ndarray
    """Comparisons each model won."""
    games: np.ndarray
    """Decided comparisons each model took part in (ties and failures excluded)."""
    ties: int
    """Comparisons with no winner (identical renderings, equal scores)."""
    failures: int
    """Comparisons the judge failed (exception or an answer that is neither A nor B)."""


class Agreement(NamedTuple):
    """How two judges agree on the same comparisons."""

    spearman: float
    """Spearman correlation of the two Elo vectors."""
    pair_agreement: float
    """Share of comparisons (same document, same model pair) both decided with the same winner."""
    n_common: int
    """Comparisons both judges decided."""


class PositionBias(NamedTuple):
    """How often the judge picks the option shown first."""

    first_rate: float
    """Share of decided comparisons won by the option shown as A (0.5 = no bias)."""
    n: int
    """Decided comparisons counted."""
    flip_rate: float
    """For comparisons asked in both orders: share where the verdict follows the position, not the model."""


def one_order(comparisons: Sequence[Comparison], seed: int = 0) -> list[Comparison]:
    """One comparison per (document, model pair), a random one of its orders (the randomised protocol)."""
    groups = _by_pair(comparisons)
    rng = np.random.default_rng(seed)
    return [group[int(rng.integers(len(group)))] for group in groups.values()]


def _by_pair(comparisons: Sequence[Comparison]) -> dict[tuple, list[Comparison]]:
    groups: dict[tuple, list[Comparison]] = defaultdict(list)
    for c in comparisons:
        groups[(c.doc, *sorted((c.first, c.second)))].append(c)
    return groups


def combine_orders(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """Average each (document, model pair)'s verdicts over the orders it was shown in (cancels position bias).

    The result is one comparison per pair, oriented alphabetically, with ``p_first`` the mean probability that
    the alphabetically first model is better; a failure in any order makes the combined one a failure.
    For two orders the winner is the same as by the order-averaged log-odds
    ``[logit p(A | X first) - logit p(A | Y first)] / 2``: both are > 0.5 (> 0) exactly when X's
    probability as A exceeds Y's, so a constant position bias cancels either way.
    """
    combined = []
    for (doc, a, b), group in _by_pair(comparisons).items():
        failed = [c.failure for c in group if c.failure]
        if failed:
            combined.append(Comparison(doc, a, b, float("nan"), None, failed[0]))
            continue
        p = float(np.mean([c.p_first if c.first == a else 1.0 - c.p_first for c in group]))
        combined.append(Comparison(doc, a, b, p, a if p > 0.5 else b if p < 0.5 else None))
    return combined


def calibrate(comparisons: Sequence[Comparison], bias: float) -> list[Comparison]:
    """Subtract a judge's A-over-B log-odds ``bias`` (:func:`content_free_bias`) from every verdict.

    ``p_first`` becomes ``sigmoid(logit(p_first) - bias)`` and the winner is re-decided; ties of identical
    renderings (no judge call) and failures are kept as they are.
    """
    out = []
    for c in comparisons:
        if c.failure is not None or (c.winner is None and c.p_first == 0.5):
            out.append(c)
            continue
        p = min(max(c.p_first, 1e-12), 1 - 1e-12)
        q = 1.0 / (1.0 + math.exp(-(math.log(p / (1 - p)) - bias)))
        out.append(c._replace(p_first=q, winner=c.first if q > 0.5 else c.second if q < 0.5 else None))
    return out


def _fit(pairs: np.ndarray, n_items: int, alpha: float) -> np.ndarray:
    import choix

    theta = choix.ilsr_pairwise(n_items, [tuple(p) for p in pairs.tolist()], alpha=alpha)
    return 1500.0 + 400.0 / math.log(10) * (theta - theta.mean())


def bradley_terry_elo(
    comparisons: Sequence[Comparison],
    models: Sequence[str] | None = None,
    *,
    n_bootstrap: int = 500,
    level: float = 0.95,
    alpha: float = 0.01,
    seed: int = 0,
) -> EloTable:
    """Bradley-Terry Elo of the models from decided comparisons, with percentile-bootstrap bounds.

    Arguments:
        comparisons: judged comparisons (:func:`compare_models`, optionally :func:`combine_orders`).
        models: model names (default: every name in the comparisons, sorted).
        n_bootstrap: bootstrap resamples for the bounds.
        level: confidence level of the bounds.
        alpha: L2 regularisation of ``choix.ilsr_pairwise``.
        seed: bootstrap seed.

    Usage:

    ```python
    table = bradley_terry_elo(comparisons, n_bootstrap=200)
    ```
    """
    names = sorted({n for c in comparisons for n in (c.first, c.second)}) if models is None else list(models)
    index = {n: i for i, n in enumerate(names)}
    decided = [c for c in comparisons if c.winner is not None]
    if not decided:
        raise ValueError("no decided comparison (all ties or failures): nothing to rate.")
    pairs = np.array(
        [(index[str(c.winner)], index[c.second if c.winner == c.first else c.first]) for c in decided]
    )
    wins = np.bincount(pairs[:, 0], minlength=len(names))
    games = wins + np.bincount(pairs[:, 1], minlength=len(names))
    elo = _fit(pairs, len(names), alpha)
    rng = np.random.default_rng(seed)
    boot = (
        np.array(
            [
                _fit(pairs[rng.integers(len(pairs), size=len(pairs))], len(names), alpha)
                for _ in range(n_bootstrap)
            ]
        )
        if n_bootstrap
        else elo[None]
    )
    tail = 100 * (1 - level) / 2
    return EloTable(
        names,
        elo,
        np.percentile(boot, tail, axis=0),
        np.percentile(boot, 100 - tail, axis=0),
        wins,
        games,
        ties=sum(c.winner is None and c.failure is None for c in comparisons),
        failures=sum(c.failure is not None for c in comparisons),
    )


def judge_agreement(
    comparisons_a: Sequence[Comparison], comparisons_b: Sequence[Comparison], **elo_kwargs
) -> Agreement:
    """Spearman of the two judges' Elo and the per-comparison agreement on (document, model pair) winners.

    Comparisons asked in both orders are first combined (:func:`combine_orders`) for both judges.
    """
    from scipy.stats import spearmanr

    a, b = combine_orders(comparisons_a), combine_orders(comparisons_b)
    models = sorted({n for c in [*a, *b] for n in (c.first, c.second)})
    elo_a = bradley_terry_elo(a, models, n_bootstrap=0, **elo_kwargs).elo
    elo_b = bradley_terry_elo(b, models, n_bootstrap=0, **elo_kwargs).elo
    won_b = {(c.doc, c.first, c.second): c.winner for c in b if c.winner is not None}
    common = [
        (c.winner, won_b[(c.doc, c.first, c.second)])
        for c in a
        if c.winner is not None and (c.doc, c.first, c.second) in won_b
    ]
    rate = float(np.mean([x == y for x, y in common])) if common else float("nan")
    return Agreement(float(spearmanr(elo_a, elo_b).statistic), rate, len(common))


def position_bias(comparisons: Sequence[Comparison]) -> PositionBias:
    """Share of decided comparisons won by the option shown first, and the order-flip rate."""
    decided = [c for c in comparisons if c.winner is not None]
    first = float(np.mean([c.winner == c.first for c in decided])) if decided else float("nan")
    flips = []
    for group in _by_pair(comparisons).values():
        orders = {c.first: c for c in group if c.winner is not None}
        if len(orders) == 2:  # both orders decided: a position-driven verdict picks A (or B) both times
            x, y = orders.values()
            flips.append((x.winner == x.first) == (y.winner == y.first))
    return PositionBias(first, len(decided), float(np.mean(flips)) if flips else float("nan"))
