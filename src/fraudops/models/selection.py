"""Model selection that holds up: judged on recent matured days, with its own noise measured.

A handful of frauds decides little: two models' average precision on 30 frauds can swap
places from one week to the next. So selection judges every candidate on the same held-out
rows (the most recent training days whose labels have had time to arrive, sized to hold
enough frauds), measures how much the comparison would move on another draw of those rows
(a paired bootstrap), and prefers a simpler model only when its shortfall is within that
noise. Pure functions: arrays in, a choice out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# simplest first: cheaper to serve, easier to explain, less to go wrong
SIMPLICITY_ORDER = ("lr", "rf", "xgb", "lgbm")


def _sorted_by_score(score: np.ndarray) -> np.ndarray:
    return np.argsort(-score, kind="stable")


def weighted_average_precision(y_sorted: np.ndarray, w_sorted: np.ndarray) -> float:
    """Average precision of rows already sorted by descending score, each row weighted
    (a bootstrap draw as Poisson weights: the same as resampling rows, without copies)."""
    positive = w_sorted * y_sorted
    total = positive.sum()
    if total <= 0:
        return float("nan")
    precision = np.cumsum(positive) / np.maximum(np.cumsum(w_sorted), 1e-12)
    return float((precision * positive).sum() / total)


@dataclass(frozen=True)
class SelectionResult:
    chosen: str
    best: str
    scores: dict[str, float]
    spread: float  # bootstrap standard deviation of the best model's score
    # per candidate: bootstrap sd of (best - candidate); NaN for the best itself
    difference_sd: dict[str, float] = field(default_factory=dict)
    frauds: int = 0
    rows: int = 0
    reason: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "chosen": self.chosen,
            "best": self.best,
            "scores": self.scores,
            "spread": self.spread,
            "difference_sd": self.difference_sd,
            "frauds": self.frauds,
            "rows": self.rows,
            "reason": self.reason,
        }


def select_model(
    y: np.ndarray,
    scores: dict[str, np.ndarray],
    fallback: dict[str, float] | None = None,
    resamples: int = 200,
    seed: int = 0,
    min_frauds: int = 20,
) -> SelectionResult:
    """Choose among candidates scored on the same held-out rows ``y``.

    The best average precision wins unless a simpler candidate (:data:`SIMPLICITY_ORDER`)
    is behind by no more than one bootstrap standard deviation of the paired difference.
    With fewer than ``min_frauds`` known frauds the held-out rows cannot judge; then the
    ``fallback`` scores (e.g. cross-validation) decide, and failing those the first
    candidate in simplicity order.
    """
    names = sorted(scores, key=lambda n: (*SIMPLICITY_ORDER, n).index(n))
    y = np.asarray(y, dtype=np.float64)
    frauds = int(y.sum())
    if frauds < min_frauds:
        fb = {n: float((fallback or {}).get(n, float("nan"))) for n in names}
        finite = [n for n in names if np.isfinite(fb[n])]
        chosen = max(finite, key=lambda n: fb[n]) if finite else names[0]
        return SelectionResult(
            chosen,
            chosen,
            fb,
            float("nan"),
            frauds=frauds,
            rows=y.size,
            reason=f"only {frauds} known frauds held out (< {min_frauds}): chosen by "
            + ("cross-validation" if finite else "simplicity"),
        )
    orders = {n: _sorted_by_score(np.asarray(scores[n], dtype=np.float64)) for n in names}
    point = {n: weighted_average_precision(y[o], np.ones(y.size)) for n, o in orders.items()}
    rng = np.random.default_rng(seed)
    draws = {n: np.empty(resamples) for n in names}
    for b in range(resamples):
        w = rng.poisson(1.0, y.size).astype(np.float64)
        for n, o in orders.items():
            draws[n][b] = weighted_average_precision(y[o], w[o])
    best = max(names, key=lambda n: point[n])
    difference_sd = {
        n: float("nan") if n == best else float(np.nanstd(draws[best] - draws[n])) for n in names
    }
    chosen, reason = best, "best held-out average precision"
    for n in names[: names.index(best)]:
        if point[best] - point[n] <= difference_sd[n]:
            chosen = n
            reason = (
                f"{n} is within the noise of {best} "
                f"({point[n]:.3f} vs {point[best]:.3f}, sd of the difference "
                f"{difference_sd[n]:.3f}) and simpler"
            )
            break
    return SelectionResult(
        chosen,
        best,
        point,
        float(np.nanstd(draws[best])),
        difference_sd,
        frauds,
        y.size,
        reason,
    )
