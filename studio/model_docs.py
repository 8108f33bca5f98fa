"""`DocumentedModel`: pydantic models whose fields are described by the docstrings written under them.

pydantic's own `use_attribute_docstrings` finds each class's source by walking the interpreter's frames and asking
`inspect.getmodule` about every one of them, which looks at every module loaded: 40 ms to import `studio.plan`
alone, a tenth of `studio critique`'s start-up. Here each module's source is parsed once, when its first model is
defined, and every model in it takes its fields' docstrings from that one tree: the same descriptions (the JSON
schemas an LLM is shown are the same, `tests/unit/test_model_docs.py`) for a fraction of the time.
"""

from __future__ import annotations

import ast
import functools
import inspect
import sys
import textwrap
from typing import Any

from pydantic import BaseModel, ConfigDict


class DocumentedModel(BaseModel):
    """A model whose fields without a `description` take the docstring under them, as with pydantic's
    `use_attribute_docstrings`. Its schema is built when first used (`defer_build`), after the descriptions are
    in place; a subclass must keep it so."""

    model_config = ConfigDict(defer_build=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        docs = attribute_docstrings(cls)
        for name, field in cls.__pydantic_fields__.items():
            if field.description is None and name in docs:
                field.description = docs[name]


def attribute_docstrings(cls: type) -> dict[str, str]:
    """The docstrings written under the annotated attributes in `cls`'s own body: {attribute: cleaned docstring}."""
    node = _class_node(cls)
    if node is None:
        return {}
    docs: dict[str, str] = {}
    target: str | None = None
    previous: ast.stmt | None = None
    # pydantic's DocstringVisitor: a string statement right after an annotated assignment to a plain name.
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign):
            target = statement.target.id if isinstance(statement.target, ast.Name) else None
        elif (
            isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
            and isinstance(previous, ast.AnnAssign)
        ):
            if target:
                docs[target] = inspect.cleandoc(statement.value.value)
            target = None
        previous = statement
    return docs


def _class_node(cls: type) -> ast.ClassDef | None:
    """`cls`'s class statement: found by its qualified name in its module's parsed source, or for a class
    defined inside a function, by `inspect`."""
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    parts = cls.__qualname__.split(".")
    if path and "<locals>" not in parts:
        body: list[ast.stmt] = _module_tree(path).body
        found: ast.ClassDef | None = None
        for part in parts:
            found = next((s for s in body if isinstance(s, ast.ClassDef) and s.name == part), None)
            if found is None:
                break
            body = found.body
        if found is not None:
            return found
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return None
    return next((s for s in ast.walk(tree) if isinstance(s, ast.ClassDef) and s.name == cls.__name__), None)


@functools.lru_cache(maxsize=2)  # a module's models are defined one after another
def _module_tree(path: str) -> ast.Module:
    with open(path, encoding="utf-8") as source:
        return ast.parse(source.read(), filename=path)
