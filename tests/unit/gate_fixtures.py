"""Labelled segments for the on-air safety gate, made by the tests in the house format (1024x576, 24 fps, H.264
yuv420p with a keyframe every 2 s).

Each clip is a background (a gradient, moving stripes, a grid, a noise texture, a checkerboard, or a shot the
embedded procedural renderer draws) with or without text painted on it by `cv2.putText`: a word, a short token,
a number with a unit, a price, a semi-transparent watermark in a corner, text over a moving background, text that
shows for one second only. `text` is what was painted ("" for a clean clip): the gate must catch every clip with
text and pass every clean one.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from studio.tools.media import ffmpeg_exe

WIDTH, HEIGHT, FPS, SECONDS = 1024, 576, 24, 3.0

Background = Callable[[float], np.ndarray]
"""The frame's background at `t` seconds (RGB uint8)."""


@dataclass(frozen=True)
class Overlay:
    text: str
    origin: tuple[int, int]
    """Bottom-left of the text, in pixels (at t = 0 when it moves)."""
    scale: float = 1.5
    alpha: float = 1.0
    """Opacity: 0.3 is a faint watermark."""
    colour: tuple[int, int, int] = (255, 255, 255)
    thickness: int = 2
    start: float = 0.0
    end: float = SECONDS
    """The text shows from `start` to `end` seconds."""
    velocity: tuple[float, float] = (0.0, 0.0)
    """Pixels per second the text moves (text on a moving sign)."""
    pillow: bool = False
    """Draw with the scalable font Pillow ships (it has "©", which OpenCV's Hershey fonts lack); `scale` x 30 px."""


@dataclass(frozen=True)
class LabelledClip:
    name: str
    kind: str
    """What the clip tests: `word`, `short token`, `number with unit`, `currency`, `watermark`, `moving`, `brief`,
    or `clean`."""
    background: Background
    overlays: tuple[Overlay, ...] = ()

    @property
    def text(self) -> str:
        return " / ".join(overlay.text for overlay in self.overlays)

    def frame(self, t: float) -> np.ndarray:
        frame = self.background(t)
        for overlay in self.overlays:
            if not overlay.start <= t < overlay.end:
                continue
            x = int(round(overlay.origin[0] + overlay.velocity[0] * t))
            y = int(round(overlay.origin[1] + overlay.velocity[1] * t))
            painted = frame.copy()
            if overlay.pillow:
                painted = _pillow_text(painted, overlay.text, (x, y), int(overlay.scale * 30), overlay.colour)
            else:
                cv2.putText(painted, overlay.text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, overlay.scale, overlay.colour,
                            overlay.thickness, cv2.LINE_AA)  # fmt: skip
            frame = cv2.addWeighted(painted, overlay.alpha, frame, 1.0 - overlay.alpha, 0.0)
        return frame

    def write(self, directory: Path) -> Path:
        """Encode the clip in the house format; returns its path."""
        path = directory / f"{self.name}.mp4"
        command = [
            ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS), "-i", "pipe:0",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-g", str(FPS * 2),
            str(path),
        ]  # fmt: skip
        frames = b"".join(self.frame(index / FPS).tobytes() for index in range(int(SECONDS * FPS)))
        subprocess.run(command, input=frames, check=True, capture_output=True)
        return path


def _pillow_text(
    frame: np.ndarray, text: str, origin: tuple[int, int], size: int, colour: tuple[int, int, int]
) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(frame)
    ImageDraw.Draw(image).text(origin, text, fill=colour, font=ImageFont.load_default(size=size), anchor="ls")
    return np.asarray(image).copy()


# --- backgrounds ---------------------------------------------------------------------------------------------------

_Y, _X = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)


def gradient(t: float) -> np.ndarray:
    shift = 40.0 * t
    image = np.stack(
        [(_X + shift) / WIDTH * 180 + 40, _Y / HEIGHT * 160 + 50, (_X + _Y) / (WIDTH + HEIGHT) * 140 + 60], -1
    )
    return np.clip(image, 0, 255).astype(np.uint8)


def stripes(t: float) -> np.ndarray:
    """Vertical stripes panning right: what OCR reads as "IIII" when it is careless."""
    value = (np.sin((_X + 60.0 * t) / 7.0) > 0) * 170 + 40
    return np.stack([value, value * 0.9, value * 0.7], -1).astype(np.uint8)


def grid(t: float) -> np.ndarray:
    lines = ((_X + 20.0 * t) % 24 < 3) | (_Y % 24 < 3)
    value = lines * 190.0 + 30
    return np.stack([value, value * 0.85, value * 0.55], -1).astype(np.uint8)


def checkerboard(t: float) -> np.ndarray:
    cells = ((((_X + 30.0 * t) // 32) + (_Y // 32)) % 2) * 150.0 + 50
    return np.stack([cells, cells, cells * 0.8], -1).astype(np.uint8)


def noise_texture(seed: int) -> Background:
    texture = cv2.GaussianBlur(np.random.default_rng(seed).uniform(0, 255, (HEIGHT, WIDTH * 2, 3)), (0, 0), 3)
    texture = texture.astype(np.uint8)

    def background(t: float) -> np.ndarray:
        offset = int(80 * t)
        return np.ascontiguousarray(texture[:, offset : offset + WIDTH])

    return background


def procedural(seed: int, camera: str = "pan", direction: str = "right", place: str = "kitchen") -> Background:
    """A shot the embedded renderer draws (textured place, characters and a prop), as the channel's clips are."""
    from studio.plan import CameraMove, MotionSpec, SubjectMotion
    from studio.tools.base import Figure, SceneHint, VideoRequest
    from studio.tools.video_procedural import ShotRenderer

    scene = SceneHint(
        place=place,
        place_palette=("#f3e5c0", "#7a4a2a", "#2a8a8a") if place == "kitchen" else ("#3c8c3c", "#87ceeb", "#d2b48c"),
        figures=(Figure("Rosa", ("#d03030", "#f5c6a0", "#202a60")), Figure("pumpkin", ("#ff8c1a",), kind="prop")),
    )
    motion = MotionSpec(
        camera=CameraMove(kind=camera, direction=direction),  # type: ignore[arg-type]
        subjects=[SubjectMotion(subject="Rosa", action="walks", direction="left", speed="slow")],
    )
    request = VideoRequest(
        prompt="a cooking show", negative_prompt="", motion=motion, width=WIDTH, height=HEIGHT,
        num_frames=int(SECONDS * FPS), fps=float(FPS), seed=seed, scene=scene,
    )  # fmt: skip
    renderer = ShotRenderer(request)
    return renderer.frame


# --- the labelled set ----------------------------------------------------------------------------------------------


WORD = LabelledClip("word", "word", gradient, (Overlay("PEPSI", (400, 300)),))
"""A brand word in white on a gradient: the first clip of the set, cheap to make alone."""


def labelled_clips() -> list[LabelledClip]:
    """Every kind of text the gate must catch, and clean clips (texture that OCR could mistake for text)."""
    corner_x = WIDTH - 200
    return [
        WORD,
        LabelledClip("word-small", "word", noise_texture(1), (Overlay("kitchen", (120, 420), scale=0.8),)),
        LabelledClip("token-ok", "short token", gradient, (Overlay("OK", (500, 300)),)),
        LabelledClip("token-tv", "short token", noise_texture(2), (Overlay("TV", (300, 200), colour=(250, 250, 60)),)),
        LabelledClip("unit-kmh", "number with unit", gradient, (Overlay("25 km/h", (400, 300), scale=1.0),)),
        LabelledClip(
            "unit-kg",
            "number with unit",
            checkerboard,
            (Overlay("3 kg", (420, 290), scale=1.2, colour=(220, 30, 30), thickness=3),),
        ),  # fmt: skip
        LabelledClip("currency", "currency", gradient, (Overlay("$4", (480, 300), scale=1.2),)),
        LabelledClip(
            "watermark-c",
            "watermark",
            gradient,
            (Overlay("(c) studio", (corner_x, HEIGHT - 20), scale=0.6, alpha=0.35),),
        ),  # fmt: skip
        LabelledClip(
            "watermark-sample", "watermark", noise_texture(3), (Overlay("SAMPLE", (24, 40), scale=0.7, alpha=0.3),)
        ),  # fmt: skip
        LabelledClip(
            "moving",
            "moving",
            stripes,
            (Overlay("GOAL", (100, 320), scale=1.6, colour=(255, 240, 0), thickness=3, velocity=(150.0, 0.0)),),
        ),  # fmt: skip
        LabelledClip(
            "procedural-sign",
            "moving",
            procedural(11),
            (Overlay("OPEN", (600, 200), scale=1.2, colour=(20, 20, 20), thickness=3),),
        ),  # fmt: skip
        LabelledClip(
            "watermark-copyright",
            "watermark",
            noise_texture(6),
            (Overlay("© studio", (WIDTH - 150, HEIGHT - 16), scale=0.7, alpha=0.3, pillow=True),),
        ),
        LabelledClip(
            "word-pillow",
            "word",
            procedural(12),
            (Overlay("Fresh Bread", (380, 120), scale=1.4, colour=(30, 30, 30), pillow=True),),
        ),
        LabelledClip("brief", "brief", noise_texture(4), (Overlay("SALE 50%", (350, 280), start=1.0, end=2.0),)),
        LabelledClip("clean-gradient", "clean", gradient),
        LabelledClip("clean-stripes", "clean", stripes),
        LabelledClip("clean-grid", "clean", grid),
        LabelledClip("clean-checkerboard", "clean", checkerboard),
        LabelledClip("clean-noise", "clean", noise_texture(5)),
        LabelledClip("clean-procedural-kitchen", "clean", procedural(7)),
        LabelledClip("clean-procedural-tilt", "clean", procedural(8, camera="tilt", direction="up")),
        LabelledClip("clean-procedural-garden", "clean", procedural(9, place="garden")),
        LabelledClip("clean-procedural-zoom", "clean", procedural(10, camera="zoom", direction="in", place="garden")),
    ]
