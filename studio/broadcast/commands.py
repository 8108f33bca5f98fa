"""Pure ffmpeg argv builders for conform, episode assembly and playout (without the binary name).

Every file that goes on air shares one house format — fixed size and fps, yuv420p H.264 (libx264, fixed GOP,
IDR at the start), AAC 48 kHz stereo — so playout only ever stream-copies. `run_ffmpeg` (or the supervisor's
`Popen`) prepends the binary; nothing here touches a shell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

AUDIO_RATE = 48000
LOUDNESS_RANGE_LU = 11  # loudnorm's loudness range target; a linear pass keeps the music's own range
AAC_FRAME_SAMPLES = 1024
HLS_SEGMENT_SECONDS = 2
HLS_PLAYLIST_NAME = "index.m3u8"
HLS_SEGMENT_PATTERN = "seg_%05d.ts"
FILLER_COLOUR = "0x12141a"


def _number(value: float) -> str:
    """A float as ffmpeg reads it: enough digits to be frame-exact, no trailing zeros."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def _file_arg(path: Path) -> str:
    # Absolute paths start with "/": ffmpeg never reads them as an option or a protocol ("a:b.mp4").
    return str(path.absolute())


def house_frames(seconds: float, fps: int) -> int:
    """Whole frames a house-format file of `seconds` holds (at least one)."""
    return max(1, round(seconds * fps))


def house_audio_samples(seconds: float) -> int:
    """Audio samples a house-format file of `seconds` carries: a whole number of AAC frames, ending early.

    MPEG-TS cannot signal the AAC encoder's priming and end trimming that MP4 edit lists carry. After stream copy
    each file's audio packets start one AAC frame (21 ms) before its video and end on a frame boundary, so audio
    that filled the whole length would overlap the next item's first packet (a backward timestamp at every join).
    Whole frames, one fewer than fit, keep the packets of consecutive items strictly increasing with less than
    one frame without audio at a join; decoded, the file's audio is 21-43 ms shorter than its video.
    """
    whole_frames = math.floor(seconds * AUDIO_RATE / AAC_FRAME_SAMPLES)
    return max(1, whole_frames - 1) * AAC_FRAME_SAMPLES


def house_video_args(fps: int) -> list[str]:
    """H.264 settings every on-air file shares, so items can follow each other under stream copy."""
    gop = str(2 * fps)
    return [
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-r", str(fps), "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
    ]  # fmt: skip


def house_audio_args() -> list[str]:
    """AAC 48 kHz stereo, as every on-air file carries it."""
    return ["-c:a", "aac", "-b:a", "128k", "-ar", str(AUDIO_RATE), "-ac", "2"]


@dataclass(frozen=True)
class Loudness:
    """A loudness normalisation: the target, and what a first pass measured of the audio it applies to."""

    target_lufs: float
    """Integrated loudness to reach (EBU R128: -23; streaming platforms: -16)."""
    true_peak_dbtp: float
    """Ceiling for the true peak."""
    measured: dict[str, str]
    """ffmpeg loudnorm's first-pass figures: input_i, input_tp, input_lra, input_thresh, target_offset."""

    def filter(self) -> str:
        """The second pass: a linear gain to the target (loudnorm limits the peaks itself when the gain alone would
        push them over the ceiling). Its output runs at 192 kHz: resample after it."""
        m = self.measured
        return (
            f"loudnorm=I={_number(self.target_lufs)}:TP={_number(self.true_peak_dbtp)}:LRA={LOUDNESS_RANGE_LU}:"
            f"measured_I={m['input_i']}:measured_TP={m['input_tp']}:measured_LRA={m['input_lra']}:"
            f"measured_thresh={m['input_thresh']}:offset={m['target_offset']}:linear=true"
        )


@dataclass(frozen=True)
class Gain:
    """A linear normalisation measured in memory (`studio.tools.loudness`): the one gain that brings the audio to
    its target loudness, what loudnorm's linear mode applies when the peaks stay under the ceiling after it."""

    gain_db: float
    measured_lufs: float
    true_peak_dbtp: float

    def filter(self) -> str:
        return f"volume={_number(self.gain_db)}dB"


def loudness_measure_argv(audio_path: Path, *, target_lufs: float, true_peak_dbtp: float) -> list[str]:
    """The first loudnorm pass over an audio file: it prints its measurements as JSON on stderr, writes nothing."""
    return [
        "-i", _file_arg(audio_path), "-vn",
        "-af", f"loudnorm=I={_number(target_lufs)}:TP={_number(true_peak_dbtp)}:LRA={LOUDNESS_RANGE_LU}:print_format=json",
        "-f", "null", "-",
    ]  # fmt: skip


def conform_segment_argv(
    shot_paths: Sequence[Path],
    music_path: Path,
    output_path: Path,
    *,
    width: int,
    height: int,
    fps: int,
    seconds: float,
    loudness: Loudness | Gain | None = None,
    shot_filters: Sequence[str | None] = (),
) -> list[str]:
    """Concatenate shot clips under the music and conform the result to the house format.

    Shots may differ in size and frame rate: each is scaled to cover `width` x `height`, centre-cropped and
    resampled to `fps` before the concat filter, or brought there by its own entry of `shot_filters` when that is
    not None (a shot kept at its generation size: the embedded upscaler's and interpolator's filters,
    `studio.tools.interpolate_ffmpeg.house_format_filter`). The video is held on its last frame or cut to exactly
    `round(seconds * fps)` frames; the music is brought to the channel's `loudness`, then padded with silence or
    cut (see `house_audio_samples`).
    """
    if not shot_paths:
        raise ValueError("conform needs at least one shot clip")
    if shot_filters and len(shot_filters) != len(shot_paths):
        raise ValueError(f"{len(shot_filters)} shot filters for {len(shot_paths)} shots")
    frames = house_frames(seconds, fps)
    duration = _number(frames / fps)
    argv: list[str] = []
    for shot_path in shot_paths:
        argv += ["-i", _file_arg(shot_path)]
    argv += ["-i", _file_arg(music_path)]
    music_index = len(shot_paths)
    default = f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height},setsar=1,fps={fps}"
    chains = [
        f"[{index}:v:0]{(shot_filters[index] if shot_filters else None) or default},format=yuv420p[v{index}]"
        for index in range(len(shot_paths))
    ]
    labels = "".join(f"[v{index}]" for index in range(len(shot_paths)))
    chains.append(
        f"{labels}concat=n={len(shot_paths)}:v=1:a=0,tpad=stop_mode=clone:stop_duration={duration},"
        f"trim=end_frame={frames},setpts=N/({fps}*TB)[v]"
    )
    samples = house_audio_samples(frames / fps)
    normalise = f"{loudness.filter()}," if loudness is not None else ""
    chains.append(
        f"[{music_index}:a:0]{normalise}aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,"
        f"apad=whole_len={samples},atrim=end_sample={samples},asetpts=N/SR/TB[a]"
    )
    return [
        *argv,
        "-filter_complex", ";".join(chains),
        "-map", "[v]", "-map", "[a]",
        *house_video_args(fps), *house_audio_args(),
        "-t", duration, "-movflags", "+faststart", "-f", "mp4", _file_arg(output_path),
    ]  # fmt: skip


def filler_card_argv(output_path: Path, *, width: int, height: int, fps: int, seconds: float) -> list[str]:
    """The ident card aired when nothing else can be: a dark colour with light moving noise and silence.

    Same codec settings and audio rule as a conformed segment, so it stream-copies between segments. Every input
    is bounded and the output has `-t`: a card that never ends would stall the channel. The noise is faint on
    purpose: at `alls=7` x264 spends ~13 Mbit/s on it at 1024x576, at `alls=4` ~0.4.
    """
    frames = house_frames(seconds, fps)
    duration = _number(frames / fps)
    samples = house_audio_samples(frames / fps)
    return [
        "-f", "lavfi", "-i", f"color=c={FILLER_COLOUR}:s={width}x{height}:r={fps}:d={duration}",
        "-f", "lavfi", "-i", f"anullsrc=r={AUDIO_RATE}:cl=stereo",
        "-filter_complex",
        f"[0:v]noise=alls=4:allf=t,format=yuv420p[v];[1:a]atrim=end_sample={samples},asetpts=N/SR/TB[a]",
        "-map", "[v]", "-map", "[a]",
        *house_video_args(fps), *house_audio_args(),
        "-t", duration, "-movflags", "+faststart", "-f", "mp4", _file_arg(output_path),
    ]  # fmt: skip


def _ffconcat_quote(path: Path) -> str:
    text = str(path.absolute())
    if "\n" in text or "\r" in text or "\0" in text:
        raise ValueError(f"a path with a line break or NUL cannot go into an ffconcat list: {text!r}")
    # ffconcat tokens: nothing is special inside single quotes, so a quote closes, is escaped, and reopens.
    return "'" + text.replace("'", "'\\''") + "'"


def write_ffconcat(paths: Sequence[Path], list_path: Path) -> None:
    """Write an ffconcat list of absolute, quoted paths (read with `-f concat -safe 0`)."""
    if not paths:
        raise ValueError("an ffconcat list needs at least one file")
    lines = ["ffconcat version 1.0", *(f"file {_ffconcat_quote(path)}" for path in paths)]
    list_path.parent.mkdir(parents=True, exist_ok=True)
    list_path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def concat_episode_argv(list_path: Path, output_path: Path) -> list[str]:
    """Join conformed segments listed by `write_ffconcat` into one episode file without re-encoding."""
    return [
        "-f", "concat", "-safe", "0", "-i", _file_arg(list_path),
        "-map", "0:v:0", "-map", "0:a:0", "-c", "copy",
        "-movflags", "+faststart", "-f", "mp4", _file_arg(output_path),
    ]  # fmt: skip


def feed_item_argv(item_path: Path, offset_seconds: float) -> list[str]:
    """One playout item as MPEG-TS on stdout, stream-copied, its timestamps shifted to `offset_seconds`.

    The supervisor passes the channel's running position (plus a constant lead, so no timestamp is ever
    negative), which makes the items join into one continuous timeline in the encoder.
    """
    return [
        "-i", _file_arg(item_path),
        "-map", "0:v:0", "-map", "0:a:0", "-c", "copy",
        "-output_ts_offset", _number(offset_seconds), "-f", "mpegts", "pipe:1",
    ]  # fmt: skip


def playout_encoder_argv(
    hls_dir: Path,
    *,
    realtime: bool,
    continue_playlist: bool,
    rtmp_url: str | None = None,
    hls_list_size: int = 6,
) -> list[str]:
    """The long-lived muxer: MPEG-TS on stdin, stream copy, live HLS in `hls_dir` and optionally FLV over RTMP.

    `-readrate 1` paces reading at real time (a channel, not a transcode). `continue_playlist` (a playlist is
    already there: the muxer restarted, or the station did) adds `append_list`: segment numbers carry on and the
    first new segment follows `#EXT-X-DISCONTINUITY`. (`discont_start` is not used: ffmpeg 5.1 and 9.0 write its
    tag into the playlist header, and `append_list` already marks the join.) `temp_file`: the web server never
    serves a half-written playlist or segment. `omit_endlist`: a muxer that exits (restart, RTMP change) must not
    tell players the channel ended; the supervisor writes `#EXT-X-ENDLIST` when the broadcast ends.
    """
    pattern = str(hls_dir.absolute()).replace("%", "%%") + "/" + HLS_SEGMENT_PATTERN
    flags = "delete_segments+independent_segments+program_date_time+omit_endlist+temp_file"
    if continue_playlist:
        flags += "+append_list"
    argv = ["-readrate", "1"] if realtime else []
    argv += [
        "-f", "mpegts", "-i", "pipe:0",
        "-map", "0:v:0", "-map", "0:a:0", "-c", "copy",
        "-f", "hls", "-hls_time", str(HLS_SEGMENT_SECONDS), "-hls_list_size", str(hls_list_size),
        "-hls_flags", flags, "-hls_segment_type", "mpegts", "-hls_segment_filename", pattern,
        _file_arg(hls_dir / HLS_PLAYLIST_NAME),
    ]  # fmt: skip
    if rtmp_url:
        argv += ["-map", "0:v:0", "-map", "0:a:0", "-c", "copy", "-f", "flv", rtmp_url]
    return argv
