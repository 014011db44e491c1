"""``POST /v1/labels``: chargebacks and analyst decisions flow back into the features."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError

from fraudops.serving.deps import ApiKey
from fraudops.serving.routes.predict import ERRORS, _body_schema, read_body, validation_error
from fraudops.serving.schemas import LabelIn, LabelOut

router = APIRouter(prefix="/v1", tags=["feedback"], dependencies=[ApiKey])

EXAMPLE = {
    "transaction_id": "tx-20260301-00000042",
    "label": "chargeback",
    "reported_at": "2026-03-12T09:00:00Z",
}


@router.post(
    "/labels",
    response_model=LabelOut,
    responses={k: v for k, v in ERRORS.items() if k != 503},
    openapi_extra=_body_schema(LabelIn, EXAMPLE),
    summary="Report a confirmed fraud, a chargeback or a confirmed genuine transaction",
)
async def add_label(request: Request) -> LabelOut:
    body = await read_body(request)
    try:
        label = LabelIn.model_validate_json(body)
    except ValidationError as exc:
        raise validation_error(exc) from None
    service = request.app.state.fraudops.service
    if service is None:
        raise HTTPException(503, "service is starting")
    source = "chargeback" if label.label == "chargeback" else "api"
    known = service.add_label(label.transaction_id, label.is_fraud, label.reported_at, source)
    return LabelOut(transaction_id=label.transaction_id, accepted=True, known_transaction=known)
