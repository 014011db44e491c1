"""The model card: a short markdown document registered with every model."""

from __future__ import annotations

from typing import Any

from fraudops.models.train import ALGORITHM_NAMES


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def model_card(
    algorithm: str,
    split: dict[str, Any],
    metrics: dict[str, float],
    thresholds: dict[str, float],
    dataset_hash: str,
    spec_hash: str,
    params: dict[str, Any],
    rows: dict[str, int],
    cost: dict[str, float],
    k: int,
) -> str:
    metric_rows = "\n".join(f"| {name} | {_fmt(value)} |" for name, value in metrics.items())
    param_rows = "\n".join(f"| {name} | {_fmt(value)} |" for name, value in params.items())
    return f"""# Model card: fraud-detector ({ALGORITHM_NAMES.get(algorithm, algorithm)})

## Intended use
Scores card authorisations in real time with a calibrated fraud probability, a decision
(approve / review / decline) and the three features that pushed the score most. It
supports fraud analysts and automated declines; it is not a credit or identity decision.

## Data
- dataset version (manifest hash): `{dataset_hash}`
- feature spec hash: `{spec_hash}`
- training window: {split.get("train_start")} to {split.get("train_end")}
  ({rows.get("train", 0):,} rows)
- label-delay gap: {split.get("delay_days")} days (labels known at the end of training only)
- test window: {split.get("test_start")} to {split.get("test_end")} ({rows.get("test", 0):,} rows)

## Test-window metrics
| metric | value |
|---|---|
{metric_rows}

Precision@k and card precision@k use k = {k} alerts per day.

## Decisions
- review when probability ≥ {thresholds.get("review", float("nan")):.4f}
- decline when probability ≥ {thresholds.get("decline", float("nan")):.4f}

Thresholds maximise expected savings on the calibration days of the training window under
this cost model: {", ".join(f"{k}={v}" for k, v in cost.items())}.

## Parameters
| parameter | value |
|---|---|
{param_rows}

## Limits
- Trained on labels known at the training cutoff: frauds reported late are counted as
  genuine, so recent fraud patterns are under-represented until their labels mature.
- Calibration is fitted on the most recent training days; its labels are the least mature.
- A new fraud pattern absent from training is not recognised until retraining; the
  monitoring loop watches drift and live precision for that reason.
- Simulated data: figures on real portfolios will differ.
"""
