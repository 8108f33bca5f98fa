"""Seconds per clip and peak VRAM for each GPU stage: Zeroscope 576w, XL upscale, FILM, MusicGen, StreamingT2V.

    python benchmarks/gpu_stages.py [--clips 3] [--stages zeroscope,xl,film,musicgen,streamingt2v] [--json]
    python benchmarks/gpu_stages.py --random-weights [--stages zeroscope,xl,musicgen,musicgen-medium] [--json]
    python benchmarks/gpu_stages.py --random-weights --tiny --device cpu --clips 1      # the CPU test's run

The device check of issue #14, in one go on a CUDA machine (no network needed; `--clip-vocab` takes OpenCLIP's
`bpe_simple_vocab_16e6.txt.gz` if open-clip-torch is not installed there, else prompts tokenize byte by byte):

    python benchmarks/gpu_stages.py --random-weights --clips 1; \
    python -m pytest -n 0 --device cuda tests/unit/test_backend_zeroscope.py tests/unit/test_backend_film.py \
        tests/unit/test_backend_musicgen.py

Real-weights mode needs CUDA and the weights in the HF cache (`studio models pull all`); stages whose backend cannot
run here are listed with the reason. `--random-weights` needs no weights: each stage is built at full size from
its published configuration (`benchmarks/configs/`, see `random_models.py`) in float16 on CUDA and run through the
product's own backend classes with the product's settings (576x320, 24 frames, the configured steps and XL
strength; 1024x576 for XL, with the same prompt). FILM has no random-weights build (its architecture ships only as
TorchScript). A stage that fails is recorded with its error and the run goes on; the exit status is 1 if any
failed. Without CUDA (and without `--device cpu`) it prints "skipped: no CUDA" and exits 0. Model loading is timed
separately from the per-clip figures (the station keeps models loaded between shots).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

STAGES = ("zeroscope", "xl", "film", "musicgen", "musicgen-medium", "streamingt2v")
DEFAULT_STAGES = ("zeroscope", "xl", "film", "musicgen", "streamingt2v")
HOUSE_FPS = 24.0
MUSIC_SECONDS = 30.0
PROMPT = (
    "the camera pans left at a slow steady speed; Chef Marisol flips a pancake upward at a medium pace, moving "
    "forward in time naturally. bright 3D animated film look, soft rounded shapes, warm studio lighting, rich "
    "saturated colours. medium shot of Chef Marisol flipping a pancake at the island. Chef Marisol, human chef, a "
    "cheerful woman in her forties with warm brown skin, curly black hair tied in a high bun, and round red glasses, "
    "wearing a crisp white double-breasted chef jacket, a red neckerchief and a long navy apron. setting: Studio "
    "Kitchen: a bright kitchen set with pale mint tiles, a white marble island, copper pans hanging from a rail."
)
"""A cooking shot's prompt as the cinematographer writes it (about 150 CLIP tokens: two 77-token windows)."""


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
    error: str = ""
    """`Type: message` when the stage failed (its traceback went to stderr)."""

    @property
    def mean_s(self) -> float:
        return sum(self.seconds_per_clip) / len(self.seconds_per_clip) if self.seconds_per_clip else 0.0

    @property
    def realtime_factor(self) -> float:
        """Compute seconds per output second (lower is faster; 1.0 is real time)."""
        return self.mean_s / self.output_seconds if self.output_seconds else 0.0

    @property
    def output_per_second(self) -> float:
        """Seconds of output (audio, for music) made per second of compute."""
        return self.output_seconds / self.mean_s if self.mean_s else 0.0


def _timed(torch: Any, call: Callable[[], Any]) -> tuple[float, Any]:
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = call()
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=3, help="clips per stage (after one warm-up load)")
    parser.add_argument(
        "--stages", default=None, help="comma-separated subset of " + ",".join(STAGES) + " (default: all but medium)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--random-weights", action="store_true", help="full-size models from configs, no weights")
    parser.add_argument("--tiny", action="store_true", help="with --random-weights: tiny configs and sizes (tests)")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu only with --tiny")
    parser.add_argument(
        "--clip-vocab",
        type=Path,
        default=None,
        help="with --random-weights: OpenCLIP's bpe_simple_vocab_16e6.txt.gz, when open-clip-torch is not installed",
    )
    args = parser.parse_args(argv)
    default = DEFAULT_STAGES if not args.random_weights else ("zeroscope", "xl", "film", "musicgen", "musicgen-medium")
    stages = [stage.strip() for stage in (args.stages or ",".join(default)).split(",") if stage.strip()]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stages: {', '.join(unknown)}")
    if args.tiny and not args.random_weights:
        parser.error("--tiny needs --random-weights")
    if args.device == "cpu" and not args.tiny:
        parser.error("--device cpu only with --random-weights --tiny (full-size stages take hours on a CPU)")

    if importlib.util.find_spec("studio") is None:  # run from a checkout without `pip install -e .`
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from studio.tools.device import cuda_present

    if args.device == "cuda":
        if not cuda_present():
            print("skipped: no CUDA (this benchmark measures the GPU backends)")
            return 0
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("skipped: no CUDA (torch sees no device)")
        return 0

    if args.clip_vocab is not None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import random_models

        random_models.CLIP_VOCAB = args.clip_vocab
    figures = run(stages, max(1, args.clips), torch, random_weights=args.random_weights, tiny=args.tiny,
                  device=args.device)  # fmt: skip
    if args.json:
        print(json.dumps([{**asdict(f), "mean_s": f.mean_s, "realtime_factor": f.realtime_factor,
                           "output_per_second": f.output_per_second} for f in figures]))  # fmt: skip
    else:
        where = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
        mode = ("random weights, " + ("tiny" if args.tiny else "full-size") + " configs") if args.random_weights else ""
        print(f"{where}  torch {torch.__version__}  {mode}")
        print(
            f"{'stage':<16}{'backend':<14}{'load s':>8}{'s/clip':>9}{'s per out s':>12}{'out s per s':>12}"
            f"{'peak VRAM GB':>14}  note"
        )
        for figure in figures:
            print(
                f"{figure.stage:<16}{figure.backend:<14}{figure.load_s:>8.1f}{figure.mean_s:>9.1f}"
                f"{figure.realtime_factor:>12.2f}{figure.output_per_second:>12.2f}{figure.peak_vram_gb:>14.2f}  "
                f"{('ERROR ' + figure.error) if figure.error else figure.note}"
            )
    return 1 if any(figure.error for figure in figures) else 0


@dataclass(frozen=True)
class Sizes:
    """What one run renders: the product's sizes, or tiny ones for the CPU test."""

    width: int = 576
    height: int = 320
    frames: int = 24
    xl_width: int = 1024
    xl_height: int = 576
    music_seconds: float = MUSIC_SECONDS
    steps: int | None = None
    """None: the configured `zeroscope_steps`."""


TINY = Sizes(width=64, height=32, frames=8, xl_width=128, xl_height=64, music_seconds=1.0, steps=2)


def run(
    stages: list[str],
    clips: int,
    torch: Any,
    *,
    random_weights: bool = False,
    tiny: bool = False,
    device: str = "cuda",
) -> list[StageFigure]:
    """Run each stage `clips` times on the previous stage's output and collect its figures; a stage that raises is
    recorded with its error and the others still run."""
    from studio.config import load_settings
    from studio.plan import MotionSpec
    from studio.tools.base import MusicRequest, SceneHint, VideoRequest
    from studio.tools.device import torch_dtype

    settings = load_settings(device=device)
    sizes = TINY if tiny else Sizes()
    dtype = torch_dtype(device)
    motion = MotionSpec.model_validate({"camera": {"kind": "pan", "direction": "left", "speed": "slow"}})
    request = VideoRequest(
        prompt=PROMPT,
        negative_prompt="text, watermark, blurry, deformed",
        motion=motion,
        width=sizes.width,
        height=sizes.height,
        num_frames=sizes.frames,
        fps=8.0,
        seed=1234,
        scene=SceneHint(place="kitchen", place_palette=("#f4e1c1",)),
        shot_id="bench",
    )
    figures: list[StageFigure] = []
    work = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    clip = None
    cuda = device == "cuda"
    if random_weights:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import random_models

    def measure(stage: str, name: str, load: Callable[[], Any], call: Callable[[int], Any], out_s: float) -> Any:
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        load_s, backend = _timed(torch, load)
        times: list[float] = []
        result = None
        for index in range(clips):
            elapsed, result = _timed(torch, lambda index=index: call(index))
            times.append(elapsed)
        peak = torch.cuda.max_memory_allocated() / 1e9 if cuda else 0.0
        figures.append(StageFigure(stage, name, load_s, times, out_s, peak))
        return result

    def guarded(stage: str, name: str, body: Callable[[], Any]) -> Any:
        try:
            return body()
        except Exception as error:  # one failing stage must not cost the figures of the others
            traceback.print_exc(file=sys.stderr)
            figures.append(StageFigure(stage, name, 0.0, [], 0.0, 0.0, error=f"{type(error).__name__}: {error}"))
            return None
        finally:
            gc.collect()  # the stage's models go before the next stage's peak is measured
            if cuda:
                torch.cuda.empty_cache()

    def unavailable(stage: str, cls: Any, stage_settings: Any = None) -> bool:
        available, reason = cls.availability(stage_settings or settings)
        if not available:
            figures.append(StageFigure(stage, cls.name, 0.0, [], 0.0, 0.0, f"skipped: {reason}"))
        return not available

    def zeroscope_stage() -> Any:
        from studio.tools.video_zeroscope import ZeroscopeOptions, ZeroscopeVideoGenerator

        options = ZeroscopeOptions.first_pass(settings)
        options = replace(options, steps=sizes.steps or options.steps, max_frames=sizes.frames)
        holder: dict[str, Any] = {}

        def load() -> Any:
            if random_weights:
                pipeline, holder["note"] = random_models.zeroscope_pipeline(
                    "t2v", device=device, dtype=dtype, tiny=tiny
                )
                holder["backend"] = ZeroscopeVideoGenerator(settings, pipeline=pipeline, options=options)
            else:
                holder["backend"] = ZeroscopeVideoGenerator(settings, options=options)
                holder["backend"].pipeline  # noqa: B018 - loading is what is timed
            return holder["backend"]

        result = measure(
            "zeroscope",
            ZeroscopeVideoGenerator.name,
            load,
            lambda i: holder["backend"].generate(request, work / f"first-{i}.mkv"),
            sizes.frames / request.fps,
        )
        prompt = holder["backend"].last_prompt
        figures[-1].note = "; ".join(
            part for part in (holder.get("note"), prompt.describe() if prompt else "", f"{options.steps} steps") if part
        )
        return result

    def xl_stage(base: Any) -> Any:
        from studio.tools.video_zeroscope import ZeroscopeOptions, ZeroscopeXLUpscaler

        options = ZeroscopeOptions.upscale_pass(settings)
        options = replace(options, steps=sizes.steps or options.steps)
        holder: dict[str, Any] = {}

        def load() -> Any:
            if random_weights:
                pipeline, holder["note"] = random_models.zeroscope_pipeline(
                    "v2v", device=device, dtype=dtype, tiny=tiny
                )
                holder["backend"] = ZeroscopeXLUpscaler(settings, pipeline=pipeline, options=options)
            else:
                holder["backend"] = ZeroscopeXLUpscaler(settings, options=options)
                holder["backend"].pipeline  # noqa: B018 - loading is what is timed
            return holder["backend"]

        result = measure(
            "xl",
            ZeroscopeXLUpscaler.name,
            load,
            lambda i: holder["backend"].upscale(base, request, sizes.xl_width, sizes.xl_height, work / f"xl-{i}.mkv"),
            base.seconds,
        )
        figures[-1].note = "; ".join(
            part
            for part in (holder.get("note"), f"{options.steps} steps at strength {options.strength}",
                         f"{sizes.xl_width}x{sizes.xl_height}")
            if part
        )  # fmt: skip
        return result

    def musicgen_stage(stage: str) -> None:
        from studio.tools.music_musicgen import MusicgenGenerator, MusicgenOptions

        size = "medium" if stage == "musicgen-medium" else "small"
        holder: dict[str, Any] = {}

        def load() -> Any:
            if random_weights:
                model, processor, holder["note"] = random_models.musicgen(size, device=device, dtype=dtype, tiny=tiny)
                options = MusicgenOptions(model_id=f"random-musicgen-{size}", model_name=stage.replace("-small", ""))
                backend = MusicgenGenerator(settings, model=model, processor=processor, options=options)
            else:
                backend = MusicgenGenerator(settings.model_copy(update={"musicgen_model": size}))
                backend.model, backend.processor  # noqa: B018 - loading is what is timed
            holder["backend"] = backend
            return backend

        seconds = sizes.music_seconds
        measure(
            stage,
            MusicgenGenerator.name,
            load,
            lambda i: holder["backend"].generate(
                MusicRequest(prompt="upbeat bossa nova, brushed drums", seconds=seconds, seed=i),
                work / f"{stage}-{i}.wav",
            ),
            seconds,
        )
        figures[-1].note = "; ".join(part for part in (holder.get("note"), f"{size}, {seconds:g} s of audio") if part)

    from studio.tools.video_zeroscope import ZeroscopeVideoGenerator, ZeroscopeXLUpscaler

    if {"zeroscope", "xl", "streamingt2v", "film"} & set(stages):
        if random_weights or not unavailable("zeroscope", ZeroscopeVideoGenerator):
            clip = guarded("zeroscope", ZeroscopeVideoGenerator.name, zeroscope_stage)
    if clip is not None and "xl" in stages:
        if random_weights or not unavailable("xl", ZeroscopeXLUpscaler):
            upscaled = guarded("xl", ZeroscopeXLUpscaler.name, lambda: xl_stage(clip))
            clip = upscaled or clip
    if clip is not None and "streamingt2v" in stages:
        from studio.tools.extend_streamingt2v import StreamingT2VExtender

        if random_weights:
            figures.append(StageFigure("streamingt2v", StreamingT2VExtender.name, 0.0, [], 0.0, 0.0,
                                       "skipped: runs out of process from its checkout and weights"))  # fmt: skip
        elif not unavailable("streamingt2v", StreamingT2VExtender):
            extender = StreamingT2VExtender(settings)
            short = clip

            def extend() -> None:
                measure(
                    "streamingt2v",
                    extender.name,
                    lambda: extender,
                    lambda i: extender.extend(short, request, short.num_frames * 2, work / f"ext-{i}.mkv"),
                    short.seconds,
                )
                figures[-1].note = "out of process: peak VRAM of this process only"

            guarded("streamingt2v", extender.name, extend)
    if clip is not None and "film" in stages:
        from studio.tools.interpolate_film import FilmInterpolator

        if random_weights:
            figures.append(StageFigure("film", FilmInterpolator.name, 0.0, [], 0.0, 0.0,
                                       "skipped: FILM ships only as TorchScript; no random-weights build"))  # fmt: skip
        elif not unavailable("film", FilmInterpolator):
            film = FilmInterpolator(settings)
            source = clip

            def interpolate() -> None:
                measure(
                    "film",
                    film.name,
                    lambda: film.model,
                    lambda i: film.interpolate(source, HOUSE_FPS, work / f"film-{i}.mkv"),
                    source.seconds,
                )
                figures[-1].note = f"{source.fps:g} -> {HOUSE_FPS:g} fps at {source.width}x{source.height}"

            guarded("film", film.name, interpolate)
    for stage in ("xl", "streamingt2v", "film"):
        if stage in stages and clip is None:
            figures.append(StageFigure(stage, stage, 0.0, [], 0.0, 0.0, "skipped: needs a clip from zeroscope"))
    for stage in ("musicgen", "musicgen-medium"):
        if stage in stages:
            from studio.tools.music_musicgen import MusicgenGenerator

            size = "medium" if stage == "musicgen-medium" else "small"
            sized = settings.model_copy(update={"musicgen_model": size})
            if random_weights or not unavailable(stage, MusicgenGenerator, sized):
                guarded(stage, MusicgenGenerator.name, lambda stage=stage: musicgen_stage(stage))
    return figures


if __name__ == "__main__":
    sys.exit(main())
