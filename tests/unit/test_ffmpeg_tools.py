"""ffmpeg interpolation and upscaling: exact argv, then real ffmpeg on real clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.config import Settings
from studio.errors import ToolError
from studio.plan import MotionSpec
from studio.tools.base import Clip, SceneHint, VideoRequest
from studio.tools.interpolate_ffmpeg import (
    FFmpegInterpolator,
    FFmpegUpscaler,
    house_format_filter,
    interpolate_argv,
    interpolated_frame_count,
    rate_text,
    upscale_argv,
)
from studio.tools.media import MediaInfo, probe, read_video, write_video


def _moving_clip(path: Path, frames: int = 24, fps: float = 8.0, width: int = 192, height: int = 108) -> Clip:
    """A bright bar moving right by 6 px per frame over a gradient."""
    ramp = np.linspace(40, 120, width, dtype=np.float32)[None, :, None].repeat(height, 0).repeat(3, 2)
    images = []
    for index in range(frames):
        image = ramp.copy()
        image[:, 10 + 6 * index : 22 + 6 * index] = 240
        images.append(image.astype(np.uint8))
    write_video(images, fps, path, width=width, height=height)
    return Clip(path, fps, frames, width, height, "test")


def _request(width: int, height: int) -> VideoRequest:
    return VideoRequest("p", "", MotionSpec(), width, height, 24, 8.0, 1, SceneHint("studio", ("grey",)))


def _info(width: int, height: int, fps: float, frames: int) -> MediaInfo:
    return MediaInfo(width, height, fps, frames, frames / fps if fps else 0.0, "h264", "yuv444p", 0.0, 0, 0, "")


def test_house_format_filter_is_the_embedded_upscaler_and_interpolator() -> None:
    upscale = "scale=1024:576:force_original_aspect_ratio=increase:flags=lanczos,crop=1024:576,setsar=1,format=yuv444p"
    # Blended in 4:2:0 once the upscale (in 4:4:4) is done: half the bytes to mix.
    blend = "format=yuv420p,tpad=stop=3:stop_mode=clone,framerate=fps=24,trim=end_frame=72"
    assert house_format_filter(_info(576, 320, 8.0, 24), 1024, 576, 24, "blend") == f"{upscale},{blend}"
    long_mci = house_format_filter(_info(576, 320, 8.0, 40), 1024, 576, 24, "mci")
    assert long_mci == (
        "tpad=stop=3:stop_mode=clone,minterpolate=fps=24:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1,"
        f"trim=end_frame=120,{upscale}"
    ), "motion search at the small size"
    assert house_format_filter(_info(1024, 576, 8.0, 24), 1024, 576, 24, "blend") == f"setsar=1,{blend}"
    assert house_format_filter(_info(576, 320, 24.0, 72), 1024, 576, 24, "blend") == f"{upscale},fps=24"
    assert house_format_filter(_info(1024, 576, 24.0, 72), 1024, 576, 24, "blend") is None, "already house format"
    assert house_format_filter(_info(1280, 720, 30.0, 90), 1024, 576, 24, "blend") is None, "conform's own scale"
    assert house_format_filter(_info(1024, 576, 0.0, 72), 1024, 576, 24, "blend") is None, "no rate: conform's fps"


def test_interpolation_modes() -> None:
    settings = Settings()
    assert FFmpegInterpolator(settings).mode == "blend"
    with pytest.raises(ToolError):
        FFmpegInterpolator(settings, "warp")  # type: ignore[arg-type]


def test_interpolate_argv_is_exact() -> None:
    argv = interpolate_argv(Path("in.mkv"), Path("out.mkv"), 24.0, 72, "mci")
    assert argv == [
        "-y", "-i", "in.mkv", "-an",
        "-vf", "tpad=stop=3:stop_mode=clone,minterpolate=fps=24:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1",
        "-frames:v", "72",
        "-c:v", "utvideo", "-pix_fmt", "gbrp", "-r", "24", "out.mkv",
    ]  # fmt: skip
    blend = interpolate_argv(Path("a.mkv"), Path("b.mp4"), 30000 / 1001, 90, "blend")
    assert blend[blend.index("-vf") + 1] == "tpad=stop=3:stop_mode=clone,framerate=fps=30000/1001"
    assert "libx264" in blend


def test_upscale_argv_is_exact() -> None:
    assert upscale_argv(Path("in.mkv"), Path("out.mkv"), 1024, 576) == [
        "-y", "-i", "in.mkv", "-an",
        "-vf", "scale=1024:576:force_original_aspect_ratio=increase:flags=lanczos,crop=1024:576,setsar=1",
        "-c:v", "utvideo", "-pix_fmt", "gbrp", "out.mkv",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("frames", "fps_in", "fps_out", "expected"), [(24, 8, 24, 72), (24, 8, 25, 75), (10, 8, 30, 38), (1, 8, 24, 3)]
)
def test_frame_count_keeps_the_duration(frames: int, fps_in: float, fps_out: float, expected: int) -> None:
    assert interpolated_frame_count(frames, fps_in, fps_out) == expected


def test_rate_text() -> None:
    assert (rate_text(24.0), rate_text(24000 / 1001), rate_text(12.5)) == ("24", "24000/1001", "25/2")


@pytest.mark.parametrize("mode", ["blend", "mci_fast", "mci"])
def test_interpolation_triples_the_frames_and_keeps_the_duration(tmp_path: Path, mode: str) -> None:
    clip = _moving_clip(tmp_path / "in.mkv")
    result = FFmpegInterpolator(Settings(), mode).interpolate(clip, 24.0, tmp_path / "out.mkv")  # type: ignore[arg-type]
    assert (result.num_frames, result.fps, result.width, result.height, result.backend) == (
        72,
        24.0,
        192,
        108,
        "ffmpeg",
    )
    info = probe(result.path)
    assert info.video_frames == 72
    assert info.fps == pytest.approx(24.0)
    assert info.video_seconds == pytest.approx(3.0, abs=0.01)
    assert result.seconds == pytest.approx(clip.seconds)
    source, _ = read_video(clip.path)
    frames, _ = read_video(result.path)
    assert np.abs(frames[::3].astype(np.int16) - source.astype(np.int16)).mean() < 3, "originals kept in place"
    in_between = frames[1].astype(np.int16)
    assert np.abs(in_between - frames[0]).mean() > 0.5 and np.abs(in_between - frames[3]).mean() > 0.5, "synthesised"


def test_interpolation_to_a_fractional_rate(tmp_path: Path) -> None:
    clip = _moving_clip(tmp_path / "in.mkv", frames=10)
    result = FFmpegInterpolator(Settings()).interpolate(clip, 30000 / 1001, tmp_path / "out.mkv")
    assert result.num_frames == probe(result.path).video_frames == round(10 / 8 * 30000 / 1001)


@pytest.mark.parametrize(("width", "height"), [(1024, 576), (640, 480), (300, 300)])
def test_upscale_covers_and_crops_the_centre(tmp_path: Path, width: int, height: int) -> None:
    clip = _moving_clip(tmp_path / "in.mkv", frames=4)
    result = FFmpegUpscaler(Settings()).upscale(clip, _request(192, 108), width, height, tmp_path / "up.mkv")
    assert (result.width, result.height, result.num_frames, result.fps) == (width, height, 4, 8.0)
    info = probe(result.path)
    assert (info.width, info.height, info.video_frames) == (width, height, 4)
    frames, _ = read_video(result.path)
    source, _ = read_video(clip.path)
    # The gradient's centre column keeps its level: the crop is centred and nothing is letterboxed.
    centre = frames[0, height // 2, width // 2, 0].astype(int)
    assert abs(centre - int(source[0, 54, 96, 0])) <= 3
    edges = [frames[0, 0], frames[0, -1], frames[0, :, 0], frames[0, :, -1]]
    assert min(float(edge.mean()) for edge in edges) > 35, "no black bars"
