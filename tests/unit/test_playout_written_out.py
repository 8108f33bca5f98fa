"""What a muxer has written out, read from the HLS playlist it keeps (`playout._WrittenOut`)."""

from __future__ import annotations

import os
from pathlib import Path
from unittest.mock import patch

import pytest

from studio.broadcast.playout import PLAYLIST_TAIL_BYTES, _WrittenOut


def _playlist(path: Path, sequence: int, durations: list[float], *, ended: bool = False) -> None:
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:3", f"#EXT-X-MEDIA-SEQUENCE:{sequence}"]
    for index, seconds in enumerate(durations):
        if index == 2:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += [f"#EXTINF:{seconds:.6f},", "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T21:21:50.087+0000",
                  f"seg_{sequence + index:05d}.ts"]  # fmt: skip
    if ended:
        lines.append("#EXT-X-ENDLIST")
    partial = path.with_suffix(".tmp")
    partial.write_text("\n".join(lines) + "\n")
    os.replace(partial, path)  # as the muxer's temp_file flag does


def test_counts_only_the_segments_the_current_muxer_added(tmp_path: Path) -> None:
    path = tmp_path / "index.m3u8"
    written = _WrittenOut(path)
    written.restart()  # no playlist yet: the first muxer
    assert written.update() == 0.0
    _playlist(path, 0, [2.0, 3.0])
    assert written.update() == 5.0
    # The list slides (hls_list_size): segments that drop off were counted once, new ones are added.
    _playlist(path, 1, [3.0, 2.0, 1.5])
    assert written.update() == 8.5
    # A new muxer continues the playlist: what is listed when it starts is the old muxer's.
    written.restart()
    assert written.update() == 0.0
    _playlist(path, 2, [2.0, 1.5, 2.0, 2.5])
    assert written.update() == 4.5


def test_reads_the_playlist_again_only_when_it_changed(tmp_path: Path) -> None:
    path = tmp_path / "index.m3u8"
    written = _WrittenOut(path)
    _playlist(path, 0, [2.0])
    assert written.update() == 2.0
    stat = path.stat()
    path.write_text(path.read_text().replace("2.000000", "9.000000"))  # same size, same inode
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert written.update() == 2.0
    _playlist(path, 0, [2.0, 2.0])
    assert written.update() == 4.0


def test_a_missing_or_damaged_playlist_counts_nothing_new(tmp_path: Path) -> None:
    path = tmp_path / "index.m3u8"
    written = _WrittenOut(path)
    assert written.update() == 0.0
    path.write_text("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:x\n#EXTINF:abc,\nseg_00000.ts\n")
    assert written.update() == 0.0
    _playlist(path, 0, [2.0, 2.0], ended=True)
    assert written.update() == 2.0  # seg 0 was counted (at 0 s) from the damaged list; seg 1 is new


def test_a_long_playlist_is_read_from_its_end_with_the_same_result(tmp_path: Path) -> None:
    """A playlist that keeps every segment (hls_list_size 0) grows for as long as the channel runs: a week is 26 MB,
    which took 0.5 s to parse in full at each new segment. Past PLAYLIST_TAIL_BYTES only its end is read."""
    path = tmp_path / "index.m3u8"
    durations = [2.0 + (index % 7) / 24 for index in range(2300)]
    _playlist(path, 0, durations[:2000])
    assert path.stat().st_size > PLAYLIST_TAIL_BYTES
    tail, full = _WrittenOut(path), _WrittenOut(path)  # full: a reference read in full
    tail.restart()
    assert tail._last_sequence == 1999
    _playlist(path, 0, durations)
    with patch.object(_WrittenOut, "_entries", side_effect=AssertionError("read in full")):
        assert tail.update() == pytest.approx(sum(durations[2000:]))
    assert full._entries()[-1] == (2299, durations[-1])
    # Too far behind for the tail (nothing read since 2000 segments ago), or names without their number: in full.
    behind = _WrittenOut(path)
    behind._last_sequence = 9
    assert behind.update() == pytest.approx(sum(durations[10:]))
    path.write_text(path.read_text().replace(".ts\n", ".mpegts\n"))
    renamed = _WrittenOut(path)
    renamed._last_sequence = 2289
    assert renamed.update() == pytest.approx(sum(durations[2290:]))
