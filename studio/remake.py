"""Re-prompting a shot: a person rewrites the prompt of one shot of a made segment (approved, or waiting for review);
production renders it again from their words, the critic judges it (with its usual repairs, made on their words),
and the segment is made again around it and put in place of the old file before it airs.

While a re-prompt is pending the segment does not air as it was (the playout queue waits for it). The new version
goes through the on-air safety gate like every made segment; a segment the gate held is approved once its new
version passes. A re-prompt that fails (the critic, post or the gate) leaves the segment as it was (aired as it was,
or still held), and says why. A station stopped in the middle answers the command when it runs again (saved renders
are reused).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio import events as ev
from studio.agents.cinematographer import person_prompt, repair_shot
from studio.agents.critic import judge_one
from studio.errors import ToolError
from studio.plan import MotionSpec, Shot
from studio.post import (
    assemble_episode,
    conform_segment,
    gate_record,
    gate_segment,
    made_by,
    segment_recipe,
    segment_seconds,
)
from studio.render import StageRunner, render_one
from studio.state import ProductionStopped
from studio.vocabulary import banned_words, find_word, motion_from_prompt

if TYPE_CHECKING:
    from studio.state import StudioContext
    from studio.station import Station

Record = Callable[[list[ev.Event]], None]


@dataclass(frozen=True)
class RemakeRequest:
    """A re-prompt the command processor accepted, for production to carry out."""

    command_id: int
    segment_id: str
    shot_id: str
    prompt: str


def reprompt_problem(ctx: StudioContext, segment_id: str, shot_id: str, prompt: str) -> str:
    """Why this re-prompt cannot be done, in words for the person; "" when it can."""
    station = ctx.station
    entry = station.segment(segment_id)
    if entry is None or entry.show != ctx.show_key:
        return f"no segment {segment_id!r} in this station's rundown (see `studio log`)"
    if entry.status == "planned" and segment_id not in station.awaiting_review(ctx.show_key):
        return (
            f"{segment_id} is still being made: re-prompt its shots once it is made (with manual approval,"
            " `studio approval manual`, every segment waits for you before it airs)"
        )
    if entry.status in ("on_air", "aired", "skipped"):
        return f"{segment_id} is {entry.status.replace('_', ' ')}: a re-prompt changes a segment before it airs"
    if entry.status not in ("planned", "approved", "held"):
        return f"{segment_id} is {entry.status} and will not air"
    recipe = station.recipe(segment_id)
    if not recipe.get("shots"):
        return f"{segment_id} was made before studio kept what each segment is made of: it cannot be made again"
    shot_ids = [item["shot"]["id"] for item in recipe["shots"]]
    if shot_id not in shot_ids:
        return f"{segment_id} has no shot {shot_id!r} on air; its shots are {', '.join(shot_ids)}"
    if not prompt.strip():
        return "the prompt is empty: write what the shot should show"
    banned = find_word(prompt, banned_words(ctx.show.avoid_words, ctx.memory.lessons()))
    if banned is not None:
        return (
            f"the prompt says {banned!r}, which no prompt may carry (camera and brand words, the show's avoid_words,"
            " and words the critic caught painted into pictures): leave it out"
        )
    return ""


def reprompted_motion(prompt: str, shot: Shot) -> MotionSpec:
    """The motion the person's words ask for, its subjects named as the show names them (so the renderer moves the
    right figure and the critic follows it in its colours)."""
    motion = motion_from_prompt(prompt)
    names = [*shot.characters, *shot.props]
    subjects = []
    for subject in motion.subjects:
        named = next((name for name in names if name.casefold() in subject.subject.casefold()), None)
        subjects.append(subject.model_copy(update={"subject": named}) if named else subject)
    return motion.model_copy(update={"subjects": subjects})


def remake(ctx: StudioContext, request: RemakeRequest, record: Record) -> tuple[bool, str] | None:
    """Make the segment again around the re-prompted shot. Returns (applied, what happened), or None when the
    station stopped first (the command is answered when it runs again)."""
    try:
        return _remake(ctx, request, record)
    except ProductionStopped:
        return None


def _remake(ctx: StudioContext, request: RemakeRequest, record: Record) -> tuple[bool, str]:
    station = ctx.station
    entry = station.segment(request.segment_id)
    assert entry is not None, "checked when the command was applied"
    recipe = station.recipe(request.segment_id)
    shots = [Shot.model_validate(item["shot"]) for item in recipe["shots"]]
    clips = {item["shot"]["id"]: item["clip"] for item in recipe["shots"]}
    index = next(i for i, shot in enumerate(shots) if shot.id == request.shot_id)
    before = shots[index]
    episode, segment = entry.episode, entry.segment_index
    where: dict[str, Any] = {"episode": episode, "segment": segment, "shot": before.id}
    avoid = banned_words(ctx.show.avoid_words, ctx.memory.lessons())
    motion = reprompted_motion(request.prompt, before)
    shot = before.model_copy(
        update={
            "prompt": person_prompt(request.prompt, motion, avoid=avoid), "written_prompt": request.prompt,
            "motion": motion, "attempt": before.attempt + 1, "reverse_only": False, "removed_words": [],
        }
    )  # fmt: skip
    record([ctx.event(ev.ShotReprompted, **where, segment_id=request.segment_id, attempt=shot.attempt,
                      prompt=request.prompt, previous_prompt=before.written_prompt or before.prompt,
                      command_id=request.command_id)])  # fmt: skip

    def failed(reason: str, *events: ev.Event) -> tuple[bool, str]:
        record([*events, ctx.event(ev.RepromptFailed, **where, segment_id=request.segment_id, reason=reason,
                                   previous_prompt=before.written_prompt or before.prompt,
                                   command_id=request.command_id)])  # fmt: skip
        return False, f"{reason}; {request.segment_id} airs as it was"

    last_attempt = shot.attempt + ctx.settings.max_repairs
    known_lessons = set(station.lessons(ctx.show_key))
    previous: Path | None = None
    while True:
        path, error, events = render_one(ctx, shot, episode=episode, segment=segment, previous=previous)
        record(events)
        verdict, events = judge_one(
            ctx, shot, str(path or ""), error, episode=episode, segment=segment, known_lessons=known_lessons,
            last_attempt=last_attempt,
        )  # fmt: skip
        record(events)
        if verdict.passed:
            break
        if verdict.repair is None or verdict.repair.action == "drop":
            checks = ", ".join(check.check for check in verdict.failures) or "its checks"
            return failed(f"the new {shot.id} failed the critic ({checks}) on every try")
        previous = path or previous
        shot, repaired = repair_shot(
            ctx, shot, verdict.repair, episode=episode, segment=segment, canon=ctx.memory.canon(), avoid=avoid
        )
        record([repaired])
    assert path is not None
    ctx.gate()
    shots[index], clips[shot.id] = shot, str(path)
    segment_path = ctx.segment_path(episode, request.segment_id)
    staged_path = segment_path.with_name(f"{request.segment_id}.remade.mp4")
    runner = StageRunner(ctx.toolkit)
    seconds = segment_seconds(shots, ctx.show.channel.fps)
    try:
        info, music_backend = conform_segment(
            ctx, runner, [Path(clips[each.id]) for each in shots], seconds=seconds, mood=recipe["mood"],
            music_seed=recipe["music_seed"], output_path=staged_path,
        )  # fmt: skip
    except ToolError as error:
        return failed(f"post failed: {error}", *runner.fell_back(ctx, where))
    titles = [entry.title, *(e["title"] for e in station.episodes(ctx.show_key) if e["number"] == episode)]
    gated = gate_segment(ctx, staged_path, titles)
    if gated is not None and not gated.passed:
        staged_path.unlink(missing_ok=True)
        return failed(
            f"the new version failed the safety gate: {'; '.join(gated.reasons)}", *runner.fell_back(ctx, where)
        )
    now = station.segment(request.segment_id)
    if now is None or now.status not in ("planned", "approved", "held"):
        staged_path.unlink(missing_ok=True)
        status = now.status.replace("_", " ") if now is not None else "gone"
        return failed(f"{request.segment_id} was {status} before its new version was ready")
    os.replace(staged_path, segment_path)
    remade = ctx.event(
        ev.SegmentRemade, **where, backend=made_by(music_backend, runner), segment_id=request.segment_id,
        path=str(segment_path), seconds=seconds, recipe=segment_recipe(shots, clips, recipe["mood"],
        recipe["music_seed"]), command_id=request.command_id, video_seconds=round(info.video_seconds, 3),
        audio_seconds=round(info.audio_seconds, 3), safety_gate=gate_record(gated),
    )  # fmt: skip
    approved: list[ev.Event] = []
    if now.status == "held":  # the gate held the old version; the new one passed it
        approved.append(ctx.event(
            ev.SegmentApproved, episode=episode, segment=segment, backend=made_by(music_backend, runner),
            segment_id=request.segment_id, path=str(segment_path), seconds=seconds, shots=len(shots),
            music_backend=music_backend, video_seconds=round(info.video_seconds, 3),
            audio_seconds=round(info.audio_seconds, 3), recipe=remade.recipe, safety_gate=gate_record(gated),
        ))  # fmt: skip
    record([*runner.fell_back(ctx, where), remade, *approved])
    _assemble_again(ctx, station, episode, record)
    return True, (
        f"{request.segment_id} made again: the new {shot.id} passed the critic ({verdict.score:.2f}, try"
        f" {shot.attempt - before.attempt}); it airs in turn"
    )


def _assemble_again(ctx: StudioContext, station: Station, episode: int, record: Record) -> None:
    """An episode file already written is written again with the new segment in it."""
    row = next((e for e in station.episodes(ctx.show_key) if e["number"] == episode), None)
    if row is None or row["status"] != "done":
        return
    segments = [entry.path for entry in station.rundown(ctx.show_key, episode=episode) if entry.path is not None]
    record([assemble_episode(ctx, episode, row["title"], segments)])
