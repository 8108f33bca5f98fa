"""Import hygiene, checked in fresh interpreters (as harlequin does): the headless core stays light."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import studio
import studio.memory  # noqa: E402 - installed from memory/ at the top of the repository

MODULES = [
    "studio",
    *(module.name for module in pkgutil.walk_packages(studio.__path__, "studio.")),
    "studio.memory",
    *(module.name for module in pkgutil.walk_packages(studio.memory.__path__, "studio.memory.")),
]
# No module loads these when imported: the GPU stack, the TUI and the memory load lazily, where they are used.
NEVER_AT_IMPORT = {"textual", "torch", "chromadb", "diffusers", "transformers", "langchain_openai"}
# What a person types most (`studio log`, `steer`, `skip`, `validate`) starts without the media or graph stack.
FRONT_DOOR = ["studio", "studio.cli", "studio.config", "studio.show", "studio.plan", "studio.station", "studio.events",
              "studio.secrets", "studio.progress", "studio.errors", "studio.lock", "studio.canon", "studio.steering",
              "studio.vocabulary", "studio.memory"]  # fmt: skip
FRONT_DOOR_NEVER = NEVER_AT_IMPORT | {"cv2", "numpy", "langgraph", "av", "rapidocr", "onnxruntime"}


def loaded_after_import(module: str, candidates: set[str]) -> list[str]:
    code = (
        "import importlib, json, sys; "
        f"importlib.import_module({module!r}); "
        f"print(json.dumps(sorted({{name.split('.')[0] for name in sys.modules}} & set({sorted(candidates)!r}))))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_every_module_is_checked() -> None:
    assert {"studio.runtime", "studio.events", "studio.broadcast.playout", "studio.tools.video_zeroscope"} <= set(
        MODULES
    )


@pytest.mark.parametrize("module", MODULES)
def test_importing_a_module_loads_no_heavy_dependency(module: str) -> None:
    assert loaded_after_import(module, NEVER_AT_IMPORT) == []


@pytest.mark.parametrize("module", FRONT_DOOR)
def test_the_front_door_loads_no_media_or_graph_stack(module: str) -> None:
    assert loaded_after_import(module, FRONT_DOOR_NEVER) == []


def test_agents_never_import_backends_or_subprocess() -> None:
    agents = Path(studio.__file__).parent / "agents"
    for source in agents.glob("*.py"):
        text = source.read_text()
        for forbidden in (
            "import torch",
            "import chromadb",
            "import subprocess",
            "studio.tools.video_",
            "import diffusers",
        ):
            assert forbidden not in text, f"{source.name} imports {forbidden}"
