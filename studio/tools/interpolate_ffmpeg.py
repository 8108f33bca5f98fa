"""Embedded CPU backends built on ffmpeg filters: frame-rate interpolation and lanczos upscaling.

The argv builders are pure (`interpolate_argv`, `upscale_argv`) and asserted exactly in tests; `run_ffmpeg` runs
them. Interpolation modes, 8 → 24 fps on a 3 s clip, seconds per clip on 2 busy cores (benchmarks/embedded_tools.py
prints the figures for the machine at hand; a large share is FFV1 encoding of the 72 output frames):

| mode | filter | 576x320 | 1024x576 |
|---|---|---|---|
| `blend` (default) | `framerate`: cross-fade of neighbouring frames | 1.0–1.5 s (0.3–0.5x real time) | 2.9–4.2 s (~1.0–1.4x) |
| `mci_fast` | `minterpolate` mci, bilateral epzs estimation, OBMC | 3.3–5.9 s (1.1–2x) | 12.7–15.9 s (4–5x) |
| `mci` | `minterpolate` mci, bidirectional, adaptive OBMC, variable blocks | 4.4–9.0 s (1.5–3x) | 15–18 s (5–6x) |

Motion-compensated modes look best but cannot keep a channel's buffer full on a laptop, hence the default.
The mode comes from the constructor, else from `settings.interpolate_mode` when the settings define it.

These backends run per shot only when a GPU backend holds one of the stages. When both are these, a shot is kept
at its generation size and rate and the segment's conform encode applies the same filters (`house_format_filter`,
`studio.render.defers_house_format`): no intermediate file, no encode of its own.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Literal, get_args

from studio.errors import ToolError
from studio.tools.base import Clip
from studio.tools.media import probe, run_ffmpeg, video_encode_args

if TYPE_CHECKING:
    from pathlib import Path

    from studio.config import Settings
    from studio.tools.base import VideoRequest
    from studio.tools.media import MediaInfo

InterpolationMode = Literal["blend", "mci_fast", "mci"]
DEFAULT_INTERPOLATION_MODE: InterpolationMode = "blend"

_MINTERPOLATE_OPTIONS: dict[str, str] = {
    "mci": "mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1",
    "mci_fast": "mi_mode=mci:mc_mode=obmc:me_mode=bilat:me=epzs",
}


def rate_text(fps: float) -> str:
    """A frame rate as ffmpeg reads it exactly: `24`, `24000/1001`."""
    rate = Fraction(fps).limit_denominator(1001)
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def interpolated_frame_count(num_frames: int, fps_in: float, fps_out: float) -> int:
    """Frames of the resampled clip: the same duration at the new rate, rounded to whole frames."""
    return max(1, round(num_frames / fps_in * fps_out))


def interpolate_filter(fps_out: float, mode: InterpolationMode) -> str:
    """The filter graph: repeat the last frame (so in-betweens exist up to the clip's end and minterpolate has its
    look-ahead), then resample; the argv cuts the result to the exact frame count."""
    rate = rate_text(fps_out)
    pad = "tpad=stop=3:stop_mode=clone"
    if mode == "blend":
        return f"{pad},framerate=fps={rate}"
    if mode in _MINTERPOLATE_OPTIONS:
        return f"{pad},minterpolate=fps={rate}:{_MINTERPOLATE_OPTIONS[mode]}"
    raise ValueError(f"unknown interpolation mode {mode!r}: use one of {', '.join(get_args(InterpolationMode))}")


def interpolate_argv(
    input_path: Path, output_path: Path, fps_out: float, frames_out: int, mode: InterpolationMode
) -> list[str]:
    """ffmpeg arguments (without the binary) that resample `input_path` to `fps_out`, exactly `frames_out` frames."""
    return [
        "-y", "-i", str(input_path), "-an",
        "-vf", interpolate_filter(fps_out, mode),
        "-frames:v", str(frames_out),
        *video_encode_args(output_path), "-r", rate_text(fps_out), str(output_path),
    ]  # fmt: skip


def upscale_filter(width: int, height: int) -> str:
    """Scale to cover width x height with lanczos (aspect kept), then crop the centre."""
    return f"scale={width}:{height}:force_original_aspect_ratio=increase:flags=lanczos,crop={width}:{height},setsar=1"


def upscale_argv(input_path: Path, output_path: Path, width: int, height: int) -> list[str]:
    """ffmpeg arguments (without the binary) that bring `input_path` to width x height."""
    return [
        "-y", "-i", str(input_path), "-an",
        "-vf", upscale_filter(width, height),
        *video_encode_args(output_path), str(output_path),
    ]  # fmt: skip


def house_format_filter(clip: MediaInfo, width: int, height: int, fps: float, mode: InterpolationMode) -> str | None:
    """The filters the embedded upscaler and interpolator run, as one chain for the segment's conform encode to
    apply to a clip kept at its generation size (`studio.render.defers_house_format`): the lanczos scale of
    `FFmpegUpscaler` wherever the size differs and the interpolation in the station's mode, cut to the frames
    `FFmpegInterpolator` writes. None for a clip at the house rate and at least the house size, which the conform's
    own scale, crop and `fps` bring to the house format as before.

    The blend runs after the upscale, as the per-shot chain ran them (lanczos on a third of the frames costs more
    than blending three times the pixels); motion-compensated modes run first, at the small size, where they cost
    a quarter as much. The upscale keeps 4:4:4 until the house size: swscale resizing and subsampling to 4:2:0 in
    one step loses ~0.9 dB of red-difference detail against the per-shot chain's RGB upscale. The upscaled frames
    are then subsampled to 4:2:0 on their own before the blend, which so mixes half the bytes: an eighth less CPU
    for the whole conform, and the same pictures (54–57 dB PSNR per plane against blending in 4:4:4)."""
    interpolate = 0 < clip.fps < fps  # a file that gives no rate is left to the conform's own `fps`
    if not interpolate and clip.width >= width and clip.height >= height:
        return None
    if (clip.width, clip.height) != (width, height):
        scale = f"{upscale_filter(width, height)},format=yuv444p"
    else:
        scale = "setsar=1"
    if not interpolate:
        return f"{scale},fps={rate_text(fps)}"
    frames_out = interpolated_frame_count(clip.video_frames, clip.fps, fps)
    resample = f"{interpolate_filter(fps, mode)},trim=end_frame={frames_out}"
    if mode == "blend":
        return f"{scale},format=yuv420p,{resample}"
    return f"{resample},{scale}"


class FFmpegInterpolator:
    """Frame-rate conversion with ffmpeg's `framerate` (blend) or `minterpolate` (motion-compensated) filter."""

    name = "ffmpeg"

    def __init__(self, settings: Settings, mode: InterpolationMode | None = None) -> None:
        self.settings = settings
        chosen = mode or settings.interpolate_mode or DEFAULT_INTERPOLATION_MODE
        if chosen not in get_args(InterpolationMode):
            raise ToolError(
                f"unknown interpolation mode {chosen!r}: use one of {', '.join(get_args(InterpolationMode))}"
            )
        self.mode: InterpolationMode = chosen

    @classmethod
    def availability(cls, settings: Settings) -> tuple[bool, str]:
        return True, "embedded CPU backend (ffmpeg framerate/minterpolate)"

    def interpolate(self, clip: Clip, fps: float, output_path: Path) -> Clip:
        if fps <= 0:
            raise ToolError(f"cannot resample to {fps} fps")
        frames_out = interpolated_frame_count(clip.num_frames, clip.fps, fps)
        # Generous timeout: `mci` runs at roughly real time on small frames and slower on large ones.
        run_ffmpeg(interpolate_argv(clip.path, output_path, fps, frames_out, self.mode), timeout=60 + 20 * clip.seconds)
        written = probe(output_path).video_frames
        if written != frames_out:
            raise ToolError(f"interpolation wrote {written} frames, expected {frames_out}")
        return Clip(output_path, fps, written, clip.width, clip.height, self.name)


class FFmpegUpscaler:
    """Lanczos scaling to the target size; keeps the aspect ratio by scaling to cover and cropping the centre."""

    name = "ffmpeg"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @classmethod
    def availability(cls, settings: Settings) -> tuple[bool, str]:
        return True, "embedded CPU backend (ffmpeg lanczos scaling)"

    def upscale(self, clip: Clip, request: VideoRequest, width: int, height: int, output_path: Path) -> Clip:
        if width < 2 or height < 2:
            raise ToolError(f"cannot scale to {width}x{height}")
        run_ffmpeg(upscale_argv(clip.path, output_path, width, height), timeout=60 + 10 * clip.seconds)
        info = probe(output_path)
        if (info.width, info.height) != (width, height):
            raise ToolError(f"upscale wrote {info.width}x{info.height}, expected {width}x{height}")
        return Clip(output_path, clip.fps, info.video_frames, width, height, self.name)
