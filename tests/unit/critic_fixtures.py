"""A labelled set of synthetic clips for the critic: known motion, reversed copies, leaked words, line artifacts,
flicker and colour-swapped subjects; and, for the continuity check, clips the procedural renderer draws in a
show's canonical palettes and with one palette drifted (`continuity_set`).

Clips are textured scenes seen through a moving camera (pan, tilt, zoom or locked off) with one textured subject
that moves with simple physics (a fall that ends in damped bounces, a kicked roll that slows by friction, a steady
walk, a float upward, an approach toward the camera). Labels are the critic checks the clip must fail; an empty
set means the clip is clean. Everything is seeded and needs no weights, files or network.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from studio.colours import NAMED_COLOURS, to_hex
from studio.plan import CameraMove, MotionSpec, Shot, ShotDesign, SubjectMotion

SubjectKind = Literal["fall", "roll", "walk", "float", "approach", "none"]

WIDTH, HEIGHT, FPS, SECONDS = 320, 192, 12.0, 3.0

FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_COMPLEX_SMALL,
    cv2.FONT_HERSHEY_PLAIN,
)

# Nouns the scenes are about; the prompt builds from them and the leaked words come from the prompt.
SUBJECT_NOUNS = ("pumpkin", "ball", "llama", "apple", "balloon", "lantern", "melon", "robot")
PLACE_WORDS = ("kitchen", "garden", "studio", "harbour", "market", "forest")
LEAK_WORDS = ("IMAX", "llama", "pumpkin", "CANON", "garden", "kitchen", "drone", "melon", "HOLLYWOOD", "market")
SUBJECT_COLOURS = ("green", "orange", "red", "blue", "yellow", "purple")


@dataclass(frozen=True)
class SceneSpec:
    """What to render: the true motion in the pixels (which may differ from what the prompt asks)."""

    seed: int
    camera: CameraMove = field(default_factory=CameraMove)
    subject: SubjectKind = "none"
    subject_direction: str = "none"
    subject_colour: str = "orange"
    backdrop: Literal["texture", "planks"] = "texture"
    """`planks`: full-height vertical boards, scenery that looks like column structure but moves with the scene."""
    width: int = WIDTH
    height: int = HEIGHT
    fps: float = FPS
    seconds: float = SECONDS


@dataclass
class LabelledClip:
    """A rendered clip, the shot that asked for it, and the checks it must fail."""

    name: str
    frames: np.ndarray
    fps: float
    shot: Shot
    labels: frozenset[str]
    """Checks that must fail: subset of reversed, direction, text, colour, artifact, flicker."""
    accept: frozenset[str] = frozenset()
    """Other failing checks that are also acceptable (a wrong-way pan with no arrow of time reads as reversed)."""
    leaked: tuple[str, ...] = ()
    """Words drawn into the picture."""
    text_height: int = 0
    scene: SceneSpec | None = None
    meta: dict[str, object] = field(default_factory=dict)


# --- scene rendering ----------------------------------------------------------------------------------------------


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A muted, multi-scale textured backdrop with some hard-edged shapes (so flow has something to hold on to)."""
    canvas = np.zeros((height, width, 3), np.float32)
    for scale, weight in ((64, 0.5), (16, 0.3), (4, 0.2)):
        small = rng.random((max(2, height // scale), max(2, width // scale), 3)).astype(np.float32)
        canvas += weight * cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    base = rng.uniform(60, 170, size=3).astype(np.float32)
    grey = canvas.mean(axis=2, keepdims=True)
    canvas = base + (grey - 0.5) * 150 + (canvas - grey) * 60
    for _ in range(int(width * height / 6000)):
        colour = tuple(float(c) for c in rng.uniform(40, 210, size=3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        if rng.random() < 0.5:
            w, h = int(rng.integers(6, 40)), int(rng.integers(6, 40))
            cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, -1)
        else:
            cv2.circle(canvas, (x, y), int(rng.integers(3, 18)), colour, -1)
    return np.clip(canvas, 0, 255).astype(np.uint8)


def _mute(image: np.ndarray, saturation: float = 0.45) -> np.ndarray:
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    hsv[..., 1] = (hsv[..., 1].astype(np.float32) * saturation).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def _sprite(rng: np.random.Generator, radius: int, colour: str) -> tuple[np.ndarray, np.ndarray]:
    """A shaded, spotted round subject of a named colour: (RGBA-less image, alpha mask)."""
    size = 2 * radius + 1
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1].astype(np.float32)
    inside = (xx**2 + (yy * 1.1) ** 2) <= radius**2
    rgb = np.array(NAMED_COLOURS[colour], np.float32)
    shade = 0.75 + 0.35 * (1 - np.sqrt(xx**2 + yy**2) / radius) - 0.15 * (yy / radius)
    sprite = np.clip(rgb[None, None, :] * shade[..., None], 0, 255)
    for _ in range(10):
        cx, cy = rng.integers(-radius // 2, radius // 2, size=2)
        spot = ((xx - cx) ** 2 + (yy - cy) ** 2) <= (radius / 7) ** 2
        sprite[spot] *= 0.7
    sprite[(np.abs(xx) < 1.5) & (yy < 0)] *= 0.6
    alpha = cv2.GaussianBlur(inside.astype(np.float32), (3, 3), 0)
    return sprite.reshape(size, size, 3), alpha


def _trajectory(spec: SceneSpec, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Screen-space centre (count, 2) in world coordinates of the subject, and its scale per frame."""
    t = np.arange(count) / spec.fps
    w, h = spec.width, spec.height
    xy = np.zeros((count, 2), np.float32)
    scale = np.ones(count, np.float32)
    sign = {"left": -1.0, "right": 1.0, "up": -1.0, "down": 1.0}.get(spec.subject_direction, 1.0)
    if spec.subject == "fall":
        # Free fall from rest after a short hold, impact on the floor, damped bounces, rest.
        floor = h * 0.78
        top = h * rng.uniform(0.12, 0.22)
        gravity = 2 * (floor - top) / rng.uniform(1.0, 1.3) ** 2
        start = rng.uniform(0.15, 0.35)
        y, v = top, 0.0
        dt = 1.0 / spec.fps
        ys = []
        for time in t:
            if time >= start:
                for _ in range(20):
                    v += gravity * dt / 20
                    y += v * dt / 20
                    if y >= floor:
                        y = floor
                        v = -v * 0.3 if abs(v) > 40 else 0.0
            ys.append(y)
        ys_arr = np.array(ys, np.float32)
        if spec.subject_direction == "up":
            ys_arr = floor + top - ys_arr
        xy[:, 0] = w * rng.uniform(0.35, 0.65)
        xy[:, 1] = ys_arr
    elif spec.subject == "roll":
        # A kick: rest, sudden speed, slowing to rest by friction.
        start = rng.uniform(0.3, 0.6)
        speed = w * rng.uniform(0.45, 0.6)
        friction = rng.uniform(1.2, 1.8)
        moving = np.clip(t - start, 0, None)
        distance = speed / friction * (1 - np.exp(-friction * moving))
        xy[:, 0] = w * 0.5 - sign * w * 0.3 + sign * distance
        xy[:, 1] = h * rng.uniform(0.5, 0.7)
    elif spec.subject == "walk":
        speed = w * rng.uniform(0.12, 0.22)
        xy[:, 0] = w * 0.5 - sign * speed * spec.seconds / 2 + sign * speed * t
        xy[:, 1] = h * rng.uniform(0.45, 0.65) + 2.0 * np.abs(np.sin(t * 2 * np.pi * 1.6))
    elif spec.subject == "float":
        speed = h * rng.uniform(0.12, 0.2)
        xy[:, 0] = w * rng.uniform(0.35, 0.65) + 4 * np.sin(t * 2.2)
        xy[:, 1] = h * 0.5 - sign * speed * spec.seconds / 2 + sign * speed * t
    elif spec.subject == "approach":
        grow = spec.subject_direction in ("toward_camera", "in")
        scale = np.linspace(0.6, 1.5, count).astype(np.float32)
        if not grow:
            scale = scale[::-1].copy()
        xy[:, 0] = w * rng.uniform(0.4, 0.6)
        xy[:, 1] = h * rng.uniform(0.45, 0.55)
    return xy, scale


def _camera_offsets(camera: CameraMove, count: int, fps: float, rng: np.random.Generator, width: int) -> np.ndarray:
    """(count, 3): camera x, y in canvas pixels and zoom factor per frame."""
    t = np.arange(count) / fps
    speed = {"slow": 0.06, "medium": 0.1, "fast": 0.16}[camera.speed] * width * rng.uniform(0.85, 1.2)
    offsets = np.zeros((count, 3), np.float32)
    offsets[:, 2] = 1.0
    sign = {"right": 1.0, "left": -1.0, "down": 1.0, "up": -1.0, "in": 1.0, "out": -1.0}.get(camera.direction, 0.0)
    if camera.kind in ("pan", "truck"):
        offsets[:, 0] = sign * speed * t
    elif camera.kind in ("tilt", "pedestal"):
        offsets[:, 1] = sign * speed * t
    elif camera.kind in ("zoom", "dolly"):
        rate = {"slow": 0.08, "medium": 0.13, "fast": 0.2}[camera.speed]
        offsets[:, 2] = np.exp(sign * rate * t)
    offsets[:, 0] += rng.normal(0, 0.15, count)
    offsets[:, 1] += rng.normal(0, 0.15, count)
    return offsets


def render_scene(spec: SceneSpec) -> np.ndarray:
    """Render `spec` as uint8 RGB frames (T, H, W, 3)."""
    rng = np.random.default_rng(spec.seed)
    count = int(round(spec.seconds * spec.fps))
    w, h = spec.width, spec.height
    margin = int(0.45 * w)
    canvas = _mute(_texture(rng, h + 2 * margin, w + 2 * margin), rng.uniform(0.25, 0.6))
    if spec.backdrop == "planks":
        _draw_planks(canvas, rng)
    camera = _camera_offsets(spec.camera, count, spec.fps, rng, w)
    xy, scale = _trajectory(spec, count, rng)
    radius = int(min(w, h) * rng.uniform(0.09, 0.13))
    sprite, alpha = _sprite(rng, radius, spec.subject_colour)
    frames = np.empty((count, h, w, 3), np.uint8)
    for index in range(count):
        cx, cy, zoom = camera[index]
        # Screen point p maps to canvas point (p - centre) / zoom + centre + margin + camera offset.
        matrix = np.array(
            [[1 / zoom, 0, (1 - 1 / zoom) * w / 2 + margin + cx], [0, 1 / zoom, (1 - 1 / zoom) * h / 2 + margin + cy]],
            np.float32,
        )
        frame = cv2.warpAffine(canvas, matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        if spec.subject != "none":
            # The subject lives in the world: the camera's move carries it as well as its own motion.
            sx = (xy[index, 0] - w / 2 - cx) * zoom + w / 2
            sy = (xy[index, 1] - h / 2 - cy) * zoom + h / 2
            size = max(3, int(round((2 * radius + 1) * scale[index] * zoom)))
            _paste(frame, cv2.resize(sprite, (size, size)), cv2.resize(alpha, (size, size)), sx, sy)
        frames[index] = frame
    noise = rng.normal(0, 1.5, frames.shape).astype(np.float32)
    return np.clip(frames.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def _draw_planks(canvas: np.ndarray, rng: np.random.Generator) -> None:
    x = 0
    while x < canvas.shape[1]:
        board = int(rng.integers(14, 40))
        tone = rng.uniform(0.75, 1.2)
        canvas[:, x : x + board] = np.clip(canvas[:, x : x + board].astype(np.float32) * tone, 0, 255).astype(np.uint8)
        canvas[:, x : x + 2] = (canvas[:, x : x + 2].astype(np.float32) * 0.45).astype(np.uint8)
        x += board


def _paste(frame: np.ndarray, sprite: np.ndarray, alpha: np.ndarray, cx: float, cy: float) -> None:
    size = sprite.shape[0]
    x0, y0 = int(round(cx - size / 2)), int(round(cy - size / 2))
    fx0, fy0 = max(0, x0), max(0, y0)
    fx1, fy1 = min(frame.shape[1], x0 + size), min(frame.shape[0], y0 + size)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    part = sprite[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    a = alpha[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0, None]
    region = frame[fy0:fy1, fx0:fx1].astype(np.float32)
    frame[fy0:fy1, fx0:fx1] = (region * (1 - a) + part * a).astype(np.uint8)


# --- corruptions ---------------------------------------------------------------------------------------------------


def overlay_text(
    frames: np.ndarray, text: str, rng: np.random.Generator, *, min_height: int = 16, max_height: int = 34
) -> tuple[np.ndarray, int]:
    """Draw `text` on every frame with a random Hershey font, size, colour and position. Returns (frames, px high)."""
    font = FONTS[int(rng.integers(len(FONTS)))]
    target = int(rng.integers(min_height, max_height + 1))
    (_, base_height), _ = cv2.getTextSize(text, font, 1.0, 1)
    font_scale = target / base_height
    thickness = max(1, int(round(target / 12)))
    (text_w, text_h), baseline = cv2.getTextSize(text, font, font_scale, thickness)
    height, width = frames.shape[1:3]
    while text_w > width - 8 and font_scale > 0.3:
        font_scale *= 0.9
        (text_w, text_h), baseline = cv2.getTextSize(text, font, font_scale, thickness)
    x = int(rng.integers(4, max(5, width - text_w - 4)))
    y = int(rng.integers(text_h + 4, max(text_h + 5, height - baseline - 4)))
    light = rng.random() < 0.6
    colour = (245, 245, 235) if light else (20, 20, 30)
    if rng.random() < 0.25:
        colour = (250, 220, 40)
    outline = (0, 0, 0) if light else (255, 255, 255)
    drift = rng.random() < 0.4
    result = frames.copy()
    for index, frame in enumerate(result):
        dx = int(round(index * 0.5)) if drift else 0
        position = (min(width - text_w - 2, x + dx), y)
        if rng.random() < 2.0 and light:
            cv2.putText(frame, text, position, font, font_scale, outline, thickness + 2, cv2.LINE_AA)
        cv2.putText(frame, text, position, font, font_scale, colour, thickness, cv2.LINE_AA)
    return result, text_h


def inject_lines(frames: np.ndarray, rng: np.random.Generator, *, waves: bool = False) -> np.ndarray:
    """Moving vertical lines (thin, full height, drifting sideways) or a moving vertical wave pattern."""
    count, height, width = frames.shape[:3]
    result = frames.astype(np.float32)
    columns = np.arange(width, dtype=np.float32)
    if waves:
        period = rng.uniform(10, 28)
        speed = rng.uniform(1.0, 3.0) * rng.choice([-1, 1])
        amplitude = rng.uniform(10, 18)
        for index in range(count):
            profile = amplitude * np.sin(2 * np.pi * (columns - speed * index) / period)
            result[index] += profile[None, :, None]
    else:
        lines = int(rng.integers(3, 7))
        positions = rng.uniform(0, width, lines)
        speeds = rng.uniform(1.0, 4.0, lines) * rng.choice([-1, 1], lines)
        strengths = rng.uniform(30, 60, lines) * rng.choice([-1, 1], lines)
        for index in range(count):
            profile = np.zeros(width, np.float32)
            for position, speed, strength in zip(positions, speeds, strengths, strict=True):
                centre = (position + speed * index) % width
                profile += strength * np.exp(-0.5 * ((columns - centre) / 0.8) ** 2)
            result[index] += profile[None, :, None]
    return np.clip(result, 0, 255).astype(np.uint8)


def inject_flicker(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Frame-to-frame brightness jumps: random frames brightened or darkened by 12–25 %."""
    gains = np.ones(len(frames), np.float32)
    chosen = rng.choice(len(frames), size=max(3, len(frames) // 3), replace=False)
    gains[chosen] = 1 + rng.uniform(0.12, 0.25, len(chosen)) * rng.choice([-1, 1], len(chosen))
    return np.clip(frames.astype(np.float32) * gains[:, None, None, None], 0, 255).astype(np.uint8)


# --- shots ---------------------------------------------------------------------------------------------------------


ACTIONS: dict[str, tuple[str, str]] = {
    "fall": ("falls", "down"),
    "roll": ("is kicked and rolls", "right"),
    "walk": ("walks", "right"),
    "float": ("floats", "up"),
    "approach": ("moves", "toward_camera"),
}


def make_shot(prompt: str, motion: MotionSpec, *, seconds: float = SECONDS, shot_id: str = "t-shot") -> Shot:
    """A `Shot` carrying `prompt` and the intended `motion`."""
    design = ShotDesign(
        beat_index=0,
        framing="wide shot",
        action=prompt,
        camera=motion.camera,
        subjects=motion.subjects,
        place="test",
        seconds=seconds,
    )
    return Shot(
        id=shot_id,
        segment_index=0,
        beat_index=0,
        prompt=prompt,
        negative_prompt="",
        motion=motion,
        place="test",
        seed=0,
        seconds=seconds,
        design=design,
    )


def intent_for(spec: SceneSpec, noun: str) -> MotionSpec:
    """The motion spec that `spec` satisfies when rendered as is."""
    subjects = []
    if spec.subject != "none":
        verb, _ = ACTIONS[spec.subject]
        subjects.append(
            SubjectMotion(subject=f"{spec.subject_colour} {noun}", action=verb, direction=spec.subject_direction)
        )
    return MotionSpec(camera=spec.camera, subjects=subjects)


def prompt_for(spec: SceneSpec, noun: str, place: str, colour: str | None = None) -> str:
    motion = intent_for(spec, noun)
    if spec.subject == "none":
        return f"A quiet sunny {place} with nobody in it; {motion.describe()}"
    if colour is not None and motion.subjects:
        motion.subjects[0].subject = f"{colour} {noun}"
    description = motion.describe()
    return f"A {colour or spec.subject_colour} {noun} in a sunny {place}; {description}"


_OPPOSITE = {
    "left": "right",
    "right": "left",
    "up": "down",
    "down": "up",
    "in": "out",
    "out": "in",
    "toward_camera": "away_from_camera",
    "away_from_camera": "toward_camera",
}

CAMERAS = (
    CameraMove(kind="pan", direction="right", speed="medium"),
    CameraMove(kind="pan", direction="left", speed="medium"),
    CameraMove(kind="pan", direction="right", speed="slow"),
    CameraMove(kind="tilt", direction="up", speed="medium"),
    CameraMove(kind="tilt", direction="down", speed="medium"),
    CameraMove(kind="zoom", direction="in", speed="medium"),
    CameraMove(kind="dolly", direction="out", speed="medium"),
    CameraMove(kind="truck", direction="left", speed="fast"),
    CameraMove(),
)

SUBJECTS: tuple[tuple[SubjectKind, str], ...] = (
    ("fall", "down"),
    ("roll", "right"),
    ("roll", "left"),
    ("walk", "right"),
    ("walk", "left"),
    ("float", "up"),
    ("approach", "toward_camera"),
    ("none", "none"),
)


SIZES = ((320, 192), (448, 256), (576, 320))
RATES = (8.0, 12.0, 24.0)


def random_spec(rng: np.random.Generator, seed: int, *, variety: bool = False) -> SceneSpec:
    """A random clean scene with at least one intended motion; `variety` also draws the size and frame rate."""
    while True:
        camera = CAMERAS[int(rng.integers(len(CAMERAS)))]
        subject, direction = SUBJECTS[int(rng.integers(len(SUBJECTS)))]
        if camera.kind != "static" or subject != "none":
            break
    colour = SUBJECT_COLOURS[int(rng.integers(len(SUBJECT_COLOURS)))]
    backdrop: Literal["texture", "planks"] = "planks" if rng.random() < 0.2 else "texture"
    spec = SceneSpec(seed=seed, camera=camera, subject=subject, subject_direction=direction, subject_colour=colour,
                     backdrop=backdrop)  # fmt: skip
    if variety:
        width, height = SIZES[int(rng.integers(len(SIZES)))]
        spec = replace(spec, width=width, height=height, fps=RATES[int(rng.integers(len(RATES)))])
    return spec


def has_arrow_of_time(spec: SceneSpec) -> bool:
    """Whether the pixels say which way time runs (an impact, or a kick that dies out)."""
    return spec.subject in ("fall", "roll")


def wrong_direction(spec: SceneSpec, rng: np.random.Generator) -> tuple[SceneSpec, bool]:
    """The same scene rendered forward in time with one intended motion going the wrong way.

    Returns (rendered spec, mixed) where `mixed` means another intended motion still goes the right way, or the
    pixels carry an arrow of time, so the fault cannot read as a time reversal.
    """
    flippable_camera = spec.camera.kind != "static"
    flippable_subject = spec.subject in ("roll", "walk", "float", "approach")
    choices = [name for name, ok in (("camera", flippable_camera), ("subject", flippable_subject)) if ok]
    if not choices:
        camera = CameraMove(kind="pan", direction="left", speed="medium")
        return replace(spec, camera=camera), True
    choice = choices[int(rng.integers(len(choices)))]
    if choice == "camera":
        rendered = replace(spec, camera=spec.camera.model_copy(update={"direction": _OPPOSITE[spec.camera.direction]}))
        mixed = spec.subject != "none"
    else:
        rendered = replace(spec, subject_direction=_OPPOSITE[spec.subject_direction])
        mixed = spec.camera.kind != "static" or has_arrow_of_time(spec)
    return rendered, mixed


def clean_clip(seed: int, *, spec: SceneSpec | None = None, variety: bool = False) -> LabelledClip:
    """A clean clip and the shot it satisfies."""
    rng = np.random.default_rng(seed + 7919)
    spec = spec or random_spec(rng, seed, variety=variety)
    noun = SUBJECT_NOUNS[seed % len(SUBJECT_NOUNS)]
    place = PLACE_WORDS[seed % len(PLACE_WORDS)]
    frames = render_scene(spec)
    shot = make_shot(
        prompt_for(spec, noun, place), intent_for(spec, noun), shot_id=f"clean-{seed}", seconds=spec.seconds
    )
    return LabelledClip(f"clean-{seed}", frames, spec.fps, shot, frozenset(), scene=spec)


def labelled_set(
    count: int, *, start_seed: int = 0, text_count: int | None = None, variety: bool = False
) -> list[LabelledClip]:
    """`count` clean clips and, for each, a corrupted copy of each kind (reversed, wrong direction, leaked text,
    vertical lines or waves, flicker, colour swap when the subject moves). `text_count` limits the text copies;
    `variety` draws sizes (320x192 to 576x320) and frame rates (8, 12, 24 fps)."""
    clips: list[LabelledClip] = []
    for index in range(count):
        seed = start_seed + index
        rng = np.random.default_rng(seed * 31 + 5)
        clean = clean_clip(seed, variety=variety)
        spec = clean.scene
        assert spec is not None
        clips.append(clean)
        clips.append(
            LabelledClip(f"reversed-{seed}", clean.frames[::-1].copy(), clean.fps, clean.shot, frozenset({"reversed"}),
                         accept=frozenset() if has_arrow_of_time(spec) else frozenset({"direction"}), scene=spec)
        )  # fmt: skip
        rendered, mixed = wrong_direction(spec, rng)
        clips.append(
            LabelledClip(f"direction-{seed}", render_scene(rendered), clean.fps, clean.shot, frozenset({"direction"}),
                         accept=frozenset() if mixed else frozenset({"reversed"}), scene=rendered,
                         meta={"mixed": mixed})
        )  # fmt: skip
        if text_count is None or index < text_count:
            word = LEAK_WORDS[seed % len(LEAK_WORDS)]
            prompt = f"{clean.shot.prompt}, shot on {word}" if word.lower() not in clean.shot.prompt.lower() else ""
            shot = clean.shot.model_copy(update={"prompt": prompt}) if prompt else clean.shot
            text_frames, text_h = overlay_text(clean.frames, word, rng)
            clips.append(
                LabelledClip(f"text-{seed}", text_frames, clean.fps, shot, frozenset({"text"}), leaked=(word,),
                             text_height=text_h, scene=spec)
            )  # fmt: skip
        clips.append(
            LabelledClip(f"lines-{seed}", inject_lines(clean.frames, rng, waves=index % 2 == 1), clean.fps,
                         clean.shot, frozenset({"artifact"}), scene=spec)
        )  # fmt: skip
        clips.append(
            LabelledClip(f"flicker-{seed}", inject_flicker(clean.frames, rng), clean.fps, clean.shot,
                         frozenset({"flicker"}), scene=spec)
        )  # fmt: skip
        if spec.subject != "none":
            others = [c for c in SUBJECT_COLOURS if _hue_far(c, spec.subject_colour)]
            asked = others[int(rng.integers(len(others)))]
            noun = SUBJECT_NOUNS[seed % len(SUBJECT_NOUNS)]
            place = PLACE_WORDS[seed % len(PLACE_WORDS)]
            motion = intent_for(spec, noun)
            motion.subjects[0].subject = f"{asked} {noun}"
            shot = make_shot(
                prompt_for(spec, noun, place, asked), motion, shot_id=f"colour-{seed}", seconds=spec.seconds
            )
            clips.append(
                LabelledClip(f"colour-{seed}", clean.frames, clean.fps, shot, frozenset({"colour"}), scene=spec,
                             meta={"asked": asked, "rendered": spec.subject_colour})
            )  # fmt: skip
    return clips


def _hue_far(first: str, second: str) -> bool:
    hues = []
    for name in (first, second):
        rgb = np.uint8([[NAMED_COLOURS[name]]])
        hues.append(int(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL)[0, 0, 0]) * 360 / 256)
    gap = abs(hues[0] - hues[1]) % 360
    return min(gap, 360 - gap) > 60


# --- continuity: canonical and drifted palettes through the procedural renderer -----------------------------------

# Colour names, main first, as a show file writes them (a character's second colour is its skin, fur or face).
CONTINUITY_CAST: dict[str, tuple[str, ...]] = {
    "Pepito": ("red", "cream", "green"),
    "Bluebell": ("blue", "peach", "navy"),
    "Marisol": ("white", "brown", "red", "navy"),
    "Kiwi": ("green", "yellow", "brown"),
    "Flora": ("tan", "brown", "yellow", "red"),
    "Vi": ("purple", "pink", "black"),
    "Rusty": ("orange", "white", "black"),
    "Marina": ("teal", "coral", "white"),
    "Sunny": ("yellow", "magenta", "navy"),
    "Lorenzo": ("white", "grey", "black"),
    "Pixel": ("black", "cream", "green"),
}
ACHROMATIC_CAST = ("Lorenzo", "Pixel")
"""Characters whose main and second colours are white, grey, black or cream: weak evidence, never a failure."""
CONTINUITY_PLACES: dict[str, tuple[str, ...]] = {
    "Studio Kitchen": ("mint", "white", "copper"),
    "Harvest Table": ("tan", "green", "coral"),
    "Attic Office": ("brown", "amber", "navy"),
    "City Street": ("maroon", "grey", "orange"),
    "Spring Meadow": ("sage", "green", "blue"),
    "Snowy Field": ("white", "grey", "sky"),
    "Lavender Loft": ("lavender", "silver", "pink"),
}
CONTINUITY_PROPS: dict[str, str] = {"copper pot": "copper", "laptop": "silver", "beach ball": "yellow"}
CONTINUITY_SIZES = ((576, 320), (576, 320), (576, 320), (448, 256), (320, 192))
CONTINUITY_CAMERAS = tuple(
    CameraMove(kind=kind, direction=direction, speed=speed)  # type: ignore[arg-type]
    for kind, directions in (("pan", ("left", "right")), ("truck", ("left", "right")), ("tilt", ("up", "down")),
                             ("pedestal", ("up", "down")), ("zoom", ("in", "out")), ("dolly", ("in", "out")))
    for direction in directions
    for speed in ("slow", "medium", "fast")
) + (CameraMove(),) * 6  # fmt: skip
CONTINUITY_MOTIONS: tuple[tuple[str, str], ...] = (
    ("walks", "right"), ("walks", "left"), ("falls", "down"), ("rises", "up"), ("walks", "toward_camera"),
    ("walks", "away_from_camera"),
)  # fmt: skip
DriftKind = Literal["hue", "swap", "main", "place"]


def palette_hex(names: tuple[str, ...]) -> list[str]:
    return [to_hex(NAMED_COLOURS[name]) for name in names]


@dataclass(frozen=True)
class ContinuityScene:
    """One shot for the procedural renderer: who and what is in it, where, and how everything moves."""

    seed: int
    characters: tuple[str, ...]
    place: str
    props: tuple[str, ...] = ()
    camera: CameraMove = field(default_factory=CameraMove)
    subjects: tuple[SubjectMotion, ...] = ()
    width: int = 576
    height: int = 320
    fps: float = 8.0
    seconds: float = SECONDS

    def canonical(self) -> dict[str, list[str]]:
        """`Shot.palettes` for this scene: hex colours, main first, of every character, prop and the place."""
        palettes = {name: palette_hex(CONTINUITY_CAST[name]) for name in self.characters}
        palettes |= {name: palette_hex((CONTINUITY_PROPS[name],)) for name in self.props}
        palettes[self.place] = palette_hex(CONTINUITY_PLACES[self.place])
        return palettes


def random_continuity_scene(
    rng: np.random.Generator, seed: int, *, sizes: tuple[tuple[int, int], ...] = CONTINUITY_SIZES
) -> ContinuityScene:
    """A random shot: one to three characters (sometimes a prop), a place, a camera move, some moving figures."""
    count = int(rng.choice([1, 2, 2, 3, 3]))
    characters = tuple(str(name) for name in rng.choice(list(CONTINUITY_CAST), size=count, replace=False))
    props = (str(rng.choice(list(CONTINUITY_PROPS))),) if rng.random() < 0.3 else ()
    subjects = []
    for name in characters:
        if rng.random() < 0.5:
            action, direction = CONTINUITY_MOTIONS[int(rng.integers(len(CONTINUITY_MOTIONS)))]
            speed = str(rng.choice(["slow", "medium", "fast"]))
            motion = SubjectMotion(subject=name, action=action, direction=direction, speed=speed)  # type: ignore[arg-type]
            subjects.append(motion)
    width, height = sizes[int(rng.integers(len(sizes)))]
    return ContinuityScene(
        seed=seed, characters=characters, place=str(rng.choice(list(CONTINUITY_PLACES))), props=props,
        camera=CONTINUITY_CAMERAS[int(rng.integers(len(CONTINUITY_CAMERAS)))], subjects=tuple(subjects),
        width=width, height=height,
    )  # fmt: skip


def continuity_shot(scene: ContinuityScene, *, shot_id: str = "continuity") -> Shot:
    """The shot as the cinematographer writes it, with the canonical palettes the memory held."""
    motion = MotionSpec(camera=scene.camera, subjects=list(scene.subjects))
    who = " and ".join(scene.characters)
    prompt = f"{who} in the {scene.place}; {motion.describe()}"
    shot = make_shot(prompt, motion, seconds=scene.seconds, shot_id=shot_id)
    design = shot.design.model_copy(
        update={"characters": list(scene.characters), "props": list(scene.props), "place": scene.place}
    )
    return shot.model_copy(
        update={"characters": list(scene.characters), "props": list(scene.props), "place": scene.place,
                "palettes": scene.canonical(), "design": design, "seed": scene.seed}
    )  # fmt: skip


def render_continuity(scene: ContinuityScene, palettes: dict[str, list[str]], workdir: Path) -> np.ndarray:
    """The clip the procedural renderer draws with `palettes`, through the production path: written as H.264
    (4:2:0 chroma) and decoded at 576x320, as the critic reads every render."""
    import zlib

    from studio.config import Settings
    from studio.tools.base import Figure, SceneHint, VideoRequest
    from studio.tools.media import read_video
    from studio.tools.video_procedural import ProceduralVideoGenerator

    figures = [Figure(name, tuple(palettes[name])) for name in scene.characters]
    figures += [Figure(name, tuple(palettes[name]), kind="prop") for name in scene.props]
    hint = SceneHint(place=scene.place, place_palette=tuple(palettes[scene.place]), figures=tuple(figures))
    motion = MotionSpec(camera=scene.camera, subjects=list(scene.subjects))
    request = VideoRequest(
        prompt="", negative_prompt="", motion=motion, width=scene.width, height=scene.height,
        num_frames=int(round(scene.seconds * scene.fps)), fps=scene.fps, seed=scene.seed, scene=hint,
    )  # fmt: skip
    path = workdir / f"continuity-{scene.seed}-{zlib.crc32(repr(palettes).encode()):08x}.mp4"
    ProceduralVideoGenerator(Settings()).generate(request, path)
    frames, _ = read_video(path, width=576, height=320)
    path.unlink(missing_ok=True)
    return frames


def rotate_hue(hex_colour: str, degrees: float) -> str:
    """`hex_colour` with its HSV hue turned by `degrees` (greys stay grey)."""
    import colorsys

    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    h, s, v = colorsys.rgb_to_hsv(r, g, b)
    r, g, b = colorsys.hsv_to_rgb((h + degrees / 360) % 1.0, s, v)
    return to_hex((int(round(r * 255)), int(round(g * 255)), int(round(b * 255))))


def _lab(hex_colour: str) -> np.ndarray:
    rgb = np.float32([[[int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]]]) / 255
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[0, 0]


def _chromatic(hex_colour: str) -> bool:
    lab = _lab(hex_colour)
    return float(np.hypot(lab[1], lab[2])) >= 22.0


def gone_from_picture(canonical: list[str], drawn: dict[str, list[str]], place: str) -> list[str]:
    """The chromatic canonical colours among the first two (a character's body and face, a place's background and
    floor) that nothing drawn from `drawn` comes near: CIEDE2000 ≥ 20 — another colour, not a shade of it — from
    the first three colours of every palette, and from the place's also as the renderer shades them over whole
    walls and floors (down to about 0.7). These are the drifts a colour check can see without knowing where each
    figure is."""
    from studio.tools.checks.continuity import delta_e2000

    def tones(colours: list[str], factors: tuple[float, ...]) -> list[np.ndarray]:
        rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colours], np.float32)
        shaded = np.concatenate([rgb * factor for factor in factors]).reshape(-1, 1, 3) / 255
        return list(cv2.cvtColor(shaded, cv2.COLOR_RGB2Lab).reshape(-1, 3))

    drawn_tones = [t for name, p in drawn.items() if name != place for t in tones(p[:3], (1.0,))]
    drawn_tones += tones(drawn[place][:3], (0.7, 0.85, 1.0))
    nearest = [float(delta_e2000(np.array(drawn_tones), _lab(c)[None, :]).min()) for c in canonical[:2]]
    return [c for c, gap in zip(canonical[:2], nearest, strict=True) if _chromatic(c) and gap >= 20.0]


def drift(scene: ContinuityScene, rng: np.random.Generator, kind: DriftKind) -> tuple[dict[str, list[str]], str]:
    """Palettes with one entry drifted: `hue` turns a character's hues, `swap` draws it in another cast member's
    colours, `main` gives it another main colour (the blue sweater that came out red), `place` turns the place's
    hues. Returns (palettes to draw, name drifted)."""
    palettes = {name: list(colours) for name, colours in scene.canonical().items()}
    if kind == "place":
        turn = float(rng.uniform(100, 260))
        palettes[scene.place] = [rotate_hue(c, turn) for c in palettes[scene.place]]
        return palettes, scene.place
    # An achromatic character's drift is weak evidence whatever it becomes (a test of its own): drift another one.
    chromatic = [name for name in scene.characters if name not in ACHROMATIC_CAST] or list(scene.characters)
    name = chromatic[int(rng.integers(len(chromatic)))]
    if kind == "hue":
        turn = float(rng.uniform(100, 260))
        palettes[name] = [rotate_hue(c, turn) for c in palettes[name]]
    elif kind == "swap":
        others = [other for other in CONTINUITY_CAST if other != name]
        palettes[name] = palette_hex(CONTINUITY_CAST[others[int(rng.integers(len(others)))]])
    else:
        colours = [
            c for c in SUBJECT_COLOURS + ("teal", "magenta", "pink") if to_hex(NAMED_COLOURS[c]) != palettes[name][0]
        ]
        palettes[name] = [to_hex(NAMED_COLOURS[colours[int(rng.integers(len(colours)))]]), *palettes[name][1:]]
    return palettes, name


def continuity_set(
    count: int, *, start_seed: int = 0, sizes: tuple[tuple[int, int], ...] = CONTINUITY_SIZES
) -> list[LabelledClip]:
    """For each of `count` random scenes, the correct clip (canonical palettes, labelled clean) and a drifted one
    (kinds in turn: hue, swap, main, hue, swap, main, place). A drift that takes a canonical colour out of the
    picture is labelled `continuity`; one that leaves every canonical colour drawn somewhere (the character now
    wears colours the scene already has, or it had only achromatic ones) cannot be seen by colour alone: it is
    labelled clean with `continuity` accepted and `meta['weak']`. Clips render in parallel threads."""
    import os
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    kinds: tuple[DriftKind, ...] = ("hue", "swap", "main", "hue", "swap", "main", "place")
    jobs: list[tuple[str, ContinuityScene, dict[str, list[str]], Shot, frozenset[str], frozenset[str], dict]] = []
    for index in range(count):
        seed = start_seed + index
        rng = np.random.default_rng(seed * 7 + 3)
        scene = random_continuity_scene(rng, seed, sizes=sizes)
        shot = continuity_shot(scene, shot_id=f"continuity-{seed}")
        canonical = scene.canonical()
        jobs.append((f"correct-{seed}", scene, canonical, shot, frozenset(), frozenset(), {"scene": scene}))
        kind = kinds[index % len(kinds)]
        drawn, name = drift(scene, rng, kind)
        gone = gone_from_picture(canonical[name], drawn, scene.place)
        meta = {"scene": scene, "kind": kind, "drifted": name, "gone": gone, "drawn": drawn[name], "weak": not gone}
        labels, accept = (frozenset({"continuity"}), frozenset()) if gone else (frozenset(), frozenset({"continuity"}))
        jobs.append((f"drift-{kind}-{seed}", scene, drawn, shot, labels, accept, meta))
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        workdir = Path(tmp)
        rendered = list(pool.map(lambda job: render_continuity(job[1], job[2], workdir), jobs))
    return [
        LabelledClip(name, frames, scene.fps, shot, labels, accept=accept, meta=meta)
        for (name, scene, _, shot, labels, accept, meta), frames in zip(jobs, rendered, strict=True)
    ]
