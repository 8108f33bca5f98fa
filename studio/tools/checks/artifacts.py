"""Technical checks that need no weights: duration, black frames, frozen frames."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from studio.plan import CheckResult

if TYPE_CHECKING:
    from studio.plan import Shot


def _luma(frames: np.ndarray) -> np.ndarray:
    return frames[..., 0] * 0.299 + frames[..., 1] * 0.587 + frames[..., 2] * 0.114


class DurationCheck:
    """The clip lasts as long as the shot asks, within one frame plus `tolerance_s`."""

    name = "duration"

    def __init__(self, tolerance_s: float = 0.1) -> None:
        self.tolerance_s = tolerance_s

    def run(self, frames: np.ndarray, fps: float, shot: Shot) -> CheckResult:
        seconds = len(frames) / fps if fps else 0.0
        allowed = self.tolerance_s + 1.0 / max(fps, 1.0)
        error = abs(seconds - shot.seconds)
        return CheckResult(
            check="duration",
            passed=error <= allowed,
            score=float(max(0.0, 1.0 - error / max(shot.seconds, 1e-6))),
            detail=f"{seconds:.2f} s for a {shot.seconds:.2f} s shot ({len(frames)} frames at {fps:g} fps)",
            evidence={"seconds": round(seconds, 3), "frames": len(frames)},
        )


class BlackFramesCheck:
    """Fails when more than `max_ratio` of frames are (nearly) black: mean luma below `threshold` and flat."""

    name = "black"

    def __init__(self, threshold: float = 16.0, max_ratio: float = 0.1) -> None:
        self.threshold = threshold
        self.max_ratio = max_ratio

    def run(self, frames: np.ndarray, fps: float, shot: Shot) -> CheckResult:
        luma = _luma(frames.astype(np.float32))
        means = luma.reshape(len(frames), -1).mean(axis=1)
        stds = luma.reshape(len(frames), -1).std(axis=1)
        black = np.flatnonzero((means < self.threshold) & (stds < 10.0))
        ratio = len(black) / max(len(frames), 1)
        return CheckResult(
            check="black",
            passed=ratio <= self.max_ratio,
            score=float(1.0 - ratio),
            detail=f"{len(black)} of {len(frames)} frames black (mean luma < {self.threshold:g})",
            evidence={"frames": black[:50].tolist()},
        )


class FrozenFramesCheck:
    """Fails when the picture stops changing: more than `max_ratio` of consecutive pairs differ by less than
    `threshold` grey levels on average, or the whole clip is one still."""

    name = "frozen"

    def __init__(self, threshold: float = 0.25, max_ratio: float = 0.5) -> None:
        self.threshold = threshold
        self.max_ratio = max_ratio

    def run(self, frames: np.ndarray, fps: float, shot: Shot) -> CheckResult:
        if len(frames) < 2:
            return CheckResult(check="frozen", passed=False, score=0.0, detail="fewer than two frames")
        small = _luma(frames[:, ::4, ::4].astype(np.float32))
        steps = np.abs(np.diff(small, axis=0)).reshape(len(frames) - 1, -1).mean(axis=1)
        frozen = np.flatnonzero(steps < self.threshold)
        ratio = len(frozen) / len(steps)
        return CheckResult(
            check="frozen",
            passed=ratio <= self.max_ratio,
            score=float(1.0 - ratio),
            detail=f"{len(frozen)} of {len(steps)} frame steps unchanged (median step {np.median(steps):.2f})",
            evidence={"pairs": frozen[:50].tolist()},
        )
