"""The case store: cases, their states and audit trail, labels by source and conflicts.

One class over a SQLAlchemy engine (SQLite under the home folder by default, PostgreSQL
in the stack); the schema comes from the Alembic migrations, applied by :func:`open_store`.
Every change of a case writes a :class:`CaseEvent` in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from fraudops.cases.models import (
    STATES,
    TRANSITIONS,
    Case,
    CaseEvent,
    LabelConflict,
    LabelRecord,
)

logger = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


class CaseError(ValueError):
    """A change the case store refuses (the message says why)."""


@dataclass(frozen=True)
class NewCase:
    """What the scoring path hands over for one transaction sent to review."""

    transaction_id: str
    card_id: str
    amount: float
    transaction_time: datetime
    fraud_probability: float
    score: int
    decision: str
    decided_by: str
    rules: tuple[str, ...]
    reasons: list[dict[str, Any]]
    transaction: dict[str, Any]


@dataclass(frozen=True)
class CardGroup:
    """The open cases of one card, ranked by the riskiest of them."""

    card_id: str
    cases: list[Case]

    @property
    def risk(self) -> float:
        return max(c.fraud_probability for c in self.cases)


def utc(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back; every time in the store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_store(url: str) -> CaseStore:
    """The store at ``url`` with its schema migrated (a SQLite file's folder is created)."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True)
    migrate(engine)
    return CaseStore(engine)


class CaseStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    # -- writing cases -------------------------------------------------------------------
    def create_cases(self, new: Iterable[NewCase], now: datetime) -> int:
        """Open a case per transaction not seen before; returns how many were opened."""
        opened = 0
        items = list(new)
        with self.sessions.begin() as session:
            seen: set[str] = set()
            ids = list({item.transaction_id for item in items})
            for start in range(0, len(ids), 500):  # bound the IN list
                chunk = ids[start : start + 500]
                seen.update(
                    session.scalars(
                        select(Case.transaction_id).where(Case.transaction_id.in_(chunk))
                    )
                )
            for item in items:
                if item.transaction_id in seen:
                    continue
                seen.add(item.transaction_id)
                case = Case(
                    transaction_id=item.transaction_id,
                    card_id=item.card_id,
                    amount=item.amount,
                    transaction_time=item.transaction_time,
                    fraud_probability=item.fraud_probability,
                    score=item.score,
                    decision=item.decision,
                    decided_by=item.decided_by,
                    rules=",".join(item.rules),
                    reasons={"reasons": item.reasons, "transaction": item.transaction},
                    state="open",
                    created_at=now,
                    updated_at=now,
                )
                case.events.append(
                    CaseEvent(
                        at=now,
                        actor="system",
                        action="opened",
                        to_state="open",
                        detail=f"{item.decision} by {item.decided_by}",
                    )
                )
                session.add(case)
                opened += 1
        return opened

    def _locked(self, session: Session, case_id: int) -> Case:
        case = session.scalar(select(Case).where(Case.id == case_id).with_for_update())
        if case is None:
            raise CaseError(f"no case {case_id}")
        return case

    def transition(
        self, case_id: int, to_state: str, actor: str, now: datetime, note: str = ""
    ) -> Case:
        """Move a case along its states; a verdict (fraud/genuine) is final."""
        if to_state not in STATES:
            raise CaseError(f"state {to_state!r} is not one of {', '.join(STATES)}")
        with self.sessions.begin() as session:
            case = self._locked(session, case_id)
            if to_state not in TRANSITIONS[case.state]:
                raise CaseError(f"case {case_id} is {case.state}; it cannot become {to_state}")
            event = CaseEvent(
                at=now,
                actor=actor,
                action="verdict" if to_state in ("fraud", "genuine") else "state",
                from_state=case.state,
                to_state=to_state,
                detail=note,
            )
            case.state, case.updated_at = to_state, now
            if to_state == "in_review" and case.owner is None:
                case.owner = actor
            case.events.append(event)
        return case

    def assign(self, case_id: int, owner: str | None, actor: str, now: datetime) -> Case:
        with self.sessions.begin() as session:
            case = self._locked(session, case_id)
            detail = f"{case.owner or 'nobody'} -> {owner or 'nobody'}"
            case.owner, case.updated_at = owner, now
            case.events.append(CaseEvent(at=now, actor=actor, action="assign", detail=detail))
        return case

    def note(self, case_id: int, actor: str, action: str, detail: str, now: datetime) -> None:
        """An audit entry with no change of state (e.g. the card was blocked)."""
        with self.sessions.begin() as session:
            case = self._locked(session, case_id)
            case.events.append(CaseEvent(at=now, actor=actor, action=action, detail=detail))

    # -- reading cases -------------------------------------------------------------------
    def get(self, case_id: int) -> Case:
        with self.sessions() as session:
            case = session.scalar(
                select(Case).where(Case.id == case_id).options(selectinload(Case.events))
            )
        if case is None:
            raise CaseError(f"no case {case_id}")
        return case

    def by_transaction(self, transaction_id: str) -> Case | None:
        with self.sessions() as session:
            return session.scalar(select(Case).where(Case.transaction_id == transaction_id))

    def card_cases(self, card_id: str) -> list[Case]:
        with self.sessions() as session:
            rows = session.scalars(
                select(Case).where(Case.card_id == card_id).order_by(Case.transaction_time)
            )
            return list(rows)

    def queue(self, limit: int = 200) -> list[CardGroup]:
        """Open and in-review cases grouped by card, riskiest card first."""
        with self.sessions() as session:
            rows = session.scalars(
                select(Case)
                .where(Case.state.in_(("open", "in_review")))
                .order_by(Case.fraud_probability.desc(), Case.id)
                .limit(limit)
            )
            groups: dict[str, list[Case]] = {}
            for case in rows:
                groups.setdefault(case.card_id, []).append(case)
        ranked = [CardGroup(card, cases) for card, cases in groups.items()]
        return sorted(ranked, key=lambda g: (-g.risk, g.card_id))

    def queue_stats(self, now: datetime) -> dict[str, Any]:
        """Queue size and the age of its oldest case."""
        with self.sessions() as session:
            size, oldest = session.execute(
                select(func.count(Case.id), func.min(Case.created_at)).where(
                    Case.state.in_(("open", "in_review"))
                )
            ).one()
            closed = session.scalar(
                select(func.count(Case.id)).where(Case.state.in_(("fraud", "genuine")))
            )
        age = (now - utc(oldest)).total_seconds() if oldest is not None else None
        return {"queue_size": int(size), "oldest_age_seconds": age, "closed": int(closed or 0)}

    # -- labels by source ----------------------------------------------------------------
    def record_label(
        self,
        transaction_id: str,
        is_fraud: int,
        source: str,
        reported_at: datetime,
        now: datetime,
        actor: str = "",
    ) -> LabelConflict | None:
        """Keep a label; when an earlier label of another source says the opposite, record
        the conflict (neither is dropped: the label feed keeps both)."""
        with self.sessions.begin() as session:
            earlier = session.scalars(
                select(LabelRecord)
                .where(LabelRecord.transaction_id == transaction_id)
                .order_by(LabelRecord.reported_at, LabelRecord.id)
            ).all()
            session.add(
                LabelRecord(
                    transaction_id=transaction_id,
                    is_fraud=is_fraud,
                    source=source,
                    reported_at=reported_at,
                    actor=actor,
                )
            )
            against = [e for e in earlier if e.source != source and e.is_fraud != is_fraud]
            if not against:
                return None
            first = against[0]
            conflict = LabelConflict(
                transaction_id=transaction_id,
                earlier_source=first.source,
                earlier_is_fraud=first.is_fraud,
                earlier_reported_at=first.reported_at,
                later_source=source,
                later_is_fraud=is_fraud,
                later_reported_at=reported_at,
                recorded_at=now,
            )
            session.add(conflict)
        logger.warning(
            "label conflict on %s: %s said %d, %s now says %d",
            transaction_id,
            first.source,
            first.is_fraud,
            source,
            is_fraud,
        )
        return conflict

    def conflicts(self, limit: int = 500) -> Sequence[LabelConflict]:
        with self.sessions() as session:
            return session.scalars(
                select(LabelConflict).order_by(LabelConflict.id.desc()).limit(limit)
            ).all()

    def analyst_precision(self, now: datetime, maturity_days: int) -> dict[str, Any]:
        """Of the analysts' fraud verdicts old enough for a chargeback to have come, the
        share a chargeback confirmed; and genuine verdicts later charged back (misses)."""
        matured = now - timedelta(days=maturity_days)
        with self.sessions() as session:
            analyst = session.scalars(
                select(LabelRecord).where(LabelRecord.source == "analyst")
            ).all()
            charged = set(
                session.scalars(
                    select(LabelRecord.transaction_id).where(
                        LabelRecord.source == "chargeback", LabelRecord.is_fraud == 1
                    )
                ).all()
            )
        frauds = [a for a in analyst if a.is_fraud == 1 and utc(a.reported_at) <= matured]
        confirmed = sum(1 for a in frauds if a.transaction_id in charged)
        missed = sum(1 for a in analyst if a.is_fraud == 0 and a.transaction_id in charged)
        return {
            "analyst_labels": len(analyst),
            "matured_fraud_verdicts": len(frauds),
            "confirmed_by_chargeback": confirmed,
            "precision": confirmed / len(frauds) if frauds else None,
            "genuine_verdicts_charged_back": missed,
        }
