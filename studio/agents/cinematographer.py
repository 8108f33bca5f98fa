"""Cinematographer: beats → shots with self-contained prompts; applies the critic's repairs.

Whatever wrote the `ShotDesign` (an LLM or the offline director), the prompt is composed here from the show file:
every character and place in shot is described in full, camera and subject motion are spelled out, and camera,
lens and brand words are taken out, and so is any request for lettering (quoted words, "a sign that says …", words
in capitals), so these rules hold by construction rather than by asking nicely — even when a steering note talked
the model into something else.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import TYPE_CHECKING, Any

from langgraph.runtime import Runtime  # noqa: TC002 - LangGraph reads node and router hints at runtime

from studio import events as ev
from studio.plan import MotionSpec, Shot
from studio.state import EpisodeState, StudioContext, emitted  # noqa: TC001
from studio.vocabulary import BASE_NEGATIVE, CAMERA_AND_BRAND_WORDS, banned_words, strip_words

if TYPE_CHECKING:
    from studio.canon import Canon
    from studio.plan import Repair, ShotDesign
    from studio.show import Show


# What asks a video model to paint text: "that says/spells X", "the word(s) X", "written X", "labelled X", "logo of
# X", "reading X" when X is quoted or a number or in capitals; a quoted string; "logo", "watermark", "caption" and
# the like; words in capitals (brands and acronyms: "PEPSI", "TV").
_QUOTED = r"[\"“‘«][^\"“”‘’«»]{1,80}[\"”’»]"
_LETTERING = (
    re.compile(
        r"(?i)\b(?:(?:that|which)\s+)?(?:says?|saying|spell(?:s|ing|ed)?|written|labell?ed|the\s+words?|logo\s+of"
        rf"|lettering|letters|caption(?:ed)?|inscribed(?:\s+with)?)\b[\s:]*(?:{_QUOTED}|[\w$€£%/.\-]+)?"
    ),
    re.compile(rf"\b(?:(?:that|which)\s+)?(?:reads?|reading)[\s:]+(?:{_QUOTED}|[A-Z0-9$€£][\w$€£%/.\-]*)"),
    re.compile(_QUOTED),
    re.compile(r"(?i)\b(?:logos?|watermarks?|subtitles?|captions?|lettering|signage|brand\s+names?)\b"),
    re.compile(r"(?<![\w-])[A-Z][A-Z0-9$&]{1,}(?![\w-])"),
)


def strip_lettering(text: str) -> str:
    """`text` without anything that asks for written words in the picture (see `_LETTERING`), tidied."""
    for pattern in _LETTERING:
        text = pattern.sub("", text)
    text = re.sub(r"\s+([,.;:])", r"\1", text)
    text = re.sub(r"([,;:])(\s*[,;:])+", r"\1", text)
    return re.sub(r"\s{2,}", " ", text).strip(" ,;")


def shot_seed(base_seed: int, shot_id: str, attempt: int) -> int:
    digest = hashlib.sha256(f"{base_seed}|{shot_id}|{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def compose_prompt(
    design: ShotDesign,
    show: Show,
    *,
    canon: Canon,
    avoid: list[str],
    remove: list[str] = (),
    emphasise_motion: bool = False,
    emphasise: list[str] = (),
) -> str:
    """The full prompt for one shot. Free text from the design is cleaned of `avoid` and `remove` words; every
    character, prop and place in shot is described in the canon's words, verbatim (show validation keeps brand
    words out of the show file's descriptions)."""
    free_avoid = [*avoid, *remove]
    motion = MotionSpec(camera=design.camera, subjects=design.subjects).describe()
    parts = [
        *_emphasis(motion, emphasise_motion=emphasise_motion, emphasise=emphasise, avoid=free_avoid),
        f"{strip_words(show.visual_style, CAMERA_AND_BRAND_WORDS)}",
        f"{strip_words(strip_lettering(design.framing), free_avoid)} of"
        f" {strip_words(strip_lettering(design.action), free_avoid)}",
    ]
    parts += [canon.entry("character", name).description for name in design.characters]
    parts += [canon.entry("prop", name).description for name in design.props]
    parts.append(f"setting: {canon.entry('place', design.place).description}")
    parts.append(motion)
    return _joined(parts)


def _emphasis(motion: str, *, emphasise_motion: bool, emphasise: list[str], avoid: list[str]) -> list[str]:
    """What a repair puts in front of a prompt: the things the clip got wrong, then the motion restated."""
    parts = []
    if emphasise:
        parts.append("Clearly and unmistakably " + ", ".join(strip_words(part, avoid) for part in emphasise))
    if emphasise_motion:
        parts.append(f"Motion, exactly as described: {motion}")
    return parts


def _joined(parts: list[str]) -> str:
    return ". ".join(part.rstrip(".") for part in parts if part) + "."


def person_prompt(
    written: str,
    motion: MotionSpec,
    *,
    avoid: list[str],
    remove: list[str] = (),
    emphasise_motion: bool = False,
    emphasise: list[str] = (),
) -> str:
    """The prompt of a shot a person wrote: their words (less any word the critic's repairs took out), with a
    repair's emphasis in front. The rules a composed prompt holds by construction are the person's to keep; a
    prompt carrying a banned word is refused before it gets here."""
    free_avoid = [*avoid, *remove]
    return _joined([
        *_emphasis(motion.describe(), emphasise_motion=emphasise_motion, emphasise=emphasise, avoid=free_avoid),
        strip_words(written, list(remove)),
    ])  # fmt: skip


def shot_palettes(design: ShotDesign, canon: Canon) -> dict[str, list[str]]:
    """The canonical colours of everything in shot, by name."""
    named = [("character", name) for name in design.characters] + [("prop", name) for name in design.props]
    named.append(("place", design.place))
    return {name: list(canon.entry(kind, name).palette) for kind, name in named}  # type: ignore[arg-type]


def compose_negative(extra: list[str] = ()) -> str:
    return ", ".join(dict.fromkeys([*BASE_NEGATIVE, *extra]))


def make_shot(
    design: ShotDesign, show: Show, *, canon: Canon, shot_id: str, segment_index: int, base_seed: int, avoid: list[str]
) -> Shot:
    return Shot(
        id=shot_id,
        segment_index=segment_index,
        beat_index=design.beat_index,
        prompt=compose_prompt(design, show, canon=canon, avoid=avoid),
        palettes=shot_palettes(design, canon),
        negative_prompt=compose_negative(),
        motion=MotionSpec(camera=design.camera, subjects=design.subjects),
        characters=design.characters,
        place=design.place,
        props=design.props,
        seed=shot_seed(base_seed, shot_id, 0),
        seconds=design.seconds,
        design=design,
    )


def apply_repair(shot: Shot, repair: Repair, show: Show, *, canon: Canon, base_seed: int, avoid: list[str]) -> Shot:
    """The next attempt of a shot after the critic's verdict."""
    attempt = shot.attempt + 1
    if repair.action == "reverse":
        return shot.model_copy(update={"attempt": attempt, "reverse_only": True})
    negatives = [part.strip() for part in shot.negative_prompt.split(",") if part.strip()]
    removed = list(dict.fromkeys([*shot.removed_words, *repair.remove_words]))
    if shot.written_prompt:
        prompt = person_prompt(
            shot.written_prompt, shot.motion, avoid=avoid, remove=removed, emphasise_motion=repair.restate_motion,
            emphasise=repair.emphasise,
        )  # fmt: skip
    else:
        prompt = compose_prompt(
            shot.design, show, canon=canon, avoid=avoid, remove=removed, emphasise_motion=repair.restate_motion,
            emphasise=repair.emphasise,
        )  # fmt: skip
    return shot.model_copy(
        update={
            "attempt": attempt,
            "reverse_only": False,
            "removed_words": removed,
            "prompt": prompt,
            "negative_prompt": compose_negative([*negatives, *repair.add_negative]),
            "seed": shot_seed(base_seed, shot.id, attempt) if repair.new_seed else shot.seed,
        }
    )


def shot_id(episode: int, segment_index: int, index: int) -> str:
    return f"e{episode:04d}-s{segment_index + 1:02d}-sh{index + 1:02d}"


def cinematographer(state: EpisodeState, runtime: Runtime[StudioContext]) -> dict[str, Any]:
    """Design the current segment's shots, or apply the critic's repairs to the shots it sent back."""
    ctx = runtime.context
    show, episode, segment_index = ctx.show, state["episode_number"], state["segment_index"]
    canon = ctx.memory.canon()
    avoid = banned_words(show.avoid_words, ctx.memory.lessons())
    verdicts = state.get("verdicts", {})
    shots: list[Shot] = list(state.get("shots", []))
    if not shots:
        started = time.perf_counter()
        shot_list, backend = ctx.director.design_shots(
            show, state["script"], seed=ctx.seed, segment_index=segment_index, avoid=avoid
        )
        designs = [_validated(design, canon, state) for design in shot_list.shots]
        shots = [
            make_shot(d, show, canon=canon, shot_id=shot_id(episode, segment_index, i), segment_index=segment_index,
                      base_seed=ctx.seed, avoid=avoid)
            for i, d in enumerate(designs)
        ]  # fmt: skip
        designed = ctx.event(
            ev.ShotsDesigned, episode=episode, segment=segment_index, backend=backend,
            segment_title=state["script"].title, duration_ms=(time.perf_counter() - started) * 1000,
            shots=tuple(
                ev.DesignedShot(
                    shot_id=s.id, prompt=s.prompt, negative_prompt=s.negative_prompt, seconds=s.seconds, seed=s.seed,
                    characters=tuple(s.characters), place=s.place,
                )
                for s in shots
            ),
        )  # fmt: skip
        return {"shots": shots, "pending": [s.id for s in shots], "events": emitted(designed)}
    pending: list[str] = []
    repaired: list[Shot] = []
    events: list[ev.Event] = []
    for shot in shots:
        verdict = verdicts.get(shot.id)
        if verdict is None or verdict.passed or verdict.repair is None or verdict.repair.action == "drop":
            repaired.append(shot)
            continue
        new_shot, repaired_event = repair_shot(
            ctx, shot, verdict.repair, episode=episode, segment=segment_index, canon=canon, avoid=avoid
        )
        repaired.append(new_shot)
        pending.append(new_shot.id)
        events.append(repaired_event)
    return {"shots": repaired, "pending": pending, "events": emitted(*events)}


def repair_shot(
    ctx: StudioContext, shot: Shot, repair: Repair, *, episode: int, segment: int, canon: Canon, avoid: list[str]
) -> tuple[Shot, ev.ShotRepaired]:
    """The shot's next attempt after the critic's repair, and the event that says what changed."""
    new_shot = apply_repair(shot, repair, ctx.show, canon=canon, base_seed=ctx.seed, avoid=avoid)
    repaired = ctx.event(
        ev.ShotRepaired, episode=episode, segment=segment, shot=shot.id, backend="rules", attempt=new_shot.attempt,
        action=repair.action, note=repair.note, prompt=new_shot.prompt, negative_prompt=new_shot.negative_prompt,
        seed=new_shot.seed, reverse_only=new_shot.reverse_only,
    )  # fmt: skip
    return new_shot, repaired


def _validated(design: ShotDesign, canon: Canon, state: EpisodeState) -> ShotDesign:
    """Keep only names the show knows, in its spelling, so an LLM's invention can't break a prompt or a render."""
    script = state["script"]
    beat = script.beats[min(design.beat_index, len(script.beats) - 1)]
    characters = [found for name in design.characters if (found := canon.resolve("character", name))]
    movers = {name.casefold() for name in canon.names("character") + canon.names("prop")}
    subjects = [s for s in design.subjects if s.subject.casefold() in movers]
    place = canon.resolve("place", design.place) or canon.resolve("place", beat.place) or canon.names("place")[0]
    return design.model_copy(
        update={
            "characters": list(dict.fromkeys(characters)),
            "props": [found for name in design.props if (found := canon.resolve("prop", name))],
            "place": place,
            "subjects": subjects,
            "seconds": design.seconds if design.seconds > 0 else beat.seconds,
        }
    )
