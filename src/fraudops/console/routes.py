"""The analyst console's pages under ``/console`` (server-rendered, htmx for the buttons).

Every page needs a session (else a redirect to the login page); every POST needs the
session's CSRF token. A verdict closes the case and goes to the label feed at once with
``source=analyst``; "block card" puts the card on the block list the policy reads.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from fraudops.cases.models import VERDICTS
from fraudops.cases.recorder import CaseRecorder
from fraudops.cases.store import CaseError, CaseStore
from fraudops.cases.users import authenticate
from fraudops.console import views
from fraudops.console.session import (
    COOKIE,
    SESSION_SECONDS,
    ConsoleSession,
    check_login_form_token,
    current_session,
    login_form_token,
    new_session_cookie,
    require_csrf,
)
from fraudops.decisions.lists import ListEntry
from fraudops.serving.auth import refuse_if_limited
from fraudops.serving.deps import client_address

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
templates.env.filters["age"] = views.age_text
router = APIRouter(prefix="/console", include_in_schema=False)
Session = Annotated[ConsoleSession, Depends(current_session)]


def _state(request: Request) -> Any:
    return request.app.state.fraudops


def _cases(request: Request) -> CaseStore:
    recorder: CaseRecorder | None = _state(request).cases
    if recorder is None:
        raise HTTPException(503, "the case store is not available in this process")
    return recorder.store


def _page(request: Request, name: str, session: ConsoleSession | None, **context: Any) -> Any:
    return templates.TemplateResponse(request, name, {"session": session, **context})


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Any:
    return _page(request, "login.html", None, token=login_form_token(request), error=None)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf_token: Annotated[str, Form(max_length=512)],
) -> Any:
    check_login_form_token(request, csrf_token)
    store = _cases(request)
    # wrong passwords count against the same per-client limit as wrong API keys
    limiter = _state(request).auth_limiter
    client = client_address(request.scope.get("client"))
    refuse_if_limited(limiter, client)
    user = await asyncio.to_thread(authenticate, store, username, password)
    if user is None:
        limiter.record_failure(client)
        response = _page(
            request,
            "login.html",
            None,
            token=login_form_token(request),
            error="Wrong user name or password.",
        )
        response.status_code = 401
        return response
    redirect = RedirectResponse("/console", status_code=303)
    redirect.set_cookie(
        COOKIE,
        new_session_cookie(request, user.username, user.role),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=_state(request).settings.env == "production",
        path="/console",
    )
    return redirect


@router.post("/logout")
async def logout(request: Request, session: Session) -> Response:
    await require_csrf(request, session)
    redirect = RedirectResponse("/console/login", status_code=303)
    redirect.delete_cookie(COOKIE, path="/console")
    return redirect


@router.get("", response_class=HTMLResponse)
async def queue(request: Request, session: Session) -> Any:
    store = _cases(request)
    groups = await asyncio.to_thread(store.queue)
    stats = await asyncio.to_thread(store.queue_stats, views.now_utc())
    return _page(request, "queue.html", session, groups=groups, stats=stats)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(request: Request, session: Session, case_id: int) -> Any:
    store = _cases(request)
    state = _state(request)
    try:
        case = await asyncio.to_thread(store.get, case_id)
    except CaseError as exc:
        raise HTTPException(404, str(exc)) from None
    card_cases = await asyncio.to_thread(store.card_cases, case.card_id)
    log = state.prediction_log
    timeline = await asyncio.to_thread(
        views.card_timeline,
        case,
        card_cases,
        log.uri if log is not None else None,
        state.settings.storage_options(),
    )
    blocked = state.lists is not None and any(
        e.value == case.card_id for e in state.lists.entries("block", "card", views.now_utc())
    )
    return _page(
        request, "case.html", session, case=case, timeline=timeline, blocked=blocked, message=None
    )


def _may_work(session: ConsoleSession, owner: str | None) -> None:
    if owner not in (None, session.username) and not session.is_admin:
        raise HTTPException(403, f"this case belongs to {owner}; an admin can reassign it")


@router.post("/cases/{case_id}/take")
async def take(request: Request, session: Session, case_id: int) -> Response:
    await require_csrf(request, session)
    store = _cases(request)
    try:
        case = await asyncio.to_thread(store.get, case_id)
        _may_work(session, case.owner)
        now = views.now_utc()
        await asyncio.to_thread(store.assign, case_id, session.username, session.username, now)
        if case.state == "open":
            await asyncio.to_thread(store.transition, case_id, "in_review", session.username, now)
    except CaseError as exc:
        raise HTTPException(409, str(exc)) from None
    return RedirectResponse(f"/console/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/verdict", response_class=HTMLResponse)
async def verdict(
    request: Request,
    session: Session,
    case_id: int,
    verdict: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Any:
    await require_csrf(request, session)
    if verdict not in VERDICTS:
        raise HTTPException(422, f"verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
    state = _state(request)
    store = _cases(request)
    if state.service is None:
        raise HTTPException(503, "the scoring service is starting")
    now = views.now_utc()
    try:
        case = await asyncio.to_thread(store.get, case_id)
        _may_work(session, case.owner)
        case = await asyncio.to_thread(
            store.transition, case_id, verdict, session.username, now, note
        )
    except CaseError as exc:
        raise HTTPException(409, str(exc)) from None
    # the label feed and the online risk features hear of it now, not weeks later
    is_fraud = 1 if verdict == "fraud" else 0
    state.service.add_label(case.transaction_id, is_fraud, now, source="analyst")
    return _fragment(request, session, case_id, f"Verdict recorded: {verdict}.")


@router.post("/cases/{case_id}/block", response_class=HTMLResponse)
async def block_card(request: Request, session: Session, case_id: int) -> Any:
    await require_csrf(request, session)
    state = _state(request)
    store = _cases(request)
    if state.lists is None:
        raise HTTPException(503, "lists are not configured in this process")
    try:
        case = await asyncio.to_thread(store.get, case_id)
    except CaseError as exc:
        raise HTTPException(404, str(exc)) from None
    now = views.now_utc()
    entry = ListEntry(
        list="block",
        kind="card",
        value=case.card_id,
        reason=f"case {case_id}",
        added_by=session.username,
        added_at=now,
    )
    await asyncio.to_thread(state.lists.add, entry)
    await asyncio.to_thread(
        store.note, case_id, session.username, "block_card", f"card {case.card_id}", now
    )
    return _fragment(request, session, case_id, f"Card {case.card_id} is on the block list.")


def _fragment(request: Request, session: ConsoleSession, case_id: int, message: str) -> Any:
    """After an htmx action: the case's actions and audit trail, re-rendered."""
    state = _state(request)
    case = _cases(request).get(case_id)
    blocked = state.lists is not None and any(
        e.value == case.card_id for e in state.lists.entries("block", "card", views.now_utc())
    )
    return _page(request, "case_actions.html", session, case=case, blocked=blocked, message=message)


@router.get("/rules", response_class=HTMLResponse)
async def rules_page(request: Request, session: Session) -> Any:
    state = _state(request)
    current = state.rules.current if state.rules is not None else None
    backtest = views.last_backtest(state.settings.home)
    rows = views.rule_rows(current, state.metrics.registry, backtest)
    status = state.rules.status if state.rules is not None else None
    return _page(request, "rules.html", session, rows=rows, status=status, backtest=backtest)


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request, session: Session) -> Any:
    state = _state(request)
    store = _cases(request)
    now = views.now_utc()
    stats = await asyncio.to_thread(store.queue_stats, now)
    precision = await asyncio.to_thread(
        store.analyst_precision, now, state.settings.label_maturity_days
    )
    conflicts = await asyncio.to_thread(store.conflicts, 50)
    recorder = state.cases
    return _page(
        request,
        "dashboard.html",
        session,
        stats=stats,
        precision=precision,
        conflicts=conflicts,
        recorder=recorder,
    )
