"""Technical checks that need no weights: duration, black and frozen frames, moving vertical lines or waves,
flicker and low dynamic degree (VBench-style measures computed from pixels and the shared optical flow)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from studio.plan import CheckResult

if TYPE_CHECKING:
    from studio.critic.analysis import ClipAnalysis
    from studio.plan import Shot


def _median_rows(stack: np.ndarray) -> np.ndarray:
    """The median down axis 1 of `stack` (T, H, W), as `np.median(stack, axis=1)` gives it: sorting along that
    axis is several times faster than numpy's partition there."""
    ordered = np.sort(stack, axis=1)
    middle = stack.shape[1] // 2
    if stack.shape[1] % 2:
        return ordered[:, middle]
    return (ordered[:, middle - 1] + ordered[:, middle]) * 0.5


class DurationCheck:
    """The clip lasts as long as the shot asks, within one frame plus `tolerance_s`."""

    name = "duration"

    def __init__(self, tolerance_s: float = 0.1) -> None:
        self.tolerance_s = tolerance_s

    def run(self, clip: ClipAnalysis, shot: Shot) -> CheckResult:
        frames, fps = clip.frames, clip.fps
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

    def run(self, clip: ClipAnalysis, shot: Shot) -> CheckResult:
        frames = clip.frames
        luma = clip.luma
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
    `threshold` grey levels on average with less than `min_changed_area` of pixels changing by more than
    `noise_levels`, or the whole clip is one still."""

    name = "frozen"

    def __init__(
        self,
        threshold: float = 0.25,
        max_ratio: float = 0.5,
        noise_levels: float = 6.0,
        min_changed_area: float = 0.003,
    ) -> None:
        self.threshold = threshold
        self.max_ratio = max_ratio
        self.noise_levels = noise_levels
        self.min_changed_area = min_changed_area

    def run(self, clip: ClipAnalysis, shot: Shot) -> CheckResult:
        frames = clip.frames
        if len(frames) < 2:
            return CheckResult(check="frozen", passed=False, score=0.0, detail="fewer than two frames")
        small = clip.luma[:, ::2, ::2]
        differences = np.abs(np.diff(small, axis=0)).reshape(len(frames) - 1, -1)
        steps = differences.mean(axis=1)
        # A small subject moving in a still frame barely moves the mean; a pair is frozen only when, besides a
        # low mean, almost no pixel changes by more than codec noise.
        changed_area = (differences > self.noise_levels).mean(axis=1)
        frozen = np.flatnonzero((steps < self.threshold) & (changed_area < self.min_changed_area))
        ratio = len(frozen) / len(steps)
        return CheckResult(
            check="frozen",
            passed=ratio <= self.max_ratio,
            score=float(1.0 - ratio),
            detail=f"{len(frozen)} of {len(steps)} frame steps unchanged (median step {np.median(steps):.2f})",
            evidence={"pairs": frozen[:50].tolist()},
        )


def _pairwise_correlation(profiles: np.ndarray) -> float:
    """Mean Pearson correlation between the rows of (bands, width)."""
    centred = profiles - profiles.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    if np.any(norms < 1e-6):
        return 0.0
    unit = centred / norms[:, None]
    matrix = unit @ unit.T
    upper = matrix[np.triu_indices(len(profiles), k=1)]
    return float(upper.mean())


def _carried_change(
    before: np.ndarray, after: np.ndarray, shift_x: float, zoom: float, columns: np.ndarray, centre: float
) -> tuple[float, float]:
    """How far the column profile `after` is from `before` carried along by the scene's move (zoom about the
    centre, then shift): (residual relative to the profiles' size, residual in grey levels)."""
    margin = min(len(columns) // 4, int(abs(shift_x) + abs(zoom - 1) * centre) + 6)
    now = after[margin:-margin]
    best, best_then = np.inf, now
    # A small correction absorbs error in the measured shift; independent lines move much further.
    for correction in np.arange(-1.5, 1.51, 0.25):
        source = centre + (columns - centre - shift_x - correction) / zoom
        then = np.interp(source, columns, before)[margin:-margin]
        # Brightness may change between the frames (flicker has its own check): fit a gain.
        then = then * float(np.clip(np.dot(now, then) / max(float(np.dot(then, then)), 1e-6), 0.7, 1.4))
        residual = float(np.sqrt(np.mean((now - then) ** 2)))
        if residual < best:
            best, best_then = residual, then
    size = np.linalg.norm(now) + np.linalg.norm(best_then)
    return float(np.sqrt(len(now)) * best / max(size, 1e-6)), best


class MovingLinesCheck:
    """Moving vertical lines or waves: column structure that spans the full picture height and does not move with
    the scene.

    A frame has column structure when the horizontally high-passed picture, averaged down each of `bands`
    horizontal bands, gives column profiles that agree across every band (`min_consistency`); scenery rarely
    does, full-height lines and waves always do. For such frames the scene's own move is measured by optical
    flow on the frames with that structure taken out (so the lines cannot drag the estimate along), and the
    structure fails when, carried along by that move, it does not match a quarter second later: a residual of
    `min_change` of the profile's size or `min_residual` grey levels. Fails when more than `max_ratio` of frame
    pairs show it."""

    name = "artifact"

    def __init__(
        self,
        bands: int = 4,
        min_consistency: float = 0.35,
        min_change: float = 0.15,
        min_residual: float = 1.0,
        max_ratio: float = 0.25,
    ) -> None:
        self.bands = bands
        self.min_residual = min_residual
        self.min_consistency = min_consistency
        self.min_change = min_change
        self.max_ratio = max_ratio

    def run(self, clip: ClipAnalysis, shot: Shot) -> CheckResult:
        frames, fps = clip.frames, clip.fps
        import cv2

        if len(frames) < 2:
            return CheckResult(check="artifact", passed=True, score=1.0, detail="fewer than two frames")
        height, width = frames.shape[1:3]
        work_w = min(width, 384)
        work_h = max(self.bands * 4, int(round(height * work_w / width)))
        columns = np.arange(work_w, dtype=np.float32)
        lumas = np.stack(
            [
                cv2.resize(
                    cv2.cvtColor(frame.astype(np.float32), cv2.COLOR_RGB2GRAY),
                    (work_w, work_h),
                    interpolation=cv2.INTER_AREA,
                )
                for frame in frames
            ]
        )
        highs = np.stack([luma - cv2.blur(luma, (9, 1)) for luma in lumas])
        # Column medians of every frame at once (a median per frame costs as much again in call overhead).
        band_medians = np.stack([_median_rows(band) for band in np.array_split(highs, self.bands, axis=1)], axis=1)
        # Sharp scenery edges resample differently at each sub-pixel position; lines that move stay apart.
        consistencies = [
            _pairwise_correlation(cv2.GaussianBlur(bands, (0, 0), sigmaX=1.5, sigmaY=0.01)) for bands in band_medians
        ]
        structured = np.array(consistencies) >= self.min_consistency
        flagged: list[int] = []
        changes: list[float] = []
        residuals: list[float] = []
        if structured.mean() > self.max_ratio:
            from studio.tools.checks.motion import camera_path

            # Whole-height column profiles, only of the frames with column structure (the only ones compared).
            profiles: dict[int, np.ndarray] = {
                int(index): cv2.GaussianBlur(median[None, :], (0, 0), sigmaX=1.5, sigmaY=0.01)[0]
                for index, median in zip(np.flatnonzero(structured), _median_rows(highs[structured]), strict=True)
            }
            # The scene's own move, measured with the column structure taken out so lines cannot drag it along.
            destriped = lumas - _median_rows(lumas)[:, None, :] + 128.0
            camera, to_work = camera_path(destriped)
            # Cumulative map of a column since frame 0: x_t = centre + zooms[t]·(x_0 − centre) + shifts[t].
            zooms, shifts = np.ones(len(frames)), np.zeros(len(frames))
            for index, (tx, _, scale, _) in enumerate(camera):
                zooms[index + 1] = zooms[index] * (1 + scale)
                shifts[index + 1] = (1 + scale) * shifts[index] + tx * to_work
            centre = work_w / 2
            # Slow waves change little from one frame to the next, so frames a quarter second apart are compared
            # too; a periodic pattern can alias with the scene's shift at one lag but not at both.
            lags = sorted({1, max(1, int(round(fps / 4)))})
            flagged_set: set[int] = set()
            for lag in lags:
                for index in range(len(frames) - lag):
                    if not (structured[index] and structured[index + lag]):
                        continue
                    zoom = zooms[index + lag] / zooms[index]
                    shift_x = shifts[index + lag] - zoom * shifts[index]
                    change, residual = _carried_change(
                        profiles[index], profiles[index + lag], shift_x, zoom, columns, centre
                    )
                    changes.append(change)
                    residuals.append(residual)
                    if change >= self.min_change or residual >= self.min_residual:
                        flagged_set.add(index)
            flagged = sorted(flagged_set)
        compared = max(1, len(frames) - 1)
        ratio = len(flagged) / compared
        return CheckResult(
            check="artifact",
            passed=ratio <= self.max_ratio,
            score=float(1.0 - ratio),
            detail=(
                f"moving vertical lines/waves in {len(flagged)} of {compared} frame pairs "
                f"(full-height column structure in {structured.mean():.0%} of frames, "
                f"median band consistency {np.median(consistencies):.2f})"
            ),
            evidence={
                "kind": "moving_lines",
                "pairs": flagged[:50],
                "ratio": round(ratio, 3),
                "median_change": round(float(np.median(changes)), 3) if changes else 0.0,
                "median_residual": round(float(np.median(residuals)), 2) if residuals else 0.0,
            },
        )


class FlickerCheck:
    """Brightness that jumps from frame to frame: a frame's mean luma against the median of its neighbours, in
    each cell of a 3x3 grid. A frame flickers when most cells jump the same way by more than `min_jump` (share of
    the local level). Fails when more than `max_frames` frames flicker. Also reports VBench's temporal
    flickering score, (255 − mean |f_t − f_t+1|) / 255."""

    name = "flicker"

    def __init__(self, min_jump: float = 0.05, max_frames: int = 1) -> None:
        self.min_jump = min_jump
        self.max_frames = max_frames

    def run(self, clip: ClipAnalysis, shot: Shot) -> CheckResult:
        frames = clip.frames
        if len(frames) < 5:
            return CheckResult(check="flicker", passed=True, score=1.0, detail="too short to judge flicker")
        small = clip.luma[:, ::2, ::2]
        count, height, width = small.shape
        cells = np.stack(
            [
                block.reshape(count, -1).mean(axis=1)
                for rows in np.array_split(small, 3, axis=1)
                for block in np.array_split(rows, 3, axis=2)
            ],
            axis=1,
        )
        padded = np.concatenate([cells[:1], cells[:1], cells, cells[-1:], cells[-1:]])
        window = np.stack([padded[offset : offset + count] for offset in (0, 1, 3, 4)], axis=0)
        neighbours = np.median(window, axis=0)
        jump = (cells - neighbours) / np.maximum(neighbours, 16.0)
        up = (jump > self.min_jump).sum(axis=1)
        down = (jump < -self.min_jump).sum(axis=1)
        flickering = np.flatnonzero(np.maximum(up, down) >= 6)
        vbench = float((255.0 - np.abs(np.diff(small, axis=0)).mean()) / 255.0)
        return CheckResult(
            check="flicker",
            passed=len(flickering) <= self.max_frames,
            score=float(1.0 - len(flickering) / count),
            detail=f"{len(flickering)} frames jump in brightness (VBench temporal flickering {vbench:.3f})",
            evidence={"kind": "flicker", "frames": flickering[:50].tolist(), "temporal_flickering": round(vbench, 4)},
        )


class DynamicDegreeCheck:
    """Low dynamic degree: the shot asks for motion (a camera move or a moving subject) but the picture barely
    moves. Motion per pair is VBench's measure, the mean of the top 5 % flow magnitudes; a pair moves when that
    exceeds `min_share` of the short side per second. Fails when fewer than `min_moving` of pairs move. Also
    reports VBench's dynamic flag (threshold 6·min(H,W)/256 px at 8 fps)."""

    name = "dynamic"

    def __init__(self, min_share: float = 0.02, min_moving: float = 0.25) -> None:
        self.min_share = min_share
        self.min_moving = min_moving

    def run(self, clip: ClipAnalysis, shot: Shot) -> CheckResult:
        frames = clip.frames
        wants_motion = shot.motion.camera.kind != "static" or bool(shot.motion.subjects)
        if len(frames) < 2:
            return CheckResult(check="dynamic", passed=not wants_motion, score=0.0, detail="fewer than two frames")
        analysis = clip.motion
        magnitude = np.hypot(analysis.flows[..., 0], analysis.flows[..., 1]).reshape(analysis.pairs, -1)
        top = max(1, int(magnitude.shape[1] * 0.05))
        per_pair = np.sort(magnitude, axis=1)[:, -top:].mean(axis=1) * analysis.to_full
        short_side = min(analysis.full_shape)
        per_second = per_pair * analysis.fps
        moving = float((per_second >= self.min_share * short_side).mean())
        vbench_threshold = 6.0 * short_side / 256.0
        vbench_moving = int((per_second / 8.0 >= vbench_threshold).sum())
        vbench_dynamic = vbench_moving >= max(1, round(4 * analysis.pairs / 16))
        passed = moving >= self.min_moving or not wants_motion
        return CheckResult(
            check="dynamic",
            passed=passed,
            score=float(min(1.0, moving / self.min_moving)),
            detail=(
                f"{moving:.0%} of frame pairs move (median top-5% flow {np.median(per_second):.1f} px/s); "
                f"VBench dynamic: {'yes' if vbench_dynamic else 'no'}"
                + ("" if wants_motion else "; the shot asks for no motion")
            ),
            evidence={"kind": "low_dynamic", "moving_ratio": round(moving, 3), "vbench_dynamic": vbench_dynamic},
        )
