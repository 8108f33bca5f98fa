"""The offline director: writes every agent's structured output from the show file, with no LLM.

Deterministic for a seed (the same seed gives the same plan, word for word) and varied across seeds and episodes:
every choice is drawn from a `random.Random` seeded by the show, the seed and the item being written.
"""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING

from studio.plan import (
    CAMERA_DIRECTIONS,
    Beat,
    CameraMove,
    EpisodePlan,
    SegmentOutline,
    SegmentScript,
    ShotDesign,
    ShotList,
    SubjectMotion,
)
from studio.vocabulary import read_motion

if TYPE_CHECKING:
    from studio.show import SegmentFormat, Show

BACKEND = "offline-director"

_TITLES = (
    "{Topic}", "The {Topic} Episode", "A Day of {Topic}", "{Topic}, Again", "All About {Topic}",
    "The Great {Topic}", "{Topic} and Friends", "Just {Topic}",
)  # fmt: skip
_LOGLINES = (
    "{host} takes on {topic}, and nothing goes quite to plan.",
    "Everything today revolves around {topic}, with {cohost} in the thick of it.",
    "{host} and {cohost} give {topic} their full attention.",
    "A gentle episode about {topic}, told the {title} way.",
)
_MOOD_COLOUR = ("bright", "gentle", "lively", "warm", "airy", "bouncy", "mellow")
_FRAMINGS = (
    "wide shot at eye level", "medium shot at eye level", "medium close-up from slightly below",
    "wide establishing shot from a low angle", "medium wide shot from a high angle", "close-up at eye level",
)  # fmt: skip
_CAMERA_WEIGHTS = (("static", 2), ("pan", 3), ("dolly", 2), ("tilt", 1), ("zoom", 1), ("truck", 2))
_SPEEDS = ("slow", "slow", "medium")


def _rng(*parts: object) -> random.Random:
    return random.Random("|".join(str(part) for part in parts))


def _fill(template: str, *, topic: str, host: str, cohost: str, place: str) -> str:
    return template.format(topic=topic, host=host, cohost=cohost, place=place)


class OfflineDirector:
    """Writes episode plans, segment scripts and shot lists from the show file alone."""

    backend = BACKEND

    def plan_episode(
        self, show: Show, number: int, *, seed: int, recent_topics: list[str], steering: list[str]
    ) -> EpisodePlan:
        rng = _rng(show.title, seed, "episode", number)
        topic = _steered_topic(steering) or _pick_topic(show, rng, recent_topics)
        host, cohost = _pair(show, [c.name for c in show.characters], rng)
        title = rng.choice(_TITLES).format(Topic=topic.title(), topic=topic)
        logline = rng.choice(_LOGLINES).format(host=host, cohost=cohost, topic=topic, title=show.title)
        notes = [text for text in steering if not text.lower().startswith("topic:")]
        if notes:
            logline += " Producer's note: " + "; ".join(notes) + "."
        segments = []
        for index in range(show.channel.episode_segments):
            fmt = show.formats[index % len(show.formats)]
            segments.append(
                SegmentOutline(
                    format=fmt.name,
                    title=f"{fmt.name.capitalize()}: {topic}",
                    summary=f"{fmt.description.rstrip('.').capitalize()}, about {topic}.",
                )
            )
        return EpisodePlan(number=number, title=title, topic=topic, logline=logline, segments=segments)

    def write_segment(self, show: Show, episode: EpisodePlan, outline: SegmentOutline, *, seed: int) -> SegmentScript:
        fmt = _format(show, outline.format)
        rng = _rng(show.title, seed, "segment", episode.number, outline.title)
        cast = list(fmt.characters) or rng.sample([c.name for c in show.characters], k=min(2, len(show.characters)))
        host, cohost = _pair(show, cast, rng)
        place = fmt.place or rng.choice(show.places).name
        per_beat = round(fmt.seconds / len(fmt.beats), 2)
        beats = []
        for template in fmt.beats:
            text = _fill(template, topic=episode.topic, host=host, cohost=cohost, place=place)
            on_screen = [name for name in dict.fromkeys([host, cohost] + cast) if name.casefold() in text.casefold()]
            props = [prop.name for prop in show.props if prop.name.casefold() in text.casefold()]
            beats.append(
                Beat(description=text, characters=on_screen or [host], place=place, props=props, seconds=per_beat)
            )
        mood = f"{rng.choice(_MOOD_COLOUR)} {show.music.mood}"
        return SegmentScript(title=outline.title, format=fmt.name, mood=mood, beats=beats)

    def design_shots(self, show: Show, script: SegmentScript, *, seed: int, segment_index: int) -> ShotList:
        shots = []
        for index, beat in enumerate(script.beats):
            rng = _rng(show.title, seed, "shot", script.title, segment_index, index)
            kinds, weights = zip(*_CAMERA_WEIGHTS, strict=True)
            kind = rng.choices(kinds, weights=weights)[0]
            if kind == "static" and not beat.characters:
                kind = "pan"  # an empty locked-off shot is a still picture, not television
            camera = CameraMove(kind=kind, direction=rng.choice(CAMERA_DIRECTIONS[kind]), speed=rng.choice(_SPEEDS))  # type: ignore[arg-type]
            subjects = _subject_motions(beat, rng)
            shots.append(
                ShotDesign(
                    beat_index=index,
                    framing=rng.choice(_FRAMINGS),
                    action=beat.description,
                    camera=camera,
                    subjects=subjects,
                    characters=beat.characters,
                    place=beat.place,
                    props=beat.props,
                    seconds=beat.seconds,
                )
            )
        return ShotList(shots=shots)


def _format(show: Show, name: str) -> SegmentFormat:
    for fmt in show.formats:
        if fmt.name.casefold() == name.casefold():
            return fmt
    raise KeyError(name)


def _pair(show: Show, cast: list[str], rng: random.Random) -> tuple[str, str]:
    names = cast or [c.name for c in show.characters]
    host = names[0]
    cohost = (
        names[1] if len(names) > 1 else (rng.choice([c.name for c in show.characters]) if show.characters else host)
    )
    return host, cohost


def _pick_topic(show: Show, rng: random.Random, recent: list[str]) -> str:
    pool = list(show.topics) or _topics_from_premise(show)
    fresh = [topic for topic in pool if topic not in recent[-len(pool) + 1 :]] if len(pool) > 1 else pool
    return rng.choice(fresh or pool)


def _topics_from_premise(show: Show) -> list[str]:
    words = [w for w in re.findall(r"[a-z]{5,}", show.premise.lower()) if w not in {"their", "every", "which"}]
    return [f"the {word}" for word in dict.fromkeys(words)] or [show.title]


def _steered_topic(steering: list[str]) -> str | None:
    for text in reversed(steering):
        if text.lower().startswith("topic:"):
            topic = text.split(":", 1)[1].strip()
            if topic:
                return topic
    return None


def _subject_motions(beat: Beat, rng: random.Random) -> list[SubjectMotion]:
    """The beat's motion of someone or something on screen: the first whose words give a direction (stated, or the
    verb's own: falls goes down), else the first one, sideways at random. A stated speed wins over the drawn one."""
    names = beat.characters + beat.props
    found = [(words, subject) for words in read_motion(beat.description)[1] if (subject := words.who(names))]
    if not found:
        return []
    words, subject = next(((words, subject) for words, subject in found if words.direction), found[0])
    direction = words.direction or rng.choice(("left", "right"))
    drawn = rng.choice(_SPEEDS)  # drawn even when stated, so the shot's later draws don't depend on the words
    speed = words.speed or drawn
    return [SubjectMotion(subject=subject, action=words.verb, direction=direction, speed=speed)]  # type: ignore[arg-type]
