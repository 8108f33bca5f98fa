"""Seconds per 3 s clip for each embedded CPU stage, and the ratio to real time, measured in one run.

    python benchmarks/embedded_tools.py [--repeats 3]

A ratio below 1.0 means the stage runs faster than the clip plays. Each figure is the median of the repeats.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.config import Settings
from studio.plan import CameraMove, MotionSpec, SubjectMotion
from studio.tools.base import Figure, MusicRequest, SceneHint, VideoRequest
from studio.tools.interpolate_ffmpeg import FFmpegInterpolator, FFmpegUpscaler
from studio.tools.music_synth import SynthMusicGenerator
from studio.tools.video_procedural import ProceduralExtender, ProceduralVideoGenerator, ShotRenderer

if TYPE_CHECKING:
    from collections.abc import Callable

CLIP_SECONDS = 3.0
SCENE = SceneHint(
    place="kitchen",
    place_palette=("cream", "brown", "teal", "red"),
    figures=(
        Figure("Rosa", ("red", "peach", "navy")),
        Figure("Milo", ("green", "tan")),
        Figure("pot", ("copper",), "prop"),
    ),
)
MOTION = MotionSpec(
    camera=CameraMove(kind="pan", direction="right", speed="medium"),
    subjects=[SubjectMotion(subject="Rosa", action="walks", direction="right", speed="medium")],
)


def _request(seed: int, width: int = 576, height: int = 320) -> VideoRequest:
    return VideoRequest("bench", "", MOTION, width, height, 24, 8.0, seed, SCENE)


def _median_seconds(run: Callable[[int], object], repeats: int) -> float:
    times = []
    for index in range(repeats):
        start = time.perf_counter()
        run(index)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        generator = ProceduralVideoGenerator(settings)
        generator.generate(_request(999), work / "warmup.mkv")

        rows.append(("render 576x320, 24 frames (new scene: backdrop + frames + FFV1)", _median_seconds(
            lambda i: generator.generate(_request(100 + i), work / f"r{i}.mkv"), args.repeats)))  # fmt: skip
        renderer = ShotRenderer(_request(100))
        rows.append(("  of which drawing the 24 frames (backdrop cached)", _median_seconds(
            lambda i: [renderer.frame(k / 8.0) for k in range(24)], args.repeats)))  # fmt: skip
        clip = generator.generate(_request(7), work / "clip.mkv")
        extender = ProceduralExtender(settings)
        rows.append(("extend 24 -> 48 frames (per 3 s added)", _median_seconds(
            lambda i: extender.extend(clip, _request(7), 48, work / f"e{i}.mkv"), args.repeats)))  # fmt: skip
        upscaler = FFmpegUpscaler(settings)
        rows.append(("upscale 576x320 -> 1024x576 (lanczos)", _median_seconds(
            lambda i: upscaler.upscale(clip, _request(7), 1024, 576, work / f"u{i}.mkv"), args.repeats)))  # fmt: skip
        large = upscaler.upscale(clip, _request(7), 1024, 576, work / "large.mkv")
        for mode in ("blend", "mci_fast", "mci"):
            interpolator = FFmpegInterpolator(settings, mode)  # type: ignore[arg-type]
            for source, label in ((clip, "576x320"), (large, "1024x576")):
                rows.append((f"interpolate 8 -> 24 fps, {mode}, {label}", _median_seconds(
                    lambda i, s=source, it=interpolator: it.interpolate(s, 24.0, work / f"i{i}.mkv"),
                    1 if mode != "blend" else args.repeats)))  # fmt: skip
        synth = SynthMusicGenerator(settings)
        for mood in ("upbeat bossa nova with brushed drums", "epic", "calm"):
            rows.append((f"music 3 s, {mood!r}", _median_seconds(
                lambda i, m=mood: synth.generate(MusicRequest(m, CLIP_SECONDS, seed=i), work / f"m{i}.wav"),
                args.repeats)))  # fmt: skip
        seconds_long = 60.0
        long_run = _median_seconds(
            lambda i: synth.generate(MusicRequest("tense", seconds_long, seed=i), work / f"l{i}.wav"), 1
        )
        rows.append(("music 60 s 'tense', per 3 s", long_run * CLIP_SECONDS / seconds_long))

    width = max(len(label) for label, _ in rows)
    print(f"{'stage':<{width}}  {'s per 3 s clip':>14}  {'x real time':>11}")
    for label, seconds in rows:
        print(f"{label:<{width}}  {seconds:>14.3f}  {seconds / CLIP_SECONDS:>11.3f}")


if __name__ == "__main__":
    main()
