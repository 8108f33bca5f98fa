"""The show file (the show bible): schema and loader (the YAML itself is read safely by `studio.yamlfile`).

Every problem is reported as `file:line: field: message`, all of them at once, so a person can fix a show file in
one pass. Unknown keys are errors: a typo must never become a silent default. Whatever the file (huge, binary,
deeply nested, an alias bomb, a pipe or a device), loading it ends quickly with such a located error.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator

from studio import yamlfile
from studio.colours import parse_colour, to_hex
from studio.model_docs import DocumentedModel
from studio.vocabulary import banned_words, word_pattern

BEAT_PLACEHOLDERS = frozenset({"topic", "host", "cohost", "place"})


def _normalise_colour(text: str) -> str:
    return to_hex(parse_colour(text))


Colour = Annotated[str, AfterValidator(_normalise_colour)]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Strict(DocumentedModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Character(_Strict):
    name: NonEmpty
    """How the character is called in the rundown and the log."""
    species: NonEmpty
    """What the character is and does: "human chef", "llama sous-chef", "narrator fox"."""
    look: NonEmpty
    """Physical appearance, written so a video model can draw it with no other context."""
    wardrobe: str = ""
    """Clothes and accessories, also repeated in every shot."""
    palette: list[Colour] = Field(min_length=1)
    """Signature colours, first the main one: the renderer and the critic hold the character to them."""
    mannerisms: list[str] = []
    """Typical gestures; the screenwriter draws actions from these."""

    def full_description(self) -> str:
        """The character described in full, as every prompt that shows them must carry it."""
        parts = [f"{self.name}, {self.species}, {self.look.rstrip('.')}"]
        if self.wardrobe:
            parts.append(f"wearing {self.wardrobe.rstrip('.')}")
        return ", ".join(parts)


class Place(_Strict):
    name: NonEmpty
    """Name used in the rundown."""
    description: NonEmpty
    """The place described in full for a video model."""
    palette: list[Colour] = Field(min_length=1)
    """Dominant colours of the place, background first."""
    lighting: str = ""
    """Light and time of day: "soft morning light through tall windows"."""

    def full_description(self) -> str:
        text = f"{self.name}: {self.description.rstrip('.')}"
        return f"{text}, {self.lighting.rstrip('.')}" if self.lighting else text


class Prop(_Strict):
    name: NonEmpty
    """Name used in beats and prompts."""
    description: NonEmpty
    """Full visual description."""
    colour: Colour
    """Main colour; colour words in prompts are checked by the critic."""


class SegmentFormat(_Strict):
    name: NonEmpty
    """Name of the recurring segment: "cold open", "the recipe", "taste test"."""
    description: NonEmpty
    """What happens in this kind of segment."""
    beats: list[NonEmpty] = Field(min_length=1)
    """Beat templates, in order. They may use {topic} (the episode's subject), {host} and {cohost} (the first and
    second character of the segment) and {place}; the screenwriter fills them in."""
    seconds: float = Field(default=9.0, gt=0, le=600)
    """Target length of the segment on air."""
    characters: list[str] = []
    """Characters who appear (names from `characters`); empty means the screenwriter chooses."""
    place: str | None = None
    """Where it happens (a name from `places`); empty means the screenwriter chooses."""

    @field_validator("beats")
    @classmethod
    def _known_placeholders(cls, beats: list[str]) -> list[str]:
        for beat in beats:
            try:
                names = {name for _, name, _, _ in string.Formatter().parse(beat) if name is not None}
            except ValueError as error:
                raise ValueError(f"beat {beat!r}: {error} (write {{{{ and }}}} for literal braces)") from None
            unknown = names - BEAT_PLACEHOLDERS
            if unknown:
                raise ValueError(
                    f"beat {beat!r} uses unknown placeholder(s) {sorted(unknown)}; use {sorted(BEAT_PLACEHOLDERS)}"
                )
        return beats


class Music(_Strict):
    mood: NonEmpty
    """Words for the score: "upbeat bossa nova with brushed drums and warm guitar"."""
    tempo_bpm: float | None = Field(default=None, ge=40, le=220)
    """Tempo; derived from the mood when left out."""
    key: str | None = None
    """Key such as "D major" or "A minor"; derived from the mood when left out."""


class Channel(_Strict):
    width: int = Field(default=1024, ge=64, le=3840, multiple_of=2)
    """House format width in pixels (even)."""
    height: int = Field(default=576, ge=64, le=2160, multiple_of=2)
    """House format height in pixels (even)."""
    fps: int = Field(default=24, ge=8, le=60)
    """House frame rate of every approved segment."""
    shot_seconds: float = Field(default=3.0, gt=0.5, le=60)
    """Target length of one shot; a beat longer than one generated clip is extended."""
    episode_segments: int = Field(default=3, ge=1, le=50)
    """Segments per episode (taken in order from `formats`, repeating)."""
    seed: int = 0
    """Base seed: the same seed gives the same plans and pictures."""


class Show(_Strict):
    title: NonEmpty
    """Show title."""
    premise: NonEmpty
    """What the show is about, in a sentence or two."""
    tone: NonEmpty
    """Tone of the writing: "warm, playful, a little absurd"."""
    visual_style: NonEmpty
    """Look of every shot: "bright 3D animation, soft studio lighting"."""
    characters: list[Character] = Field(min_length=1)
    """The cast."""
    places: list[Place] = Field(min_length=1)
    """Sets and locations."""
    props: list[Prop] = []
    """Recurring objects."""
    formats: list[SegmentFormat] = Field(min_length=1)
    """Segment formats an episode is built from."""
    topics: list[NonEmpty] = []
    """Episode subjects the showrunner picks from (dishes, animals, cases); empty lets it invent from the premise."""
    music: Music
    """The score's mood."""
    avoid_words: list[NonEmpty] = []
    """Words no prompt may contain (added to the built-in camera and brand words)."""
    channel: Channel = Channel()
    """House format and seed."""

    @model_validator(mode="after")
    def _references_exist(self) -> Show:
        problems: list[str] = []
        for kind, names in (
            ("characters", [c.name for c in self.characters]),
            ("places", [p.name for p in self.places]),
        ):
            seen: set[str] = set()
            for name in names:
                if name.casefold() in seen:
                    problems.append(f"{kind}: duplicate name {name!r}")
                seen.add(name.casefold())
        known_characters = {c.name.casefold() for c in self.characters}
        known_places = {p.name.casefold() for p in self.places}
        for index, fmt in enumerate(self.formats):
            for name in fmt.characters:
                if name.casefold() not in known_characters:
                    problems.append(f"formats.{index}.characters: unknown character {name!r}")
            if fmt.place is not None and fmt.place.casefold() not in known_places:
                problems.append(f"formats.{index}.place: unknown place {fmt.place!r}")
        problems += self._painted_words()
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _painted_words(self) -> list[str]:
        """Descriptions go into every prompt verbatim, so they may not carry words video models paint in."""
        banned = banned_words(self.avoid_words)
        texts: list[tuple[str, str]] = [("visual_style", self.visual_style)]
        for index, character in enumerate(self.characters):
            texts += [
                (f"characters.{index}.look", character.look),
                (f"characters.{index}.wardrobe", character.wardrobe),
            ]
        for index, place in enumerate(self.places):
            texts += [(f"places.{index}.description", place.description), (f"places.{index}.lighting", place.lighting)]
        for index, prop in enumerate(self.props):
            texts.append((f"props.{index}.description", prop.description))
        # One pass per text whatever the number of words (longest first, so "canon eos" is named, not "canon").
        pattern = word_pattern(banned)
        problems = []
        for where, text in texts:
            found = pattern.search(text)
            if found is not None:
                problems.append(
                    f"{where}: contains {found.group(0).casefold()!r}, a camera, brand or avoided word that video models"
                    " paint into the picture (describe what should be seen instead)"
                )
        return problems

    def character(self, name: str) -> Character:
        for candidate in self.characters:
            if candidate.name.casefold() == name.casefold():
                return candidate
        raise KeyError(name)

    def place(self, name: str) -> Place:
        for candidate in self.places:
            if candidate.name.casefold() == name.casefold():
                return candidate
        raise KeyError(name)


_EXPECTED = "a show file is a mapping with title, premise, characters, places, formats …"


def parse_show(text: str, source: str) -> Show:
    """Validate show-file text; `source` names the file in error messages."""
    yamlfile.check_size(text, source)
    return _parse(text, source)


def _parse(text: str, source: str) -> Show:
    return yamlfile.parse_document(text, source, Show, expected=_EXPECTED)


def load_show(path: str | Path) -> Show:
    """Read and validate a show file; every way it can be wrong is a `ShowFileError` naming the file and line."""
    show_path = Path(path)
    # The byte size is checked while reading: UTF-16 text may grow past the limit as characters, harmlessly.
    return _parse(yamlfile.decode(yamlfile.read_show_bytes(show_path), str(show_path)), str(show_path))
