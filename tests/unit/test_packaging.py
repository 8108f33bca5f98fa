"""What `pip install .` installs: every package of the repository, memory/ under the studio namespace."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO


def test_every_package_directory_is_listed_and_mapped() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapped = {name: REPO / path for name, path in config.get("package-dir", {}).items()}
    found = {
        "studio." + ".".join(path.parent.relative_to(REPO / "studio").parts)
        if path.parent != REPO / "studio"
        else "studio"
        for path in (REPO / "studio").rglob("__init__.py")
    }
    for name, root in mapped.items():
        found |= {
            name + "".join(f".{part}" for part in path.parent.relative_to(root).parts)
            for path in root.rglob("__init__.py")
        }
    assert found == listed
    assert mapped["studio.memory"] == REPO / "memory"
    assert not any(name.split(".")[0] != "studio" for name in listed), "nothing lands outside the studio namespace"
