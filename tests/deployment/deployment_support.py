"""Paths and the script loader of the deployment tests, importable by name from any test
module (``conftest`` is ambiguous when pytest collects several test folders at once)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
DEPLOYMENT = REPO / "deployment"


def load_script(name: str) -> ModuleType:
    """Import one of the stdlib scripts of deployment/ (they are not a package)."""
    path = DEPLOYMENT / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"deployment_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
