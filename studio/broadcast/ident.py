"""The show's ident: what the channel airs when nothing else can — before the first episode, between episodes, while
a segment is made again. The show's title over its own colours in slow motion, with its own music, in the house
format: a viewer who tunes in then sees the channel, never a dark card, and hears music, never silence. The
channel's own graphics are the one text allowed on screen.

Made once per look (title, colours, music mood, house format, length) and kept in the media dir; the picture loops
without a seam (every motion in it is periodic over the ident's length), so idents air back to back as one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from studio.broadcast import commands
from studio.broadcast.filler import is_house_file
from studio.colours import parse_colour
from studio.render import StageRunner
from studio.tools.base import MusicRequest
from studio.tools.media import INTERMEDIATE_SUFFIX, measure_loudness, run_ffmpeg, write_video

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from pathlib import Path

    from studio.show import Show
    from studio.tools.base import Toolkit

log = logging.getLogger(__name__)

IDENT_VERSION = 1
"""Bumped when the ident's look changes, so cached idents are made again."""
TAGLINE = "AI-generated · more in a moment"
_making = threading.Lock()


def ident_colours(show: Show) -> list[tuple[int, int, int]]:
    """The show's colours, places first (they fill the screen), then the characters' main ones; three at least."""
    hexes = [colour for place in show.places for colour in place.palette]
    hexes += [character.palette[0] for character in show.characters]
    colours = [parse_colour(text) for text in dict.fromkeys(hexes)]
    while len(colours) < 3:
        colours.append(tuple(int(c * 0.6) for c in colours[-1]) if colours else (40, 60, 110))  # type: ignore[arg-type]
    return colours[:5]


def ident_path(
    media_dir: Path, show: Show, *, width: int, height: int, fps: int, seconds: float, loudness_lufs: float = -23.0
) -> Path:
    """Where the ident for this look lives (the name changes with anything it is made from)."""
    frames = commands.house_frames(seconds, fps)
    look = json.dumps([
        IDENT_VERSION, show.title, [list(c) for c in ident_colours(show)], show.music.mood, show.music.tempo_bpm,
        loudness_lufs,
    ])  # fmt: skip
    digest = hashlib.sha256(look.encode()).hexdigest()[:10]
    return media_dir / "ident" / f"ident_{width}x{height}_{fps}fps_{frames}f_{digest}.mp4"


def ensure_ident(
    media_dir: Path,
    show: Show,
    toolkit: Toolkit,
    *,
    width: int,
    height: int,
    fps: int,
    seconds: float,
    loudness_lufs: float = -23.0,
    true_peak_dbtp: float = -1.0,
) -> Path:
    """The ident's path, making it first when it is missing or damaged. Raises `ToolError` when it cannot be made
    (the caller airs the plain card instead)."""
    path = ident_path(
        media_dir, show, width=width, height=height, fps=fps, seconds=seconds, loudness_lufs=loudness_lufs
    )
    with _making:
        frames = commands.house_frames(seconds, fps)
        if path.exists() and is_house_file(path, width=width, height=height, fps=fps, frames=frames):
            return path

        def music(music_path: Path) -> None:
            request = MusicRequest(prompt=show.music.mood, seconds=frames / fps, seed=7,
                                   tempo_bpm=show.music.tempo_bpm, key=show.music.key)  # fmt: skip
            runner = StageRunner(toolkit)  # the selected music backend, the embedded one when that fails
            track = runner.run("music", "music", lambda backend: backend.generate(request, music_path)).path
            for kind, failed, fallback, reason in runner.fallbacks:
                log.warning("ident %s: %s failed (%s); %s took over", kind, failed, reason, fallback)
            if track != music_path:
                os.replace(track, music_path)

        write_card(
            path, ident_frames(show, width=width, height=height, frames=frames), music, width=width, height=height,
            fps=fps, loudness_lufs=loudness_lufs, true_peak_dbtp=true_peak_dbtp,
        )  # fmt: skip
    return path


def write_card(
    path: Path,
    pictures: Iterable[np.ndarray],
    music: Callable[[Path], None],
    *,
    width: int,
    height: int,
    fps: int,
    loudness_lufs: float,
    true_peak_dbtp: float,
) -> None:
    """Write a channel card (the ident, a coming-up card) in the house format, atomically: `pictures` under the
    sound `music` writes to the path it is given, brought to the channel's loudness."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stem = f".{path.stem}.{os.getpid()}.{threading.get_ident()}"
    picture_path = path.with_name(f"{stem}.picture{INTERMEDIATE_SUFFIX}")
    music_path = path.with_name(f"{stem}.music.wav")
    partial_path = path.with_name(f"{stem}.partial.mp4")
    try:
        frames = write_video(pictures, fps, picture_path, width=width, height=height)
        music(music_path)
        loudness = measure_loudness(music_path, target_lufs=loudness_lufs, true_peak_dbtp=true_peak_dbtp)
        run_ffmpeg(
            ["-y", *commands.conform_segment_argv(
                [picture_path], music_path, partial_path, width=width, height=height, fps=fps, seconds=frames / fps,
                loudness=loudness,
            )]
        )  # fmt: skip
        os.replace(partial_path, path)
    finally:
        for leftover in (picture_path, music_path, partial_path):
            leftover.unlink(missing_ok=True)


def ident_frames(
    show: Show, *, width: int, height: int, frames: int, lines: Sequence[TextLine] | None = None
) -> list[np.ndarray]:
    """The ident's pictures (RGB uint8): the show's colours drifting in a slow diagonal wave, soft discs of them
    floating across, `lines` of text in the middle (the title and the tagline unless given). Every motion completes
    whole cycles over `frames`. The background is soft, so it is drawn at a quarter of the size and scaled up; the
    text is drawn at full size."""
    import cv2

    colours = np.array(ident_colours(show), dtype=np.float32)
    small_w, small_h = max(16, width // 4), max(9, height // 4)
    ys, xs = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    diagonal = (xs / small_w + ys / small_h) / 2.0
    text_rgb, text_alpha = _text_layer(lines or ident_lines(show.title), width, height)
    rng = np.random.default_rng(int(hashlib.sha256(show.title.encode()).hexdigest()[:8], 16))
    discs = [
        (rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.08, 0.2) * small_h, int(rng.integers(len(colours))),
         int(rng.integers(1, 3)) * int(rng.choice([-1, 1])))
        for _ in range(7)
    ]  # fmt: skip
    pictures = []
    for index in range(frames):
        phase = index / frames  # 0 → 1 over the ident: the last frame leads into the first
        wave = (diagonal + phase) % 1.0 * len(colours)
        low = np.floor(wave).astype(np.int32)
        mix = (wave - low)[..., None]
        mix = mix * mix * (3 - 2 * mix)  # smoothstep: soft bands
        picture = colours[low % len(colours)] * (1 - mix) + colours[(low + 1) % len(colours)] * mix
        picture = picture * 0.85 + 255 * 0.08  # a little lighter and calmer than the raw palette
        for x0, y0, radius, colour_index, laps in discs:
            cx = (x0 + laps * phase) % 1.0 * small_w
            cy = (y0 + 0.05 * math.sin(2 * math.pi * (phase + x0))) * small_h
            distance = np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)
            alpha = np.clip((radius - distance) / (radius * 0.5), 0, 1)[..., None] * 0.35
            picture = picture * (1 - alpha) + colours[colour_index] * alpha
        picture = cv2.resize(picture, (width, height), interpolation=cv2.INTER_LINEAR)
        picture = picture * (1 - text_alpha) + text_rgb * text_alpha
        pictures.append(np.clip(picture, 0, 255).astype(np.uint8))
    return pictures


@dataclass(frozen=True)
class TextLine:
    """One line of a card: its words, its type height as a fraction of the picture's, its brightness (0-255)."""

    text: str
    size: float
    fill: int = 255


def ident_lines(title: str) -> list[TextLine]:
    return [TextLine(title, 1 / 9), TextLine(TAGLINE, 1 / 26, 210)]


def _text_layer(lines: Sequence[TextLine], width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """`lines` centred one under another in white with a soft dark shadow, as colour and alpha planes. A line too
    wide for the picture gets smaller type, never clipped."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    fonts = []
    for line in lines:
        largest = max(6, round(height * line.size))
        for size in range(largest, 5, -2):
            font = _font(ImageFont, size)
            if font.getbbox(line.text)[2] <= width * 0.86:  # type: ignore[attr-defined]
                break
        fonts.append(font)
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    boxes = [draw.textbbox((0, 0), line.text, font=font, anchor="lt") for line, font in zip(lines, fonts, strict=True)]
    heights = [box[3] - box[1] for box in boxes]
    gap = height // 30
    top = (height - sum(heights) - gap * (len(lines) - 1)) // 2
    for line, font, line_height in zip(lines, fonts, heights, strict=True):
        draw.text((width // 2, top), line.text, font=font, fill=line.fill, anchor="mt")
        top += line_height + gap
    shadow = mask.filter(ImageFilter.GaussianBlur(max(1, height // 120)))
    text = np.asarray(mask, dtype=np.float32)[..., None] / 255.0
    shade = np.asarray(shadow, dtype=np.float32)[..., None] / 255.0 * 0.6
    alpha = np.clip(text + shade * (1 - text), 0, 1)
    rgb = np.where(text > 0, 255.0, 0.0) * (text / np.maximum(alpha, 1e-6))
    return np.broadcast_to(rgb, (height, width, 3)).astype(np.float32), alpha


def _font(image_font: object, size: int) -> object:
    """Pillow's own scalable font (shipped inside Pillow: no system font needed)."""
    return image_font.load_default(size=size)  # type: ignore[attr-defined]
