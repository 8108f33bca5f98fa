"""The render node: shot → generated clip → extended → upscaled → interpolated, through the toolkit's backends.

Stage order follows the AI WebTV pipeline: the first pass at the generator's native size, extension for long
shots, the upscaling second pass with the same prompt, then frame interpolation to the house frame rate.
"""

from __future__ import annotations

import math
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph.runtime import Runtime  # noqa: TC002 - LangGraph reads node and router hints at runtime

from studio.colours import NAMED_COLOURS, to_hex
from studio.errors import ToolError
from studio.state import EpisodeState, StudioContext  # noqa: TC001
from studio.tools.base import Figure, SceneHint, VideoRequest
from studio.tools.media import INTERMEDIATE_SUFFIX, read_video, write_video

if TYPE_CHECKING:
    from studio.plan import Shot
    from studio.show import Show
    from studio.tools.base import Clip, Toolkit

# Zeroscope v2 576w's native output; the embedded renderer matches it so both backends take the same path.
GENERATION_WIDTH, GENERATION_HEIGHT, GENERATION_FPS, CLIP_FRAMES = 576, 320, 8, 24


def look_colour(look: str) -> str | None:
    """The first colour named in a character's look ("warm brown skin", "a cream-coloured llama"), as hex."""
    for match in re.finditer(r"[a-z]+", look.lower()):
        if match.group(0) in NAMED_COLOURS:
            return to_hex(NAMED_COLOURS[match.group(0)])
    return None


def scene_hint(show: Show, shot: Shot) -> SceneHint:
    """Structured scene facts for the procedural renderer. A character's second colour (skin, fur, face) is the
    colour their look names, so a renderer that cannot read prompts still draws a brown fox brown."""
    place = show.place(shot.place)
    figures = []
    for character in (show.character(name) for name in shot.characters):
        palette = list(character.palette)
        body = look_colour(character.look)
        if body is not None:
            palette.insert(1, body)
        figures.append(Figure(name=character.name, palette=tuple(palette)))
    for name in shot.props:
        prop = next(p for p in show.props if p.name.casefold() == name.casefold())
        figures.append(Figure(name=prop.name, palette=(prop.colour,), kind="prop"))
    style = look_colour(show.visual_style)
    return SceneHint(
        place=place.name,
        place_palette=tuple(place.palette),
        figures=tuple(figures),
        style_palette=(style,) if style else (),
    )


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


def render_shot(
    toolkit: Toolkit, show: Show, shot: Shot, work_dir: Path, output_path: Path, previous: Path | None = None
) -> tuple[Path, dict[str, Any]]:
    """Render one shot to `output_path` at the house size and frame rate. Returns the path and per-stage facts."""
    work_dir.mkdir(parents=True, exist_ok=True)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    stages: dict[str, Any] = {}
    if shot.reverse_only:
        if previous is None or not previous.exists():
            raise ToolError(f"{shot.id}: nothing to reverse (previous render missing)")
        started = time.perf_counter()
        frames, fps = read_video(previous)
        write_video(frames[::-1], fps, output_path, width=frames.shape[2], height=frames.shape[1])
        stages["reverse"] = {"backend": "time-reversal", "seconds": round(time.perf_counter() - started, 3)}
        return output_path, stages

    total_frames = max(2, math.ceil(shot.seconds * GENERATION_FPS - 1e-6))
    request = video_request(show, shot, min(total_frames, CLIP_FRAMES))

    def stage(name: str, call: Any) -> Clip:
        started = time.perf_counter()
        clip: Clip = call()
        stages[name] = {
            "backend": clip.backend, "seconds": round(time.perf_counter() - started, 3),
            "frames": clip.num_frames, "size": f"{clip.width}x{clip.height}", "fps": clip.fps,
        }  # fmt: skip
        return clip

    stem = f"{shot.id}_a{shot.attempt}"
    clip = stage("generate", lambda: toolkit.video.generate(request, work_dir / f"{stem}_gen{INTERMEDIATE_SUFFIX}"))
    if total_frames > clip.num_frames:
        first = clip
        clip = stage(
            "extend",
            lambda: toolkit.extender.extend(
                first, request, total_frames, work_dir / f"{stem}_ext{INTERMEDIATE_SUFFIX}"
            ),
        )
    channel = show.channel
    if (clip.width, clip.height) != (channel.width, channel.height):
        small = clip
        clip = stage(
            "upscale",
            lambda: toolkit.upscaler.upscale(
                small, request, channel.width, channel.height, work_dir / f"{stem}_up{INTERMEDIATE_SUFFIX}"
            ),
        )
    if clip.fps != channel.fps:
        slow = clip
        clip = stage("interpolate", lambda: toolkit.interpolator.interpolate(slow, channel.fps, output_path))
    else:
        shutil.copyfile(clip.path, output_path)
    return output_path, stages


def render(state: EpisodeState, runtime: Runtime[StudioContext]) -> dict[str, Any]:
    ctx = runtime.context
    shots = {shot.id: shot for shot in state["shots"]}
    clips = dict(state.get("clips", {}))
    render_errors = dict(state.get("render_errors", {}))
    episode, segment = state["episode_number"], state["segment_index"]
    for shot_id in state.get("pending", []):
        shot = shots[shot_id]
        output_path = ctx.episode_dir(episode) / "shots" / f"{shot.id}_a{shot.attempt}.mp4"
        previous = Path(clips[shot_id]) if shot_id in clips else None
        ctx.progress(f"rendering {shot.id} (attempt {shot.attempt})")
        started = time.perf_counter()
        try:
            path, stages = render_shot(ctx.toolkit, ctx.show, shot, ctx.work_dir / shot.id, output_path, previous)
        except ToolError as error:
            render_errors[shot_id] = str(error)
            ctx.record(
                "render", "render_failed", backend=ctx.toolkit.video.name, episode=episode, segment=segment,
                shot=shot_id, summary=str(error), duration_ms=(time.perf_counter() - started) * 1000,
            )  # fmt: skip
            continue
        finally:
            shutil.rmtree(ctx.work_dir / shot.id, ignore_errors=True)
        render_errors.pop(shot_id, None)
        clips[shot_id] = str(path)
        backends = " → ".join(f"{name}:{facts['backend']}" for name, facts in stages.items())
        ctx.record(
            "render", "clip_rendered", backend=backends, episode=episode, segment=segment, shot=shot_id,
            summary=f"attempt {shot.attempt}, {shot.seconds:g} s: {backends}",
            output={"path": str(path), "stages": stages, "seed": shot.seed},
            duration_ms=(time.perf_counter() - started) * 1000,
        )  # fmt: skip
    return {"clips": clips, "render_errors": render_errors}
