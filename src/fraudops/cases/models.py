"""The case store's tables (SQLAlchemy 2 declarative models).

The schema is created and changed only by the Alembic migrations beside this module
(``fraudops.cases.migrations``); these classes are how the code reads and writes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# a case's life: open -> in_review -> fraud | genuine (a verdict closes it)
STATES = ("open", "in_review", "fraud", "genuine")
VERDICTS = ("fraud", "genuine")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("in_review", "fraud", "genuine"),
    "in_review": ("open", "fraud", "genuine"),
    "fraud": (),
    "genuine": (),
}
ROLES = ("analyst", "admin")
LABEL_SOURCES = ("analyst", "chargeback", "api")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        datetime: DateTime(timezone=True),
    }


class Case(Base):
    """One transaction sent to review (by the thresholds or by a rule with ``case: true``)."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transaction_id: Mapped[str] = mapped_column(String(128), unique=True)
    card_id: Mapped[str] = mapped_column(String(128), index=True)
    amount: Mapped[float] = mapped_column(Float)
    transaction_time: Mapped[datetime]
    fraud_probability: Mapped[float] = mapped_column(Float)
    score: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str] = mapped_column(String(160))
    rules: Mapped[str] = mapped_column(Text, default="")  # comma-separated rule names
    reasons: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"reasons": [...], "tx": {...}}
    state: Mapped[str] = mapped_column(String(16), default="open")
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )

    __table_args__ = (Index("ix_cases_state_probability", "state", "fraud_probability"),)


class CaseEvent(Base):
    """The audit trail: every change of a case, by whom and when."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    case: Mapped[Case] = relationship(back_populates="events")


class LabelRecord(Base):
    """Every label the service received, by source (the conflict check reads these)."""

    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transaction_id: Mapped[str] = mapped_column(String(128), index=True)
    is_fraud: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    reported_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64), default="")


class LabelConflict(Base):
    """A later label that disagrees with an earlier one from another source: both stay in
    the label feed, and the disagreement is reported here instead of passing silently."""

    __tablename__ = "label_conflicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transaction_id: Mapped[str] = mapped_column(String(128), index=True)
    earlier_source: Mapped[str] = mapped_column(String(16))
    earlier_is_fraud: Mapped[int] = mapped_column(Integer)
    earlier_reported_at: Mapped[datetime]
    later_source: Mapped[str] = mapped_column(String(16))
    later_is_fraud: Mapped[int] = mapped_column(Integer)
    later_reported_at: Mapped[datetime]
    recorded_at: Mapped[datetime]


class ConsoleUser(Base):
    """An analyst or admin of the console; the password is kept only as a scrypt hash."""

    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
