"""When monitoring asks for a new model: the trigger rule and the cooldown, defined once.

The monitoring pipeline judges each window with :meth:`RetrainPolicy.reasons` (and stores
the alarms it raised, which the API exports as gauges and Prometheus alerts on); the
embedded loop and the monitoring DAG then call :meth:`RetrainPolicy.decide` to turn a
verdict into a training run, unless an earlier trigger is still within the cooldown.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fraudops.config import Settings

# live performance is judged only on windows with this many known frauds: with fewer, one
# missed fraud swings average precision by a third or more
MIN_FRAUDS_FOR_PERFORMANCE = 5
REASON_LIMIT = 250  # characters of the reason handed to the training run
SHOWN_FEATURES = 5  # drifted features named in a reason


def judged_average_precision(performance: Mapping[str, float] | None) -> float | None:
    """Live average precision of a matured window, or None when too few frauds are known
    to judge it (or it could not be measured)."""
    if not performance or performance.get("known_frauds", 0) < MIN_FRAUDS_FOR_PERFORMANCE:
        return None
    value = performance.get("average_precision")
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True)
class RetrainDecision:
    retrain: bool
    reason: str  # what the training run records as its reason
    blocked_by: datetime | None = None  # the earlier trigger still within the cooldown


@dataclass(frozen=True)
class RetrainPolicy:
    """Retrain when features drift, the score distribution shifts, or live average
    precision falls below its floor; at most once per ``cooldown``."""

    drift_share_threshold: float
    psi_threshold: float
    live_ap_floor: float
    cooldown: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if self.cooldown < timedelta(0):
            raise ValueError(f"the retraining cooldown must not be negative, got {self.cooldown}")

    @classmethod
    def from_settings(cls, settings: Settings, cooldown: timedelta = timedelta(0)) -> RetrainPolicy:
        return cls(
            drift_share_threshold=settings.drift_share_threshold,
            psi_threshold=settings.psi_threshold,
            live_ap_floor=settings.live_ap_floor,
            cooldown=cooldown,
        )

    # -- the trigger rule --------------------------------------------------------------

    def drift_alarm(self, drift_share: float | None) -> bool:
        return drift_share is not None and drift_share > self.drift_share_threshold

    def score_alarm(self, score_psi: float | None) -> bool:
        return score_psi is not None and score_psi > self.psi_threshold

    def performance_degraded(self, live_average_precision: float | None) -> bool:
        """``live_average_precision`` as :func:`judged_average_precision` gives it (None
        when too few frauds are known: never degraded on that evidence)."""
        return live_average_precision is not None and live_average_precision < self.live_ap_floor

    def reasons(
        self,
        drift_share: float | None,
        drifted_features: Sequence[str],
        score_psi: float | None,
        live_average_precision: float | None,
    ) -> list[str]:
        """Why a window calls for retraining (empty: it does not)."""
        found = []
        if self.drift_alarm(drift_share):
            shown = ", ".join(drifted_features[:SHOWN_FEATURES])
            more = "…" if len(drifted_features) > SHOWN_FEATURES else ""
            found.append(
                f"drift share {drift_share:.2f} > {self.drift_share_threshold:g} ({shown}{more})"
            )
        if self.score_alarm(score_psi):
            found.append(f"score PSI {score_psi:.3f} > {self.psi_threshold:g}")
        if self.performance_degraded(live_average_precision):
            found.append(
                f"live average precision {live_average_precision:.3f} "
                f"< floor {self.live_ap_floor:g}"
            )
        return found

    # -- the cooldown ------------------------------------------------------------------

    def blocking_trigger(
        self, previous_triggers: Iterable[datetime], as_of: datetime
    ) -> datetime | None:
        """The latest earlier trigger less than ``cooldown`` before ``as_of``, if any.

        A trigger at ``as_of`` itself does not count, so a re-run of the triggering window
        triggers again (callers make that idempotent); one exactly ``cooldown`` before
        no longer blocks.
        """
        since = as_of - self.cooldown
        blocking = [t for t in previous_triggers if since < t < as_of]
        return max(blocking) if blocking else None

    def decide(
        self, reasons: Sequence[str], as_of: datetime, previous_triggers: Iterable[datetime]
    ) -> RetrainDecision:
        """Whether the window ending at ``as_of`` with verdict ``reasons`` starts a training
        run, given when earlier windows did."""
        reason = "; ".join(reasons)[:REASON_LIMIT]
        if not reasons:
            return RetrainDecision(False, reason)
        blocked_by = self.blocking_trigger(previous_triggers, as_of)
        return RetrainDecision(blocked_by is None, reason, blocked_by)
