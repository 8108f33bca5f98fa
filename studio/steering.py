"""Reading a producer's note without an LLM: a small grammar, documented in the README.

    topic: saffron paella              the next episode's topic
    Pepito: wears a red bandana        a trait pinned on a character (or a place or prop), in every later prompt
    Pepito wears a red bandana         the same, said naturally (a sentence that starts with a name)
    Pepito's bandana is now red        a colour change of something the character wears or has
    more close-ups of the pot          anything else is direction for the showrunner's next plan

Clauses are separated by `;`, a new line, or `, and`. A clause that looks like a trait change but names no
character, place or prop of the show is not guessed at: it is reported as not understood, with the known names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from studio.colours import NAMED_COLOURS

if TYPE_CHECKING:
    from studio.canon import Canon, Kind

_CLAUSES = re.compile(r"\s*(?:;|\n|,\s*and\s+|\.\s+(?=[A-Za-z]))\s*")
_TOPIC = re.compile(r"(?i)^\s*(?:the\s+)?(?:next\s+)?topic\s*(?::|=|is)\s*(.+?)\s*\.?$")
_LABELLED = re.compile(r"^\s*([^:]{1,60}?)\s*:\s*(.+?)\s*\.?$")
_POSSESSIVE_COLOUR = re.compile(r"(?i)^'s\s+((?:[a-z]+\s+){0,2}?[a-z]+)\s+(?:is|are)\s+(?:now\s+)?([a-z]+)\s*\.?$")
_TRAIT_VERBS = re.compile(
    r"(?i)^(?:now\s+)?(?:wears?|wearing|has|have|had|is|are|gets?|carries|carry|puts?\s+on|sports?|looks?)\b"
)


@dataclass
class NoteReading:
    """What a note asks for. `traits` are (kind, name, trait) with the show's spelling of the name."""

    topic: str = ""
    direction: str = ""
    traits: list[tuple[Kind, str, str]] = field(default_factory=list)
    not_understood: list[str] = field(default_factory=list)

    @property
    def for_the_showrunner(self) -> bool:
        return bool(self.topic or self.direction)


def read_note(note: str, canon: Canon) -> NoteReading:
    reading = NoteReading()
    directions: list[str] = []
    for clause in (part.strip() for part in _CLAUSES.split(note.strip())):
        if not clause:
            continue
        topic = _TOPIC.match(clause)
        if topic:
            reading.topic = topic.group(1).strip()
            continue
        labelled = _LABELLED.match(clause)
        if labelled:
            name, trait = labelled.group(1).strip(), labelled.group(2).strip()
            found = _named(canon, name)
            if found is None:
                reading.not_understood.append(f"{clause!r}: {name!r} is not {_known(canon)}")
            else:
                reading.traits.append((found[0], found[1], trait))
            continue
        trait = _natural_trait(clause, canon)
        if trait is not None:
            reading.traits.append(trait)
            continue
        if _mentions(canon, clause) and _colour_words(clause):
            reading.not_understood.append(
                f"{clause!r} reads like a change to how someone looks, but not in a form I can apply: write it as"
                f" 'NAME: trait', e.g. '{_mentions(canon, clause)[0]}: wears a red bandana'"
            )
            continue
        directions.append(clause.rstrip("."))
    reading.direction = "; ".join(directions)
    return reading


def _natural_trait(clause: str, canon: Canon) -> tuple[Kind, str, str] | None:
    """`Pepito wears a red bandana`, `Pepito's bandana is now red`: a sentence starting with a known name."""
    for kind in ("character", "prop", "place"):
        for name in sorted(canon.names(kind), key=len, reverse=True):  # type: ignore[arg-type]
            if not clause.casefold().startswith(name.casefold()):
                continue
            rest = clause[len(name) :]
            possessive = _POSSESSIVE_COLOUR.match(rest.replace("’", "'"))
            if possessive and possessive.group(2).lower() in NAMED_COLOURS:
                return kind, name, f"with a {possessive.group(2).lower()} {possessive.group(1).lower()}"  # type: ignore[return-value]
            rest = rest.strip(" ,")
            if _TRAIT_VERBS.match(rest):
                return kind, name, rest.rstrip(".")  # type: ignore[return-value]
    return None


def _named(canon: Canon, name: str) -> tuple[Kind, str] | None:
    for kind in ("character", "prop", "place"):
        found = canon.resolve(kind, name)  # type: ignore[arg-type]
        if found is not None:
            return kind, found  # type: ignore[return-value]
    return None


def _mentions(canon: Canon, text: str) -> list[str]:
    return [name for kind in ("character", "prop", "place") for name in canon.mentioned(kind, text)]  # type: ignore[arg-type]


def _colour_words(text: str) -> list[str]:
    return [word for word in re.findall(r"[a-z]+", text.lower()) if word in NAMED_COLOURS]


def _known(canon: Canon) -> str:
    characters = ", ".join(canon.names("character")) or "none"
    others = canon.names("place") + canon.names("prop")
    return f"a character of the show ({characters})" + (f" nor a place or prop ({', '.join(others)})" if others else "")
