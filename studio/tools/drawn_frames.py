"""Frames the embedded renderer just drew, kept in memory for the critic so it need not decode the file again.

The procedural renderer draws every frame of a shot in this process and encodes them to a near-lossless master
(`studio.tools.media.video_encode_args`, 4:4:4 at CRF 10); the critic then judges that clip, and decoding it back
costs as much CPU as a sixteenth of the whole embedded channel. Each renderer holds a `DrawnFrames` (nothing is
shared between stations or toolkits) that hands the drawn frames over instead: the renderer `keep`s them once the
file is written, the critic `take`s them once (`Toolkit.drawn_frames`). Bounded by bytes (the oldest are dropped
first), so clips nobody takes (a shot cancelled by steering) cost nothing for long. Kept by the file's identity
(device, inode, size and modification time), not its name: the render stage writes a shot to a partial file and
renames it into place, and a file rewritten since is a different one, decoded as before. Whatever is not found
here is decoded from the file: the verdict is the same either way up to the master's encoding
(tests/unit/test_drawn_frames.py).
"""

from __future__ import annotations

import mmap
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pathlib import Path

MAX_BYTES = 64 * 1024 * 1024
"""About five 3-second shots at the embedded generation size (576x320, 8 fps): what a station's pipeline
holds between its render and critique stages at depth 3."""


class DrawnFrames:
    """Thread-safe map from a written clip file to the RGB frames (T, H, W, 3) and fps it was written from."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[int, int, int, int], tuple[np.ndarray, float]] = OrderedDict()
        self._bytes = 0

    def keep(self, path: Path, frames: np.ndarray, fps: float) -> None:
        """Remember `frames` as what the file at `path` (already written) holds; nothing when they alone exceed
        the bound."""
        identity = _identity(path)
        if identity is None or frames.nbytes > self.max_bytes:
            return
        with self._lock:
            self._drop(identity)
            self._kept[identity] = (frames, float(fps))
            self._bytes += frames.nbytes
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._kept)))

    def take(self, path: Path) -> tuple[np.ndarray, float] | None:
        """The frames kept for the file now at `path` and their fps, forgotten here; None when none are (the file
        was never kept, was dropped, or was rewritten since)."""
        identity = _identity(path)
        if identity is None:
            return None
        with self._lock:
            kept = self._kept.get(identity)
            if kept is not None:
                self._drop(identity)
            return kept

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes

    def _drop(self, identity: tuple[int, int, int, int]) -> None:
        kept = self._kept.pop(identity, None)
        if kept is not None:
            self._bytes -= kept[0].nbytes


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def frame_buffer(count: int, height: int, width: int) -> np.ndarray:
    """An uninitialised uint8 (count, height, width, 3) array in an anonymous memory mapping of its own, unmapped
    when the last reference to it goes. A shot's drawn frames live from the render stage to the critic, freed by
    another thread than the one that made them; blocks of that size and life, taken from malloc's arenas, fragment
    them: a station's resident memory rose from 750 MiB to 1.46 GB in 22 minutes aired
    (`benchmarks/channel_hour.py`)."""
    size = count * height * width * 3
    if size == 0:
        return np.empty((count, height, width, 3), np.uint8)
    return np.frombuffer(mmap.mmap(-1, size), np.uint8).reshape(count, height, width, 3)
