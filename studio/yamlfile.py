"""Reading a YAML file a person wrote (a show file), safely: whatever the file — huge, binary, in another encoding,
deeply nested, an alias bomb, a pipe or a device — the answer is a quick `ShowFileError` naming the file and line.

One pass: the bytes are read (at most `MAX_SHOW_BYTES` + 1, never from something that is not a regular file),
decoded, composed into a node graph without recursion while the limits are counted, walked once for line numbers
and for what YAML lets through that a show file must not hold, and only then constructed into Python data.
"""

from __future__ import annotations

import codecs
import dataclasses
import os
import re
import stat
import typing
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ValidationError

from studio.errors import ShowFileError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

ModelT = typing.TypeVar("ModelT", bound=BaseModel)

MAX_SHOW_BYTES = 256 * 1024
"""Largest show file accepted. A real one is a few KB; anything near this is the wrong file or a hostile one."""
MAX_DEPTH = 40
"""Deepest nesting accepted; the schema needs about 5. PyYAML's own composer recurses (and libyaml's crashes)."""
MAX_NODES = 10_000
"""Most values a show file may hold once aliases are expanded (a real one has about 200). Stops "billion laughs"
files early, and keeps the worst file well under a second even with PyYAML's pure-Python parser."""
MAX_EXPANDED_CHARACTERS = 4 * MAX_SHOW_BYTES
"""Most characters of text a show file may hold once aliases are expanded (a long text repeated by aliases)."""
MAX_REPORTED = 50
"""Most problem lines reported for one file; the rest are counted."""
_MAX_PROBLEM_CHARS = 600

# The C loader is much faster and gives the same marks; PyYAML falls back to pure Python without libyaml.
Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_TAG = "tag:yaml.org,2002:"
_STR, _SEQ, _MAP, _MERGE, _VALUE = (f"{_TAG}{name}" for name in ("str", "seq", "map", "merge", "value"))
_TAG_KINDS = {
    f"{_TAG}int": "a number",
    f"{_TAG}float": "a number",
    f"{_TAG}bool": "true/false",
    f"{_TAG}null": "empty (null)",
    f"{_TAG}timestamp": "a date",
}
# Every character YAML allows; anything else would be a reader error without a line number.
_NOT_YAML_CHARACTER = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),  # before UTF-16: its mark starts with UTF-16's little-endian one
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
_BINARY_SIGNATURES = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"PK\x03\x04", "a zip archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"(\xb5/\xfd", "a zstd archive"),
    (b"%PDF-", "a PDF document"),
    (b"\x7fELF", "a program"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
_NOT_REGULAR = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def show_error(message: str) -> ShowFileError:
    return ShowFileError(_shorten(message))


def _shorten(problem: str) -> str:
    """Keeps a problem line readable when it quotes a huge value or key."""
    if len(problem) <= _MAX_PROBLEM_CHARS:
        return problem
    head, tail = problem[:420], problem[-150:]
    return f"{head} … ({len(problem) - 570} characters left out) … {tail}"


def clip(text: str, quote: bool = True) -> str:
    """A value short enough to quote in a problem line."""
    clipped = text if len(text) <= 60 else text[:57] + "…"
    return repr(clipped) if quote else clipped


def _at(source: str, mark: Any, message: str) -> ShowFileError:
    return show_error(f"{source}:{mark.line + 1}: {message}")


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    text = f"{size / 1024:.1f} KiB"
    return f"{size:,} bytes" if text == f"{MAX_SHOW_BYTES / 1024:.1f} KiB" else text


def _too_large(source: str, size: int | None) -> ShowFileError:
    what = f"{_size(size)} is" if size is not None else "it is"
    return show_error(
        f"{source}: {what} larger than the {MAX_SHOW_BYTES // 1024} KiB a show file may be"
        " (a real one is a few KB; check that this is the show file you meant)"
    )


def read_show_bytes(path: Path) -> bytes:
    """At most MAX_SHOW_BYTES + 1 bytes of a regular file; anything else is refused before it can block or flood."""
    source = str(path)
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise show_error(f"{source}: no such show file (try one of the files in shows/)") from None
    except PermissionError:
        raise show_error(
            f"{source}: permission denied: cannot reach the file (check the folders' permissions)"
        ) from None
    except (OSError, ValueError) as error:
        raise show_error(f"{source}: cannot open the show file: {getattr(error, 'strerror', None) or error}") from None
    _refuse_irregular(source, info)
    if info.st_size > MAX_SHOW_BYTES:
        raise _too_large(source, info.st_size)
    # O_NONBLOCK: if the path was swapped for a FIFO after the stat, opening it must not wait for a writer.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise show_error(f"{source}: no such show file (try one of the files in shows/)") from None
    except PermissionError:
        raise show_error(f"{source}: permission denied: cannot read the file (make it readable: chmod a+r)") from None
    except OSError as error:
        raise show_error(f"{source}: cannot open the show file: {error.strerror or error}") from None
    try:
        _refuse_irregular(source, os.fstat(descriptor))
        chunks: list[bytes] = []
        left = MAX_SHOW_BYTES + 1
        while left > 0:
            chunk = os.read(descriptor, min(left, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as error:
        raise show_error(f"{source}: cannot read the show file: {error.strerror or error}") from None
    finally:
        os.close(descriptor)
    if left <= 0:
        raise _too_large(source, None)  # it grew after the stat, or it lies about its size
    return b"".join(chunks)


def _refuse_irregular(source: str, info: os.stat_result) -> None:
    if stat.S_ISREG(info.st_mode):
        return
    kind = next((name for test, name in _NOT_REGULAR if test(info.st_mode)), "a special file")
    raise show_error(
        f"{source}: is {kind}, not a regular file; give the path of a show file such as shows/cooking.yaml"
    )


def decode(data: bytes, source: str) -> str:
    for mark, codec, name in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as error:
                line = data[: error.start].decode(codec, errors="replace").count("\n") + 1
                raise show_error(
                    f"{source}:{line}: not valid {name} text although it starts with a {name} byte-order mark"
                    f" ({error.reason} at line {line}); save it as UTF-8"
                ) from None
    for signature, kind in _BINARY_SIGNATURES:
        if data.startswith(signature):
            raise show_error(f"{source}:1: not a text file (it starts like {kind}); a show file is YAML text")
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        hint = "a show file is YAML text saved as UTF-8"
        if data.count(b"\0") * 3 >= len(data):
            hint = "it may be UTF-16 or UTF-32 text without a byte-order mark: save it as UTF-8"
        raise show_error(f"{source}:{line}: not a text file (found a NUL byte at line {line}); {hint}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        line_start = data.rfind(b"\n", 0, error.start) + 1
        column = len(data[line_start : error.start].decode("utf-8", errors="replace")) + 1
        raise show_error(
            f"{source}:{line}: not UTF-8 text (byte 0x{data[error.start]:02x} at line {line}, column {column});"
            " save it as UTF-8"
        ) from None


def check_size(text: str, source: str) -> None:
    if len(text) * 4 > MAX_SHOW_BYTES:
        size = len(text.encode("utf-8", errors="surrogatepass"))
        if size > MAX_SHOW_BYTES:
            raise _too_large(source, size)


def check_characters(text: str, source: str) -> None:
    bad = _NOT_YAML_CHARACTER.search(text)
    if bad is None:
        return
    line = text.count("\n", 0, bad.start()) + 1
    column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
    if bad.group() == "\0":
        raise show_error(
            f"{source}:{line}: not a text file (found a NUL byte at line {line}); a show file is YAML text"
        )
    raise show_error(
        f"{source}:{line}: control character U+{ord(bad.group()):04X} at line {line}, column {column} is not allowed"
        " in YAML; delete it"
    )


@dataclasses.dataclass(slots=True)
class _Open:
    """A collection being composed, with the values and characters it expands to so far."""

    node: yaml.SequenceNode | yaml.MappingNode
    anchor: str | None
    values: int = 1
    characters: int = 0
    key: yaml.Node | None = None


def compose(loader: Any, source: str) -> yaml.Node | None:
    """The node graph of the stream's only document, composed without recursion.

    Refuses nesting deeper than MAX_DEPTH, and more than MAX_NODES values or MAX_EXPANDED_CHARACTERS characters once
    aliases are expanded. Both are counted as the events arrive (an alias adds what its anchor expands to, known
    once the anchor is closed), so a hostile file stops at the line that makes it too big, before anything is built.
    """
    loader.get_event()  # stream start
    if loader.check_event(yaml.StreamEndEvent):
        return None
    loader.get_event()  # document start
    anchors: dict[str, tuple[yaml.Node, int, int]] = {}
    open_anchors: dict[str, yaml.Node] = {}
    stack: list[_Open] = []
    total_values = total_characters = aliases = 0
    while True:
        event = loader.get_event()
        node: yaml.Node
        values = characters = 0
        if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            closed = stack.pop()
            node, values, characters = closed.node, closed.values, closed.characters
            node.end_mark = event.end_mark
            if closed.anchor is not None:
                del open_anchors[closed.anchor]
                anchors[closed.anchor] = (node, values, characters)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor in open_anchors:
                raise _at(
                    source,
                    event.start_mark,
                    f"alias *{event.anchor} is inside the value &{event.anchor} it repeats, so it never ends;"
                    " repeat a value only after it is closed",
                )
            if event.anchor not in anchors:
                raise _at(
                    source,
                    event.start_mark,
                    f"alias *{event.anchor} has no anchor &{event.anchor} before it; define the anchor first",
                )
            node, values, characters = anchors[event.anchor]
            aliases += 1
            total_values += values
            total_characters += characters
        else:
            anchor = event.anchor
            if anchor is not None and (anchor in anchors or anchor in open_anchors):
                first = open_anchors[anchor] if anchor in open_anchors else anchors[anchor][0]
                raise _at(
                    source,
                    event.start_mark,
                    f"anchor &{anchor} is defined twice (first at line {first.start_mark.line + 1});"
                    " give one of them another name",
                )
            tag = event.tag
            if isinstance(event, yaml.ScalarEvent):
                if tag is None or tag == "!":
                    tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
                node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
                values, characters = 1, len(event.value)
                total_values += 1
                total_characters += characters
                if anchor is not None:
                    anchors[anchor] = (node, values, characters)
            else:
                if len(stack) >= MAX_DEPTH:
                    raise _at(
                        source,
                        event.start_mark,
                        f"nesting is deeper than {MAX_DEPTH} levels (a show file needs about 5);"
                        " check the brackets and indentation here",
                    )
                kind = yaml.SequenceNode if isinstance(event, yaml.SequenceStartEvent) else yaml.MappingNode
                if tag is None or tag == "!":
                    tag = loader.resolve(kind, None, event.implicit)
                node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
                stack.append(_Open(node, anchor))
                if anchor is not None:
                    open_anchors[anchor] = node
                total_values += 1
        if total_values > MAX_NODES or total_characters > MAX_EXPANDED_CHARACTERS:
            how = " once its aliases are expanded (anchors that repeat anchors)" if aliases else ""
            what = f"{MAX_NODES:,} values" if total_values > MAX_NODES else f"{MAX_EXPANDED_CHARACTERS:,} characters"
            raise _at(
                source,
                event.start_mark,
                f"the file holds more than {what}{how}; a show file holds far fewer"
                + ("; repeat only small values such as a palette" if aliases else ""),
            )
        if values == 0:
            continue  # a collection just opened: it joins its parent when it closes
        if not stack:
            _refuse_second_document(loader, source)
            return node
        parent = stack[-1]
        parent.values += values
        parent.characters += characters
        if isinstance(parent.node, yaml.SequenceNode):
            parent.node.value.append(node)
        elif parent.key is None:
            parent.key = node
        else:
            parent.node.value.append((parent.key, node))
            parent.key = None


def _refuse_second_document(loader: Any, source: str) -> None:
    loader.get_event()  # document end
    if loader.check_event(yaml.DocumentStartEvent):
        raise _at(
            source,
            loader.get_event().start_mark,
            "a second YAML document starts here, but a show file is one document;"
            " remove this `---` and what follows, or move it to a file of its own",
        )


class Walk:
    """Line numbers of every path in the node graph, and the problems YAML itself lets through.

    Keys that are not names, tags a show file never needs and values YAML cannot build are reported and then
    dropped or read as text, so that the schema can still report everything else in the same pass.
    """

    def __init__(self, source: str, loader: Any, allowed_keys: Callable[[tuple[Any, ...]], list[str]]) -> None:
        self.source = source
        self.loader = loader
        self.allowed_keys = allowed_keys
        self.lines: dict[tuple[Any, ...], int] = {}
        self.found: list[tuple[int, str]] = []
        self.reported: set[tuple[Any, ...]] = set()

    def problem(self, node: yaml.Node, path: tuple[Any, ...], message: str) -> None:
        line = node.start_mark.line + 1
        self.found.append((line, f"{self.source}:{line}: {dotted(path)}: {message}"))

    def value_problem(self, node: yaml.Node, path: tuple[Any, ...], message: str) -> None:
        self.reported.add(path)
        self.problem(node, path, message)

    def visit(self, node: yaml.Node, path: tuple[Any, ...]) -> None:
        self.lines[path] = node.start_mark.line + 1
        self.check_tag(node, path)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            kept: list[tuple[yaml.Node, yaml.Node]] = []
            for key_node, value_node in node.value:
                if not (isinstance(key_node, yaml.ScalarNode) and key_node.tag in (_STR, _MERGE, _VALUE)):
                    self.problem(key_node, path, self.not_a_name(key_node, path))
                    continue
                key = key_node.value
                if key in seen:
                    line = key_node.start_mark.line + 1
                    self.found.append((line, f"{self.source}:{line}: {dotted(path + (key,))}: duplicate key"))
                seen.add(key)
                kept.append((key_node, value_node))
                self.lines[path + (key,)] = key_node.start_mark.line + 1
                self.visit(value_node, path + (key,))
            node.value = kept
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.visit(item, path + (index,))

    def not_a_name(self, key_node: yaml.Node, path: tuple[Any, ...]) -> str:
        allowed = self.allowed_keys(path)
        names = f"keys here are {', '.join(allowed)}" if allowed else "keys are names"
        if isinstance(key_node, yaml.ScalarNode):
            kind = _TAG_KINDS.get(key_node.tag, f"tag {_short_tag(key_node.tag)}")
            return f"key {clip(key_node.value)} is read as {kind}, not as a name; {names} (quote a key meant as text)"
        what = "a list" if isinstance(key_node, yaml.SequenceNode) else "a mapping"
        return f"{what} is used as a key; {names}"

    def check_tag(self, node: yaml.Node, path: tuple[Any, ...]) -> None:
        if isinstance(node, yaml.ScalarNode):
            if node.tag in (_STR, _MERGE, _VALUE):
                node.tag = _STR  # `<<` and `=` only mean something as keys
                return
            kind = _TAG_KINDS.get(node.tag)
            if kind is None:
                self.value_problem(node, path, f"tag {_short_tag(node.tag)} is not used in show files; remove it")
            else:
                try:
                    self.loader.yaml_constructors[node.tag](self.loader, node)
                    return
                except Exception as error:  # the constructors raise ValueError, TypeError … on odd values
                    reason = clip(str(error).partition(";")[0], quote=False)
                    message = f"cannot read {clip(node.value)} as {kind} ({reason}); quote it if it is text"
                    self.value_problem(node, path, message)
            node.tag = _STR
        else:
            expected = _SEQ if isinstance(node, yaml.SequenceNode) else _MAP
            if node.tag != expected:
                self.value_problem(node, path, f"tag {_short_tag(node.tag)} is not used in show files; remove it")
                node.tag = expected


def dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def line_for(path: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path, 1)


def report(source: str, found: list[tuple[int, str]]) -> ShowFileError:
    problems = list(dict.fromkeys(text for _, text in sorted(found, key=lambda item: item[0])))
    shown = [_shorten(problem) for problem in problems[:MAX_REPORTED]]
    if len(problems) > MAX_REPORTED:
        shown.append(f"{source}: … and {len(problems) - MAX_REPORTED} more problems (fix these first)")
    return ShowFileError(f"{len(problems)} problem(s) in {source}:\n  " + "\n  ".join(shown), shown)


def allowed_keys(root: type[BaseModel], path: tuple[Any, ...]) -> list[str]:
    """Field names of the model at `path` inside a document of `root`, for 'unknown key' messages."""
    model: Any = root
    for part in path:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        args = typing.get_args(field.annotation)
        model = next((a for a in (field.annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return list(model.model_fields)


def _as_mapping(source: str, text: str, root: yaml.Node | None, expected: str) -> yaml.MappingNode:
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag.endswith(":null") and not root.value):
        holds = "holds only comments" if text.strip() else "is empty"
        raise show_error(f"{source}:1: {expected}, but this file {holds} (start from one of the files in shows/)")
    if isinstance(root, yaml.MappingNode):
        return root
    line = root.start_mark.line + 1
    if isinstance(root, yaml.SequenceNode):
        raise show_error(f"{source}:{line}: {expected}, but this file holds a list (write `key: value` lines)")
    raise show_error(f"{source}:{line}: {expected}, but this file holds the single value {clip(root.value)}")


def parse_document(
    text: str,
    source: str,
    model: type[ModelT],
    *,
    expected: str,
    as_text: Callable[[yaml.MappingNode], None] | None = None,
    after: Callable[[ModelT], list[str]] | None = None,
) -> ModelT:
    """Validate the text of a file a person wrote against `model`, every problem at once as `file:line: field:`.

    `expected` says what such a file is (for an empty file or one that is not a mapping). `as_text` may retag
    scalar nodes of the walked graph as text before it is built (a time "06:00" that YAML 1.1 reads as a number).
    Cross-reference problems of a model validator are lines `dotted.path: message`, located here; so are the
    problems `after` finds in a valid document (the files it names, say)."""
    check_characters(text, source)
    loader = Loader(text)
    try:
        root = _as_mapping(source, text, compose(loader, source), expected)
        walk = Walk(source, loader, lambda path: allowed_keys(model, path))
        walk.visit(root, ())
        if as_text is not None:
            as_text(root)
        data = loader.construct_document(root)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(error, "problem", None) or str(error)
        raise show_error(f"{source}:{line}: not valid YAML: {problem}") from None
    except RecursionError:
        raise show_error(f"{source}:1: nesting is too deep to read (a show file needs about 5 levels)") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise show_error(f"{source}:1: {expected}")
    found = walk.found
    lines = walk.lines
    try:
        document = model.model_validate(data)
        if after is not None and not found:
            _locate(after(document), source, lines, found)
    except ValidationError as error:
        for item in error.errors():
            loc = tuple(item["loc"])
            message = item["msg"]
            if item["type"] == "extra_forbidden":
                message = f"unknown key (check the spelling; allowed here: {', '.join(allowed_keys(model, loc[:-1]))})"
            elif item["type"] == "missing":
                message = "required field is missing"
            elif message.startswith("Value error, "):
                message = message.removeprefix("Value error, ")
            if not loc and ": " in message:
                _locate(message.split("\n"), source, lines, found)  # they carry their own dotted location
                continue
            if loc in walk.reported:
                continue  # already said what is wrong with this value
            line = line_for(loc, lines)
            found.append((line, f"{source}:{line}: {dotted(loc)}: {message}"))
    if found:
        raise report(source, found)
    return document


def _locate(problems: list[str], source: str, lines: dict[tuple[Any, ...], int], found: list[tuple[int, str]]) -> None:
    """Problem lines `dotted.path: message` as `file:line: dotted.path: message`."""
    for part in problems:
        where, _, what = part.partition(": ")
        keys = tuple(int(k) if k.isdigit() else k for k in where.split("."))
        line = line_for(keys, lines)
        found.append((line, f"{source}:{line}: {where}: {what}"))
