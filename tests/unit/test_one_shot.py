"""A one-shot command (`studio critique`) sets its process up for one short job before anything heavy is imported,
and leaves what a person set alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import studio.malloc_arenas as malloc_arenas
from studio import cli


def test_the_one_shot_process_settings_and_a_persons_own_win(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    monkeypatch.setattr(malloc_arenas, "limit_malloc_arenas", lambda arenas=2: calls.append(("arenas", arenas)))
    monkeypatch.setattr(malloc_arenas, "keep_freed_memory", lambda largest=0: calls.append("keep freed memory"))
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "0")
    cli._one_shot_process()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert os.environ["PYDANTIC_DISABLE_PLUGINS"] == "0", "a person's own setting wins"
    assert calls == [("arenas", 1), "keep freed memory"]


def test_the_settings_are_made_before_numpy_is_imported() -> None:
    """OpenBLAS reads its thread count once, when numpy loads it: `studio critique` must get there first."""
    code = "import sys; from studio import cli; cli.build_parser(); print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
