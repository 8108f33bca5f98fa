"""The render node: shot → generated clip → extended → upscaled → interpolated, through the toolkit's backends.

Stage order follows the AI WebTV pipeline: the first pass at the generator's native size, extension for long
shots, the upscaling second pass with the same prompt, then frame interpolation to the house frame rate.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph.runtime import Runtime  # noqa: TC002 - LangGraph reads node and router hints at runtime

from studio import events as ev
from studio.canon import canon_from_show, look_colour
from studio.errors import ToolError
from studio.state import EpisodeState, SegmentCancelled, StudioContext, emitted  # noqa: TC001
from studio.tools.base import Clip, Figure, SceneHint, VideoRequest
from studio.tools.interpolate_ffmpeg import (
    FFmpegInterpolator,
    FFmpegUpscaler,
    house_format_filter,
    interpolated_frame_count,
)
from studio.tools.media import INTERMEDIATE_SUFFIX, probe, read_video, write_video

if TYPE_CHECKING:
    from collections.abc import Callable

    from studio.plan import Shot
    from studio.show import Channel, Show
    from studio.tools.base import Toolkit

log = logging.getLogger(__name__)

# Zeroscope v2 576w's native output; the embedded renderer matches it so both backends take the same path.
GENERATION_WIDTH, GENERATION_HEIGHT, GENERATION_FPS, CLIP_FRAMES = 576, 320, 8, 24
SHORT_SHOT = "cut short"
"""In a render's error when the shot file it wrote holds fewer frames than it rendered (a full disk, a crash)."""
EMBEDDED_RENDERER = "procedural"
"""The embedded video generator and extender (`studio.tools.video_procedural`), by their backend name."""


def scene_hint(show: Show, shot: Shot) -> SceneHint:
    """Structured scene facts for the procedural renderer, in the canonical colours the shot was designed with (a
    renderer that cannot read prompts still draws a brown fox brown, and a pinned red bandana red)."""
    palettes = shot.palettes or _palettes_from_show(show, shot)
    figures = [Figure(name=name, palette=tuple(palettes[name])) for name in shot.characters if name in palettes]
    figures += [
        Figure(name=name, palette=tuple(palettes[name]), kind="prop") for name in shot.props if name in palettes
    ]
    style = look_colour(show.visual_style)
    return SceneHint(
        place=shot.place,
        place_palette=tuple(palettes.get(shot.place, ())),
        figures=tuple(figures),
        style_palette=(style,) if style else (),
    )


def _palettes_from_show(show: Show, shot: Shot) -> dict[str, list[str]]:
    """A shot designed before shots carried their palettes (an older checkpoint): the show file's colours."""
    canon = canon_from_show(show)
    named = [("character", n) for n in shot.characters] + [("prop", n) for n in shot.props] + [("place", shot.place)]
    return {name: list(entry.palette) for kind, name in named if (entry := canon.get(kind, name)) is not None}  # type: ignore[arg-type]


def video_request(show: Show, shot: Shot, num_frames: int) -> VideoRequest:
    return VideoRequest(
        prompt=shot.prompt,
        negative_prompt=shot.negative_prompt,
        motion=shot.motion,
        width=GENERATION_WIDTH,
        height=GENERATION_HEIGHT,
        num_frames=num_frames,
        fps=GENERATION_FPS,
        seed=shot.seed,
        scene=scene_hint(show, shot),
        shot_id=shot.id,
    )


def rendered_clip_path(episode_dir: Path, shot: Shot) -> Path:
    """Where a shot's attempt is saved: named by what was asked for, so a saved render is reused only for the
    very same request (prompt, negative prompt, seed, length, reversal)."""
    request = f"{shot.prompt}|{shot.negative_prompt}|{shot.seed}|{shot.seconds}|{shot.reverse_only}"
    digest = hashlib.sha256(request.encode()).hexdigest()[:10]
    return episode_dir / "shots" / f"{shot.id}_a{shot.attempt}_{digest}.mp4"


@dataclass
class StageRunner:
    """Runs one tool call with the selected backend, and with the embedded backend when that one fails."""

    toolkit: Toolkit
    stages: dict[str, Any] = field(default_factory=dict)
    fallbacks: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(kind, failed backend, fallback backend, reason) for each stage that fell back."""

    def run(self, stage: str, kind: str, call: Callable[[Any], Any]) -> Any:
        backend = self.toolkit.backend(kind)
        started = time.perf_counter()
        try:
            result = call(backend)
        except Exception as error:  # noqa: BLE001 - any backend failure (unavailable, OOM, crash) falls back
            fallback = self.toolkit.fallback(kind)
            reason = _reason(error)
            if fallback is None:
                if isinstance(error, ToolError):
                    raise
                raise ToolError(f"{stage} ({backend.name}) failed: {reason}") from error
            log.warning("%s: %s failed (%s); %s takes over", stage, backend.name, reason, fallback.name)
            self.fallbacks.append((kind, backend.name, fallback.name, reason))
            try:
                result = call(fallback)
            except Exception as second:  # noqa: BLE001
                raise ToolError(
                    f"{stage} failed with {backend.name} ({reason}) and {fallback.name} ({_reason(second)})"
                ) from second
        facts: dict[str, Any] = {"backend": result.backend, "seconds": round(time.perf_counter() - started, 3)}
        if isinstance(result, Clip):
            facts.update(frames=result.num_frames, size=f"{result.width}x{result.height}", fps=result.fps)
        prompt = getattr(backend, "last_prompt", None) if result.backend == backend.name else None
        if prompt is not None:  # what a text encoder with a token window read of the prompt
            facts.update(
                prompt_tokens=prompt.token_count, prompt_windows=len(prompt.windows), prompt_dropped=prompt.dropped
            )
        self.stages[stage] = facts
        return result

    def fell_back(self, ctx: StudioContext, where: dict[str, Any]) -> list[ev.Event]:
        """A `BackendFellBack` for each stage that fell back."""
        return [
            ctx.event(ev.BackendFellBack, **where, backend=fallback, kind=kind, failed_backend=failed,
                      fallback_backend=fallback, reason=reason)
            for kind, failed, fallback, reason in self.fallbacks
        ]  # fmt: skip


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__


def defers_house_format(toolkit: Toolkit) -> bool:
    """Whether shots are kept at their generation size and frame rate, their upscale and frame-rate conversion left
    to the segment's one conform encode: so when the toolkit's upscaler and interpolator are the embedded ffmpeg
    filters, which that encode runs the same (`studio.tools.interpolate_ffmpeg.house_format_filter`), saving each
    shot two decode-and-encode passes at the house size. A GPU upscaler or interpolator always runs per shot."""
    return isinstance(toolkit.upscaler, FFmpegUpscaler) and isinstance(toolkit.interpolator, FFmpegInterpolator)


def render_shot(
    toolkit: Toolkit, show: Show, shot: Shot, work_dir: Path, output_path: Path, previous: Path | None = None
) -> tuple[Path, StageRunner]:
    """Render one shot to `output_path`. Returns the path and what ran.

    The file is at the house size and frame rate, or, when the toolkit `defers_house_format`, at the size and rate
    it was generated at (its `house_format` stage says what the segment's conform will do to it). It appears whole
    or not at all (`.partial` then rename), so an existing `output_path` is a finished render of this very
    request."""
    work_dir.mkdir(parents=True, exist_ok=True)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    partial_path = output_path.with_name(f".{output_path.stem}.partial{output_path.suffix}")
    runner = StageRunner(toolkit)
    channel = show.channel
    if shot.reverse_only:
        if previous is None or not previous.exists():
            raise ToolError(f"{shot.id}: nothing to reverse (previous render missing)")
        started = time.perf_counter()
        frames, fps = read_video(previous)
        count, height, width = frames.shape[:3]
        small = (width, height) != (channel.width, channel.height) or fps < channel.fps  # a shot kept small
        try:
            write_video(frames[::-1], fps, partial_path, width=width, height=height, master=small)
            runner.stages["reverse"] = {"backend": "time-reversal", "seconds": round(time.perf_counter() - started, 3)}
            if small and defers_house_format(toolkit):
                reversed_clip = Clip(partial_path, fps, count, width, height, "time-reversal")
                _defer_house_format(runner, reversed_clip, partial_path, toolkit, channel)
            os.replace(partial_path, output_path)
        finally:
            partial_path.unlink(missing_ok=True)
        return output_path, runner

    total_frames = max(2, math.ceil(shot.seconds * GENERATION_FPS - 1e-6))
    deferred = defers_house_format(toolkit)
    # The embedded renderer draws any number of frames as one pure function of time, and its extender would only
    # draw the same frames again: a long shot is drawn whole in one pass.
    whole = deferred and toolkit.video.name == EMBEDDED_RENDERER == toolkit.extender.name
    request = video_request(show, shot, total_frames if whole else min(total_frames, CLIP_FRAMES))
    stem = f"{shot.id}_a{shot.attempt}"
    try:
        # Kept at its generation size, the shot is written once, by its last stage, straight to `partial_path`.
        last = deferred and request.num_frames >= total_frames
        generated = partial_path if last else work_dir / f"{stem}_gen{INTERMEDIATE_SUFFIX}"
        clip: Clip = runner.run("generate", "video", lambda video: video.generate(request, generated))
        if total_frames > clip.num_frames:
            first = clip
            if first.path == partial_path:
                first = replace(first, path=partial_path.rename(work_dir / f"{stem}_gen{partial_path.suffix}"))
            extended = partial_path if deferred else work_dir / f"{stem}_ext{INTERMEDIATE_SUFFIX}"
            clip = runner.run(
                "extend", "extend", lambda extender: extender.extend(first, request, total_frames, extended)
            )
        if deferred:
            _defer_house_format(runner, clip, partial_path, toolkit, channel)
        else:
            _house_format(runner, clip, request, partial_path, work_dir / f"{stem}_up{INTERMEDIATE_SUFFIX}", channel)
        os.replace(partial_path, output_path)
    finally:
        partial_path.unlink(missing_ok=True)
    return output_path, runner


def _house_format(
    runner: StageRunner, clip: Clip, request: VideoRequest, partial_path: Path, up_path: Path, channel: Channel
) -> None:
    """Upscale and interpolate `clip` per shot (the GPU chain's way), the result in `partial_path`."""
    width, height, fps = channel.width, channel.height, channel.fps
    if (clip.width, clip.height) != (width, height):
        small = clip
        clip = runner.run(
            "upscale", "upscale", lambda upscaler: upscaler.upscale(small, request, width, height, up_path)
        )
    if clip.fps != fps:
        slow = clip
        runner.run("interpolate", "interpolate", lambda interpolator: interpolator.interpolate(slow, fps, partial_path))
    else:
        shutil.copyfile(clip.path, partial_path)


def _defer_house_format(
    runner: StageRunner, clip: Clip, partial_path: Path, toolkit: Toolkit, channel: Channel
) -> None:
    """Leave the shot in `partial_path` at its generation size and rate, checked whole; record what the segment's
    conform will do to it as the `house_format` stage (the very filters `studio.post` gives that encode)."""
    started = time.perf_counter()
    if clip.path != partial_path:  # a stage that wrote elsewhere (a generator that ignored the path it was given)
        shutil.copyfile(clip.path, partial_path)
    try:
        written = probe(partial_path)
    except ToolError as error:
        raise ToolError(f"{clip.backend} left the shot file {SHORT_SHOT} or unreadable: {error}") from None
    if written.video_frames != clip.num_frames or (written.width, written.height) != (clip.width, clip.height):
        raise ToolError(
            f"{clip.backend} left the shot file {SHORT_SHOT}: {written.video_frames} frames of {written.width}x"
            f"{written.height} where it rendered {clip.num_frames} of {clip.width}x{clip.height}"
        )
    if (clip.width, clip.height, clip.fps) == (channel.width, channel.height, channel.fps):
        return  # already in the house format (a generator that renders at it)
    interpolator = toolkit.interpolator
    assert isinstance(interpolator, FFmpegInterpolator)
    chain = house_format_filter(written, channel.width, channel.height, channel.fps, interpolator.mode)
    frames = interpolated_frame_count(clip.num_frames, clip.fps, channel.fps) if clip.fps < channel.fps else None
    runner.stages["house_format"] = {
        "backend": "ffmpeg in the conform",
        "deferred": True,  # run by the segment's one conform encode, not here: `seconds` is this check's
        "seconds": round(time.perf_counter() - started, 3),
        "from": f"{clip.width}x{clip.height} at {clip.fps:g} fps",
        "to": f"{channel.width}x{channel.height} at {channel.fps} fps",
        "filter": chain or "the conform's own scale, crop and fps",
        **({"frames": frames} if frames is not None else {}),
    }


def render(state: EpisodeState, runtime: Runtime[StudioContext]) -> dict[str, Any]:
    """Hand this pass's shots to the render stage (the thread that owns the GPU) all at once, then collect them in
    order: the stage renders them one after another, interleaved with other segments' shots by priority."""
    ctx = runtime.context
    shots = {shot.id: shot for shot in state["shots"]}
    clips = dict(state.get("clips", {}))
    render_errors = dict(state.get("render_errors", {}))
    episode, segment = state["episode_number"], state["segment_index"]
    jobs = [
        (shot_id, submit_render(ctx, shots[shot_id], episode=episode, segment=segment,
                                previous=Path(clips[shot_id]) if shot_id in clips else None))
        for shot_id in state.get("pending", [])
    ]  # fmt: skip
    events: list[ev.Event] = []
    for shot_id, job in jobs:
        path, error, shot_events = job()
        events += shot_events
        if path is None:
            render_errors[shot_id] = error
            continue
        render_errors.pop(shot_id, None)
        clips[shot_id] = str(path)
    return {"clips": clips, "render_errors": render_errors, "events": emitted(*events)}


RenderOutcome = tuple["Path | None", str, list[ev.Event]]


def render_one(
    ctx: StudioContext, shot: Shot, *, episode: int, segment: int, previous: Path | None
) -> tuple[Path | None, str, list[ev.Event]]:
    """Render one attempt of a shot (or take its saved render): the clip's path, or None and the error; and the
    events that say what happened. Through the render stage when production runs one."""
    return submit_render(ctx, shot, episode=episode, segment=segment, previous=previous)()


def submit_render(
    ctx: StudioContext, shot: Shot, *, episode: int, segment: int, previous: Path | None
) -> Callable[[], RenderOutcome]:
    """Start one attempt of a shot: queued on the render stage (`ctx.render_stage`) when there is one, else made on
    the calling thread when collected. Returns what collects its outcome (blocking until it is rendered)."""
    where = {"episode": episode, "segment": segment, "shot": shot.id}
    output_path = rendered_clip_path(ctx.episode_dir(episode), shot)
    if output_path.exists():
        # Saved before the station stopped or crashed, but after the last checkpoint: not rendered again.
        reused = ctx.event(
            ev.ClipRendered, **where, backend="saved render", attempt=shot.attempt, path=str(output_path),
            seconds=shot.seconds, seed=shot.seed, reused=True,
        )  # fmt: skip
        return lambda: (output_path, "", [reused])
    ctx.gate()
    stage = ctx.render_stage
    if stage is None:
        return lambda: _render_now(ctx, shot, where, output_path, previous, queued_s=0.0)
    segment_id = ctx.segment_id(episode, segment)
    future = stage.submit(
        (episode, segment, shot.id, shot.attempt),
        lambda queued_s, slot: _render_now(ctx, shot, where, output_path, previous, queued_s=queued_s, slot=slot),
        cancelled=lambda: ctx.invalidated(segment_id),
    )

    def collect() -> RenderOutcome:
        from studio.pipeline import RenderCancelled

        try:
            outcome: RenderOutcome = stage.wait(future)
        except RenderCancelled as error:
            raise SegmentCancelled(str(error)) from None
        return outcome

    return collect


def _render_now(
    ctx: StudioContext,
    shot: Shot,
    where: dict[str, Any],
    output_path: Path,
    previous: Path | None,
    *,
    queued_s: float,
    slot: int = 0,
) -> RenderOutcome:
    """Render the shot here, or on the render worker behind the stage's `slot` when there is a farm (`--ray`) and
    that worker is alive. A worker lost mid-shot is logged (`RenderWorkerLost`) and the stage hands the shot to
    another slot."""
    from studio.pipeline import RenderWorkerLost

    farm = ctx.render_farm
    remote = farm is not None and slot < farm.slots and farm.workers[slot] is not None
    ctx.notify(ctx.event(ev.RenderStarted, **where, attempt=shot.attempt, seconds=shot.seconds))
    started = time.perf_counter()
    try:
        if remote:
            path, stages, fallbacks = farm.render_shot(slot, ctx.show, shot, output_path, previous)
            runner = StageRunner(ctx.toolkit, stages=stages, fallbacks=[tuple(item) for item in fallbacks])
        else:
            path, runner = render_shot(ctx.toolkit, ctx.show, shot, ctx.work_dir / shot.id, output_path, previous)
    except RenderWorkerLost as lost:
        lost_event = ctx.event(
            ev.RenderWorkerLost, **where, backend="ray", attempt=shot.attempt, worker=lost.worker, error=lost.reason,
            workers_left=farm.alive() if farm is not None else 0, duration_ms=(time.perf_counter() - started) * 1000,
        )  # fmt: skip
        # Into the store now: a node's own events say what it decided, and this shot is not decided yet.
        ctx.station.record(lost_event)
        raise
    except ToolError as error:
        failed = ctx.event(
            ev.RenderFailed, **where, backend=ctx.toolkit.video.name, attempt=shot.attempt, error=str(error),
            duration_ms=(time.perf_counter() - started) * 1000,
        )  # fmt: skip
        return None, str(error), [failed]
    finally:
        shutil.rmtree(ctx.work_dir / shot.id, ignore_errors=True)
    events = runner.fell_back(ctx, where)
    backends = " → ".join(f"{name}:{facts['backend']}" for name, facts in runner.stages.items())
    events.append(
        ctx.event(
            ev.ClipRendered,
            **where,
            backend=backends,
            attempt=shot.attempt,
            path=str(path),
            seconds=shot.seconds,
            seed=shot.seed,
            stages=runner.stages,
            queued_ms=round(queued_s * 1000, 1),
            duration_ms=(time.perf_counter() - started) * 1000,
        )  # fmt: skip
    )
    return path, "", events
