"""The canon: how each character, place and prop of a show is described and coloured, looked up by name.

Every prompt that shows an entry carries its `description` verbatim, the renderer draws its `palette`, and the
continuity check holds the picture to it. The canon starts from the show file (`canon_from_show`); the memory
(`studio.memory`) keeps it in the station store with every change (a trait a person pinned, an edited show file).
One lookup for all of it: names match case-insensitively and come back in the show file's spelling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from studio.colours import NAMED_COLOURS, to_hex

if TYPE_CHECKING:
    from studio.show import SegmentFormat, Show

Kind = Literal["character", "place", "prop"]
KINDS: tuple[Kind, ...] = ("character", "place", "prop")


@dataclass(frozen=True)
class CanonEntry:
    kind: Kind
    name: str
    description: str
    """Exactly what every prompt showing this entry says about it."""
    palette: tuple[str, ...]
    """Hex colours, main first."""
    traits: tuple[str, ...] = ()
    """Trait changes pinned on top of the show file, oldest first (already part of `description`)."""


class Canon:
    """A show's entries by kind and name."""

    def __init__(self, entries: Iterable[CanonEntry], formats: Iterable[SegmentFormat] = ()) -> None:
        self._entries: dict[tuple[str, str], CanonEntry] = {}
        self._order: dict[str, list[str]] = {kind: [] for kind in KINDS}
        for entry in entries:
            key = (entry.kind, entry.name.casefold())
            if key not in self._entries:
                self._order[entry.kind].append(entry.name)
            self._entries[key] = entry
        self._formats = {fmt.name.casefold(): fmt for fmt in formats}

    def get(self, kind: Kind, name: str) -> CanonEntry | None:
        return self._entries.get((kind, name.casefold()))

    def entry(self, kind: Kind, name: str) -> CanonEntry:
        found = self.get(kind, name)
        if found is None:
            known = ", ".join(self._order[kind]) or "none"
            raise KeyError(f"no {kind} {name!r} in this show ({kind}s: {known})")
        return found

    def resolve(self, kind: Kind, name: str) -> str | None:
        """The show file's spelling of `name`, or None when the show has no such entry."""
        found = self.get(kind, name)
        return found.name if found is not None else None

    def names(self, kind: Kind) -> list[str]:
        return list(self._order[kind])

    def entries(self, kind: Kind | None = None) -> list[CanonEntry]:
        kinds = KINDS if kind is None else (kind,)
        return [self._entries[(k, name.casefold())] for k in kinds for name in self._order[k]]

    def format(self, name: str) -> SegmentFormat | None:
        """The segment format called `name` (any case)."""
        return self._formats.get(name.casefold())

    def mentioned(self, kind: Kind, text: str) -> list[str]:
        """Entries of `kind` whose name appears in `text` as a whole word, in show-file order."""
        return [name for name in self._order[kind] if re.search(rf"(?i)(?<![\w-]){re.escape(name)}(?![\w-])", text)]


def look_colour(look: str) -> str | None:
    """The first colour named in a character's look ("warm brown skin", "a cream-coloured llama"), as hex."""
    for match in re.finditer(r"[a-z]+", look.lower()):
        if match.group(0) in NAMED_COLOURS:
            return to_hex(NAMED_COLOURS[match.group(0)])
    return None


def colours_named(text: str) -> list[str]:
    """Every colour a text names, as hex, in order and once each."""
    found = [to_hex(NAMED_COLOURS[word]) for word in re.findall(r"[a-z]+", text.lower()) if word in NAMED_COLOURS]
    return list(dict.fromkeys(found))


def canon_from_show(show: Show) -> Canon:
    """The canon as the show file writes it."""
    entries: list[CanonEntry] = []
    for character in show.characters:
        palette = list(character.palette)
        body = look_colour(character.look)  # a renderer that cannot read prompts still draws a brown fox brown
        if body is not None:
            palette.insert(1, body)
        entries.append(CanonEntry("character", character.name, character.full_description(), tuple(palette)))
    for place in show.places:
        entries.append(CanonEntry("place", place.name, place.full_description(), tuple(place.palette)))
    for prop in show.props:
        entries.append(
            CanonEntry("prop", prop.name, f"the {prop.name}, {prop.description.rstrip('.')}", (prop.colour,))
        )
    return Canon(entries, show.formats)


def with_trait(entry: CanonEntry, trait: str) -> CanonEntry:
    """`entry` with a trait pinned on, said in its description from now on.

    A colour given to something the description already colours ("a red bandana" where it said "a blue bandana")
    recolours it there instead of adding a contradiction, and the palette follows: the old colour is replaced, a
    new one goes right after the main colour (the renderer and the continuity check hold the picture to it)."""
    trait = trait.strip().rstrip(".")
    description = entry.description
    palette = list(entry.palette)
    recoloured = False
    for colour, noun in re.findall(r"(?i)\b([a-z]+)[- ]((?:[a-z]+ ){0,2}?[a-z]+)\b", trait):
        if colour.lower() not in NAMED_COLOURS:
            continue
        old = re.search(rf"(?i)\b([a-z]+)([- ]){re.escape(noun)}\b", description)
        if old is None or old.group(1).lower() not in NAMED_COLOURS or old.group(1).lower() == colour.lower():
            continue
        description = description[: old.start(1)] + colour.lower() + description[old.end(1) :]
        old_hex, new_hex = to_hex(NAMED_COLOURS[old.group(1).lower()]), to_hex(NAMED_COLOURS[colour.lower()])
        palette = [new_hex if hex_colour == old_hex else hex_colour for hex_colour in palette]
        recoloured = True
    if not recoloured:
        description = f"{description}, {trait}"
    for colour in colours_named(trait):
        if colour not in palette:
            palette.insert(1, colour)
    return replace(entry, description=description, palette=tuple(palette), traits=(*entry.traits, trait))
