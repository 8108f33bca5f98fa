"""A small DOM from the standard library's HTML parser, for tests that read a page the way a browser parses it."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser


@dataclasses.dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = dataclasses.field(default_factory=list)
    text: list[str] = dataclasses.field(default_factory=list)

    def all(self, tag: str, **attrs: str) -> list[Node]:
        """Every element below this one with `tag` (`*` for any) whose attributes match (`class_` is a class)."""
        found = []
        for child in self.children:
            wanted_class = attrs.get("class_")
            others = {key: value for key, value in attrs.items() if key != "class_"}
            if (
                (tag == "*" or child.tag == tag)
                and (wanted_class is None or wanted_class in child.attrs.get("class", "").split())
                and all(child.attrs.get(key) == value for key, value in others.items())
            ):
                found.append(child)
            found += child.all(tag, **attrs)
        return found

    def content(self) -> str:
        return "".join(self.text) + "".join(child.content() for child in self.children)


VOID = {"meta", "img", "br", "hr", "link", "input", "rect"}


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {key: value or "" for key, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].text.append(data)


def parse(text: str) -> Node:
    builder = TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root
