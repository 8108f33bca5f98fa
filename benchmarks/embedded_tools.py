"""Seconds per 3 s clip for each embedded CPU stage, and the ratio to real time, measured in one run.

    python benchmarks/embedded_tools.py [--repeats 3]

A ratio below 1.0 means the stage runs faster than the clip plays. Each figure is the median of the repeats: wall
seconds, and CPU seconds of this process and its ffmpeg children together (on a shared machine the CPU figure is the
steadier one). The embedded chain keeps a shot at its generation size (576x320, 8 fps) and the segment's one conform
encode upscales, blends and encodes it (`studio.render.defers_house_format`); the per-shot upscale and
interpolation rows are what runs when a GPU backend holds one of those stages.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio.broadcast import commands
from studio.config import Settings
from studio.plan import CameraMove, MotionSpec, SubjectMotion
from studio.tools.base import Figure, MusicRequest, SceneHint, VideoRequest
from studio.tools.interpolate_ffmpeg import FFmpegInterpolator, FFmpegUpscaler, house_format_filter
from studio.tools.loudness import measure_samples
from studio.tools.media import measure_loudness, probe, read_wav, run_ffmpeg
from studio.tools.music_synth import SynthMusicGenerator
from studio.tools.video_procedural import ProceduralExtender, ProceduralVideoGenerator, ShotRenderer, _build_world

if TYPE_CHECKING:
    from collections.abc import Callable

CLIP_SECONDS = 3.0
HOUSE = (1024, 576, 24)
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


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _median_seconds(run: Callable[[int], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of `run(i)` over `repeats` runs."""
    walls, cpus = [], []
    for index in range(repeats):
        cpu, start = _cpu(), time.perf_counter()
        run(index)
        walls.append(time.perf_counter() - start)
        cpus.append(_cpu() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    width, height, fps = HOUSE
    load_before = os.getloadavg()
    rows: list[tuple[str, tuple[float, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        generator = ProceduralVideoGenerator(settings)
        generator.generate(_request(999), work / "warmup.mp4")

        rows.append(("render 576x320, 24 frames, new scene (world + frames + x264 4:4:4 master)", _median_seconds(
            lambda i: generator.generate(_request(100 + i), work / f"r{i}.mp4"), args.repeats)))  # fmt: skip
        rows.append(("  of which building the scene's world (backdrop)", _median_seconds(
            lambda i: _build_world(SCENE, 200 + i, 576, 320), args.repeats)))  # fmt: skip
        renderer = ShotRenderer(_request(100))
        rows.append(("  of which drawing the 24 frames (world cached)", _median_seconds(
            lambda i: [renderer.frame(k / 8.0) for k in range(24)], args.repeats)))  # fmt: skip
        shots = [generator.generate(_request(7 + k), work / f"shot{k}.mp4") for k in range(2)]
        clip = shots[0]
        extender = ProceduralExtender(settings)
        rows.append(("extend 24 -> 48 frames (per 3 s added)", _median_seconds(
            lambda i: extender.extend(clip, _request(7), 48, work / f"e{i}.mp4"), args.repeats)))  # fmt: skip

        music = SynthMusicGenerator(settings).generate(MusicRequest("upbeat", 2 * CLIP_SECONDS, seed=1), work / "m.wav")
        samples, rate = read_wav(music.path)
        measured = measure_samples(samples, rate)
        gain = commands.Gain(-23.0 - measured.integrated_lufs, measured.integrated_lufs, measured.true_peak_dbtp)
        filters = [house_format_filter(probe(shot.path), width, height, fps, "blend") for shot in shots]
        argv = commands.conform_segment_argv(
            [shot.path for shot in shots], music.path, work / "segment.mp4", width=width, height=height, fps=fps,
            seconds=2 * CLIP_SECONDS, loudness=gain, shot_filters=filters,
        )  # fmt: skip
        conform = _median_seconds(lambda i: run_ffmpeg(["-y", *argv]), args.repeats)
        rows.append(("conform, per 3 s shot: upscale + blend + x264 1024x576 + AAC", (conform[0] / 2, conform[1] / 2)))
        graph_only = argv[: argv.index("-c:v")] + ["-f", "null", "-"]
        filters_only = _median_seconds(lambda i: run_ffmpeg(["-y", *graph_only]), args.repeats)
        rows.append(("  of which decoding, upscale + blend (no encode)", (filters_only[0] / 2, filters_only[1] / 2)))
        rows.append(("loudness of 6 s of music, in memory (BS.1770 + true peak)", _median_seconds(
            lambda i: measure_samples(*read_wav(music.path)), args.repeats)))  # fmt: skip
        rows.append(("loudness of 6 s of music, ffmpeg loudnorm pass (the fallback)", _median_seconds(
            lambda i: measure_loudness(music.path, target_lufs=-23.0, true_peak_dbtp=-1.0), args.repeats)))  # fmt: skip

        small = ProceduralVideoGenerator(settings).generate(_request(7), work / "clip.mkv")
        upscaler = FFmpegUpscaler(settings)
        rows.append(("per-shot chain: upscale 576x320 -> 1024x576 (lanczos)", _median_seconds(
            lambda i: upscaler.upscale(small, _request(7), width, height, work / f"u{i}.mkv"), args.repeats)))  # fmt: skip
        large = upscaler.upscale(small, _request(7), width, height, work / "large.mkv")
        for mode in ("blend", "mci_fast", "mci"):
            interpolator = FFmpegInterpolator(settings, mode)  # type: ignore[arg-type]
            for source, label in ((small, "576x320"), (large, "1024x576")):
                rows.append((f"per-shot chain: interpolate 8 -> 24 fps, {mode}, {label}", _median_seconds(
                    lambda i, s=source, it=interpolator: it.interpolate(s, 24.0, work / f"i{i}.mkv"),
                    1 if mode != "blend" else args.repeats)))  # fmt: skip
        synth = SynthMusicGenerator(settings)
        for mood in ("upbeat bossa nova with brushed drums", "epic", "calm"):
            rows.append((f"music 3 s, {mood!r}", _median_seconds(
                lambda i, m=mood: synth.generate(MusicRequest(m, CLIP_SECONDS, seed=i), work / f"m{i}.wav"),
                args.repeats)))  # fmt: skip
        seconds_long = 60.0
        wall, cpu = _median_seconds(
            lambda i: synth.generate(MusicRequest("tense", seconds_long, seed=i), work / f"l{i}.wav"), 1
        )
        rows.append(
            ("music 60 s 'tense', per 3 s", (wall * CLIP_SECONDS / seconds_long, cpu * CLIP_SECONDS / seconds_long))
        )

    label_width = max(len(label) for label, _ in rows)
    loads = " -> ".join(", ".join(f"{v:.2f}" for v in load) for load in (load_before, os.getloadavg()))
    print(f"load average (1, 5, 15 min) at start -> end: {loads} ({os.cpu_count()} CPUs)")
    print(f"{'stage':<{label_width}}  {'wall s / 3 s':>12}  {'CPU s / 3 s':>11}  {'x real time':>11}")
    for label, (wall, cpu) in rows:
        print(f"{label:<{label_width}}  {wall:>12.3f}  {cpu:>11.3f}  {wall / CLIP_SECONDS:>11.3f}")


if __name__ == "__main__":
    main()
