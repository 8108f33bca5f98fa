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
    from collections.abc import Callable, Sequence
    from concurrent.futures import Future
    from pathlib import Path

    import numpy as np

    from studio.tools.checks.motion import MotionAnalysis
    from studio.tools.checks.text import TextFound


JUDGED_SIZE = (576, 320)
"""The critic reads a station's clips at this size (width, height): its evidence (OCR boxes, flow) is measured there."""


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
        self._texts: dict[tuple[int, int], Future[list[TextFound]]] = {}

    @classmethod
    def from_file(cls, path: Path, *, width: int | None = None, height: int | None = None) -> ClipAnalysis:
        """Decode `path` (scaled to width x height when given); a file without a frame rate reads as 24 fps."""
        from studio.tools.media import read_video

        frames, fps = read_video(path, width=width, height=height)
        return cls(frames, fps or 24.0)

    @classmethod
    def start(
        cls, path: Path, *, width: int | None = None, height: int | None = None, max_width: int | None = None
    ) -> ClipDecoding:
        """`from_file` in the background: ffmpeg decodes `path` (at width x height, or its own size scaled down to
        `max_width` wide) in a thread while the caller does other work, and frames can be read for text as they
        arrive (`ClipDecoding.read_early`); `.analysis()` waits for the clip."""
        return ClipDecoding(path, width=width, height=height, max_width=max_width)

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
                import cv2
                import numpy as np

                # One conversion over the clip's half-size frames stacked as one tall picture.
                count = len(self.frames)
                half = np.ascontiguousarray(self.frames[:, ::2, ::2])
                rows, columns = half.shape[1:3]
                stacked = half.reshape(count * rows, columns, 3).astype(np.float32)
                grey = cv2.cvtColor(stacked, cv2.COLOR_RGB2GRAY) if stacked.size else stacked[..., 0]
                self._luma = grey.reshape(count, rows, columns)
            return self._luma

    def texts(self, index: int, *, max_width: int = 1024) -> list[TextFound]:
        """Every line the OCR engine reads in frame `index` (scaled to at most `max_width` wide; boxes in the
        frame's own pixels), whatever its confidence. Raises ImportError when no OCR engine is installed."""
        readings, read = self.plan_text(index, max_width=max_width)
        if read is not None:
            read()
        return readings.result()

    def plan_text(
        self, index: int, *, max_width: int = 1024
    ) -> tuple[Future[list[TextFound]], Callable[[], None] | None]:
        """What `texts(index)` will give, and, when this call is the one to make the reading, the reading to run.

        OCR only on frames that change: a frame showing the same picture as one planned before it (in the order
        frames are planned) reuses that frame's readings. Deciding that needs only pixels, so frames are planned
        one after another and read side by side: the reading runs outside the clip's lock, in whatever thread
        runs it, and `texts` waits for it."""
        from concurrent.futures import Future

        key = (index, max_width)
        with self._text_lock:
            planned = self._texts.get(key)
            if planned is not None:
                return planned, None
            same = next(
                (read for read, width in self._texts if width == max_width and self.same_picture(read, index)), None
            )
            readings: Future[list[TextFound]] = Future()
            self._texts[key] = readings
            source = self._texts[(same, max_width)] if same is not None else None
        if source is not None:
            # Outside the lock: a source already read settles the copy at once, in this thread.
            source.add_done_callback(
                lambda done: self._settle(key, readings, lambda: [replace(i, frame=index) for i in done.result()])
            )
            return readings, None

        def read() -> None:
            from studio.tools.checks.text import read_frame

            self._settle(key, readings, lambda: read_frame(self.frames[index], index, max_width=max_width))

        return readings, read

    def _settle(
        self, key: tuple[int, int], readings: Future[list[TextFound]], make: Callable[[], list[TextFound]]
    ) -> None:
        try:
            readings.set_result(make())
        except BaseException as error:  # noqa: BLE001 - whoever waits for the readings gets it
            with self._text_lock:
                # Not kept: the next caller plans and reads again.
                if self._texts.get(key) is readings:
                    del self._texts[key]
            readings.set_exception(error)

    def same_picture(self, first: int, second: int, *, tolerance: float = 2.0) -> bool:
        """Whether frames `first` and `second` show the same picture: no 8x8 block of their luma differs by more
        than `tolerance` levels on average (compression noise stays below it; a caption, a pan or a moving
        subject does not)."""
        import cv2
        import numpy as np

        lumas = [self.frame_luma(index) for index in (first, second)]
        height, width = lumas[0].shape
        size = (max(1, width // 8), max(1, height // 8))
        blocks = [cv2.resize(luma, size, interpolation=cv2.INTER_AREA) for luma in lumas]
        return float(np.abs(blocks[0] - blocks[1]).max()) <= tolerance

    def frame_luma(self, index: int) -> np.ndarray:
        """`luma[index]`, the same values, without computing every frame's when they are not computed yet (OCR can
        read a frame before the rest of the clip is decoded)."""
        with self._luma_lock:
            if self._luma is not None:
                return self._luma[index]
        import numpy as np

        half = self.frames[index : index + 1, ::2, ::2].astype(np.float32)
        return (half[..., 0] * 0.299 + half[..., 1] * 0.587 + half[..., 2] * 0.114)[0]


OCR_WORKERS = 2
"""Frames `ClipDecoding.read_early` reads at once."""


class ClipDecoding:
    """A clip being decoded (`ClipAnalysis.start`): ffmpeg's frames go into the analysis's frame array from a
    thread as they come, and `read_early` has OCR read the frames a text check will sample as soon as each is
    decoded (in the order the check reads them, so its readings are the ones the check would make). `analysis()`
    waits for the whole clip and gives the `ClipAnalysis` that `ClipAnalysis.from_file` would, with those
    readings already made."""

    def __init__(
        self, path: Path, *, width: int | None = None, height: int | None = None, max_width: int | None = None
    ) -> None:
        from studio.tools.media import start_video_decode, video_size, video_track

        self.path = path
        track = video_track(path)
        own_width, own_height = video_size(track, max_width=max_width)
        # ffmpeg starts before numpy is imported and the frames' memory is laid out.
        self._process, self.width, self.height = start_video_decode(
            path, width=width or own_width, height=height or own_height, track=track
        )
        self.expected = track.frames
        """Frames the container holds (its packets); the count decoded is checked against it at the end."""
        import numpy as np

        self._clip = ClipAnalysis(np.empty((self.expected, self.height, self.width, 3), np.uint8), track.fps or 24.0)
        self._extra: list[np.ndarray] = []
        self._decoded = 0
        self._done = False
        self._cancelled = False
        self._error: BaseException | None = None
        self._arrived = threading.Condition()
        self._early: threading.Thread | None = None
        self._thread = threading.Thread(target=self._decode, name=f"decode-{path.name}", daemon=True)
        self._thread.start()

    def _decode(self) -> None:
        from studio.tools.media import frames_of

        try:
            frames = self._clip.frames
            for index, frame in enumerate(
                frames_of(self._process, self.width, self.height, self.path.name, into=frames)
            ):
                if index >= len(frames):
                    self._extra.append(frame)
                with self._arrived:
                    self._decoded = index + 1
                    self._arrived.notify_all()
        except BaseException as error:  # noqa: BLE001 - handed to whoever waits for the clip
            self._error = error
        finally:
            with self._arrived:
                self._done = True
                self._arrived.notify_all()

    def read_early(self, indices: Sequence[int], *, max_width: int = 1024) -> None:
        """Read text (`ClipAnalysis.texts`) in frames `indices` of the `expected` ones, in this order, each as soon
        as it is decoded, in a thread. Readings that cannot be made (no OCR engine) are left to the check."""

        def read() -> None:
            from concurrent.futures import ThreadPoolExecutor

            from studio.tools.checks.text import warm_up

            # The engine and its detection model load while the first sampled frame is being decoded.
            warm_up()
            # Frames are planned in order as they arrive and read two at a time (onnxruntime runs outside the GIL).
            with ThreadPoolExecutor(max_workers=OCR_WORKERS, thread_name_prefix=f"ocr-{self.path.name}") as pool:
                for index in indices:
                    with self._arrived:
                        self._arrived.wait_for(lambda: self._decoded > index or self._done)  # noqa: B023
                        if self._cancelled or self._decoded <= index:
                            return
                    _, reading = self._clip.plan_text(index, max_width=max_width)
                    if reading is not None:
                        pool.submit(reading)

        self._early = threading.Thread(target=read, name=f"ocr-{self.path.name}", daemon=True)
        self._early.start()

    def analysis(self) -> ClipAnalysis:
        """The decoded clip (raises `ToolError` when it could not be decoded)."""
        import numpy as np

        self._thread.join()
        if self._error is not None:
            raise self._error
        clip = self._clip
        if self._decoded != self.expected:
            # The container's packet count was not the frame count: readings made for the sampled frames of the
            # count it claimed would not be the check's; drop them.
            with self._arrived:
                self._cancelled = True
            if self._early is not None:
                self._early.join()
            with clip._text_lock:
                clip._texts.clear()
            clip.frames = np.concatenate([clip.frames[: self._decoded], *[frame[None] for frame in self._extra]])
        return clip
