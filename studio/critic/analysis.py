"""`ClipAnalysis`: one clip decoded once, and the analyses its checks share, each computed on first use.

Every check reads the same `ClipAnalysis` (frames, fps, the optical-flow analysis, OCR readings, luma), so a clip's
flow is computed once however many checks need it, and nothing about one clip is kept anywhere but on its own
analysis: two clips judged at once in threads never see each other's results.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from studio.tools.checks.motion import MotionAnalysis
    from studio.tools.checks.text import TextFound


class ClipAnalysis:
    """A decoded clip (`frames`: uint8 (T, H, W, 3) RGB at `fps`) and its shared analyses, computed lazily.

    Thread-safe: each lazy analysis is computed once under its own lock on this clip, so checks that need
    different analyses (the flow, the OCR readings) compute them at the same time in different threads."""

    def __init__(self, frames: np.ndarray, fps: float) -> None:
        self.frames = frames
        self.fps = float(fps)
        self._motion_lock = threading.Lock()
        self._luma_lock = threading.Lock()
        self._text_lock = threading.Lock()
        self._motion: MotionAnalysis | None = None
        self._luma: np.ndarray | None = None
        self._texts: dict[tuple[int, int], list[TextFound]] = {}

    @classmethod
    def from_file(cls, path: Path, *, width: int | None = None, height: int | None = None) -> ClipAnalysis:
        """Decode `path` (scaled to width x height when given); a file without a frame rate reads as 24 fps."""
        from studio.tools.media import read_video

        frames, fps = read_video(path, width=width, height=height)
        return cls(frames, fps or 24.0)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps if self.fps else 0.0

    @property
    def motion(self) -> MotionAnalysis:
        """Dense optical flow split into camera and subject motion (`studio.tools.checks.motion.analyse_motion`)."""
        with self._motion_lock:
            if self._motion is None:
                from studio.tools.checks.motion import analyse_motion

                self._motion = analyse_motion(self.frames, self.fps)
            return self._motion

    @property
    def luma(self) -> np.ndarray:
        """Rec. 601 luma of every frame at half size, float32 (T, H/2, W/2)."""
        with self._luma_lock:
            if self._luma is None:
                import numpy as np

                half = self.frames[:, ::2, ::2].astype(np.float32)
                self._luma = half[..., 0] * 0.299 + half[..., 1] * 0.587 + half[..., 2] * 0.114
            return self._luma

    def texts(self, index: int, *, max_width: int = 1024) -> list[TextFound]:
        """Every line the OCR engine reads in frame `index` (scaled to at most `max_width` wide; boxes in the
        frame's own pixels), whatever its confidence. Raises ImportError when no OCR engine is installed."""
        key = (index, max_width)
        with self._text_lock:
            if key not in self._texts:
                same = next(
                    (read for read, width in self._texts if width == max_width and self.same_picture(read, index)), None
                )
                if same is not None:
                    # OCR only on frames that change: the same picture reads the same.
                    self._texts[key] = [replace(item, frame=index) for item in self._texts[(same, max_width)]]
                else:
                    from studio.tools.checks.text import read_frame

                    self._texts[key] = read_frame(self.frames[index], index, max_width=max_width)
            return self._texts[key]

    def same_picture(self, first: int, second: int, *, tolerance: float = 2.0) -> bool:
        """Whether frames `first` and `second` show the same picture: no 8x8 block of their luma differs by more
        than `tolerance` levels on average (compression noise stays below it; a caption, a pan or a moving
        subject does not)."""
        import cv2
        import numpy as np

        luma = self.luma
        height, width = luma.shape[1:3]
        size = (max(1, width // 8), max(1, height // 8))
        blocks = [cv2.resize(luma[index], size, interpolation=cv2.INTER_AREA) for index in (first, second)]
        return float(np.abs(blocks[0] - blocks[1]).max()) <= tolerance
