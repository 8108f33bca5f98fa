"""Post: score the segment, mux and conform it to the house format, pass it through the on-air safety gate and
approve it (or hold it for a person); assemble the episode file."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from langgraph.runtime import Runtime  # noqa: TC002 - LangGraph reads node and router hints at runtime

from studio import events as ev
from studio.broadcast import commands
from studio.errors import ToolError
from studio.render import StageRunner
from studio.state import EpisodeState, StudioContext, emitted  # noqa: TC001
from studio.tools.base import MusicRequest
from studio.tools.interpolate_ffmpeg import FFmpegInterpolator, house_format_filter
from studio.tools.loudness import ABSOLUTE_GATE_LUFS, measure_samples
from studio.tools.media import measure_loudness, probe, read_wav, run_ffmpeg

if TYPE_CHECKING:
    from collections.abc import Iterable

    from studio.gate import GateVerdict
    from studio.plan import Shot
    from studio.tools.base import AudioTrack
    from studio.tools.media import MediaInfo

log = logging.getLogger(__name__)

# A conformed file must match its planned length this closely, video and audio alike.
DURATION_TOLERANCE_S = 0.1


def frame_seconds(seconds: float, fps: int) -> float:
    """`seconds` rounded to whole frames: what a conformed file can actually last."""
    return round(seconds * fps) / fps


def segment_seconds(shots: list[Shot], fps: int) -> float:
    """How long a segment of these shots lasts once conformed: each shot and the whole in whole frames."""
    return frame_seconds(sum(frame_seconds(shot.seconds, fps) for shot in shots), fps)


def segment_recipe(shots: list[Shot], clips: dict[str, str], mood: str, music_seed: int) -> dict[str, Any]:
    """What a segment is made of, as its events keep it: enough to make it again around a re-prompted shot."""
    return {
        "shots": [{"shot": shot.model_dump(mode="json"), "clip": clips[shot.id]} for shot in shots],
        "mood": mood,
        "music_seed": music_seed,
    }


def conform_segment(
    ctx: StudioContext,
    runner: StageRunner,
    clip_paths: list[Path],
    *,
    seconds: float,
    mood: str,
    music_seed: int,
    output_path: Path,
) -> tuple[MediaInfo, str]:
    """Score the clips and conform them to one house-format file at `output_path` (whole or not at all). Returns
    what the file holds and the music backend that ran (`runner` keeps what fell back, and a `conform` stage when
    the encode ran on a Ray cluster). Raises `ToolError` when it cannot be made to its planned length."""
    channel = ctx.show.channel
    music_path = ctx.work_dir / f"{output_path.stem}_music.wav"
    partial_path = output_path.with_name(f".{output_path.stem}.partial.mp4")
    try:
        request = MusicRequest(prompt=mood, seconds=seconds, seed=music_seed)
        farm = ctx.render_farm
        # With a render farm, a model backend (MusicGen) scores on a render worker's GPU; the embedded synthesiser
        # (milliseconds of CPU) scores here, as does the model should no worker be able to.
        on_farm = farm is not None and ctx.toolkit.fallback("music") is not None

        def score(music: Any) -> AudioTrack:
            if on_farm and music is ctx.toolkit.music:
                try:
                    return farm.music(request, music_path)
                except ToolError as error:
                    log.warning("%s: %s; scoring it here", output_path.stem, error)
            return music.generate(request, music_path)

        track = runner.run("music", "music", score)
        output_path.parent.mkdir(parents=True, exist_ok=True)
        loudness = normalisation(track.path, target_lufs=ctx.settings.loudness_lufs,
                                 true_peak_dbtp=ctx.settings.true_peak_dbtp)  # fmt: skip
        recipe = {"width": channel.width, "height": channel.height, "fps": channel.fps, "seconds": seconds,
                  "loudness": loudness, "shot_filters": house_format_filters(ctx, clip_paths)}  # fmt: skip
        # With a render farm the encode runs in a Ray task on one of the cluster's CPUs; if it cannot, here.
        if farm is not None and farm.conform(clip_paths, track.path, partial_path, recipe):
            runner.stages["conform"] = {"backend": "ffmpeg on the Ray cluster"}
        else:
            run_ffmpeg(["-y", *commands.conform_segment_argv(clip_paths, track.path, partial_path, **recipe)])
        info = probe(partial_path)
        if (
            abs(info.video_seconds - seconds) > DURATION_TOLERANCE_S
            or abs(info.audio_seconds - seconds) > DURATION_TOLERANCE_S
        ):
            raise ToolError(
                f"conformed {output_path.stem} lasts {info.video_seconds:.3f} s video / {info.audio_seconds:.3f} s"
                f" audio, planned {seconds:.3f} s"
            )
        os.replace(partial_path, output_path)  # approved files appear whole or not at all
    finally:
        music_path.unlink(missing_ok=True)
        partial_path.unlink(missing_ok=True)
    return info, track.backend


def made_by(music_backend: str, runner: StageRunner) -> str:
    """A made segment's `backend`: its music's, and where it was conformed when not here."""
    conform = runner.stages.get("conform")
    return f"music:{music_backend}" + (f" · conform:{conform['backend']}" if conform else "")


LINEAR_PEAK_MARGIN_DB = 0.2
"""Headroom under the true-peak ceiling that an in-memory measurement must leave for a plain gain: ffmpeg's meter
and `studio.tools.loudness` agree to about 0.1 dB, and closer to the ceiling loudnorm's limiter decides."""


def normalisation(
    music_path: Path, *, target_lufs: float, true_peak_dbtp: float
) -> commands.Loudness | commands.Gain | None:
    """How the conform brings the music to `target_lufs`: a plain gain when its loudness and true peak, measured in
    memory, leave the peaks under the ceiling after it (what loudnorm's linear mode would do, without its ffmpeg
    measuring pass nor its 192 kHz round trip in the conform); else loudnorm (`measure_loudness`), whose dynamic
    mode limits the peaks. None for silence, which stays silence."""
    try:
        samples, rate = read_wav(music_path)
    except ToolError:  # not 16-bit PCM: ffmpeg reads it
        return measure_loudness(music_path, target_lufs=target_lufs, true_peak_dbtp=true_peak_dbtp)
    measured = measure_samples(samples, rate)
    if measured.integrated_lufs < ABSOLUTE_GATE_LUFS:
        return None
    gain = target_lufs - measured.integrated_lufs
    if measured.true_peak_dbtp + gain <= true_peak_dbtp - LINEAR_PEAK_MARGIN_DB:
        return commands.Gain(round(gain, 3), round(measured.integrated_lufs, 3), round(measured.true_peak_dbtp, 3))
    return measure_loudness(music_path, target_lufs=target_lufs, true_peak_dbtp=true_peak_dbtp)


def house_format_filters(ctx: StudioContext, clip_paths: list[Path]) -> list[str | None]:
    """For each clip, the filters that bring it to the house format in the conform encode when it was kept at its
    generation size (`studio.render.defers_house_format`): the embedded interpolator's (in the station's mode) and
    upscaler's, as they would have run on the shot alone; None for a clip the conform's own scale and `fps` serve.
    Decided by what each file holds, so a segment made again from older renders is conformed right too."""
    channel = ctx.show.channel
    interpolator = ctx.toolkit.interpolator
    mode = interpolator.mode if isinstance(interpolator, FFmpegInterpolator) else FFmpegInterpolator(ctx.settings).mode
    filters: list[str | None] = []
    for path in clip_paths:
        filters.append(house_format_filter(probe(path), channel.width, channel.height, channel.fps, mode))
    return filters


def gate_segment(ctx: StudioContext, path: Path, on_air_text: Iterable[str]) -> GateVerdict | None:
    """The on-air safety gate over a conformed segment (`studio.gate`), or None when it is off
    (`STUDIO_SAFETY_GATE=off`). Every made segment passes here before it may be queued for air: post's, and a
    re-prompted one made again (`studio.remake`)."""
    settings = ctx.settings
    if not settings.safety_gate:
        return None
    from studio.gate import SafetyGate

    gate = SafetyGate(
        min_score=settings.safety_gate_min_score, sample_fps=settings.safety_gate_sample_fps,
        max_frames=settings.safety_gate_max_frames, vision=ctx.vision,
    )  # fmt: skip
    return gate.judge_file(
        path, avoid_words=ctx.show.avoid_words, tone=ctx.show.tone, on_air_text=on_air_text,
        text_unread_because=text_unread_because(ctx),
    )  # fmt: skip


TEXTLESS_VIDEO_BACKENDS = frozenset({"procedural"})
"""Video backends whose pictures are drawn by code that draws no letters (the embedded renderer: shapes, gradients
and figures). Their segments are not read for text by the safety gate; a generative model's always are."""


def text_unread_because(ctx: StudioContext) -> str:
    """Why the safety gate need not read this station's pictures for text, or "" when it must: it must unless the
    selected video backend draws no text (a shot that falls back from a model to the embedded renderer is read
    all the same, since the model is still what was selected) and `STUDIO_SAFETY_GATE_READ_EMBEDDED` is off."""
    name = ctx.toolkit.video.name
    if name not in TEXTLESS_VIDEO_BACKENDS or ctx.settings.safety_gate_read_embedded:
        return ""
    return f"every shot was drawn by the embedded {name} renderer, which draws no text"


def gate_record(verdict: GateVerdict | None) -> dict[str, Any]:
    """What an approved segment's event keeps of the gate's verdict."""
    if verdict is None:
        return {"checked": False, "reason": "the safety gate is off (STUDIO_SAFETY_GATE=off)"}
    return {"checked": True, "passed": verdict.passed, "seconds": round(verdict.seconds, 3), **verdict.evidence}


def post(state: EpisodeState, runtime: Runtime[StudioContext]) -> dict[str, Any]:
    ctx = runtime.context
    episode, index = state["episode_number"], state["segment_index"]
    segment_id = ctx.segment_id(episode, index)
    where = {"episode": episode, "segment": index}
    verdicts = state.get("verdicts", {})
    approved = [shot for shot in state["shots"] if (v := verdicts.get(shot.id)) is not None and v.passed]
    dropped = [shot.id for shot in state["shots"] if shot not in approved]
    done = {"shots": [], "verdicts": {}, "clips": {}, "pending": [], "render_errors": {}}
    if not approved:
        reason = f"every shot failed the critic ({', '.join(dropped)})"
        return {**done, "events": emitted(ctx.event(ev.SegmentDropped, **where, segment_id=segment_id, reason=reason))}
    ctx.gate()
    started = time.perf_counter()
    seconds = segment_seconds(approved, ctx.show.channel.fps)
    recipe = segment_recipe(approved, state["clips"], state["script"].mood, ctx.seed + episode * 100 + index)
    output_path = ctx.segment_path(episode, segment_id)
    runner = StageRunner(ctx.toolkit)
    try:
        info, music_backend = conform_segment(
            ctx, runner, [Path(state["clips"][shot.id]) for shot in approved], seconds=seconds,
            mood=recipe["mood"], music_seed=recipe["music_seed"], output_path=output_path,
        )  # fmt: skip
    except ToolError as error:
        dropped_event = ctx.event(ev.SegmentDropped, **where, segment_id=segment_id, reason=f"post failed: {error}")
        return {**done, "events": emitted(*runner.fell_back(ctx, where), dropped_event)}
    fell_back = runner.fell_back(ctx, where)
    ctx.gate()
    plan = state["plan"]
    verdict = gate_segment(ctx, output_path, [plan.title, plan.segments[index].title, state["script"].title])
    if verdict is not None and not verdict.passed:
        # Held, not aired: the segment waits for a person (`approve` overrides the gate); production and playout go
        # on without it, so an unattended channel neither stalls nor airs it.
        held = ctx.event(
            ev.SegmentHeld, **where, segment_id=segment_id, path=str(output_path), seconds=seconds,
            reasons=verdict.reasons, evidence=gate_record(verdict), recipe=recipe,
            duration_ms=(time.perf_counter() - started) * 1000,
        )  # fmt: skip
        return {**done, "events": emitted(*fell_back, held)}
    approved_event = ctx.event(
        ev.SegmentApproved, **where, backend=made_by(music_backend, runner), segment_id=segment_id, path=str(output_path),
        seconds=seconds, shots=len(approved), dropped_shots=tuple(dropped), music_backend=music_backend,
        video_seconds=round(info.video_seconds, 3), audio_seconds=round(info.audio_seconds, 3), recipe=recipe,
        safety_gate=gate_record(verdict), duration_ms=(time.perf_counter() - started) * 1000,
    )  # fmt: skip
    if ctx.station.flag(ctx.show_key, "manual_approval"):
        waiting = ctx.event(
            ev.SegmentAwaitingReview, **where, segment_id=segment_id, path=str(output_path), seconds=seconds,
            recipe=recipe,
        )  # fmt: skip
        return {**done, "awaiting": approved_event.to_dict(), "events": emitted(*fell_back, waiting)}
    return {
        **done,
        "approved_segments": [*state.get("approved_segments", []), str(output_path)],
        "events": emitted(*fell_back, approved_event),
    }


def review(state: EpisodeState, runtime: Runtime[StudioContext]) -> dict[str, Any]:
    """Manual approval: the graph stops here (a LangGraph interrupt, checkpointed) until a person approves or
    rejects the segment; production resumes it with their decision, and this node records it and the answer."""
    from langgraph.types import interrupt

    ctx = runtime.context
    approved_event = ev.event_from_dict(state["awaiting"] or {})
    assert isinstance(approved_event, ev.SegmentApproved)
    decision = interrupt({"segment_id": approved_event.segment_id})
    command_id = int(decision["command_id"])
    # Switching approval back to automatic approves what waits; that command was answered when it was applied.
    answers = bool(decision.get("answer", True))
    where = {"episode": approved_event.episode, "segment": approved_event.segment}
    if decision["approved"]:
        answer = ctx.event(ev.CommandApplied, command_id=command_id, kind="approve",
                           effect=f"{approved_event.segment_id} approved by a person: it airs in turn")  # fmt: skip
        return {
            "awaiting": None,
            "approved_segments": [*state.get("approved_segments", []), approved_event.path],
            "events": emitted(approved_event, *([answer] if answers else [])),
        }
    reason = str(decision.get("reason") or f"by a person (command {command_id})")
    rejected = ctx.event(
        ev.SegmentRejected, **where, segment_id=approved_event.segment_id, reason=reason, command_id=command_id
    )
    answer = ctx.event(ev.CommandApplied, command_id=command_id, kind="reject",
                       effect=f"{approved_event.segment_id} rejected: it will not air")  # fmt: skip
    return {"awaiting": None, "events": emitted(rejected, *([answer] if answers else []))}


def route_after_post(state: EpisodeState) -> Literal["review", "__end__"]:
    """To a person's review when approval is manual, else the segment is done."""
    return "review" if state.get("awaiting") else "__end__"


def assemble_episode(ctx: StudioContext, episode: int, title: str, segments: list[Path]) -> ev.EpisodeAssembled:
    """Write the episode file from `segments` (again, after one of them was made again)."""
    episode_path = ctx.episode_dir(episode) / f"episode-{episode:04d}.mp4"
    list_path = ctx.work_dir / f"episode-{episode:04d}.ffconcat"
    partial_path = episode_path.with_name(f".{episode_path.stem}.partial.mp4")
    commands.write_ffconcat(segments, list_path)
    try:
        run_ffmpeg(["-y", *commands.concat_episode_argv(list_path, partial_path)])
        os.replace(partial_path, episode_path)
    finally:
        list_path.unlink(missing_ok=True)
        partial_path.unlink(missing_ok=True)
    info = probe(episode_path)
    return ctx.event(
        ev.EpisodeAssembled, episode=episode, title=title, path=str(episode_path), segments=len(segments),
        video_seconds=round(info.video_seconds, 3), audio_seconds=round(info.audio_seconds, 3),
    )  # fmt: skip
