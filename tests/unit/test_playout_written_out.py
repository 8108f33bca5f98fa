"""What a muxer has written out, read from the HLS playlist it keeps (`playout._WrittenOut`)."""

from __future__ import annotations

import os
from pathlib import Path

from studio.broadcast.playout import _WrittenOut


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
