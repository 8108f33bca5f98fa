"""The filler card: made once per house format, cached in the media dir, aired whenever nothing else can be."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from studio.broadcast import commands
from studio.errors import BroadcastError, ToolError
from studio.tools.media import probe, run_ffmpeg

_making = threading.Lock()


def filler_card_path(media_dir: Path, *, width: int, height: int, fps: int, seconds: float) -> Path:
    """Where the card for this house format and length lives (the name encodes all four)."""
    frames = commands.house_frames(seconds, fps)
    return media_dir / "filler" / f"card_{width}x{height}_{fps}fps_{frames}f.mp4"


def ensure_filler_card(media_dir: Path, *, width: int, height: int, fps: int, seconds: float) -> Path:
    """The filler card's path, making it first if it is missing or unreadable.

    Raises `BroadcastError` when it cannot be made: without a card the channel cannot promise never to go dark.
    """
    card_path = filler_card_path(media_dir, width=width, height=height, fps=fps, seconds=seconds)
    with _making:
        if card_path.exists() and is_house_file(card_path, width=width, height=height, fps=fps):
            return card_path
        partial_path = card_path.with_name(f".{card_path.stem}.{os.getpid()}.partial.mp4")
        try:
            card_path.parent.mkdir(parents=True, exist_ok=True)
            run_ffmpeg(
                ["-y", *commands.filler_card_argv(partial_path, width=width, height=height, fps=fps, seconds=seconds)],
                timeout=120.0,
            )
            os.replace(partial_path, card_path)
        except (ToolError, OSError) as error:
            raise BroadcastError(f"cannot make the filler card in {card_path.parent}: {error}") from None
        finally:
            partial_path.unlink(missing_ok=True)
    return card_path


def is_house_file(path: Path, *, width: int, height: int, fps: int, frames: int | None = None) -> bool:
    """Whether a cached on-air file (the card, the ident) is whole: readable, at the house size and rate, with
    audio, and `frames` long when that is given."""
    try:
        info = probe(path)
    except ToolError:
        return False
    return (
        (info.width, info.height, round(info.fps)) == (width, height, fps)
        and info.audio_rate > 0
        and (frames is None or info.video_frames == frames)
    )
