"""``/v1/cases`` and ``/v1/label-conflicts``: the review queue for programs (admin key)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from fraudops.cases.models import Case
from fraudops.cases.store import CaseError, CaseStore, utc
from fraudops.serving.deps import AdminKey

router = APIRouter(tags=["cases"], dependencies=[AdminKey])


def _store(request: Request) -> CaseStore:
    recorder = request.app.state.fraudops.cases
    if recorder is None:
        raise HTTPException(503, "the case store is not available in this process")
    store: CaseStore = recorder.store
    return store


def case_json(case: Case, events: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": case.id,
        "transaction_id": case.transaction_id,
        "card_id": case.card_id,
        "amount": case.amount,
        "transaction_time": utc(case.transaction_time).isoformat(),
        "fraud_probability": case.fraud_probability,
        "score": case.score,
        "decision": case.decision,
        "decided_by": case.decided_by,
        "rules": [r for r in case.rules.split(",") if r],
        "reasons": case.reasons.get("reasons", []),
        "state": case.state,
        "owner": case.owner,
        "created_at": utc(case.created_at).isoformat(),
    }
    if events:
        out["events"] = [
            {
                "at": utc(e.at).isoformat(),
                "actor": e.actor,
                "action": e.action,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "detail": e.detail,
            }
            for e in case.events
        ]
    return out


@router.get("/v1/cases", summary="Open and in-review cases, grouped by card, riskiest first")
async def queue(request: Request) -> list[dict[str, Any]]:
    groups = await asyncio.to_thread(_store(request).queue)
    return [{"card_id": g.card_id, "cases": [case_json(c) for c in g.cases]} for g in groups]


@router.get("/v1/cases/{case_id}", summary="One case with its audit trail")
async def one(request: Request, case_id: int) -> dict[str, Any]:
    try:
        case = await asyncio.to_thread(_store(request).get, case_id)
    except CaseError as exc:
        raise HTTPException(404, str(exc)) from None
    return case_json(case, events=True)


@router.get("/v1/label-conflicts", summary="Labels that contradict an earlier other source")
async def conflicts(request: Request) -> list[dict[str, Any]]:
    rows = await asyncio.to_thread(_store(request).conflicts)
    return [
        {
            "transaction_id": c.transaction_id,
            "earlier": {
                "source": c.earlier_source,
                "is_fraud": c.earlier_is_fraud,
                "reported_at": utc(c.earlier_reported_at).isoformat(),
            },
            "later": {
                "source": c.later_source,
                "is_fraud": c.later_is_fraud,
                "reported_at": utc(c.later_reported_at).isoformat(),
            },
            "recorded_at": utc(c.recorded_at).isoformat(),
        }
        for c in rows
    ]
