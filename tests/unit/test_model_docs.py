"""`studio.model_docs.DocumentedModel` describes fields exactly as pydantic's `use_attribute_docstrings` does: every
model of every module that uses it is built again from the module's own source with pydantic's option instead, and
the fields' descriptions and the JSON schemas (what an LLM is shown) must be the same."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from studio.model_docs import DocumentedModel, attribute_docstrings

MODULES = ["studio.plan", "studio.show", "studio.channel", "studio.gate", "studio.vision"]

PYDANTICS_WAY = """from pydantic import BaseModel as _PydanticModel, ConfigDict as _PydanticConfig


class DocumentedModel(_PydanticModel):
    model_config = _PydanticConfig(use_attribute_docstrings=True)
"""


def _models(module: object) -> dict[str, type[BaseModel]]:
    return {
        name: value
        for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__  # type: ignore[attr-defined]
    }


@pytest.mark.parametrize("name", MODULES)
def test_fields_are_described_as_pydantic_describes_them(name: str, tmp_path: Path) -> None:
    module = importlib.import_module(name)
    source = Path(module.__file__).read_text(encoding="utf-8")  # type: ignore[arg-type]
    assert "from studio.model_docs import DocumentedModel\n" in source
    reference_name = f"reference_{name.replace('.', '_')}"
    path = tmp_path / f"{reference_name}.py"
    path.write_text(source.replace("from studio.model_docs import DocumentedModel\n", PYDANTICS_WAY), "utf-8")
    spec = importlib.util.spec_from_file_location(reference_name, path)
    assert spec is not None and spec.loader is not None
    reference = importlib.util.module_from_spec(spec)
    sys.modules[reference_name] = reference
    try:
        spec.loader.exec_module(reference)
        ours = _models(module)
        theirs = {name: model for name, model in _models(reference).items() if name != "DocumentedModel"}
        documented = [model for model in ours.values() if issubclass(model, DocumentedModel)]
        assert documented, f"{name} has no DocumentedModel"
        assert sorted(ours) == sorted(theirs)
        described = 0
        for model_name, model in ours.items():
            expected = {field: info.description for field, info in theirs[model_name].model_fields.items()}
            got = {field: info.description for field, info in model.model_fields.items()}
            assert got == expected, model_name
            described += sum(1 for text in got.values() if text)
            assert model.model_json_schema() == theirs[model_name].model_json_schema(), model_name
        assert described >= 3, "the module's fields carry docstrings to compare"
    finally:
        del sys.modules[reference_name]


def test_a_model_defined_in_a_function_reads_its_docstrings_too() -> None:
    class Local(DocumentedModel):
        first: int = 0
        """The first."""
        second: str = ""
        ...
        """Under a statement that is not an annotated assignment: no description."""
        third: float = 0.0
        """The third,
        over two lines."""

    assert {name: field.description for name, field in Local.model_fields.items()} == {
        "first": "The first.",
        "second": None,
        "third": "The third,\nover two lines.",
    }
    assert attribute_docstrings(Local) == {"first": "The first.", "third": "The third,\nover two lines."}


def test_an_explicit_description_wins() -> None:
    from pydantic import Field

    class Explained(DocumentedModel):
        value: int = Field(0, description="said here")
        """Written under."""

    assert Explained.model_fields["value"].description == "said here"
