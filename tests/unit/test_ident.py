"""The show's ident: what airs when nothing else can is the show's title over its own colours and music, in the house
format — never a dark card, never silence — made once per look and looping without a seam."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from studio.broadcast.ident import ensure_ident, ident_colours, ident_frames, ident_path
from studio.show import load_show
from studio.tools.media import ffmpeg_exe, probe, read_video
from studio.tools.registry import build_toolkit
from tests.conftest import TEST_SHOWS
from tests.integration.test_runtime import settings_for

SHOW = TEST_SHOWS / "two_segments.yaml"
DARK_LUMA = 40  # the old filler card's mean luma was about 20


def luma(frame: np.ndarray) -> float:
    return float((frame[..., :3] @ np.array([0.299, 0.587, 0.114])).mean())


def mean_volume_db(path: Path) -> float:
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-af", "volumedetect", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"mean_volume: (-?[\d.]+) dB", result.stderr)
    assert found, result.stderr[-500:]
    return float(found.group(1))


def test_the_ident_shows_the_title_in_the_shows_colours_and_loops_without_a_seam() -> None:
    show = load_show(SHOW)
    frames = ident_frames(show, width=192, height=108, frames=24)
    assert len(frames) == 24 and frames[0].shape == (108, 192, 3)
    assert min(luma(frame) for frame in frames) > DARK_LUMA, "never a dark picture"
    # The text: near-white pixels in the middle band, none at the edges.
    middle = np.stack(frames)[:, 40:70, 30:160]
    assert (middle.min(axis=-1) > 235).mean() > 0.01
    # The picture moves, and the last frame leads into the first as any frame leads into the next.
    steps = [np.abs(frames[i + 1].astype(int) - frames[i]).mean() for i in range(len(frames) - 1)]
    seam = np.abs(frames[0].astype(int) - frames[-1]).mean()
    assert min(steps) > 0.05 and seam < 2.5 * max(steps), (steps, seam)
    # The show's own colours are what fills the screen: each is near some pixel of the ident.
    pixels = np.stack(frames).reshape(-1, 3).astype(float)
    for colour in ident_colours(show)[:3]:
        assert np.min(np.abs(pixels - np.array(colour)).sum(axis=1)) < 60, colour


def test_an_ident_is_made_once_in_the_house_format_with_the_shows_music(tmp_path: Path) -> None:
    show = load_show(SHOW)
    toolkit = build_toolkit(settings_for(tmp_path / "data", device="cpu"))
    channel = show.channel
    made = ensure_ident(tmp_path, show, toolkit, width=channel.width, height=channel.height, fps=channel.fps, seconds=4)
    assert made == ident_path(tmp_path, show, width=channel.width, height=channel.height, fps=channel.fps, seconds=4)
    info = probe(made)
    assert (info.width, info.height, info.video_codec, info.pix_fmt) == (192, 108, "h264", "yuv420p")
    assert (info.audio_codec, info.audio_rate, info.audio_channels) == ("aac", 48000, 2)
    assert info.video_frames == 48 and abs(info.audio_seconds - 4) < 0.1
    assert mean_volume_db(made) > -40, "music, not silence"
    frames, _ = read_video(made)
    assert min(luma(frame) for frame in frames) > DARK_LUMA
    stamp = made.stat().st_mtime_ns
    again = ensure_ident(
        tmp_path, show, toolkit, width=channel.width, height=channel.height, fps=channel.fps, seconds=4
    )
    assert again == made and made.stat().st_mtime_ns == stamp, "kept, not made again"
    renamed = show.model_copy(update={"title": "Another Show"})
    other = ensure_ident(tmp_path, renamed, toolkit, width=channel.width, height=channel.height, fps=channel.fps,
                         seconds=4)  # fmt: skip
    assert other != made and other.exists()
    made.write_bytes(made.read_bytes()[:2000])  # damaged: made again
    assert ensure_ident(tmp_path, show, toolkit, width=channel.width, height=channel.height, fps=channel.fps,
                        seconds=4) == made and probe(made).video_frames == 48  # fmt: skip
    assert not [path for path in made.parent.iterdir() if path.name.startswith(".")], "no leftovers"
