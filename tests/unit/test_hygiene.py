from __future__ import annotations

import json
import subprocess
import sys


def test_import_studio_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, json, studio, studio.cli, studio.show, studio.plan, studio.config, studio.station;"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'textual', 'torch', 'chromadb', 'diffusers', 'transformers', 'cv2', 'langchain_openai'})))"
    )
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert loaded == []


def test_agents_never_import_backends_or_subprocess() -> None:
    from pathlib import Path

    import studio

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
