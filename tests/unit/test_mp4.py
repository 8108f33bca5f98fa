"""`studio.tools.mp4.mp4_video_track` reads an MP4's first video track from its boxes as PyAV's probe measures it, and
answers None for what it does not read with certainty, so the caller asks PyAV instead."""

from __future__ import annotations

import struct
import subprocess
from typing import TYPE_CHECKING

import pytest

from studio.tools.media import ffmpeg_exe, probe
from studio.tools.mp4 import VideoTrack, mp4_video_track

if TYPE_CHECKING:
    from pathlib import Path


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


VIDEO = ("-f", "lavfi", "-i", "testsrc2=size=320x176:rate=12:duration=2")
AUDIO = ("-f", "lavfi", "-i", "sine=frequency=440:duration=2")


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("plain.mp4", (*VIDEO, "-c:v", "libx264", "-pix_fmt", "yuv420p")),
        ("faststart.mp4", (*VIDEO, "-c:v", "libx264", "-movflags", "+faststart")),
        ("quicktime.mov", (*VIDEO, "-c:v", "mpeg4")),
        # The sound track comes first: the reader must look past it.
        ("sound-first.mp4", (*VIDEO, *AUDIO, "-map", "1:a", "-map", "0:v", "-c:v", "libx264", "-c:a", "aac")),
        ("odd-rate.mp4", ("-f", "lavfi", "-i", "testsrc2=size=256x144:rate=30000/1001:duration=1", "-c:v", "libx264")),
    ],
)
def test_the_video_track_is_what_probe_measures(tmp_path: Path, name: str, args: tuple[str, ...]) -> None:
    path = tmp_path / name
    _ffmpeg(*args, str(path))
    info = probe(path)
    track = mp4_video_track(path)
    assert track is not None
    assert (track.width, track.height, track.frames) == (info.width, info.height, info.video_frames)
    assert track.fps == pytest.approx(info.fps, rel=1e-9)


def test_what_it_cannot_read_with_certainty_is_left_to_probe(tmp_path: Path) -> None:
    fragmented = tmp_path / "fragmented.mp4"
    _ffmpeg(*VIDEO, "-c:v", "libx264", "-movflags", "frag_keyframe+empty_moov", str(fragmented))
    assert probe(fragmented).video_frames == 24
    assert mp4_video_track(fragmented) is None, "a fragmented MP4's samples are not in its tables"

    matroska = tmp_path / "clip.mkv"
    _ffmpeg(*VIDEO, "-c:v", "libx264", str(matroska))
    sound = tmp_path / "sound.m4a"
    _ffmpeg(*AUDIO, "-c:a", "aac", str(sound))
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all")
    assert [mp4_video_track(path) for path in (matroska, sound, text)] == [None, None, None]

    whole = tmp_path / "whole.mp4"
    _ffmpeg(*VIDEO, "-c:v", "libx264", "-movflags", "+faststart", str(whole))
    data = whole.read_bytes()
    for cut in (20, 200, len(data) // 2):
        truncated = tmp_path / f"cut-{cut}.mp4"
        truncated.write_bytes(data[:cut])
        assert mp4_video_track(truncated) is None, cut


def _box(kind: bytes, payload: bytes, *, large: bool = False) -> bytes:
    if large:
        return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def test_version_1_times_64_bit_sizes_compact_sizes_and_variable_durations(tmp_path: Path) -> None:
    """The box forms ffmpeg rarely writes, built by hand: a 64-bit box size, a version 1 `mdhd` (64-bit times),
    compact sample sizes (`stz2`), and frames of two durations (the rate is their average, as libavformat's)."""
    mdhd = bytes([1, 0, 0, 0]) + struct.pack(">QQIQ", 0, 0, 600, 3000) + bytes(4)
    hdlr = bytes(4) + bytes(4) + b"vide" + bytes(12) + b"video\0"
    entry = _box(b"avc1", bytes(6) + struct.pack(">H", 1) + bytes(16) + struct.pack(">HH", 640, 360) + bytes(50))
    stsd = _box(b"stsd", bytes(4) + struct.pack(">I", 1) + entry)
    stts = _box(b"stts", bytes(4) + struct.pack(">I", 2) + struct.pack(">IIII", 10, 20, 5, 40))
    stz2 = _box(b"stz2", bytes(4) + bytes([0, 0, 0, 8]) + struct.pack(">I", 15) + bytes(15))
    stbl = _box(b"stbl", stsd + stts + stz2)
    trak = _box(b"trak", _box(b"tkhd", bytes(84)) + _box(b"mdia", _box(b"mdhd", mdhd) + _box(b"hdlr", hdlr)
                + _box(b"minf", stbl, large=True)))  # fmt: skip
    path = tmp_path / "handmade.mp4"
    path.write_bytes(_box(b"ftyp", b"isom" + bytes(4)) + _box(b"mdat", bytes(100), large=True) + _box(b"moov", trak))
    # 15 frames over 10 x 20 + 5 x 40 = 400 ticks of 1/600 s.
    assert mp4_video_track(path) == VideoTrack(width=640, height=360, fps=15 * 600 / 400, frames=15)
