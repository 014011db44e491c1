"""End to end in a real browser: an analyst logs in, works a case to a verdict, blocks the
card, and the card's next transaction is declined by the block list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from browser_support import PASSWORD, LiveApi, keep_screenshot

from fraudops.serving.schemas import EXAMPLE_TRANSACTION

KEY = {"X-API-Key": "dev-api-key"}
ADMIN = {"X-API-Key": "dev-admin-key"}
RULES = """
version: "1"
rules:
  - name: big_spend
    condition: amount > 500
    outcome: review
    priority: 10
"""


def predict(api: LiveApi, **fields: Any) -> dict[str, Any]:
    body = {**EXAMPLE_TRANSACTION, **fields}
    response = httpx.post(f"{api.url}/v1/predict", json=body, headers=KEY, timeout=10)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_analyst_works_a_case_and_blocks_the_card(
    live_api: LiveApi, browser_page: Any, tmp_path: Path
) -> None:
    rules = httpx.put(f"{live_api.url}/admin/rules", content=RULES, headers=ADMIN, timeout=10)
    assert rules.status_code == 200, rules.text
    for i, amount in enumerate((40.0, 75.0, 820.0)):
        moment = f"2026-03-01T{9 + 2 * i:02d}:15:00Z"
        predict(
            live_api,
            transaction_id=f"tx-b{i}",
            card_id="card-browser",
            amount=amount,
            timestamp=moment,
        )
    predict(
        live_api,
        transaction_id="tx-other",
        card_id="card-other",
        amount=610.0,
        timestamp="2026-03-01T14:40:00Z",
    )
    live_api.state.cases.drain()
    live_api.state.prediction_log.flush()  # the timeline reads the prediction log

    page = browser_page
    page.goto(f"{live_api.url}/console")
    assert page.url.endswith("/console/login")
    page.fill("input[name=username]", "ana")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_api.url}/console")
    groups = page.locator(".card-group")
    assert groups.count() == 2
    page.screenshot(path=str(tmp_path / "console-queue.png"), full_page=True)
    keep_screenshot(tmp_path / "console-queue.png", "console-queue.png")

    page.locator(".card-group[data-card=card-browser] a").first.click()
    page.wait_for_selector("#timeline")
    assert page.locator("#timeline tr").count() == 4  # header + the card's 3 transactions
    page.click("text=Take the case")
    page.wait_for_selector("#case-state:has-text('in_review')")
    page.click("button.fraud")
    page.wait_for_selector("text=Verdict recorded: fraud")
    page.click("button.block")
    page.wait_for_selector("text=Card card-browser is on the block list.")
    page.screenshot(path=str(tmp_path / "console-case.png"), full_page=True)
    keep_screenshot(tmp_path / "console-case.png", "console-case.png")
    audit = page.locator("#audit").inner_text()
    assert "verdict" in audit
    assert "block_card" in audit

    answer = predict(
        live_api,
        transaction_id="tx-b9",
        card_id="card-browser",
        amount=12.0,
        timestamp="2026-03-01T16:00:00Z",
    )
    assert (answer["decision"], answer["decided_by"]["stage"]) == ("decline", "block_list")
    live_api.state.label_log.flush()
    live_api.state.cases.drain()
    case = httpx.get(f"{live_api.url}/v1/cases", headers=ADMIN, timeout=10).json()
    assert [g["card_id"] for g in case] == ["card-other"]  # the worked case left the queue
