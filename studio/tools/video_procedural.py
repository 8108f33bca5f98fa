"""Embedded CPU video backends: a procedural renderer of the planned shot, and an extender that continues it.

The renderer draws the shot's place (a textured backdrop: sky or wall, floor, tiles, stripes, blobs, multi-scale
noise, so that dense optical flow locks on), its characters as stylised figures (body, head, eyes, limbs) and its
props as simple shapes, all in their show-file colours, and animates the `MotionSpec`. It never draws text.
Every frame is a pure function of time `t` (seconds) and the request's seed, scene, motion and size — never of
`num_frames` — so a shot can be continued seamlessly and the same request gives byte-identical frames. The
backdrop is rendered once per scene as a world canvas that tiles in both directions (3 frame widths by 6 frame
heights), so camera moves never run out of picture; each frame is one affine warp of it plus the figures drawn on
top with sub-pixel anti-aliased OpenCV primitives. A subject motion moves the figure whose name matches
(case-insensitive, exact before partial); a subject the scene does not list is added as a prop in the style colour.

Direction conventions (what the critic measures with Farneback flow, +dx right, +dy down):

- pan/truck **right**: the view moves right, so image content flows **left** (mean dx < 0); *left*: dx > 0.
- tilt/pedestal **up**: the view moves up, so image content flows **down** (mean dy > 0); *down*: dy < 0.
- zoom/dolly **in**: content expands away from the frame centre; *out*: it contracts toward it.
- a subject moving **right** goes to larger x in the picture, **down** to larger y; **toward_camera**/**in**
  grows (and its feet drop toward the bottom edge, as on a ground plane), **away_from_camera**/**out** shrinks
  toward the horizon.

Rates, at the request's size (W = width in pixels):

- camera translation (pan, truck, tilt, pedestal): slow 0.05 W/s, medium 0.10 W/s, fast 0.20 W/s — at 576x320 and
  8 fps that is 3.6, 7.2 and 14.4 px per frame. Truck, pedestal and dolly move the camera, so the figures (nearer
  than the backdrop) move `PARALLAX` = 1.25 times as fast as the backdrop; pan, tilt and zoom move everything
  together.
- zoom/dolly: the scale is exp(±r·t) with r = 0.06, 0.12, 0.24 per second (x1.2, x1.43, x2.05 after 3 s).
- subjects left/right/up: slow 0.08 W/s, medium 0.16 W/s, fast 0.32 W/s once under way; they start from rest and
  reach that speed within about half a second. Walkers bob with their gait.
- subjects down: a fall from rest under constant acceleration, from 0.5 H above the floor, lasting 1.5 / 1.0 /
  0.7 s; it stops abruptly on impact with a damped squash — time-asymmetric on purpose, like a real fall.
- subjects toward/away: the distance to the camera changes by 0.08 / 0.15 / 0.30 of the start distance per second
  (scale = 1 / distance); an approaching subject stops abruptly at 0.6 of the start distance.
"""

from __future__ import annotations

import functools
import math
import zlib
from dataclasses import dataclass, replace
from itertools import chain
from typing import TYPE_CHECKING

import cv2
import numpy as np

from studio.colours import parse_colour
from studio.errors import ToolError
from studio.tools.base import Clip, Figure, SceneHint, VideoRequest
from studio.tools.drawn_frames import DrawnFrames, frame_buffer
from studio.tools.media import read_video, write_video

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from studio.config import Settings
    from studio.plan import CameraMove, SubjectMotion

CAMERA_RATES: dict[str, float] = {"slow": 0.05, "medium": 0.10, "fast": 0.20}
"""Camera translation in frame widths per second."""
ZOOM_RATES: dict[str, float] = {"slow": 0.06, "medium": 0.12, "fast": 0.24}
"""Zoom/dolly: natural-log change of scale per second."""
SUBJECT_RATES: dict[str, float] = {"slow": 0.08, "medium": 0.16, "fast": 0.32}
"""Subject translation in frame widths per second (steady state)."""
APPROACH_RATES: dict[str, float] = {"slow": 0.08, "medium": 0.15, "fast": 0.30}
"""Toward/away: fraction of the start distance covered per second."""
FALL_SECONDS: dict[str, float] = {"slow": 1.5, "medium": 1.0, "fast": 0.7}
"""Duration of a fall from rest to impact."""
PARALLAX = 1.25
"""How much faster figures move than the backdrop when the camera itself moves (truck, pedestal, dolly)."""

_SHIFT = 4  # cv2 drawing with 4 fractional bits: sub-pixel positions keep slow motion smooth
_ONE = 1 << _SHIFT
_MIP_LEVELS = 3
_OUTDOOR_WORDS = (
    "garden", "meadow", "field", "beach", "forest", "wood", "park", "street", "sky", "mountain", "savanna",
    "savannah", "river", "lake", "sea", "ocean", "desert", "jungle", "farm", "yard", "outdoor", "outside", "hill",
    "valley", "coast", "shore", "island", "plain", "prairie", "arctic", "tundra", "reef", "pond", "orchard", "road",
)  # fmt: skip
_MATCH_TOLERANCE = 4.0  # mean abs level difference under which a clip is taken to be this renderer's own output


def _rgb(text: str, fallback: tuple[int, int, int]) -> tuple[int, int, int]:
    try:
        return parse_colour(text)
    except ValueError:
        return fallback


def _shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    """Darken (factor < 1) or lighten toward white (factor > 1)."""
    if factor <= 1.0:
        return (int(colour[0] * factor), int(colour[1] * factor), int(colour[2] * factor))
    mix = min(1.0, factor - 1.0)
    return tuple(int(c + (255 - c) * mix) for c in colour)  # type: ignore[return-value]


def _stable_int(*parts: object) -> int:
    return zlib.crc32("\x1f".join(str(part) for part in parts).encode("utf-8"))


def _fx(value: float) -> int:
    return int(round(value * _ONE))


# --- the backdrop -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _World:
    """A backdrop that tiles in both directions, with box-filtered copies for zooming out."""

    levels: tuple[np.ndarray, ...]
    period_x: int
    period_y: int
    horizon_y: float
    floor_y: float
    """World y of the feet of figures standing at the reference distance."""


def _periodic_noise(rng: np.random.Generator, height: int, width: int, exponent: float) -> np.ndarray:
    """Zero-mean, unit-std noise with a 1/f^exponent spectrum that wraps seamlessly at every edge.

    Synthesised at half resolution (nothing finer than 4 px is wanted: pixel sparkle aliases into flicker when the
    camera moves) and enlarged with wrap-around padding so the seams stay invisible. Single precision throughout
    (a float64 filter would promote the whole spectrum to complex128 and double the inverse transform)."""
    half_h, half_w = height // 2, width // 2
    spectrum = np.fft.rfft2(rng.standard_normal((half_h, half_w), dtype=np.float32))
    fy = np.fft.fftfreq(half_h).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(half_w).astype(np.float32)[None, :]
    radius = np.sqrt(fx * fx + fy * fy)
    radius[0, 0] = 1.0
    spectrum *= radius ** np.float32(-exponent)
    spectrum[0, 0] = 0.0
    small = np.fft.irfft2(spectrum, s=(half_h, half_w)).astype(np.float32, copy=False)
    padded = cv2.copyMakeBorder(small, 2, 2, 2, 2, cv2.BORDER_WRAP)
    large = cv2.resize(padded, (padded.shape[1] * 2, padded.shape[0] * 2), interpolation=cv2.INTER_LINEAR)
    noise = large[4 : 4 + height, 4 : 4 + width]
    _, std = cv2.meanStdDev(noise)
    return noise * np.float32(1.0 / (float(std[0, 0]) + 1e-6))


def _wrapped(draw: object, x: float, y: float, period_x: int, period_y: int, reach: float) -> None:
    """Call `draw(x, y)` at every periodic copy of (x, y) that can touch the canvas."""
    xs = [x] + ([x + period_x] if x < reach else []) + ([x - period_x] if x > period_x - reach else [])
    ys = [y] + ([y + period_y] if y < reach else []) + ([y - period_y] if y > period_y - reach else [])
    for cx in xs:
        for cy in ys:
            draw(cx, cy)  # type: ignore[operator]


def _build_world(scene: SceneHint, seed: int, width: int, height: int) -> _World:
    rng = np.random.default_rng([seed & 0xFFFFFFFF, _stable_int("world", scene.place)])
    palette = [_rgb(c, (150, 150, 150)) for c in scene.place_palette] or [(170, 190, 210)]
    accents = palette[2:] + [_rgb(c, (200, 120, 80)) for c in scene.style_palette]
    if not accents:
        accents = [_shade(palette[0], 0.6), _shade(palette[0], 1.4)]
    backdrop = palette[0]
    floor = palette[1] if len(palette) > 1 else _shade(palette[0], 0.55)
    outdoor = any(word in scene.place.lower() for word in _OUTDOOR_WORDS)

    tile = max(8, 4 * round(height / (4 * float(rng.choice([6.0, 8.0, 10.0])))))
    period_x = 2 * tile * max(2, round(3.0 * width / (2 * tile)))
    period_y = 2 * tile * max(2, round(6.0 * height / (2 * tile)))
    horizon = period_y // 2 - (period_y // 2) % tile
    floor_y = horizon + 0.30 * height

    ys = np.arange(period_y, dtype=np.float32)[:, None]
    xs = np.arange(period_x, dtype=np.float32)[None, :]
    canvas = np.empty((period_y, period_x, 3), dtype=np.float32)
    top = np.array(_shade(backdrop, 1.35 if outdoor else 1.15), dtype=np.float32)
    base = np.array(backdrop, dtype=np.float32)
    mix = np.clip((ys - (horizon - 3.0 * height)) / (3.0 * height), 0.0, 1.0)[..., None]
    canvas[:horizon] = top * (1 - mix[:horizon]) + base * mix[:horizon]  # (rows, 1, 3): broadcast along x
    floor_far = np.array(_shade(floor, 0.8), dtype=np.float32)
    floor_near = np.array(_shade(floor, 1.1), dtype=np.float32)
    mix = np.clip((ys[horizon:] - horizon) / (1.5 * height), 0.0, 1.0)[..., None]
    canvas[horizon:] = floor_far * (1 - mix) + floor_near * mix

    if outdoor:
        hill_top = _outdoor_patterns(canvas, rng, accents, tile, horizon, xs, ys, floor)
    else:
        _indoor_patterns(canvas, rng, accents, tile, horizon, xs, ys, backdrop, floor)
    # Shapes are drawn on 8-bit: OpenCV anti-aliases only there.
    drawn = cv2.convertScaleAbs(canvas)
    if outdoor:
        _outdoor_shapes(drawn, rng, accents, tile, horizon, floor, height, hill_top)
    else:
        _indoor_shapes(drawn, rng, accents, tile, horizon, backdrop)
    blob_count = int(period_x * period_y / (tile * tile) / 6)
    for _ in range(blob_count):
        x, y = float(rng.uniform(0, period_x)), float(rng.uniform(0, period_y))
        radius = float(rng.uniform(0.08, 0.45)) * tile
        tone = _shade(accents[int(rng.integers(len(accents)))], float(rng.uniform(0.7, 1.3)))

        def blob(cx: float, cy: float, r: float = radius, c: tuple[int, int, int] = tone) -> None:
            cv2.circle(drawn, (_fx(cx), _fx(cy)), _fx(r), c, -1, cv2.LINE_AA, _SHIFT)

        _wrapped(blob, x, y, period_x, period_y, radius + 2)

    coarse = _periodic_noise(rng, period_y, period_x, 1.1)
    fine = _periodic_noise(rng, period_y, period_x, 0.6)
    shade = cv2.addWeighted(coarse, 0.09, fine, 0.05, 1.0)
    level0 = cv2.multiply(drawn, cv2.merge([shade, shade, shade]), dtype=cv2.CV_8U)
    levels = [level0]
    for _ in range(1, _MIP_LEVELS):
        previous = levels[-1]
        levels.append(
            cv2.resize(previous, (previous.shape[1] // 2, previous.shape[0] // 2), interpolation=cv2.INTER_AREA)
        )
    return _World(tuple(levels), period_x, period_y, float(horizon), float(floor_y))


def _indoor_patterns(
    canvas: np.ndarray,
    rng: np.random.Generator,
    accents: list[tuple[int, int, int]],
    tile: int,
    horizon: int,
    xs: np.ndarray,
    ys: np.ndarray,
    wall: tuple[int, int, int],
    floor: tuple[int, int, int],
) -> None:
    period_x = canvas.shape[1]
    stripe = tile * int(rng.choice([1, 2]))
    stripes = ((xs // stripe) % 2 == 0).astype(np.float32) * 0.10 - 0.05
    canvas[:horizon] *= (1.0 + stripes)[..., None]
    # A tiled band (backsplash / wainscot) above the floor line.
    band_top = horizon - 2 * tile
    grout = _shade(wall, 0.7)
    canvas[band_top:horizon] = np.array(_shade(accents[0], 1.2), dtype=np.float32)
    for gx in range(0, period_x, tile):
        canvas[band_top:horizon, gx : gx + 2] = grout
    for gy in range(band_top, horizon, tile // 2):
        canvas[gy : gy + 2, :] = grout
    columns = np.arange(canvas.shape[1]) // tile
    rows = np.arange(horizon, canvas.shape[0]) // tile
    checker = ((rows[:, None] + columns[None, :]) & 1).astype(np.float32)  # integer tiles: no float floor division
    canvas[horizon:] *= (0.88 + 0.18 * checker)[..., None]
    canvas[horizon : horizon + 3, :] = _shade(floor, 0.5)


def _indoor_shapes(
    canvas: np.ndarray,
    rng: np.random.Generator,
    accents: list[tuple[int, int, int]],
    tile: int,
    horizon: int,
    wall: tuple[int, int, int],
) -> None:
    """Framed panels on the wall (pictures without writing, cupboard doors)."""
    period_y, period_x = canvas.shape[:2]
    band_top = horizon - 2 * tile
    frame = _shade(wall, 0.45)
    for _ in range(int(period_x / tile / 3)):
        w = float(rng.uniform(1.0, 2.6)) * tile
        h = float(rng.uniform(0.8, 2.0)) * tile
        x = float(rng.uniform(0, period_x))
        y = float(rng.uniform(horizon - 5.5 * tile, band_top - h - tile / 2))
        fill = accents[int(rng.integers(len(accents)))]

        def panel(cx: float, cy: float, w: float = w, h: float = h, fill: tuple[int, int, int] = fill) -> None:
            p1, p2 = (_fx(cx), _fx(cy)), (_fx(cx + w), _fx(cy + h))
            cv2.rectangle(canvas, p1, p2, fill, -1, cv2.LINE_AA, _SHIFT)
            cv2.rectangle(canvas, p1, p2, frame, max(2, tile // 10), cv2.LINE_AA, _SHIFT)
            diagonal = ((_fx(cx), _fx(cy + h * 0.6)), (_fx(cx + w), _fx(cy + h * 0.35)))
            cv2.line(canvas, *diagonal, frame, 2, cv2.LINE_AA, _SHIFT)

        _wrapped(panel, x, y, period_x, period_y, 3 * tile)


def _outdoor_patterns(
    canvas: np.ndarray,
    rng: np.random.Generator,
    accents: list[tuple[int, int, int]],
    tile: int,
    horizon: int,
    xs: np.ndarray,
    ys: np.ndarray,
    ground: tuple[int, int, int],
) -> np.ndarray:
    """Rolling hills (sums of sines with whole numbers of periods, so they wrap) and furrowed ground.

    Returns the hill-top line (world y per column)."""
    period_x = canvas.shape[1]
    hill_colour = np.array(_shade(accents[0] if accents else ground, 0.75), dtype=np.float32)
    profile = np.zeros(period_x, dtype=np.float32)
    for harmonic in (2, 3, 5, 8):
        phase = float(rng.uniform(0, 2 * math.pi))
        wave = np.sin(2 * math.pi * harmonic * np.arange(period_x) / period_x + phase)
        profile += float(rng.uniform(0.2, 1.0)) * wave.astype(np.float32) / harmonic
    hill_top = horizon - tile * (1.2 + 0.9 * profile)
    hills = (ys < horizon) & (ys >= hill_top[None, :])
    canvas[hills] = canvas[hills] * 0.25 + hill_colour * 0.75
    furrows = np.sin(2 * math.pi * (xs / (2 * tile)) + np.sin(2 * math.pi * ys[horizon:] / (3 * tile)))
    canvas[horizon:] *= (1.0 + 0.06 * furrows.astype(np.float32))[..., None]
    return hill_top


def _outdoor_shapes(
    canvas: np.ndarray,
    rng: np.random.Generator,
    accents: list[tuple[int, int, int]],
    tile: int,
    horizon: int,
    ground: tuple[int, int, int],
    height: int,
    hill_top: np.ndarray,
) -> None:
    """Clouds above the hills, trees on them, tufts of grass on the ground."""
    period_y, period_x = canvas.shape[:2]
    cloud = (250, 250, 250)
    highest_hill = float(hill_top.min())
    for _ in range(int(period_x / tile / 1.5)):
        x = float(rng.uniform(0, period_x))
        y = float(rng.uniform(horizon - 2.8 * height, highest_hill - 1.5 * tile))
        for _ in range(int(rng.integers(3, 7))):
            r = float(rng.uniform(0.3, 0.9)) * tile
            ox, oy = float(rng.normal(0, tile)), float(rng.normal(0, 0.3 * tile))

            def puff(cx: float, cy: float, r: float = r) -> None:
                cv2.circle(canvas, (_fx(cx), _fx(cy)), _fx(r), cloud, -1, cv2.LINE_AA, _SHIFT)

            _wrapped(puff, (x + ox) % period_x, y + oy, period_x, period_y, r + 2)
    trunk = (90, 60, 35)
    for _ in range(int(period_x / tile / 2)):
        x = float(rng.uniform(0, period_x))
        base_y = float(hill_top[int(x) % period_x]) + 0.3 * tile
        r = float(rng.uniform(0.35, 0.7)) * tile
        leaf = _shade(accents[int(rng.integers(len(accents)))], float(rng.uniform(0.6, 0.9)))

        def tree(cx: float, cy: float, r: float = r, leaf: tuple[int, int, int] = leaf) -> None:
            stem = ((_fx(cx), _fx(cy)), (_fx(cx), _fx(cy - 1.4 * r)))
            cv2.line(canvas, *stem, trunk, max(2, int(r / 4)), cv2.LINE_AA, _SHIFT)
            cv2.circle(canvas, (_fx(cx), _fx(cy - 1.6 * r)), _fx(r), leaf, -1, cv2.LINE_AA, _SHIFT)

        _wrapped(tree, x, base_y, period_x, period_y, 3 * r)
    tuft = _shade(ground, 0.6)
    for _ in range(int(period_x * (period_y - horizon) / (tile * tile) * 1.5)):
        x = float(rng.uniform(0, period_x))
        y = float(rng.uniform(horizon + 4, period_y))
        length = float(rng.uniform(0.15, 0.4)) * tile
        lean = float(rng.normal(0, 0.3)) * length

        def blade(cx: float, cy: float, length: float = length, lean: float = lean) -> None:
            cv2.line(canvas, (_fx(cx), _fx(cy)), (_fx(cx + lean), _fx(cy - length)), tuft, 2, cv2.LINE_AA, _SHIFT)

        _wrapped(blade, x, y, period_x, period_y, tile)


@functools.lru_cache(maxsize=4)
def _world(scene: SceneHint, seed: int, width: int, height: int) -> _World:
    return _build_world(scene, seed, width, height)


# --- camera -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraPose:
    """Where the camera looks at time t: backdrop offset in world pixels and zoom, plus the figures' own."""

    dx: float
    dy: float
    zoom: float
    figure_dx: float
    figure_dy: float
    figure_zoom: float


def camera_pose(camera: CameraMove, t: float, width: int) -> CameraPose:
    """The camera's displacement since t = 0. dx > 0 means the view has moved right (content flows left)."""
    dx = dy = 0.0
    log_zoom = 0.0
    if camera.kind in ("pan", "truck") and camera.direction in ("left", "right"):
        dx = CAMERA_RATES[camera.speed] * width * t * (1.0 if camera.direction == "right" else -1.0)
    elif camera.kind in ("tilt", "pedestal") and camera.direction in ("up", "down"):
        dy = CAMERA_RATES[camera.speed] * width * t * (-1.0 if camera.direction == "up" else 1.0)
    elif camera.kind in ("zoom", "dolly") and camera.direction in ("in", "out"):
        log_zoom = ZOOM_RATES[camera.speed] * t * (1.0 if camera.direction == "in" else -1.0)
    parallax = PARALLAX if camera.kind in ("truck", "pedestal", "dolly") else 1.0
    return CameraPose(
        dx=dx,
        dy=dy,
        zoom=math.exp(log_zoom),
        figure_dx=dx * parallax,
        figure_dy=dy * parallax,
        figure_zoom=math.exp(log_zoom * parallax),
    )


# --- figures ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Placed:
    figure: Figure
    x: float
    """World x of the feet at t = 0 (before camera)."""
    size: float
    """Height in world pixels at the reference distance."""
    motion: SubjectMotion | None
    style: int
    breath_phase: float


@dataclass(frozen=True)
class _Pose:
    x: float
    feet_y: float
    scale: float
    squash: float
    """> 0 flattens (impact), < 0 stretches."""
    gait: float
    """Gait phase in radians; NaN when standing."""
    facing: float
    """-1 left, +1 right, 0 toward the camera."""
    airborne: bool
    gesture: float = math.nan
    """Idle gesture phase in radians (stirring, waving, nodding); NaN when the figure is busy moving."""


def _subject_matches(subject: str, name: str) -> bool:
    a, b = subject.strip().casefold(), name.strip().casefold()
    return a == b or (len(b) >= 3 and b in a) or (len(a) >= 3 and a in b)


def _assign_motions(request: VideoRequest) -> tuple[list[Figure], dict[int, SubjectMotion]]:
    """Which figure each subject motion moves: an exact (case-insensitive) name first, else a name contained in
    the other; a subject that names no figure in the scene is added as a prop in the style colour so its motion
    is still seen."""
    figures = list(request.scene.figures)
    moved: dict[int, SubjectMotion] = {}
    for motion in request.motion.subjects:
        wanted = motion.subject.strip().casefold()
        exact = [i for i, f in enumerate(figures) if f.name.strip().casefold() == wanted and i not in moved]
        loose = [i for i, f in enumerate(figures) if _subject_matches(motion.subject, f.name) and i not in moved]
        chosen = (exact or loose or [None])[0]
        if chosen is None:
            colour = request.scene.style_palette[0] if request.scene.style_palette else "orange"
            figures.append(Figure(name=motion.subject, palette=(colour,), kind="prop"))
            chosen = len(figures) - 1
        moved[chosen] = motion
    return figures, moved


def _layout(request: VideoRequest, width: int, height: int, world: _World) -> list[_Placed]:
    rng = np.random.default_rng([request.seed & 0xFFFFFFFF, _stable_int("layout", request.scene.place)])
    figures, moved = _assign_motions(request)
    count = len(figures)
    slots = (np.arange(count) + 0.5) / max(count, 1)
    order = rng.permutation(count)
    placed: list[_Placed] = []
    centre_x = world.period_x / 2
    for index, figure in enumerate(figures):
        motion = moved.get(index)
        slot = float(slots[order[index]])
        screen_x = (0.15 + 0.7 * slot + float(rng.normal(0, 0.04))) * width
        if motion is not None and motion.direction == "right":
            screen_x = min(screen_x, 0.3 * width)
        elif motion is not None and motion.direction == "left":
            screen_x = max(screen_x, 0.7 * width)
        base = 0.46 if figure.kind == "character" else 0.18
        size = base * height * float(rng.uniform(0.9, 1.1))
        placed.append(
            _Placed(
                figure=figure,
                x=centre_x + screen_x - width / 2,
                size=size,
                motion=motion,
                style=int(rng.integers(0, 1 << 16)),
                breath_phase=float(rng.uniform(0, 2 * math.pi)),
            )
        )
    return placed


def _ease(t: float, tau: float) -> float:
    """Distance covered by something starting from rest with first-order lag `tau`, at unit final speed."""
    return t - tau * (1.0 - math.exp(-t / tau))


def _subject_pose(placed: _Placed, t: float, width: int, height: int, world: _World) -> _Pose:
    motion = placed.motion
    x, feet_y, scale = placed.x, world.floor_y, 1.0
    squash, gait, facing, airborne = 0.0, math.nan, 0.0, False
    walker = placed.figure.kind == "character"
    stride = 0.42 * placed.size
    if (motion is None or motion.direction == "none") and not walker:
        return _Pose(x, feet_y, scale, squash, gait, facing, airborne)
    if motion is None or motion.direction == "none":
        # Nobody on camera stands perfectly still: breathing, a slow sway and a working arm keep an idle shot alive
        # (a frame-exact still is what the critic's frozen check rejects).
        squash = 0.03 * math.sin(2 * math.pi * t / 2.1 + placed.breath_phase)
        x += 0.05 * placed.size * math.sin(2 * math.pi * t / 2.7 + placed.breath_phase)
        gesture = 2 * math.pi * t / 1.3 + placed.breath_phase
        return _Pose(x, feet_y, scale, squash, gait, facing, airborne, gesture)
    speed = SUBJECT_RATES[motion.speed] * width
    if motion.direction in ("left", "right"):
        sign = 1.0 if motion.direction == "right" else -1.0
        travelled = speed * _ease(t, 0.25)
        x += sign * travelled
        facing = sign
        gait = 2 * math.pi * travelled / stride if walker else math.nan
    elif motion.direction == "up":
        risen = speed * _ease(t, 0.45)
        feet_y -= risen
        x += 0.03 * placed.size * math.sin(2 * math.pi * t / 1.4)
        airborne = risen > 1.0
    elif motion.direction == "down":
        fall_time = FALL_SECONDS[motion.speed]
        drop = 0.5 * height
        if t < fall_time:
            feet_y -= drop * (1.0 - (t / fall_time) ** 2)
            airborne = True
            squash = -0.08 * (t / fall_time) ** 2
        else:
            after = t - fall_time
            squash = 0.30 * math.exp(-after / 0.09) * math.cos(2 * math.pi * after / 0.24)
    else:
        approaching = motion.direction in ("in", "toward_camera")
        rate = APPROACH_RATES[motion.speed]
        covered = rate * _ease(t, 0.25)
        distance = max(0.6, 1.0 - covered) if approaching else 1.0 + covered
        scale = 1.0 / distance
        feet_y = world.horizon_y + (world.floor_y - world.horizon_y) * scale
        path = (1.0 - distance if approaching else distance - 1.0) * 4.0 * placed.size
        if walker and (not approaching or distance > 0.6):
            gait = 2 * math.pi * path / stride
    return _Pose(x, feet_y, scale, squash, gait, facing, airborne)


def _draw_character(frame: np.ndarray, placed: _Placed, cx: float, feet: float, h: float, pose: _Pose) -> None:
    palette = [_rgb(c, (200, 90, 60)) for c in placed.figure.palette] or [(200, 90, 60)]
    main = palette[0]
    second = palette[1] if len(palette) > 1 else _shade(main, 1.45)
    third = palette[2] if len(palette) > 2 else _shade(main, 0.55)
    outline = _shade(main, 0.35)
    skin = second
    limb = _shade(main, 0.7)
    sy = 1.0 - pose.squash
    sx = 1.0 + 0.6 * pose.squash
    walking = not math.isnan(pose.gait)
    swing = 0.45 * math.sin(pose.gait) if walking else 0.0
    bob = 0.035 * h * abs(math.sin(pose.gait)) if walking else 0.0
    feet -= bob

    def pt(dx: float, up: float) -> tuple[int, int]:
        return (_fx(cx + dx * h * sx), _fx(feet - up * h * sy))

    thick_leg = max(2, int(0.075 * h))
    thick_arm = max(2, int(0.06 * h))
    hip_up, leg = 0.33, 0.33
    arms_up = pose.airborne
    for side, phase in ((-1.0, swing), (1.0, -swing)):
        hip = pt(0.07 * side, hip_up)
        foot = pt(0.07 * side + leg * math.sin(phase), hip_up - leg * math.cos(phase))
        cv2.line(frame, hip, foot, outline, thick_leg + 2, cv2.LINE_AA, _SHIFT)
        cv2.line(frame, hip, foot, limb, thick_leg, cv2.LINE_AA, _SHIFT)
        shoe_dx = 0.06 * (pose.facing if pose.facing else side * 0.5)
        shoe = (foot[0] + _fx(shoe_dx * h * sx), foot[1])
        cv2.line(frame, foot, shoe, third, thick_leg, cv2.LINE_AA, _SHIFT)
    for side, phase in ((-1.0, -swing), (1.0, swing)):
        shoulder = pt(0.14 * side, 0.64)
        if not math.isnan(pose.gesture) and side > 0:
            reach = 0.9 + 0.5 * math.sin(pose.gesture)
            hand = pt(0.14 + 0.24 * math.sin(reach), 0.64 - 0.24 * math.cos(reach))
        elif arms_up:
            hand = pt(0.26 * side, 0.92)
        else:
            hand = pt(0.16 * side + 0.26 * math.sin(phase) * 0.8, 0.64 - 0.26 * math.cos(phase))
        cv2.line(frame, shoulder, hand, outline, thick_arm + 2, cv2.LINE_AA, _SHIFT)
        cv2.line(frame, shoulder, hand, main, thick_arm, cv2.LINE_AA, _SHIFT)
        cv2.circle(frame, hand, _fx(0.035 * h), skin, -1, cv2.LINE_AA, _SHIFT)
    body_centre = pt(0.0, 0.5)
    body_axes = (_fx(0.16 * h * sx), _fx(0.21 * h * sy))
    if placed.style % 2:
        cv2.ellipse(frame, body_centre, body_axes, 0, 0, 360, main, -1, cv2.LINE_AA, _SHIFT)
    else:
        top_left, bottom_right = pt(-0.15, 0.7), pt(0.15, 0.3)
        cv2.rectangle(frame, top_left, bottom_right, main, -1, cv2.LINE_AA, _SHIFT)
        cv2.ellipse(
            frame, pt(0.0, 0.3), (_fx(0.15 * h * sx), _fx(0.05 * h * sy)), 0, 0, 180, main, -1, cv2.LINE_AA, _SHIFT
        )
    cv2.ellipse(frame, body_centre, body_axes, 0, 0, 360, outline, max(1, int(0.015 * h)), cv2.LINE_AA, _SHIFT)
    # Belt and buttons: interior texture on the body so flow is measurable inside the silhouette.
    cv2.line(frame, pt(-0.15, 0.42), pt(0.15, 0.42), third, max(2, int(0.035 * h)), cv2.LINE_AA, _SHIFT)
    for up in (0.5, 0.58, 0.66):
        cv2.circle(frame, pt(0.0, up), _fx(0.018 * h), second, -1, cv2.LINE_AA, _SHIFT)
    head_centre = pt(0.0, 0.83)
    head_r = _fx(0.135 * h * (sx + sy) / 2)
    cv2.circle(frame, head_centre, head_r, skin, -1, cv2.LINE_AA, _SHIFT)
    cv2.circle(frame, head_centre, head_r, outline, max(1, int(0.015 * h)), cv2.LINE_AA, _SHIFT)
    if placed.style % 3 == 0:
        cv2.ellipse(
            frame, pt(0.0, 0.9), (_fx(0.15 * h * sx), _fx(0.08 * h * sy)), 0, 180, 360, third, -1, cv2.LINE_AA, _SHIFT
        )
    elif placed.style % 3 == 1:
        cv2.rectangle(frame, pt(-0.1, 1.08), pt(0.1, 0.93), third, -1, cv2.LINE_AA, _SHIFT)
        cv2.line(frame, pt(-0.17, 0.93), pt(0.17, 0.93), third, max(2, int(0.03 * h)), cv2.LINE_AA, _SHIFT)
    look = 0.02 * pose.facing
    for side in (-1.0, 1.0):
        eye = pt(0.05 * side + look, 0.85)
        cv2.circle(frame, eye, _fx(0.032 * h), (250, 250, 250), -1, cv2.LINE_AA, _SHIFT)
        pupil = pt(0.05 * side + 2 * look, 0.845)
        cv2.circle(frame, pupil, _fx(0.016 * h), (25, 25, 30), -1, cv2.LINE_AA, _SHIFT)
    mouth_axes = (_fx(0.045 * h), _fx(0.02 * h))
    cv2.ellipse(frame, pt(look, 0.77), mouth_axes, 0, 0, 180, outline, max(1, int(0.012 * h)), cv2.LINE_AA, _SHIFT)


def _draw_prop(frame: np.ndarray, placed: _Placed, cx: float, feet: float, h: float, pose: _Pose) -> None:
    palette = [_rgb(c, (220, 140, 40)) for c in placed.figure.palette] or [(220, 140, 40)]
    main = palette[0]
    second = palette[1] if len(palette) > 1 else _shade(main, 1.5)
    outline = _shade(main, 0.4)
    sy = 1.0 - pose.squash
    sx = 1.0 + 0.6 * pose.squash
    shape = _stable_int("prop", placed.figure.name) % 4

    def pt(dx: float, up: float) -> tuple[int, int]:
        return (_fx(cx + dx * h * sx), _fx(feet - up * h * sy))

    line = max(1, int(0.04 * h))
    if shape == 0:  # ball
        centre, radius = pt(0.0, 0.5), _fx(0.5 * h * (sx + sy) / 2)
        axes = (_fx(0.5 * h * sx), _fx(0.5 * h * sy))
        cv2.ellipse(frame, centre, axes, 0, 0, 360, main, -1, cv2.LINE_AA, _SHIFT)
        cv2.ellipse(frame, centre, (axes[0], axes[1] // 3), 0, 0, 360, second, line, cv2.LINE_AA, _SHIFT)
        cv2.ellipse(frame, centre, axes, 0, 0, 360, outline, line, cv2.LINE_AA, _SHIFT)
        cv2.circle(frame, pt(-0.18, 0.7), radius // 5, _shade(main, 1.6), -1, cv2.LINE_AA, _SHIFT)
    elif shape == 1:  # box
        cv2.rectangle(frame, pt(-0.55, 1.0), pt(0.55, 0.0), main, -1, cv2.LINE_AA, _SHIFT)
        cv2.line(frame, pt(0.0, 1.0), pt(0.0, 0.0), second, line * 2, cv2.LINE_AA, _SHIFT)
        cv2.line(frame, pt(-0.55, 0.5), pt(0.55, 0.5), second, line * 2, cv2.LINE_AA, _SHIFT)
        cv2.rectangle(frame, pt(-0.55, 1.0), pt(0.55, 0.0), outline, line, cv2.LINE_AA, _SHIFT)
    elif shape == 2:  # jar / pot with a lid
        cv2.rectangle(frame, pt(-0.4, 0.8), pt(0.4, 0.0), main, -1, cv2.LINE_AA, _SHIFT)
        cv2.rectangle(frame, pt(-0.46, 1.0), pt(0.46, 0.8), second, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(frame, pt(0.0, 0.4), _fx(0.16 * h), second, -1, cv2.LINE_AA, _SHIFT)
        cv2.rectangle(frame, pt(-0.4, 0.8), pt(0.4, 0.0), outline, line, cv2.LINE_AA, _SHIFT)
    else:  # cone / wedge
        points = np.array([pt(-0.5, 0.0), pt(0.5, 0.0), pt(0.0, 1.0)], dtype=np.int32)
        cv2.fillPoly(frame, [points], main, cv2.LINE_AA, _SHIFT)
        cv2.line(frame, pt(-0.3, 0.35), pt(0.3, 0.35), second, line * 2, cv2.LINE_AA, _SHIFT)
        cv2.polylines(frame, [points], True, outline, line, cv2.LINE_AA, _SHIFT)


# --- the shot -----------------------------------------------------------------------------------------------------


class ShotRenderer:
    """Frames of one planned shot as a pure function of time. Build once, call `frame(t)` as often as needed."""

    def __init__(self, request: VideoRequest) -> None:
        if request.width < 16 or request.height < 16:
            raise ToolError(f"frame size {request.width}x{request.height} is too small to draw a shot")
        self.request = request
        self.width = request.width
        self.height = request.height
        self._world = _world(request.scene, request.seed, request.width, request.height)
        self._placed = _layout(request, self.width, self.height, self._world)
        self._origin_x = self._world.period_x / 2
        self._origin_y = self._world.horizon_y - 0.05 * self.height

    def frame(self, t: float) -> np.ndarray:
        """RGB uint8 (height, width, 3) at time `t` seconds into the shot."""
        pose = camera_pose(self.request.motion.camera, t, self.width)
        frame = self._backdrop(pose)
        self._figures(frame, pose, t)
        return frame

    def frames(self, start: int, count: int, fps: float) -> Iterator[np.ndarray]:
        """Frames `start` … `start + count - 1` at `fps`."""
        for index in range(start, start + count):
            yield self.frame(index / fps)

    def _backdrop(self, pose: CameraPose) -> np.ndarray:
        world = self._world
        centre_x = (self._origin_x + pose.dx) % world.period_x
        centre_y = (self._origin_y + pose.dy) % world.period_y
        zoom = pose.zoom
        level_f = max(0.0, min(_MIP_LEVELS - 1.0, math.log2(1.0 / zoom))) if zoom < 1.0 else 0.0
        low = int(level_f)
        frac = level_f - low
        image = self._warp(low, centre_x, centre_y, zoom)
        if frac > 1e-3 and low + 1 < _MIP_LEVELS:
            upper = self._warp(low + 1, centre_x, centre_y, zoom)
            image = cv2.addWeighted(image, 1.0 - frac, upper, frac, 0.0)
        return image

    def _warp(self, level: int, centre_x: float, centre_y: float, zoom: float) -> np.ndarray:
        factor = 2.0**level
        scale = zoom * factor
        matrix = np.array(
            [
                [scale, 0.0, self.width / 2 - scale * centre_x / factor],
                [0.0, scale, self.height / 2 - scale * centre_y / factor],
            ],
            dtype=np.float64,
        )
        return cv2.warpAffine(
            self._world.levels[level], matrix, (self.width, self.height),
            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP,
        )  # fmt: skip

    def _figures(self, frame: np.ndarray, camera: CameraPose, t: float) -> None:
        world = self._world
        cam_x = self._origin_x + camera.figure_dx
        cam_y = self._origin_y + camera.figure_dy
        zoom = camera.figure_zoom
        drawn: list[tuple[float, _Placed, _Pose]] = []
        for placed in self._placed:
            pose = _subject_pose(placed, t, self.width, self.height, world)
            drawn.append((pose.feet_y * 1000 + pose.scale, placed, pose))
        for _, placed, pose in sorted(drawn, key=lambda item: item[0]):
            rel_x = (pose.x - cam_x + world.period_x / 2) % world.period_x - world.period_x / 2
            screen_x = self.width / 2 + rel_x * zoom
            screen_y = self.height / 2 + (pose.feet_y - cam_y) * zoom
            h = placed.size * pose.scale * zoom
            if screen_x < -h or screen_x > self.width + h or screen_y < 0 or screen_y - 1.2 * h > self.height:
                continue
            if placed.figure.kind == "character":
                _draw_character(frame, placed, screen_x, screen_y, h, pose)
            else:
                _draw_prop(frame, placed, screen_x, screen_y, h, pose)
            if not pose.airborne and pose.squash >= 0:
                shadow_axes = (_fx(0.22 * h), _fx(0.035 * h))
                overlay = frame.copy()
                cv2.ellipse(
                    overlay, (_fx(screen_x), _fx(screen_y)), shadow_axes, 0, 0, 180, (0, 0, 0), -1, cv2.LINE_AA, _SHIFT
                )
                cv2.addWeighted(overlay, 0.25, frame, 0.75, 0.0, dst=frame)


# --- backends -----------------------------------------------------------------------------------------------------


class ProceduralVideoGenerator:
    """Renders the planned shot procedurally on the CPU (numpy + OpenCV); the always-available video backend.

    Its files are masters (`studio.tools.media.video_encode_args`): lossless in `.mkv`, 4:4:4 in `.mp4`, where the
    embedded chain keeps a shot at its generation size for the segment's conform to scale."""

    name = "procedural"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.drawn = DrawnFrames()
        """The frames of the shots it wrote, until the critic takes them (`Toolkit.drawn_frames`)."""

    @classmethod
    def availability(cls, settings: Settings) -> tuple[bool, str]:
        return True, "embedded CPU backend (procedural renderer, numpy + OpenCV)"

    def generate(self, request: VideoRequest, output_path: Path) -> Clip:
        if request.num_frames < 1 or request.fps <= 0:
            raise ToolError(f"cannot render {request.num_frames} frames at {request.fps} fps")
        renderer = ShotRenderer(request)
        drawn = frame_buffer(request.num_frames, request.height, request.width)

        def frames() -> Iterator[np.ndarray]:
            for index, frame in enumerate(renderer.frames(0, request.num_frames, request.fps)):
                drawn[index] = frame
                yield frame

        written = write_video(
            frames(), request.fps, output_path, width=request.width, height=request.height, master=True
        )
        if written == request.num_frames:
            self.drawn.keep(output_path, drawn, request.fps)
        return Clip(output_path, request.fps, written, request.width, request.height, self.name)


class ProceduralExtender:
    """Continues a clip to more frames.

    A clip this renderer made from the same request is continued exactly: the continuation is the same pure
    function of time, so the join is an ordinary step (a clip upscaled since is matched by rendering at the
    request's size and resizing). Any other clip (another backend's) is continued by carrying
    its last frame along the planned camera move, which keeps the join smooth but freezes its subjects.
    """

    name = "procedural"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @classmethod
    def availability(cls, settings: Settings) -> tuple[bool, str]:
        return True, "embedded CPU backend (continues the procedural shot, or carries the camera move on)"

    def extend(self, clip: Clip, request: VideoRequest, num_frames: int, output_path: Path) -> Clip:
        frames, _ = read_video(clip.path)
        existing = len(frames)
        if existing == 0:
            raise ToolError(f"{clip.path.name} has no frames to extend")
        if num_frames < existing:
            raise ToolError(f"cannot extend {existing} frames to fewer ({num_frames})")
        height, width = frames.shape[1:3]
        same_shape = abs(request.width / request.height - width / height) < 0.01
        render_size = (request.width, request.height) if same_shape else (width, height)
        shot = replace(request, width=render_size[0], height=render_size[1], fps=clip.fps)
        renderer = ShotRenderer(shot)

        def rendered(index: int) -> np.ndarray:
            frame = renderer.frame(index / clip.fps)
            if render_size == (width, height):
                return frame
            shrinking = width < render_size[0]
            return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4)

        mismatch = float(np.abs(rendered(existing - 1).astype(np.int16) - frames[-1].astype(np.int16)).mean())
        continuation: Iterator[np.ndarray]
        if mismatch <= _MATCH_TOLERANCE:
            continuation = (rendered(index) for index in range(existing, num_frames))
        else:
            carried = replace(shot, width=width, height=height)
            continuation = _carry_camera(frames[-1], carried, existing - 1, num_frames - existing)
        written = write_video(
            chain(iter(frames), continuation), clip.fps, output_path, width=width, height=height, master=True
        )
        return Clip(output_path, clip.fps, written, width, height, self.name)


def _carry_camera(last: np.ndarray, request: VideoRequest, last_index: int, count: int) -> Iterator[np.ndarray]:
    """Warp `last` by the camera's motion from frame `last_index` onward (reflecting at the borders)."""
    height, width = last.shape[:2]
    camera = request.motion.camera
    start = camera_pose(camera, last_index / request.fps, width)
    cx, cy = width / 2, height / 2
    for step in range(1, count + 1):
        pose = camera_pose(camera, (last_index + step) / request.fps, width)
        ratio = pose.zoom / start.zoom
        shift_x = (start.dx - pose.dx) * pose.zoom
        shift_y = (start.dy - pose.dy) * pose.zoom
        matrix = np.array([[ratio, 0.0, cx - ratio * cx + shift_x], [0.0, ratio, cy - ratio * cy + shift_y]])
        yield cv2.warpAffine(last, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
