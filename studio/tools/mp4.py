"""The first video track of an MP4 or QuickTime file, read from its sample tables (ISO/IEC 14496-12 boxes).

`studio critique` starts ffmpeg decoding a clip as soon as it knows the frames' size and how many there are.
`studio.tools.media.probe` learns them with PyAV, whose import alone takes 40-60 ms of CPU; the boxes that hold them
are a few hundred bytes near the start or the end of the file. `mp4_video_track` reads them with nothing but `struct`,
and answers None for anything it does not read with certainty (another container, a fragmented MP4, a track
without samples), so the caller falls back to `probe`.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl"})
"""Boxes made of boxes, on the way from the file to a track's sample tables."""


class VideoTrack(NamedTuple):
    """What decoding a clip needs to know before it starts."""

    width: int
    height: int
    fps: float
    """Frames per second on average: the track's samples over their summed durations (libavformat's
    `avg_frame_rate` for MP4)."""
    frames: int
    """Samples (packets) in the track."""


class _Malformed(Exception):
    """A box runs past its parent or the file."""


def _boxes(stream: BinaryIO, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box between `start` and `end`."""
    position = start
    while position + 8 <= end:
        stream.seek(position)
        header = stream.read(16)
        if len(header) < 8:
            raise _Malformed
        size, kind = struct.unpack(">I4s", header[:8])
        payload = position + 8
        if size == 1:
            if len(header) < 16:
                raise _Malformed
            size = struct.unpack(">Q", header[8:16])[0]
            payload = position + 16
        elif size == 0:
            size = end - position
        if size < payload - position or position + size > end:
            raise _Malformed
        yield kind, payload, position + size
        position += size


def _read(stream: BinaryIO, start: int, end: int) -> bytes:
    stream.seek(start)
    data = stream.read(end - start)
    if len(data) != end - start:
        raise _Malformed
    return data


def _video_track(stream: BinaryIO, trak: tuple[int, int]) -> VideoTrack | None:
    """The track's facts when it is a video track with samples, else None."""
    found: dict[bytes, bytes] = {}

    def walk(start: int, end: int) -> None:
        for kind, payload, box_end in _boxes(stream, start, end):
            if kind in CONTAINERS:
                walk(payload, box_end)
            elif kind in (b"hdlr", b"mdhd", b"stsd", b"stts", b"stsz", b"stz2"):
                # The sample tables' entries are not needed, only their counts and the durations in stts. The
                # first of each is the track's (a QuickTime `minf` holds a data handler's `hdlr` after `mdia`'s).
                limit = box_end if kind == b"stts" else min(box_end, payload + 128)
                found.setdefault(kind, _read(stream, payload, limit))

    walk(*trak)
    hdlr, mdhd, stsd, stts = (found.get(kind) for kind in (b"hdlr", b"mdhd", b"stsd", b"stts"))
    sizes = found.get(b"stsz") or found.get(b"stz2")
    if hdlr is None or hdlr[8:12] != b"vide" or mdhd is None or stsd is None or stts is None or sizes is None:
        return None
    # mdhd: version, flags, then (32- or 64-bit) creation and modification times before the timescale.
    timescale = struct.unpack(">I", mdhd[20:24] if mdhd[0] == 1 else mdhd[12:16])[0]
    # stsd: version, flags, entry count, then the first sample entry: its box header, 6 reserved bytes, the data
    # reference index, 16 bytes of the visual sample entry's pre-defined and reserved fields, width, height.
    width, height = struct.unpack(">HH", stsd[40:44])
    frames = struct.unpack(">I", sizes[8:12])[0]
    entries = struct.unpack(">I", stts[4:8])[0]
    if len(stts) < 8 + 8 * entries:
        raise _Malformed
    deltas = struct.unpack(f">{2 * entries}I", stts[8 : 8 + 8 * entries])
    duration = sum(count * delta for count, delta in zip(deltas[::2], deltas[1::2], strict=True))
    if not (frames and width and height and timescale and duration):
        return None
    return VideoTrack(width=width, height=height, fps=frames * timescale / duration, frames=frames)


def mp4_video_track(path: Path) -> VideoTrack | None:
    """The first video track of the MP4 or QuickTime file at `path`, or None when it is not one this reads (not
    MP4, fragmented, malformed, no video track); raises OSError when the file cannot be read."""
    with open(path, "rb") as stream:
        stream.seek(0, 2)
        size = stream.tell()
        try:
            top = {kind: (start, end) for kind, start, end in _boxes(stream, 0, size) if kind in (b"ftyp", b"moov")}
            if b"moov" not in top:
                return None
            children = list(_boxes(stream, *top[b"moov"]))
            if any(kind == b"mvex" for kind, _, _ in children):
                return None  # fragmented: the samples are in movie fragments, not in the tables
            for trak in ((start, end) for kind, start, end in children if kind == b"trak"):
                track = _video_track(stream, trak)
                if track is not None:
                    return track
        except (_Malformed, struct.error):
            return None
    return None
