"""Case files shared by every language's tests (JSON, so the frontend's tests read them too)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def load(name: str) -> dict[str, Any]:
    """tests/cases/<name>.json"""
    cases: dict[str, Any] = json.loads((HERE / f"{name}.json").read_text("utf-8"))
    return cases
