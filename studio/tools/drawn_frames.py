"""Frames the embedded renderer just drew, kept in memory for the critic so it need not decode the file again.

The procedural renderer draws every frame of a shot in this process and encodes them to a near-lossless master
(`studio.tools.media.video_encode_args`, 4:4:4 at CRF 10); the critic then judges that clip, and decoding it back
costs as much CPU as a sixteenth of the whole embedded channel. Each renderer holds a `DrawnFrames` (nothing is
shared between stations or toolkits) that hands the drawn frames over instead: the renderer `keep`s them once the
file is written, the critic `take`s them once (`Toolkit.drawn_frames`). Bounded by bytes (the
oldest are dropped first), so clips nobody takes (a shot cancelled by steering) cost nothing for long; and taken
only while the file on disk is still the one they were written to (its size and modification time), so a clip
rewritten since is decoded as before. Whatever is not found here is decoded from the file: the verdict is the same
either way up to the master's encoding (tests/unit/test_drawn_frames.py).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

MAX_BYTES = 64 * 1024 * 1024
"""About five 3-second shots at the embedded generation size (576x320, 8 fps): what a station's pipeline
holds between its render and critique stages at depth 3."""


class DrawnFrames:
    """Thread-safe map from a written clip's path to the RGB frames (T, H, W, 3) and fps it was written from."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, tuple[np.ndarray, float, tuple[int, int]]] = OrderedDict()
        self._bytes = 0

    def keep(self, path: Path, frames: np.ndarray, fps: float) -> None:
        """Remember `frames` as what `path` (already written) holds; nothing when they alone exceed the bound."""
        if frames.nbytes > self.max_bytes:
            return
        signature = _signature(path)
        if signature is None:
            return
        with self._lock:
            self._drop(str(path))
            self._kept[str(path)] = (frames, float(fps), signature)
            self._bytes += frames.nbytes
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._kept)))

    def take(self, path: Path) -> tuple[np.ndarray, float] | None:
        """The frames kept for `path` and their fps, forgotten here; None when none are, or the file has changed
        since they were kept."""
        with self._lock:
            kept = self._kept.get(str(path))
            if kept is None:
                return None
            self._drop(str(path))
        frames, fps, signature = kept
        if _signature(path) != signature:
            return None
        return frames, fps

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes

    def _drop(self, key: str) -> None:
        kept = self._kept.pop(key, None)
        if kept is not None:
            self._bytes -= kept[0].nbytes


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns
