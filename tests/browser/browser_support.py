"""Constants and helpers of the browser tests (fixtures live in ``conftest.py``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

PASSWORD = "analyst password 1"


class LiveApi:
    def __init__(self, url: str, state: Any) -> None:
        self.url = url
        self.state = state


def keep_screenshot(path: Path, name: str) -> None:
    """With FRAUDOPS_UPDATE_SCREENSHOTS=1 the screenshot replaces the one in docs/img."""
    if os.environ.get("FRAUDOPS_UPDATE_SCREENSHOTS") == "1":
        docs = Path(__file__).parents[2] / "docs" / "img"
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, docs / name)
