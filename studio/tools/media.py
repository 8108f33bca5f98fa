"""ffmpeg and PyAV helpers: find the binary, run an argv, move frames and samples in and out of files.

Everything that runs ffmpeg goes through `run_ffmpeg`; argv lists come from pure builders, never a shell string.
"""

from __future__ import annotations

import functools
import itertools
import math
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from studio.errors import BackendUnavailable, ToolError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    import numpy as np

    from studio.broadcast.commands import Loudness
    from studio.tools.mp4 import VideoTrack

# Intermediate clips: lossless RGB (Ut Video), frame-exact and about 4x faster to write than FFV1 at 1024x576.
INTERMEDIATE_SUFFIX = ".mkv"


# Every ffmpeg here runs in its own session (`start_new_session=True`): a Ctrl-C in the station's terminal goes to
# the whole foreground process group, and the station stops after the step in progress, which must not fail
# because its ffmpeg got the signal too (post would drop the segment for good).


@functools.cache
def ffmpeg_exe() -> str:
    """The ffmpeg studio runs: `IMAGEIO_FFMPEG_EXE` when set, else the static build the imageio-ffmpeg wheel
    carries, else ffmpeg on PATH.

    The static build starts in about 13 ms of CPU where a distribution's ffmpeg, linked to a hundred shared
    libraries, takes about 60: a station runs a dozen ffmpegs per segment, and `studio critique` has 1 s in all.
    And every machine with the same studio runs the same ffmpeg release: the same frames decoded for the critic (a
    distribution's ffmpeg of another release decodes some codecs, MPEG-4 Part 2 for one, slightly differently) and
    the same encoders. Found without importing imageio_ffmpeg, whose lookup runs the binary once."""
    import importlib.util
    import os

    chosen = os.environ.get("IMAGEIO_FFMPEG_EXE")
    if chosen:
        return chosen
    spec = importlib.util.find_spec("imageio_ffmpeg")
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations))) / "binaries"
        for candidate in sorted(folder.glob("ffmpeg*")):
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    raise BackendUnavailable("no ffmpeg found: install ffmpeg or `pip install imageio-ffmpeg`")


def run_ffmpeg(argv: Sequence[str], *, timeout: float = 600.0, input_bytes: bytes | None = None) -> None:
    """Run ffmpeg with `argv` (without the binary). Raises `ToolError` with the end of stderr on failure."""
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *argv]
    if input_bytes is not None:
        command.remove("-nostdin")
    try:
        completed = subprocess.run(
            command, input=input_bytes, capture_output=True, timeout=timeout, check=False, start_new_session=True
        )
    except subprocess.TimeoutExpired:
        raise ToolError(f"ffmpeg took longer than {timeout:.0f} s: {' '.join(argv[-1:])}") from None
    if completed.returncode != 0:
        tail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise ToolError(f"ffmpeg failed ({completed.returncode}): {' | '.join(tail) or 'no message'}")


def measure_loudness(audio_path: Path, *, target_lufs: float, true_peak_dbtp: float) -> Loudness | None:
    """Measure a file's loudness (ffmpeg loudnorm, first pass) for a normalisation to `target_lufs`. None for audio
    too quiet to measure (silence stays silence). Raises `ToolError` when ffmpeg cannot read it."""
    import json

    from studio.broadcast.commands import Loudness, loudness_measure_argv

    argv = loudness_measure_argv(audio_path, target_lufs=target_lufs, true_peak_dbtp=true_peak_dbtp)
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", *argv]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, start_new_session=True
    )
    if completed.returncode != 0:
        raise ToolError(f"cannot measure the loudness of {audio_path.name}: {completed.stderr.strip()[-300:]}")
    start = completed.stderr.rfind("{")
    try:
        figures = json.loads(completed.stderr[start : completed.stderr.rfind("}") + 1])
    except ValueError:
        raise ToolError(f"ffmpeg gave no loudness figures for {audio_path.name}") from None
    if any(not _finite(figures.get(key)) for key in ("input_i", "input_tp", "input_lra", "input_thresh")):
        return None
    if float(figures["input_i"]) < -70:
        return None
    measured = {key: str(figures[key]) for key in ("input_i", "input_tp", "input_lra", "input_thresh", "target_offset")}
    return Loudness(target_lufs=target_lufs, true_peak_dbtp=true_peak_dbtp, measured=measured)


def _finite(value: object) -> bool:
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def video_encode_args(output_path: Path, *, master: bool = False) -> list[str]:
    """Codec arguments for an intermediate (lossless), a master or a delivery file, chosen by suffix.

    A master is a shot kept at its generation size for the segment's one conform encode to scale and resample
    (`studio.render.defers_house_format`): full-resolution chroma (4:4:4) at a quality no eye tells from the
    rendered frames (PSNR ~44 dB against them), since 4:2:0 at 576x320 would halve the colour detail the
    conform's upscale carries to the air. A `.mkv` is lossless whatever `master` says."""
    if output_path.suffix == INTERMEDIATE_SUFFIX:
        return ["-c:v", "utvideo", "-pix_fmt", "gbrp"]
    if master:
        return ["-c:v", "libx264", "-preset", "veryfast", "-crf", "10", "-pix_fmt", "yuv444p"]
    return ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]


def write_video(
    frames: Iterable[np.ndarray], fps: float, output_path: Path, *, width: int, height: int, master: bool = False
) -> int:
    """Encode RGB uint8 frames of width x height to `output_path` (as a master: see `video_encode_args`). Returns
    the number of frames written."""
    output_path.parent.mkdir(parents=True, exist_ok=True)
    command = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "pipe:0",
        *video_encode_args(output_path, master=master), "-r", f"{fps:g}", str(output_path),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    assert process.stdin is not None and process.stderr is not None
    count = 0
    try:
        for frame in frames:
            if frame.shape != (height, width, 3):
                raise ToolError(f"frame {count} has shape {frame.shape}, expected {(height, width, 3)}")
            process.stdin.write(frame.tobytes())
            count += 1
    except BrokenPipeError:
        pass
    finally:
        process.stdin.close()
    stderr = process.stderr.read().decode("utf-8", "replace")
    if process.wait() != 0:
        raise ToolError(f"ffmpeg could not write {output_path.name}: {stderr.strip()[-400:]}")
    if count == 0:
        raise ToolError(f"no frames to write to {output_path.name}")
    return count


def _decode_command(
    path: Path,
    source: tuple[int, int],
    width: int | None,
    height: int | None,
    *,
    exact: bool = False,
    one_thread: bool = False,
) -> tuple[list[str], int, int]:
    """The ffmpeg argv that decodes `path` (its video `source` width x height) to raw RGB frames on stdout (scaled
    to `width` x `height` when given), and the frames' width and height. `exact`: name the size even when it is the
    source's (a scale filter with ffmpeg's default flags converts to RGB exactly as the one it adds by itself), so
    frames come out that size even if the source's size was misread. `one_thread`: decode and scale on one
    thread (the same frames; for a short clip on busy cores, less CPU than ffmpeg's pools of one thread per
    core: 0.29 against 0.38 s for a 3-second 1024x576 clip scaled to 576x320)."""
    if source[0] == 0:
        raise ToolError(f"{path.name} has no video stream")
    out_w, out_h = width or source[0], height or source[1]
    threads = ["-threads", "1"] if one_thread else []
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", *threads, "-i", str(path), "-an"]
    if one_thread:
        command += ["-filter_threads", "1"]
    if (out_w, out_h) != source:
        command += ["-vf", f"scale={out_w}:{out_h}:flags=area"]
    elif exact:
        command += ["-vf", f"scale={out_w}:{out_h}"]
    command += ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    return command, out_w, out_h


def read_video(path: Path, *, width: int | None = None, height: int | None = None) -> tuple[np.ndarray, float]:
    """Decode every frame as RGB uint8 (T, H, W, 3), optionally resized. Returns (frames, fps)."""
    import numpy as np

    info = probe(path)
    command, out_w, out_h = _decode_command(path, (info.width, info.height), width, height)
    completed = subprocess.run(command, capture_output=True, check=False, start_new_session=True)
    if completed.returncode != 0:
        raise ToolError(f"cannot decode {path.name}: {completed.stderr.decode('utf-8', 'replace').strip()[-300:]}")
    frame_size = out_w * out_h * 3
    count = len(completed.stdout) // frame_size
    frames = np.frombuffer(completed.stdout[: count * frame_size], dtype=np.uint8).reshape(count, out_h, out_w, 3)
    return frames, info.fps


def video_size(info: MediaInfo | VideoTrack, *, max_width: int | None = None) -> tuple[int, int]:
    """The size frames of a video with `info` are read at: its own, or scaled down to `max_width` wide with its
    aspect ratio (an even height) when it is wider."""
    width, height = info.width, info.height
    if max_width is not None and width > max_width:
        height = max(2, int(round(height * max_width / width / 2)) * 2)
        width = max_width
    return width, height


def video_track(path: Path) -> VideoTrack:
    """The size, frame rate and frame count of the video in `path`: from an MP4's sample tables when it is one
    (`studio.tools.mp4`, without importing PyAV), else from `probe` (all zero without a video stream)."""
    from studio.tools.mp4 import VideoTrack, mp4_video_track

    try:
        track = mp4_video_track(path)
    except OSError:
        track = None  # probe says what is wrong with the file
    if track is not None:
        return track
    info = probe(path)
    return VideoTrack(width=info.width, height=info.height, fps=info.fps, frames=info.video_frames)


def start_video_decode(
    path: Path, *, width: int | None = None, height: int | None = None, track: VideoTrack | None = None
) -> tuple[subprocess.Popen[bytes], int, int]:
    """Start the ffmpeg that `read_video` runs, on one thread (`_decode_command`), writing raw RGB frames to its
    stdout (stderr to a temporary file that nothing has to drain), and return it with the frames' width and height;
    `frames_of` reads them. `track` is the file's `video_track` when the caller has it."""
    import tempfile

    track = track if track is not None else video_track(path)
    command, out_w, out_h = _decode_command(
        path, (track.width, track.height), width, height, exact=True, one_thread=True
    )
    stderr = tempfile.TemporaryFile()
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, start_new_session=True)
    except BaseException:
        stderr.close()
        raise
    process.stderr = stderr  # type: ignore[assignment] - read back by frames_of when ffmpeg fails
    return process, out_w, out_h


def frames_of(
    process: subprocess.Popen[bytes], width: int, height: int, name: str, *, into: np.ndarray | None = None
) -> Iterator[np.ndarray]:
    """The frames a `start_video_decode` ffmpeg writes, one at a time as it decodes them: RGB uint8 (H, W, 3), read
    straight into `into[i]` (T, H, W, 3) while it has room. Raises `ToolError` naming `name` when ffmpeg fails;
    stops ffmpeg if the caller stops early."""
    import numpy as np

    assert process.stdout is not None and process.stderr is not None
    try:
        for index in itertools.count():
            fits = into is not None and index < len(into) and into.shape[1:] == (height, width, 3)
            frame = into[index] if fits else np.empty((height, width, 3), np.uint8)
            got = process.stdout.readinto(memoryview(frame).cast("B"))
            if got != frame.nbytes:
                break
            yield frame
        if process.wait() != 0:
            process.stderr.seek(0)
            message = process.stderr.read().decode("utf-8", "replace").strip()[-300:]
            raise ToolError(f"cannot decode {name}: {message}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


@dataclass(frozen=True)
class MediaInfo:
    width: int
    height: int
    fps: float
    video_frames: int
    video_seconds: float
    video_codec: str
    pix_fmt: str
    audio_seconds: float
    audio_rate: int
    audio_channels: int
    audio_codec: str


def probe(path: Path) -> MediaInfo:
    """Stream facts measured from the packets (not the container's claim) with PyAV."""
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, FileNotFoundError) as error:
        raise ToolError(f"cannot open {path}: {error}") from None
    with container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        video_ends: list[float] = []
        video_starts: list[float] = []
        audio_end = audio_start = None
        frames = 0
        for packet in container.demux():
            if packet.pts is None or packet.time_base is None:
                continue
            start = float(packet.pts * packet.time_base)
            end = start + float((packet.duration or 0) * packet.time_base)
            if video is not None and packet.stream.index == video.index:
                frames += 1
                video_starts.append(start)
                video_ends.append(end)
            elif audio is not None and packet.stream.index == audio.index:
                audio_start = start if audio_start is None else min(audio_start, start)
                audio_end = end if audio_end is None else max(audio_end, end)
        fps = float(video.average_rate or video.guessed_rate or 0) if video is not None else 0.0
        video_seconds = (max(video_ends) - min(video_starts)) if video_ends else 0.0
        if video_ends and fps and video_seconds == 0:
            video_seconds = frames / fps
        return MediaInfo(
            width=video.codec_context.width if video is not None else 0,
            height=video.codec_context.height if video is not None else 0,
            fps=fps,
            video_frames=frames,
            video_seconds=video_seconds,
            video_codec=video.codec_context.name if video is not None else "",
            pix_fmt=(video.codec_context.pix_fmt or "") if video is not None else "",
            audio_seconds=(audio_end - audio_start) if audio_end is not None and audio_start is not None else 0.0,
            audio_rate=audio.codec_context.sample_rate if audio is not None else 0,
            audio_channels=audio.codec_context.channels if audio is not None else 0,
            audio_codec=audio.codec_context.name if audio is not None else "",
        )


def write_wav(samples: np.ndarray, sample_rate: int, output_path: Path) -> None:
    """Write float samples in [-1, 1] of shape (n, channels) as 16-bit PCM WAV."""
    import numpy as np

    if samples.ndim == 1:
        samples = samples[:, None]
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(output_path), "wb") as handle:
        handle.setnchannels(pcm.shape[1])
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(pcm.tobytes())


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """16-bit PCM WAV as float32 (n, channels) and its sample rate. Raises `ToolError` for any other WAV (float,
    24-bit: `wave` reads their bytes but not their meaning) or a file that is not one."""
    import numpy as np

    try:
        with wave.open(str(path), "rb") as handle:
            rate = handle.getframerate()
            channels = handle.getnchannels()
            width = handle.getsampwidth()
            raw = handle.readframes(handle.getnframes())
    except (wave.Error, EOFError) as error:
        raise ToolError(f"cannot read {path.name} as 16-bit PCM WAV: {error}") from None
    if width != 2:
        raise ToolError(f"cannot read {path.name} as 16-bit PCM WAV: {8 * width}-bit samples")
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32).reshape(-1, channels) / 32767.0
    return samples, rate
