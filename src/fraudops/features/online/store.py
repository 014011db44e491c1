"""The interface every online store backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from fraudops.features.online.batch import BatchKernel, BatchRows
from fraudops.features.online.layout import BackfillData, Compute, StoreLayout, T, TxRecord


class OnlineStore(ABC):
    """Where online state lives. The engine configures it with the spec's layout."""

    layout: StoreLayout
    # errors that mean "the store is unreachable" (not a bad request): a serving wrapper
    # (``resilient.ResilientStore``) degrades on these instead of failing the request
    failures: tuple[type[BaseException], ...] = ()
    # whether ``exchange_batch`` computes batches (else the engine never asks)
    batches = False

    def configure(self, layout: StoreLayout) -> None:
        self.layout = layout

    @abstractmethod
    def exchange(self, record: TxRecord, compute: Compute[T]) -> T:
        """Call ``compute`` on the state before ``record``, then add ``record`` (atomically)."""

    def exchange_many(self, records: Sequence[TxRecord], compute: Compute[T]) -> list[T]:
        return [self.exchange(r, compute) for r in records]

    def exchange_batch(self, rows: BatchRows, kernel: BatchKernel) -> np.ndarray | None:
        """The batch's feature vectors by ``kernel`` in one pass, state updated as by one
        ``exchange`` after another; None (nothing changed) when this store or this batch
        needs the one-by-one path."""
        return None

    @abstractmethod
    def add_fraud_label(self, tx_id: str, reported_us: int) -> bool:
        """Record that ``tx_id`` was reported as fraud at ``reported_us``; True if known."""

    @abstractmethod
    def knows(self, tx_id: str) -> bool:
        """Whether the transaction is in the (bounded) index."""

    @abstractmethod
    def load(self, data: BackfillData) -> None:
        """Bulk-load state prepared from history."""

    @abstractmethod
    def ping(self) -> bool:
        """Whether the store is reachable."""

    def clear(self) -> None:  # noqa: B027 - optional for backends
        """Forget all state of this layout."""

    def close(self) -> None:  # noqa: B027 - optional for backends
        """Release connections."""
