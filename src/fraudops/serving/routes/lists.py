"""``/v1/lists``: allow, block and watch list entries (admin key).

An entry added here is in force at once in this process and, through the shared backend
(SQLite or Redis), in every other API process within ``FRAUDOPS_LISTS_REFRESH_SECONDS``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fraudops.decisions.context import LIST_KINDS
from fraudops.decisions.lists import ListCache, ListEntry, ListError
from fraudops.serving.deps import AdminKey
from fraudops.serving.routes.predict import read_body, validation_error
from fraudops.serving.schemas import STRICT_INPUT, TIME_DESCRIPTION, utc_within_bounds

router = APIRouter(prefix="/v1/lists", tags=["lists"], dependencies=[AdminKey])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing admin key"},
    403: {"description": "Wrong admin key"},
    422: {"description": "Invalid entry (the field is named)"},
    503: {"description": "Lists are not configured in this process"},
}


class ListEntryIn(BaseModel):
    model_config = ConfigDict(**STRICT_INPUT)

    list: str = Field(description="List name: allow, block, or a name rules read (watch…).")
    kind: str = Field(description=f"One of {', '.join(LIST_KINDS)}.")
    value: str = Field(description="The card, device, merchant, terminal id or country code.")
    expires_at: datetime | None = Field(None, description=f"Expiry: {TIME_DESCRIPTION}")
    ttl_days: float | None = Field(None, gt=0, le=3650, description="Or expiry in days.")
    reason: str = Field("", max_length=500)
    added_by: str = Field("", max_length=128)

    @field_validator("expires_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else utc_within_bounds(value, "expires_at")


class ListEntryOut(BaseModel):
    list: str
    kind: str
    value: str
    expires_at: str | None
    reason: str
    added_by: str
    added_at: str | None


def _lists(request: Request) -> ListCache:
    lists: ListCache | None = request.app.state.fraudops.lists
    if lists is None:
        raise HTTPException(503, "lists are not configured in this process")
    return lists


def entry_from(body: ListEntryIn, now: datetime) -> ListEntry:
    """The entry to store; ``ListError`` (a 422) names what is wrong."""
    if body.expires_at is not None and body.ttl_days is not None:
        raise ListError("give expires_at or ttl_days, not both")
    expires = body.expires_at
    if body.ttl_days is not None:
        expires = now + timedelta(days=body.ttl_days)
    if expires is not None and expires <= now:
        raise ListError(f"expires_at {expires.isoformat()} is in the past")
    return ListEntry(
        list=body.list,
        kind=body.kind,
        value=body.value,
        expires_at=expires,
        reason=body.reason,
        added_by=body.added_by,
        added_at=now,
    )


@router.get("", response_model=list[ListEntryOut], responses=ERRORS, summary="Active entries")
async def show(
    request: Request,
    list_name: Annotated[str | None, Query(alias="list")] = None,
    kind: str | None = None,
    include_expired: bool = False,
) -> list[dict[str, Any]]:
    lists = _lists(request)
    now = None if include_expired else datetime.now(UTC)
    entries = await asyncio.to_thread(lists.entries, list_name, kind, now)
    return [e.to_json() for e in entries]


@router.post(
    "", status_code=201, response_model=ListEntryOut, responses=ERRORS, summary="Add an entry"
)
async def add(request: Request) -> dict[str, Any]:
    lists = _lists(request)
    try:
        body = ListEntryIn.model_validate_json(await read_body(request))
    except ValidationError as exc:
        raise validation_error(exc) from None
    try:
        entry = entry_from(body, datetime.now(UTC))
    except ListError as exc:
        raise HTTPException(422, str(exc)) from None
    await asyncio.to_thread(lists.add, entry)
    return entry.to_json()


@router.delete(
    "/{list_name}/{kind}/{value}",
    status_code=204,
    responses={**ERRORS, 404: {"description": "No such entry"}},
    summary="Remove an entry",
)
async def remove(
    request: Request,
    list_name: Annotated[str, Path()],
    kind: Annotated[str, Path()],
    value: Annotated[str, Path()],
) -> Response:
    lists = _lists(request)
    if kind not in LIST_KINDS:
        raise HTTPException(422, f"kind {kind!r} is not one of {', '.join(LIST_KINDS)}")
    if not await asyncio.to_thread(lists.remove, list_name, kind, value):
        raise HTTPException(404, f"{value!r} is not on the {list_name!r} {kind} list")
    return Response(status_code=204)
