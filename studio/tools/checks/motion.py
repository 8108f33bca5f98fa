"""Motion checks from dense optical flow: camera direction, per-region subject motion and time reversal.

One Farneback pass per clip (shared by every check through the clip's `ClipAnalysis`) at a small analysis width. Each pair's flow
is split into a camera part — a similarity model (translation, scale, rotation) fitted robustly to the whole
frame — and a residual; pixels whose residual stands out are the moving subjects. Signs: +dx right, +dy down, so a
camera panning right makes the picture move left.

Reversal is not read from the sign of acceleration (a reversed fall also accelerates downward). A clip reads as
time-reversed when every intended motion it shows goes the opposite way *and* its arrow of time does not say
forward; the arrow comes from dissipation asymmetry of the subject's velocity: real impacts stop abruptly and
settle (falls, drops), real launches start abruptly and die out (kicks, throws); reversed clips do the opposite.
It is read twice, from the subject's flow velocity and from the share of the frame that changes once the camera is
undone, and the two are averaged: flow loses a small subject that moves farther than its own size per frame (the
fast end of a fall, worse once frames are blended), which can make the wrong end of the motion look abrupt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import cv2
import numpy as np

from studio.colours import NAMED_COLOURS
from studio.plan import CheckResult

if TYPE_CHECKING:
    from studio.critic.analysis import ClipAnalysis
    from studio.plan import CameraMove, Shot, SubjectMotion

ANALYSIS_WIDTH = 192
ANALYSIS_FPS = 12.0
# Residual flow (analysis px per frame) below this is noise; direction evidence needs this much motion.
NOISE_PX = 0.12
Agreement = Literal["agree", "opposite", "unclear", "unmeasured"]

IMPACT_VERBS = re.compile(
    r"\b(fall|falls|falling|fell|drop|drops|dropping|dropped|land|lands|landing|crash|crashes|crashing|tumble|"
    r"tumbles|sink|sinks|slam|slams|hit|hits|pour|pours|pouring|splash|splashes|settle|settles|plunge|plunges)\b"
)
LAUNCH_VERBS = re.compile(
    r"\b(kick|kicks|kicked|throw|throws|thrown|tossed|launch|launches|launched|shoot|shoots|shot out|"
    r"jump|jumps|leap|leaps|bursts|explodes|is hit|flicked|pushed|struck|batted|fired)\b"
)


@dataclass(frozen=True)
class MotionAnalysis:
    """Dense flow of one clip at analysis resolution, split into camera and residual motion."""

    small: np.ndarray
    """Frames at analysis resolution, RGB uint8 (T, h, w, 3)."""
    flows: np.ndarray
    """(T-1, h, w, 2) float32 flow from frame t to t+1 in analysis pixels."""
    camera: np.ndarray
    """(T-1, 4): tx, ty (px/frame), scale rate s and rotation r of the picture's apparent motion."""
    residual: np.ndarray
    """(T-1, h, w, 2): flow minus the camera model."""
    moving: np.ndarray
    """(T-1, h, w) bool: pixels moving on their own (subjects)."""
    to_full: float
    """Multiply analysis pixels by this to get pixels of the original frames."""
    fps: float
    """Frame rate of the analysed frames (the clip's, divided by `stride`)."""
    full_shape: tuple[int, int]
    """(H, W) of the original frames."""
    stride: int = 1
    """Every `stride`-th frame of the clip was analysed."""
    change: np.ndarray | None = None
    """(T-1,) share of the frame (inner part) whose brightness changes beyond noise once the camera's motion is
    undone. Unlike flow it does not lose a small subject that moves farther than its own size per frame."""

    @property
    def pairs(self) -> int:
        return len(self.flows)


@dataclass(frozen=True)
class SubjectTrack:
    """Area-weighted motion of one subject region per frame pair."""

    velocity: np.ndarray
    """(P, 2) mean residual flow of the region, analysis px per frame; 0 where nothing moved."""
    expansion: np.ndarray
    """(P,) scale rate of the region times its radius (px/frame): + grows (toward camera), − shrinks."""
    area: np.ndarray
    """(P,) fraction of the frame moving."""
    centroid: np.ndarray
    """(P, 2) centre of the region as a fraction of width and height; NaN where nothing moved."""


@dataclass(frozen=True)
class IntentReading:
    """How one intended motion compares with what was measured."""

    who: str
    """`camera` or the subject's name."""
    direction: str
    agreement: Agreement
    along: float
    """Mean velocity along the intended direction (analysis px per frame; + is the intended way)."""
    agree_ratio: float
    """Share of moving frame pairs that go the intended way."""
    arrow: float
    """Arrow of time from dissipation asymmetry: + forward, − reversed, 0 no evidence."""


def analyse_motion(frames: np.ndarray, fps: float) -> MotionAnalysis:
    """Flow, camera model and moving-region masks of `frames`. Pure: the checks share one clip's analysis through
    `studio.critic.analysis.ClipAnalysis.motion`, which computes it once."""
    # Slow motion at high frame rates hides under flow noise from one frame to the next: analyse ~12 fps.
    stride = max(1, int(round(fps / ANALYSIS_FPS)))
    frames = frames[::stride]
    fps = fps / stride
    count, height, width = frames.shape[:3]
    small_w = min(ANALYSIS_WIDTH, width)
    small_h = max(8, int(round(height * small_w / width)))
    small = np.stack([cv2.resize(frame, (small_w, small_h), interpolation=cv2.INTER_AREA) for frame in frames])
    grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in small]
    pairs = max(0, count - 1)
    flows = np.zeros((pairs, small_h, small_w, 2), np.float32)
    for index in range(pairs):
        flows[index] = cv2.calcOpticalFlowFarneback(grey[index], grey[index + 1], None, 0.5, 3, 15, 3, 5, 1.2, 0)
    yy, xx = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    xs, ys = xx - small_w / 2, yy - small_h / 2
    margin_x, margin_y = max(2, small_w // 12), max(2, small_h // 12)
    inner = np.zeros((small_h, small_w), bool)
    inner[margin_y:-margin_y, margin_x:-margin_x] = True
    camera = np.zeros((pairs, 4), np.float32)
    residual = np.zeros_like(flows)
    moving = np.zeros((pairs, small_h, small_w), bool)
    kernel = np.ones((3, 3), np.uint8)
    change = np.zeros(pairs, np.float32)
    for index in range(pairs):
        model = _fit_similarity(flows[index], xs, ys, inner)
        camera[index] = model
        tx, ty, s, r = model
        residual[index, ..., 0] = flows[index, ..., 0] - (tx + s * xs - r * ys)
        residual[index, ..., 1] = flows[index, ..., 1] - (ty + s * ys + r * xs)
        magnitude = np.hypot(residual[index, ..., 0], residual[index, ..., 1])
        spread = float(np.median(magnitude[inner]))
        threshold = max(0.35, 4.0 * spread)
        mask = ((magnitude > threshold) & inner).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        moving[index] = mask.astype(bool)
        change[index] = _changed_share(grey[index], grey[index + 1], model, xx, yy, xs, ys, inner, kernel)
    return MotionAnalysis(
        small=small,
        flows=flows,
        camera=camera,
        residual=residual,
        moving=moving,
        to_full=width / small_w,
        fps=fps,
        full_shape=(height, width),
        stride=stride,
        change=change,
    )


def _changed_share(
    first: np.ndarray,
    second: np.ndarray,
    model: np.ndarray,
    xx: np.ndarray,
    yy: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    inner: np.ndarray,
    kernel: np.ndarray,
) -> float:
    """Share of the inner frame that changes from `first` to `second` once the camera model is undone."""
    tx, ty, s, r = (float(value) for value in model)
    map_x = xx + tx + s * xs - r * ys
    map_y = yy + ty + s * ys + r * xs
    warped = cv2.remap(second, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    diff = cv2.absdiff(warped, first)
    threshold = max(12.0, 4.0 * float(np.median(diff[inner])))
    mask = ((diff > threshold) & inner).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    return float(mask.sum()) / float(inner.sum())


def camera_path(grey: np.ndarray) -> tuple[np.ndarray, float]:
    """Camera model per frame pair, (T-1, 4) tx, ty, s, r, for greyscale frames (T, H, W) of any dtype, fitted
    at analysis width; also the factor from analysis pixels to the frames' pixels."""
    count, height, width = grey.shape
    small_w = min(ANALYSIS_WIDTH, width)
    small_h = max(8, int(round(height * small_w / width)))
    small = [
        cv2.resize(np.clip(frame, 0, 255).astype(np.uint8), (small_w, small_h), interpolation=cv2.INTER_AREA)
        for frame in grey
    ]
    yy, xx = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    xs, ys = xx - small_w / 2, yy - small_h / 2
    inner = np.zeros((small_h, small_w), bool)
    inner[max(2, small_h // 12) : -max(2, small_h // 12), max(2, small_w // 12) : -max(2, small_w // 12)] = True
    camera = np.zeros((max(0, count - 1), 4), np.float32)
    for index in range(count - 1):
        flow = cv2.calcOpticalFlowFarneback(small[index], small[index + 1], None, 0.5, 3, 15, 3, 5, 1.2, 0)
        camera[index] = _fit_similarity(flow, xs, ys, inner)
    return camera, width / small_w


def _fit_similarity(flow: np.ndarray, xs: np.ndarray, ys: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Least-squares u = tx + s·x − r·y, v = ty + s·y + r·x, refitted twice on the best-fitting 70 %.

    Solved from the model's 4x4 normal equations, whose entries are sums over the kept points (the columns for
    tx, ty are orthogonal, as are those for s, r): the least-squares answer a general solver gives, for a
    fraction of its cost."""
    step = 2
    x = xs[::step, ::step][inner[::step, ::step]].astype(np.float64)
    y = ys[::step, ::step][inner[::step, ::step]].astype(np.float64)
    u = flow[::step, ::step, 0][inner[::step, ::step]].astype(np.float64)
    v = flow[::step, ::step, 1][inner[::step, ::step]].astype(np.float64)
    radius = x * x + y * y
    keep = np.ones(len(x), bool)
    params = np.zeros(4)
    for _ in range(3):
        kx, ky, ku, kv, kr = x[keep], y[keep], u[keep], v[keep], radius[keep]
        n, sx, sy, sr = float(len(kx)), kx.sum(), ky.sum(), kr.sum()
        normal = np.array([[n, 0.0, sx, -sy], [0.0, n, sy, sx], [sx, sy, sr, 0.0], [-sy, sx, 0.0, sr]])
        moments = np.array([ku.sum(), kv.sum(), (kx * ku + ky * kv).sum(), (kx * kv - ky * ku).sum()])
        try:
            params = np.linalg.solve(normal, moments)
        except np.linalg.LinAlgError:  # every kept point at one place: no scale or rotation to fit
            params = np.array([ku.mean(), kv.mean(), 0.0, 0.0]) if n else np.zeros(4)
        tx, ty, scale, rotation = params
        error = np.hypot(tx + scale * x - rotation * y - u, ty + scale * y + rotation * x - v)
        keep = error <= np.quantile(error, 0.7) + 1e-6
    return params.astype(np.float32)


# --- subjects ------------------------------------------------------------------------------------------------------


def colour_in_name(name: str) -> str | None:
    """The first colour word in a subject's name ("green pumpkin" → "green")."""
    for word in re.findall(r"[a-z]+", name.lower()):
        if word in NAMED_COLOURS:
            return word
    return None


def colour_mask(small_frames: np.ndarray, colour: str, tolerance_deg: float = 35.0) -> np.ndarray:
    """(T, h, w) bool: pixels whose hue (or, for greys, lightness) matches the named colour."""
    rgb = np.uint8([[NAMED_COLOURS[colour]]])
    hsv_ref = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL)[0, 0].astype(np.float32)
    hsv = np.stack([cv2.cvtColor(frame, cv2.COLOR_RGB2HSV_FULL) for frame in small_frames]).astype(np.float32)
    if hsv_ref[1] < 60:
        lightness = hsv[..., 2]
        return (hsv[..., 1] < 70) & (np.abs(lightness - hsv_ref[2]) < 50)
    hue_gap = np.abs(hsv[..., 0] - hsv_ref[0]) * 360 / 256
    hue_gap = np.minimum(hue_gap, 360 - hue_gap)
    return (hue_gap < tolerance_deg) & (hsv[..., 1] > 70) & (hsv[..., 2] > 40)


def track_subject(analysis: MotionAnalysis, colour: str | None = None) -> SubjectTrack:
    """Residual motion of the moving region, restricted to pixels of `colour` when the subject is named with one
    and such pixels move."""
    pairs = analysis.pairs
    masks = analysis.moving
    if colour is not None and pairs:
        # Tighter than the colour check's tolerance so that red and orange subjects are told apart.
        coloured = colour_mask(analysis.small[:-1], colour, 20.0) | colour_mask(analysis.small[1:], colour, 20.0)
        restricted = masks & coloured
        if restricted.sum() >= 0.3 * masks.sum() and restricted.sum() > 0:
            masks = restricted
    height, width = masks.shape[1:] if pairs else (1, 1)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    velocity = np.zeros((pairs, 2), np.float32)
    expansion = np.zeros(pairs, np.float32)
    area = np.zeros(pairs, np.float32)
    centroid = np.full((pairs, 2), np.nan, np.float32)
    minimum = max(4, int(0.002 * height * width))
    for index in range(pairs):
        mask = masks[index]
        count = int(mask.sum())
        area[index] = count / (height * width)
        if count < minimum:
            continue
        flow = analysis.residual[index][mask]
        velocity[index] = flow.mean(axis=0)
        centroid[index] = (xx[mask].mean() / width, yy[mask].mean() / height)
        dx, dy = xx[mask] - xx[mask].mean(), yy[mask] - yy[mask].mean()
        spread = float((dx**2 + dy**2).sum())
        if spread > 0:
            local = flow - velocity[index]
            rate = float((local[:, 0] * dx + local[:, 1] * dy).sum() / spread)
            expansion[index] = rate * np.sqrt(count / np.pi)
    return SubjectTrack(velocity=velocity, expansion=expansion, area=area, centroid=centroid)


_UNIT = {
    "left": (-1.0, 0.0),
    "right": (1.0, 0.0),
    "up": (0.0, -1.0),
    "down": (0.0, 1.0),
}


def _camera_along(analysis: MotionAnalysis, camera: CameraMove) -> np.ndarray:
    """Per pair, the camera's motion along its intended direction (px/frame, + is the intended way)."""
    tx, ty, s = analysis.camera[:, 0], analysis.camera[:, 1], analysis.camera[:, 2]
    half_diagonal = float(np.hypot(*analysis.small.shape[1:3])) / 2
    if camera.direction in ("in", "out"):
        sign = 1.0 if camera.direction == "in" else -1.0
        return sign * s * half_diagonal
    ux, uy = _UNIT.get(camera.direction, (0.0, 0.0))
    # The picture moves against the camera: panning right slides the scene left.
    return -(tx * ux + ty * uy)


def _subject_along(track: SubjectTrack, direction: str) -> np.ndarray:
    if direction in ("in", "toward_camera"):
        return track.expansion
    if direction in ("out", "away_from_camera"):
        return -track.expansion
    ux, uy = _UNIT.get(direction, (0.0, 0.0))
    return track.velocity[:, 0] * ux + track.velocity[:, 1] * uy


def _agreement(along: np.ndarray, noise: float = NOISE_PX) -> tuple[Agreement, float, float]:
    if len(along) == 0:
        return "unmeasured", 0.0, 0.0
    active = np.abs(along) > noise
    mean = float(along.mean())
    if active.sum() < max(2, 0.15 * len(along)) or abs(mean) < noise * 0.5:
        return "unmeasured", mean, 0.0
    ratio = float((along[active] > 0).mean())
    if ratio >= 0.6 and mean > 0:
        return "agree", mean, ratio
    if ratio <= 0.4 and mean < 0:
        return "opposite", mean, ratio
    return "unclear", mean, ratio


# A subject this close to the frame's edge (share of width/height) may be leaving or entering, not stopping.
EDGE_ZONE = 0.12


def arrow_of_time(velocity: np.ndarray, action: str, centroid: np.ndarray | None = None) -> float:
    """Dissipation asymmetry of a subject's velocity (P, 2) for the verb `action`: + forward, − reversed, 0 none.

    The most abrupt change of velocity is an event; if the subject is faster before it than after, the event is
    a stop (impact), otherwise a start (launch). Impact verbs expect stops, launch verbs expect starts. With the
    region's `centroid` (P, 2, fractions of the frame), an event at the frame's edge says nothing: the subject
    may just be leaving or entering the picture.
    """
    verb = action.lower()
    expect = 1.0 if IMPACT_VERBS.search(verb) else -1.0 if LAUNCH_VERBS.search(verb) else 0.0
    if expect == 0.0 or len(velocity) < 6:
        return 0.0
    speed = np.hypot(velocity[:, 0], velocity[:, 1])
    peak = float(np.quantile(speed, 0.95))
    if peak < 3 * NOISE_PX:
        return 0.0
    change = np.hypot(*np.diff(velocity, axis=0).T)
    event = int(np.argmax(change))
    if change[event] < 0.45 * peak:
        return 0.0
    before = float(speed[max(0, event - 2) : event + 1].mean())
    after = float(speed[event + 1 : event + 4].mean())
    stop_vs_start = (before - after) / max(before + after, 1e-6)
    if centroid is not None:
        # The moving side of the event: where the subject was before a stop, or first seen after a start.
        side = centroid[max(0, event - 2) : event + 1] if stop_vs_start > 0 else centroid[event + 1 : event + 4]
        seen = side[~np.isnan(side).any(axis=1)]
        if len(seen) and (np.any(seen < EDGE_ZONE) or np.any(seen > 1 - EDGE_ZONE)):
            return 0.0
    return float(expect * np.clip(stop_vs_start, -1.0, 1.0))


# Changed share of the frame below this says nothing about the subject's speed.
CHANGE_FLOOR = 0.004


def change_arrow(change: np.ndarray, action: str) -> float:
    """Arrow of time from the changed share of the frame per pair (`MotionAnalysis.change`), a speed proxy that
    grows with a subject's speed and, unlike flow, does not collapse when a small subject jumps farther than its
    own size between frames (the fast end of a fall): + forward, − reversed, 0 no evidence.

    The event is the biggest sustained step of the profile (means of up to three pairs on either side, so a
    blended in-between frame or a squash wobble does not pass for one); a drop is a stop, a rise a start.
    """
    verb = action.lower()
    expect = 1.0 if IMPACT_VERBS.search(verb) else -1.0 if LAUNCH_VERBS.search(verb) else 0.0
    if expect == 0.0 or len(change) < 6:
        return 0.0
    peak = float(np.quantile(change, 0.95))
    if peak < CHANGE_FLOOR:
        return 0.0
    best, stop_vs_start = 0.0, 0.0
    for event in range(1, len(change)):
        before = float(change[max(0, event - 3) : event].mean())
        after = float(change[event : event + 3].mean())
        if abs(before - after) > best:
            best, stop_vs_start = abs(before - after), (before - after) / max(before + after, 1e-6)
    if best < 0.3 * peak:
        return 0.0
    return float(expect * np.clip(stop_vs_start, -1.0, 1.0))


def read_intent(analysis: MotionAnalysis, shot: Shot) -> list[IntentReading]:
    """Compare each intended motion of `shot` (camera and subjects) with the measured flow."""
    readings: list[IntentReading] = []
    camera = shot.motion.camera
    if camera.kind != "static" and camera.direction != "none":
        agreement, along, ratio = _agreement(_camera_along(analysis, camera))
        readings.append(IntentReading("camera", f"{camera.kind} {camera.direction}", agreement, along, ratio, 0.0))
    else:
        readings.extend(_read_still_camera(analysis))
    for subject in shot.motion.subjects:
        readings.append(_read_subject(analysis, subject, shot.prompt))
    return readings


# A locked-off shot may drift a little; a steady move faster than this share of the width per second is a pan.
STILL_CAMERA_LIMIT = 0.05


def _read_still_camera(analysis: MotionAnalysis) -> list[IntentReading]:
    """An `opposite` reading when a shot meant to hold still pans, tilts or zooms steadily."""
    if analysis.pairs < 2:
        return []
    width = analysis.small.shape[2]
    half_diagonal = float(np.hypot(*analysis.small.shape[1:3])) / 2
    series = {
        "pan": -analysis.camera[:, 0],
        "tilt": -analysis.camera[:, 1],
        "zoom": analysis.camera[:, 2] * half_diagonal,
    }
    limit = STILL_CAMERA_LIMIT * width / analysis.fps
    for kind, values in series.items():
        mean = float(values.mean())
        steady = float((np.sign(values) == np.sign(mean)).mean())
        if abs(mean) > limit and steady >= 0.8:
            direction = {"pan": ("right", "left"), "tilt": ("down", "up"), "zoom": ("in", "out")}[kind][mean < 0]
            return [IntentReading("camera", f"still, but it {kind}s {direction}", "opposite", -abs(mean), 0.0, 0.0)]
    return []


def subject_colour(subject: str, prompt: str) -> str | None:
    """The colour a subject is given: in its name ("green pumpkin"), else in the prompt right before its noun."""
    named = colour_in_name(subject)
    if named is not None:
        return named
    nouns = re.findall(r"[a-z]+", subject.lower())
    if not nouns:
        return None
    tokens = re.findall(r"[a-z]+", prompt.lower())
    for index, token in enumerate(tokens):
        if token == nouns[-1]:
            for before in reversed(tokens[max(0, index - 3) : index]):
                if before in NAMED_COLOURS:
                    return before
    return None


def _read_subject(analysis: MotionAnalysis, subject: SubjectMotion, prompt: str = "") -> IntentReading:
    track = track_subject(analysis, subject_colour(subject.subject, prompt))
    action = f"{subject.action} {subject.subject}"
    arrow = arrow_of_time(track.velocity, action, track.centroid)
    if analysis.change is not None:
        # Flow loses a small subject moving farther than its size per frame, so its velocity profile can show the
        # wrong end of a fall as the abrupt one; the changed-area profile does not. Where the two disagree the
        # mean says "no clear arrow", which is what the evidence is.
        both = [value for value in (arrow, change_arrow(analysis.change, action)) if value != 0.0]
        arrow = float(np.mean(both)) if both else 0.0
    if subject.direction == "none":
        return IntentReading(subject.subject, "none", "unmeasured", 0.0, 0.0, arrow)
    agreement, along, ratio = _agreement(_subject_along(track, subject.direction))
    return IntentReading(subject.subject, subject.direction, agreement, along, ratio, arrow)


@dataclass(frozen=True)
class MotionFinding:
    """What the motion checks conclude about one clip."""

    readings: list[IntentReading]
    fault: Literal["none", "direction", "reversed"]
    arrow: float
    detail: str


# The arrow must say forward this clearly before an all-backwards clip counts as a wrong direction, not reversal.
FORWARD_ARROW = 0.3


def assess(analysis: MotionAnalysis, shot: Shot) -> MotionFinding:
    """Read the clip's measured motion against the shot's intent and name the fault, if any."""
    readings = read_intent(analysis, shot)
    measured = [reading for reading in readings if reading.agreement in ("agree", "opposite")]
    opposite = [reading for reading in measured if reading.agreement == "opposite"]
    arrows = [reading.arrow for reading in readings if reading.arrow != 0.0]
    arrow = float(np.mean(arrows)) if arrows else 0.0
    summary = "; ".join(
        f"{r.who} {r.direction}: {r.agreement} ({r.along * analysis.to_full * analysis.fps:+.0f} px/s, "
        f"{r.agree_ratio:.0%} of moving pairs)"
        for r in readings
    )
    if not readings:
        return MotionFinding(readings, "none", arrow, "no intended motion to compare")
    if not opposite:
        return MotionFinding(readings, "none", arrow, summary or "no measurable motion")
    unclear = [reading for reading in readings if reading.agreement == "unclear"]
    still_moved = any(reading.direction.startswith("still") for reading in opposite)
    if len(opposite) == len(measured) and not unclear and not still_moved and arrow < FORWARD_ARROW:
        reason = f"every measured motion runs backwards and the arrow of time reads {arrow:+.2f}"
        return MotionFinding(readings, "reversed", arrow, f"{reason}: {summary}")
    if len(opposite) < len(measured) or unclear or still_moved:
        why = "not every motion is backwards"
    else:
        why = f"arrow of time {arrow:+.2f} says forward"
    return MotionFinding(readings, "direction", arrow, f"wrong direction ({why}): {summary}")


def flow_summary(analysis: MotionAnalysis) -> dict[str, object]:
    """Numbers a person can read: mean camera motion and moving area, in original pixels per second."""
    scale = analysis.to_full * analysis.fps
    camera = analysis.camera.mean(axis=0) if analysis.pairs else np.zeros(4)
    return {
        "camera_px_per_s": [round(float(camera[0]) * scale, 1), round(float(camera[1]) * scale, 1)],
        "camera_zoom_per_s": round(float(camera[2]) * analysis.fps, 4),
        "moving_area": round(float(analysis.moving.mean()) if analysis.pairs else 0.0, 4),
    }


def _evidence(finding: MotionFinding, analysis: MotionAnalysis) -> dict[str, object]:
    return {
        "intent": [
            {
                "who": r.who,
                "direction": r.direction,
                "agreement": r.agreement,
                "along_px_per_s": round(r.along * analysis.to_full * analysis.fps, 1),
                "agree_ratio": round(r.agree_ratio, 3),
                "arrow": round(r.arrow, 3),
            }
            for r in finding.readings
        ],
        "arrow_of_time": round(finding.arrow, 3),
        "flow": flow_summary(analysis),
    }


class DirectionCheck:
    """Fails when measured camera or subject motion contradicts the shot's intended direction (and the clip is
    not simply playing backwards — that is `ReversalCheck`'s call)."""

    name = "direction"

    def run(self, clip: ClipAnalysis, shot: Shot) -> CheckResult:
        finding = assess(clip.motion, shot)
        failed = finding.fault == "direction"
        score = _agreement_score(finding)
        return CheckResult(
            check="direction",
            passed=not failed,
            score=score if failed else max(score, 0.5),
            detail=finding.detail,
            evidence=_evidence(finding, clip.motion),
        )


class ReversalCheck:
    """Fails when the clip looks time-reversed: every intended motion runs backwards and nothing in the pixels
    says time runs forward. Reversing such a clip in time repairs it."""

    name = "reversed"

    def run(self, clip: ClipAnalysis, shot: Shot) -> CheckResult:
        finding = assess(clip.motion, shot)
        failed = finding.fault == "reversed"
        score = _agreement_score(finding)
        return CheckResult(
            check="reversed",
            passed=not failed,
            score=score if failed else max(score, 0.5),
            detail=finding.detail if failed or finding.fault == "none" else f"not a reversal: {finding.detail}",
            evidence=_evidence(finding, clip.motion),
        )


def _agreement_score(finding: MotionFinding) -> float:
    measured = [r for r in finding.readings if r.agreement in ("agree", "opposite")]
    if not measured:
        return 1.0
    return float(np.mean([r.agree_ratio for r in measured]))
