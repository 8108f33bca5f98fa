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
# No module loads these when imported: the GPU stack, the TUI, the memory and Ray load lazily, where they are used.
NEVER_AT_IMPORT = {"textual", "torch", "chromadb", "diffusers", "transformers", "langchain_openai", "ray"}
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


TUI_MODULES = ["studio.tui", "studio.tui.view", "studio.tui.app"]
# The TUI is a client of the station store: the store (with the commands), the events, and what they are built of.
TUI_MAY_LOAD = {"studio", "studio.tui", "studio.tui.view", "studio.tui.app", "studio.station", "studio.events",
                "studio.canon", "studio.colours", "studio.errors"}  # fmt: skip


@pytest.mark.parametrize("module", TUI_MODULES)
def test_the_tui_loads_only_the_store_and_events_of_the_core(module: str) -> None:
    code = (
        "import importlib, json, sys; "
        f"importlib.import_module({module!r}); "
        "print(json.dumps(sorted(name for name in sys.modules if name == 'studio' or name.startswith('studio.'))))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    loaded = set(json.loads(completed.stdout))
    assert module in loaded and loaded <= TUI_MAY_LOAD, sorted(loaded - TUI_MAY_LOAD)
    # textual-image draws pictures with numpy; the graph, media, model and memory stacks stay out.
    assert loaded_after_import(module, FRONT_DOOR_NEVER - {"textual", "numpy"}) == []


def test_the_tui_sources_import_nothing_else_of_the_core() -> None:
    """Lazy imports inside functions count too: the sources name no other core module."""
    tui = Path(studio.__file__).parent.parent / "tui"
    allowed = {"studio.station", "studio.events", "studio.tui"}
    for source in tui.glob("*.py"):
        for line in source.read_text().splitlines():
            words = line.split()
            if words[:1] not in (["from"], ["import"]) or len(words) < 2 or not words[1].startswith("studio"):
                continue
            # `from studio import events as ev` imports studio.events
            module = f"studio.{words[3].rstrip(',')}" if words[1] == "studio" and words[0] == "from" else words[1]
            assert any(module == name or module.startswith(name + ".") for name in allowed), (
                f"{source.name}: {line.strip()}"
            )
