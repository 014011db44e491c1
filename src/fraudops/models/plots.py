"""Evaluation plots as PNG files (matplotlib, non-interactive backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fraudops.models.evaluate import CostModel, savings_curve


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")  # never needs a screen
    import matplotlib.pyplot as plt

    return plt


def evaluation_plots(
    folder: Path,
    y: np.ndarray,
    score: np.ndarray,
    amount: np.ndarray,
    feature_names: list[str],
    importance: np.ndarray,
    cost: CostModel,
    thresholds: tuple[float, float],
    title: str,
) -> list[Path]:
    """PR curve, ROC, calibration, score distribution, importance, savings vs threshold."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_recall_curve, roc_curve

    plt = _pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    both = 0 < y.sum() < y.size

    def save(fig, name: str) -> None:  # type: ignore[no-untyped-def]
        path = folder / name
        fig.suptitle(title, fontsize=9)
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)

    if both:
        fig, ax = plt.subplots(figsize=(5, 4))
        precision, recall, _ = precision_recall_curve(y, score)
        ax.plot(recall, precision)
        ax.set(xlabel="recall", ylabel="precision", title="Precision-recall")
        save(fig, "pr_curve.png")

        fig, ax = plt.subplots(figsize=(5, 4))
        fpr, tpr, _ = roc_curve(y, score)
        ax.plot(fpr, tpr)
        ax.plot([0, 1], [0, 1], "--", color="grey")
        ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
        save(fig, "roc_curve.png")

        fig, ax = plt.subplots(figsize=(5, 4))
        prob_true, prob_pred = calibration_curve(y, score, n_bins=10, strategy="quantile")
        ax.plot(prob_pred, prob_true, marker="o")
        ax.plot([0, 1], [0, 1], "--", color="grey")
        ax.set(xlabel="predicted probability", ylabel="observed fraud rate", title="Calibration")
        ax.set_xscale("symlog", linthresh=0.01)
        ax.set_yscale("symlog", linthresh=0.01)
        save(fig, "calibration.png")

    fig, ax = plt.subplots(figsize=(5, 4))
    bins = np.linspace(0, 1, 41)
    ax.hist(score[y == 0], bins=bins, alpha=0.6, density=True, label="genuine", log=True)
    if y.sum():
        ax.hist(score[y == 1], bins=bins, alpha=0.6, density=True, label="fraud", log=True)
    for value, name in zip(thresholds, ("review", "decline"), strict=True):
        ax.axvline(value, linestyle="--", color="black", linewidth=0.8)
        ax.text(value, ax.get_ylim()[1] * 0.5, name, rotation=90, fontsize=7)
    ax.set(xlabel="fraud probability", ylabel="density (log)", title="Scores by class")
    ax.legend()
    save(fig, "score_distribution.png")

    fig, ax = plt.subplots(figsize=(6, 6))
    order = np.argsort(importance)[-20:]
    ax.barh([feature_names[i] for i in order], importance[order])
    ax.set(title="Feature importance (top 20)")
    save(fig, "feature_importance.png")

    fig, ax = plt.subplots(figsize=(5, 4))
    grid, savings = savings_curve(y, score, amount, cost)
    ax.plot(grid, savings)
    ax.axvline(thresholds[1], linestyle="--", color="black", linewidth=0.8)
    ax.set(xlabel="decline threshold", ylabel="savings", title="Savings vs threshold")
    save(fig, "savings_vs_threshold.png")
    return paths
