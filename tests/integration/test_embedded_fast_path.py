"""The embedded CPU path: shots kept at their generation size and rate, brought to the house format by the segment's
one conform encode with the embedded interpolator's blend and upscaler's lanczos; and a GPU chain (stood in for by
backends that are not the embedded ones) still upscaling and interpolating each shot, a fallen-back shot included."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from studio.agents.cinematographer import make_shot
from studio.agents.llm import OfflineBackedDirector
from studio.canon import canon_from_show
from studio.config import load_settings
from studio.errors import ToolError
from studio.faults import with_faults
from studio.plan import CameraMove, ShotDesign, SubjectMotion
from studio.post import conform_segment, house_format_filters, segment_seconds
from studio.render import SHORT_SHOT, StageRunner, defers_house_format, render_shot, video_request
from studio.show import load_show
from studio.state import StudioContext
from studio.station import Station
from studio.tools.base import Clip
from studio.tools.interpolate_ffmpeg import FFmpegInterpolator, FFmpegUpscaler
from studio.tools.media import probe, read_video
from studio.tools.registry import build_toolkit
from studio.tools.video_procedural import ProceduralVideoGenerator
from tests.unit.test_loudness_memory import ebur128

if TYPE_CHECKING:
    from studio.config import Settings
    from studio.plan import Shot
    from studio.tools.base import Toolkit, VideoRequest

COOKING = load_show(Path(__file__).parents[2] / "shows" / "cooking.yaml")


def _shot(index: int, camera: CameraMove, subjects: list[SubjectMotion], seconds: float = 3.0) -> Shot:
    design = ShotDesign(
        beat_index=0, framing="wide shot at eye level", action="cooks", camera=camera, subjects=subjects,
        characters=["Chef Marisol", "Pepito"], place="Studio Kitchen", props=["copper pot"], seconds=seconds,
    )  # fmt: skip
    return make_shot(
        design, COOKING, canon=canon_from_show(COOKING), shot_id=f"e0001-s01-sh{index:02d}", segment_index=0,
        base_seed=COOKING.channel.seed, avoid=[],
    )  # fmt: skip


SHOTS = [
    _shot(1, CameraMove(kind="pan", direction="right", speed="medium"), []),
    _shot(2, CameraMove(), [SubjectMotion(subject="Pepito", action="walks", direction="left", speed="medium")]),
]


def _context(settings: Settings, toolkit: Toolkit) -> StudioContext:
    station = Station(settings.data_dir / "station.sqlite")
    return StudioContext(
        show=COOKING, settings=settings, toolkit=toolkit, director=OfflineBackedDirector(), station=station,
        seed=COOKING.channel.seed,
    )  # fmt: skip


def test_a_cooking_segment_is_made_from_shots_kept_small_with_one_encode(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    toolkit = build_toolkit(settings)
    assert defers_house_format(toolkit), "every backend is the embedded one here"
    shots_dir, work_dir = tmp_path / "shots", tmp_path / "work"
    paths, recorded = [], []
    for shot in SHOTS:
        path, runner = render_shot(toolkit, COOKING, shot, work_dir, shots_dir / f"{shot.id}.mp4")
        paths.append(path)
        recorded.append(runner.stages["house_format"]["filter"])
        assert list(runner.stages) == ["generate", "house_format"], "no per-shot upscale or interpolation ran"
        assert runner.stages["generate"]["backend"] == "procedural"
        deferred = runner.stages["house_format"]
        assert deferred["backend"] == "ffmpeg in the conform" and deferred["deferred"] is True
        assert deferred["from"] == "576x320 at 8 fps" and deferred["to"] == "1024x576 at 24 fps"
        assert deferred["frames"] == 72
        assert "framerate=fps=24" in deferred["filter"] and "flags=lanczos" in deferred["filter"]
        info = probe(path)
        assert (info.width, info.height, info.video_frames, info.fps) == (576, 320, 24, 8.0)
        assert info.pix_fmt == "yuv444p", "a master: full colour resolution for the conform's upscale"
    assert sorted(p.name for p in shots_dir.iterdir()) == [f"{shot.id}.mp4" for shot in SHOTS], "no partial left"
    assert list(work_dir.iterdir()) == [], "written once, straight to the shot file"

    context = _context(settings, toolkit)
    assert house_format_filters(context, paths) == recorded, "the stage says what the conform encode does"
    seconds = segment_seconds(SHOTS, COOKING.channel.fps)
    segment = tmp_path / "segment.mp4"
    info, music = conform_segment(
        context, StageRunner(toolkit), paths, seconds=seconds, mood=COOKING.music.mood, music_seed=3,
        output_path=segment,
    )  # fmt: skip
    assert music == "synth"
    assert (info.width, info.height, info.fps, info.video_frames) == (1024, 576, 24.0, 144)
    assert info.video_seconds == pytest.approx(6.0) and info.pix_fmt == "yuv420p"
    integrated, peak = ebur128(segment)
    assert integrated == pytest.approx(settings.loudness_lufs, abs=0.5), "a plain gain measured in memory"
    assert peak <= settings.true_peak_dbtp + 0.5

    # The reference: each shot upscaled alone by the embedded upscaler, as the per-shot chain did.
    upscaler = FFmpegUpscaler(settings)
    upscaled = []
    for index, path in enumerate(paths):
        clip = Clip(path, 8.0, 24, 576, 320, "procedural")
        large = upscaler.upscale(clip, video_request(COOKING, SHOTS[index], 24), 1024, 576, tmp_path / f"up{index}.mkv")
        upscaled.append(read_video(large.path)[0].astype(np.float32))
    aired = read_video(segment)[0].astype(np.float32)

    def distance(frame: np.ndarray, picture: np.ndarray) -> float:
        return float(np.abs(frame - picture).mean())

    first = upscaled[0]
    # At 1/24 s the blend shows a third of the way from source frame 0 (t = 0) to source frame 1 (t = 1/8), ...
    blend = first[0] * (2 / 3) + first[1] / 3
    assert distance(aired[1], blend) < 3.5, "the blend, up to encoding (~2.5 levels)"
    assert distance(aired[1], blend) < 0.5 * min(distance(aired[1], first[0]), distance(aired[1], first[1]))
    # ... at 3/24 s = 1/8 s source frame 1 itself, and the second shot starts at frame 72 with its own first frame.
    assert distance(aired[3], first[1]) < 3.5
    assert distance(aired[72], upscaled[1][0]) < 3.5


class StandIn:
    """A GPU backend's place in the chain, filled by an embedded one under another name: whatever is not the embedded
    ffmpeg upscaler or interpolator runs per shot, as Zeroscope XL and FILM do."""

    def __init__(self, name: str, inner: FFmpegUpscaler | FFmpegInterpolator) -> None:
        self.name = name
        self.inner = inner

    def upscale(self, clip: Clip, request: VideoRequest, width: int, height: int, output_path: Path) -> Clip:
        return self.inner.upscale(clip, request, width, height, output_path)  # type: ignore[union-attr]

    def interpolate(self, clip: Clip, fps: float, output_path: Path) -> Clip:
        return self.inner.interpolate(clip, fps, output_path)  # type: ignore[union-attr]


class CudaOutOfMemory:
    name = "zeroscope"

    def generate(self, request: VideoRequest, output_path: Path) -> Clip:
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_under_a_gpu_chain_a_shot_that_falls_back_to_the_embedded_renderer_is_upscaled_and_interpolated(
    tmp_path: Path,
) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    toolkit = build_toolkit(settings)
    toolkit.video = CudaOutOfMemory()
    toolkit.fallbacks["video"] = lambda: ProceduralVideoGenerator(settings)
    toolkit.upscaler = StandIn("zeroscope_xl", FFmpegUpscaler(settings))
    toolkit.interpolator = StandIn("film", FFmpegInterpolator(settings))
    assert not defers_house_format(toolkit)
    path, runner = render_shot(toolkit, COOKING, SHOTS[0], tmp_path / "work", tmp_path / "shots" / "shot.mp4")
    assert list(runner.stages) == ["generate", "upscale", "interpolate"]
    assert runner.stages["generate"]["backend"] == "procedural"
    assert [(kind, failed, fallback) for kind, failed, fallback, _ in runner.fallbacks] == [
        ("video", "zeroscope", "procedural")
    ]
    info = probe(path)
    assert (info.width, info.height, info.video_frames, info.fps, info.pix_fmt) == (1024, 576, 72, 24.0, "yuv420p")
    context = _context(settings, toolkit)
    assert house_format_filters(context, [path]) == [None], "in the house format already: the conform only encodes"
    info, _ = conform_segment(
        context, StageRunner(toolkit), [path], seconds=3.0, mood="calm", music_seed=1,
        output_path=tmp_path / "segment.mp4",
    )  # fmt: skip
    assert (info.width, info.height, info.video_frames) == (1024, 576, 72)


def test_a_shot_written_short_is_not_kept(tmp_path: Path) -> None:
    """A renderer that leaves a cut-off file (a full disk, a crash: the fault injector's corrupt_clip) fails the
    render; no shot file appears, so nothing half-written is reused after a restart."""
    settings = load_settings(data_dir=tmp_path / "data")
    toolkit = with_faults(build_toolkit(settings), "corrupt_clip=1,latency_s=0", tmp_path, COOKING.channel)
    assert defers_house_format(toolkit)
    output = tmp_path / "shots" / "shot.mp4"
    with pytest.raises(ToolError, match=SHORT_SHOT):
        render_shot(toolkit, COOKING, SHOTS[0], tmp_path / "work", output)
    assert list(output.parent.iterdir()) == []
