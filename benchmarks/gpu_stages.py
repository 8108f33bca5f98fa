"""Seconds per clip and peak VRAM for each GPU stage: Zeroscope 576w, XL upscale, FILM, MusicGen, StreamingT2V.

    python benchmarks/gpu_stages.py [--clips 3] [--stages zeroscope,xl,film,musicgen,streamingt2v] [--json]

Needs CUDA and the weights in the HF cache (`studio models pull all`); stages whose backend cannot run here are
listed with the reason and skipped. Without CUDA it prints "skipped: no CUDA" and exits 0. Model loading is timed
separately from the per-clip figures (the station keeps models loaded between shots).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

STAGES = ("zeroscope", "xl", "film", "musicgen", "streamingt2v")
HOUSE_FPS = 24.0
MUSIC_SECONDS = 30.0


@dataclass
class StageFigure:
    stage: str
    backend: str
    load_s: float
    seconds_per_clip: list[float]
    output_seconds: float
    """Seconds of video or audio one call produces."""
    peak_vram_gb: float
    note: str = ""

    @property
    def mean_s(self) -> float:
        return sum(self.seconds_per_clip) / len(self.seconds_per_clip) if self.seconds_per_clip else 0.0

    @property
    def realtime_factor(self) -> float:
        """Compute seconds per output second (lower is faster; 1.0 is real time)."""
        return self.mean_s / self.output_seconds if self.output_seconds else 0.0


def _timed(torch: Any, call: Callable[[], Any]) -> tuple[float, Any]:
    torch.cuda.synchronize()
    started = time.perf_counter()
    result = call()
    torch.cuda.synchronize()
    return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=3, help="clips per stage (after one warm-up load)")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset of " + ",".join(STAGES))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    stages = [stage.strip() for stage in args.stages.split(",") if stage.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stages: {', '.join(unknown)}")

    if importlib.util.find_spec("studio") is None:  # run from a checkout without `pip install -e .`
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from studio.tools.device import cuda_present

    if not cuda_present():
        print("skipped: no CUDA (this benchmark measures the GPU backends)")
        return 0
    import torch

    if not torch.cuda.is_available():
        print("skipped: no CUDA (torch sees no device)")
        return 0

    figures = run(stages, max(1, args.clips), torch)
    if args.json:
        print(json.dumps([{**asdict(f), "mean_s": f.mean_s, "realtime_factor": f.realtime_factor} for f in figures]))
    else:
        print(f"GPU: {torch.cuda.get_device_name()}  torch {torch.__version__}")
        print(f"{'stage':<13}{'backend':<14}{'load s':>8}{'s/clip':>9}{'s per out s':>12}{'peak VRAM GB':>14}  note")
        for figure in figures:
            print(
                f"{figure.stage:<13}{figure.backend:<14}{figure.load_s:>8.1f}{figure.mean_s:>9.1f}"
                f"{figure.realtime_factor:>12.2f}{figure.peak_vram_gb:>14.2f}  {figure.note}"
            )
    return 0


def run(stages: list[str], clips: int, torch: Any) -> list[StageFigure]:
    """Run each stage `clips` times on the previous stage's output and collect its figures."""
    from studio.config import load_settings
    from studio.plan import MotionSpec
    from studio.tools.base import MusicRequest, SceneHint, VideoRequest

    settings = load_settings(device="cuda")
    request = VideoRequest(
        prompt="a chef flips a pancake in a sunny kitchen, cinematic, 35mm",
        negative_prompt="text, watermark, blurry, deformed",
        motion=MotionSpec(),
        width=576,
        height=320,
        num_frames=24,
        fps=8.0,
        seed=1234,
        scene=SceneHint(place="kitchen", place_palette=("#f4e1c1",)),
    )
    figures: list[StageFigure] = []
    work = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    clip = None

    def measure(stage: str, backend: Any, load: Callable[[], Any], call: Callable[[int], Any], out_s: float) -> Any:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        load_s, _ = _timed(torch, load)
        times: list[float] = []
        result = None
        for index in range(clips):
            elapsed, result = _timed(torch, lambda index=index: call(index))
            times.append(elapsed)
        peak = torch.cuda.max_memory_allocated() / 1e9
        figures.append(StageFigure(stage, backend.name, load_s, times, out_s, peak))
        return result

    def unavailable(stage: str, cls: Any) -> bool:
        available, reason = cls.availability(settings)
        if not available:
            figures.append(StageFigure(stage, cls.name, 0.0, [], 0.0, 0.0, f"skipped: {reason}"))
        return not available

    if "zeroscope" in stages or "xl" in stages or "streamingt2v" in stages or "film" in stages:
        from studio.tools.video_zeroscope import ZeroscopeVideoGenerator

        if not unavailable("zeroscope", ZeroscopeVideoGenerator):
            generator = ZeroscopeVideoGenerator(settings)
            clip = measure(
                "zeroscope",
                generator,
                lambda: generator.pipeline,
                lambda i: generator.generate(request, work / f"first-{i}.mkv"),
                generator.frames_for(request) / request.fps,
            )
            del generator
    if clip is not None and "xl" in stages:
        from studio.tools.video_zeroscope import ZeroscopeXLUpscaler

        if not unavailable("xl", ZeroscopeXLUpscaler):
            upscaler = ZeroscopeXLUpscaler(settings)
            base = clip
            clip = measure(
                "xl",
                upscaler,
                lambda: upscaler.pipeline,
                lambda i: upscaler.upscale(base, request, 1024, 576, work / f"xl-{i}.mkv"),
                base.seconds,
            )
            del upscaler
    if clip is not None and "streamingt2v" in stages:
        from studio.tools.extend_streamingt2v import StreamingT2VExtender

        if not unavailable("streamingt2v", StreamingT2VExtender):
            extender = StreamingT2VExtender(settings)
            short = clip
            measure(
                "streamingt2v",
                extender,
                lambda: None,
                lambda i: extender.extend(short, request, short.num_frames * 2, work / f"ext-{i}.mkv"),
                short.seconds,
            )
            figures[-1].note = "out of process: peak VRAM of this process only"
    if clip is not None and "film" in stages:
        from studio.tools.interpolate_film import FilmInterpolator

        if not unavailable("film", FilmInterpolator):
            film = FilmInterpolator(settings)
            source = clip
            measure(
                "film",
                film,
                lambda: film.model,
                lambda i: film.interpolate(source, HOUSE_FPS, work / f"film-{i}.mkv"),
                source.seconds,
            )
            figures[-1].note = f"{source.fps:g} -> {HOUSE_FPS:g} fps at {source.width}x{source.height}"
    for stage in ("xl", "streamingt2v", "film"):
        if stage in stages and clip is None:
            figures.append(StageFigure(stage, stage, 0.0, [], 0.0, 0.0, "skipped: needs a clip from zeroscope"))
    if "musicgen" in stages:
        from studio.tools.music_musicgen import MusicgenGenerator

        if not unavailable("musicgen", MusicgenGenerator):
            music = MusicgenGenerator(settings)
            measure(
                "musicgen",
                music,
                lambda: (music.model, music.processor),
                lambda i: music.generate(
                    MusicRequest(prompt="upbeat bossa nova, brushed drums", seconds=MUSIC_SECONDS, seed=i),
                    work / f"music-{i}.wav",
                ),
                MUSIC_SECONDS,
            )
    return figures


if __name__ == "__main__":
    sys.exit(main())
