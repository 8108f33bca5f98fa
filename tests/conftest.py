from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHOWS = REPO / "shows"
TEST_SHOWS = REPO / "tests" / "data" / "shows"


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data dir and no LLM endpoint from the developer's environment."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("STUDIO_DATA_DIR", str(data_dir))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "STUDIO_OPENAI_API_KEY", "STUDIO_OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return data_dir


def require_system_tool(name: str) -> str:
    """Path of a system tool the test needs. Skips with the reason when absent, except under CI=true."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (the README's test command installs it when run as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path
