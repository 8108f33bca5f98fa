"""The production pipeline, measured in one run: does the render stage (the GPU) ever wait for the agents?

    python benchmarks/pipeline.py busy [--shots 50] [--latency 2.0] [--depth 3]
    python benchmarks/pipeline.py overhead [--episodes 12]
    python benchmarks/pipeline.py embedded [--episodes 3] [--depth 3]

`busy`: the cooking show made until at least `--shots` shots are rendered, with a simulated render stage of fixed
latency (the procedural renderer draws the shot, then the stage sleeps to exactly `--latency` seconds: a GPU's
time, not the CPU's; upscaling and interpolation are part of that latency, so they pass the clip through and the
segment's conform scales it) and the real agents (offline director), the real critic with every check and the
real post (music, loudness, conform, the safety gate reading every picture, since a generative model's pictures
are always read) on the CPU. Run twice in one process: pipelined (`--depth` segments at once) and one segment at
a time (depth 1: plan, render, critique, post, strictly one after another). Prints for each the render stage's
busy fraction (render time over wall time while production had work in hand, and over the whole run's wall
time), shots per minute, and the speed-up.

`embedded`: the embedded default end to end, as a new user on a laptop gets it: the cooking show made by the
offline director, the procedural renderer, the critic with every check and post (music, loudness, conform, the
safety gate), pipelined and then one segment at a time. Prints on-air seconds approved per wall second (the target
is at least 3x real time) and CPU seconds (this process and its ffmpeg children) per on-air second.

`overhead`: what the orchestration costs per shot (LangGraph steps and checkpoints, the store, the events, the
worker threads and the render stage) with instant fake tools: the render copies a ready clip, the critic passes
it without looking, post links a ready segment. Prints milliseconds per shot, against the 20 ms target.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from studio.tools.base import Clip

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

COOKING = REPO / "shows" / "cooking.yaml"


def _context(data_dir: Path, **settings: Any) -> Any:
    from studio.agents.llm import OfflineBackedDirector
    from studio.config import load_settings
    from studio.show import load_show
    from studio.state import StudioContext
    from studio.station import Station
    from studio.tools.registry import build_toolkit

    # Every episode as the show file writes it: no buffer to watch (nothing airs), so no lean strategy either.
    config = load_settings(data_dir=data_dir, buffer_target_s=1e9, buffer_strategy=False, **settings)
    show = load_show(COOKING)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    station = Station(config.data_dir / "station.sqlite")
    return StudioContext(show=show, settings=config, toolkit=build_toolkit(config), director=OfflineBackedDirector(),
                         station=station, seed=show.channel.seed)  # fmt: skip


# --- busy fraction ------------------------------------------------------------------------------------------------


class PassThrough:
    """Upscaling and interpolation are inside the simulated latency: the clip goes on as it is."""

    name = "simulated-gpu-chain"

    def upscale(self, clip: Clip, request: Any, width: int, height: int, output_path: Path) -> Clip:
        return clip

    def interpolate(self, clip: Clip, fps: int, output_path: Path) -> Clip:
        from studio.tools.base import Clip

        shutil.copyfile(clip.path, output_path)
        return Clip(output_path, clip.fps, clip.num_frames, clip.width, clip.height, self.name)


def _simulated_gpu(context: Any, latency: float) -> None:
    from studio.tools.base import Clip
    from studio.tools.video_procedural import ProceduralVideoGenerator

    class FixedLatencyRenderer(ProceduralVideoGenerator):
        """The procedural picture, delivered after exactly `latency` seconds (a GPU's time)."""

        name = f"simulated-gpu-{latency:g}s"

        def generate(self, request: Any, output_path: Path) -> Clip:
            started = time.perf_counter()
            clip = super().generate(request, output_path)
            left = latency - (time.perf_counter() - started)
            if left > 0:
                time.sleep(left)
            else:
                print(f"  warning: a render took {latency - left:.2f} s, over the simulated {latency:g} s")
            return Clip(clip.path, clip.fps, clip.num_frames, clip.width, clip.height, self.name)

    context.toolkit.video = FixedLatencyRenderer(context.settings)
    context.toolkit.upscaler = PassThrough()
    context.toolkit.interpolator = PassThrough()


def _make_shots(depth: int, shots: int, latency: float, scratch: Path, *, gate: bool = True) -> dict[str, float]:
    from studio.production import Production

    context = _context(scratch / f"depth{depth}", pipeline_depth=depth, safety_gate=gate)
    _simulated_gpu(context, latency)
    production = Production(context)
    stage = production.render_stage
    assert stage is not None
    done = threading.Event()

    def watch() -> None:  # no new episode once enough shots are rendered; the ones in hand are finished
        while not done.is_set():
            if stage.stats().jobs >= shots:
                production.winding_down.set()
            time.sleep(0.1)

    started = time.perf_counter()
    threading.Thread(target=watch, daemon=True).start()
    made = production.run(None)
    wall = time.perf_counter() - started
    done.set()
    stats = stage.stats()
    production.close()
    approved = sum(e.seconds for e in context.station.rundown() if e.status == "approved")
    context.station.close()
    return {
        "episodes": len(made), "renders": stats.jobs, "wall_s": wall, "busy_s": stats.busy_s,
        "starved_s": stats.starved_s, "busy_fraction": stats.busy_fraction or 0.0,
        "wall_fraction": stats.busy_s / wall, "approved_s": approved,
    }  # fmt: skip


def busy(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        results = {}
        for depth in (args.depth, 1):
            label = f"pipelined (depth {depth})" if depth > 1 else "one step after another (depth 1)"
            print(f"{label}: making the cooking show until {args.shots} shots are rendered ...", flush=True)
            results[depth] = result = _make_shots(depth, args.shots, args.latency, Path(scratch), gate=not args.no_gate)
            print(
                f"  {result['renders']} renders in {result['episodes']} episodes, {result['wall_s']:.1f} s wall;"
                f" render stage busy {result['busy_s']:.1f} s, idle waiting for the agents {result['starved_s']:.1f} s"
                f" -> busy fraction {result['busy_fraction']:.3f} (of the whole wall time {result['wall_fraction']:.3f});"
                f" {60 * result['renders'] / result['wall_s']:.1f} shots/min, {result['approved_s']:.0f} s approved",
                flush=True,
            )  # fmt: skip
    fast, slow = results[args.depth], results[1]
    speedup = (fast["renders"] / fast["wall_s"]) / (slow["renders"] / slow["wall_s"])
    print(f"render-stage busy fraction: pipelined {fast['busy_fraction']:.3f} vs one after another"
          f" {slow['busy_fraction']:.3f} (target >= 0.95); shots per wall second {speedup:.2f}x faster pipelined;"
          f" load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")  # fmt: skip
    return 0 if fast["busy_fraction"] >= 0.95 else 1


# --- the embedded default end to end ---------------------------------------------------------------------------


def _cpu_seconds() -> float:
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def embedded(args: argparse.Namespace) -> int:
    from studio.production import Production

    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for run, depth in enumerate((1, args.depth, 1)):  # the first run warms up (imports, models) uncounted
            context = _context(Path(scratch) / f"run{run}", pipeline_depth=depth)
            production = Production(context)
            episodes = 1 if run == 0 else args.episodes
            cpu, started = _cpu_seconds(), time.perf_counter()
            made = production.run(episodes)
            wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
            production.close()
            on_air = sum(e.seconds for e in context.station.rundown() if e.status == "approved")
            context.station.close()
            assert len(made) == episodes, f"{len(made)} of {episodes} episodes made"
            if run == 0:
                continue
            results[depth] = (on_air, wall, cpu)
            print(f"depth {depth}: {episodes} episodes, {on_air:.1f} s on air made in {wall:.1f} s wall, {cpu:.1f} CPU s"
                  f" -> {on_air / wall:.2f}x real time, {cpu / on_air:.2f} CPU s per on-air second", flush=True)  # fmt: skip
    on_air, wall, cpu = results[args.depth]
    serial = results[1][0] / results[1][1]
    print(f"embedded default, cooking show: {on_air / wall:.2f} on-air seconds per wall second (target >= 3),"
          f" {cpu / on_air:.2f} CPU s per on-air second; one segment at a time {serial:.2f}x;"
          f" {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    return 0 if on_air / wall >= 3 else 1


# --- orchestration overhead ---------------------------------------------------------------------------------------


def overhead(args: argparse.Namespace) -> int:
    import numpy as np

    import studio.post as post_module
    import studio.production as production_module
    from studio import events as ev
    from studio.plan import CheckResult, Verdict
    from studio.production import Production
    from studio.tools.base import Clip
    from studio.tools.media import MediaInfo, write_video

    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        from studio.show import load_show

        channel = load_show(COOKING).channel
        ready_clip = scratch / "ready.mp4"
        ready_frames = 12 * channel.fps  # longer than any shot: no stage but this one runs
        write_video(np.zeros((ready_frames, channel.height, channel.width, 3), np.uint8), channel.fps, ready_clip,
                    width=channel.width, height=channel.height)  # fmt: skip

        class InstantRender:
            """A clip already in the house format and long enough: no other render stage runs."""

            name = "instant"

            def __init__(self, channel: Any) -> None:
                self.channel = channel

            def generate(self, request: Any, output_path: Path) -> Clip:
                os.link(ready_clip, output_path)
                channel = self.channel
                return Clip(output_path, fps=channel.fps, num_frames=ready_frames, width=channel.width,
                            height=channel.height, backend=self.name)  # fmt: skip

        def instant_critique(clip_path: str, shot: Any) -> tuple[Verdict, str, dict[str, str]]:
            check = CheckResult(check="duration", passed=True, score=1.0, detail="")
            return Verdict(shot_id=shot.id, passed=True, score=1.0, checks=[check]), "instant", {}

        def instant_conform(ctx: Any, runner: Any, clips: Any, *, seconds: float, output_path: Path, **_: Any) -> Any:
            output_path.parent.mkdir(parents=True, exist_ok=True)
            output_path.unlink(missing_ok=True)
            os.link(ready_clip, output_path)
            info = MediaInfo(width=1024, height=576, fps=24.0, video_frames=round(seconds * 24), video_seconds=seconds,
                             video_codec="h264", pix_fmt="yuv420p", audio_codec="aac", audio_seconds=seconds, audio_rate=48000,
                             audio_channels=2)  # fmt: skip
            return info, "instant"

        def instant_assemble(ctx: Any, episode: int, title: str, segments: list[Path]) -> ev.EpisodeAssembled:
            return ctx.event(ev.EpisodeAssembled, episode=episode, title=title, path=str(segments[0]),
                             segments=len(segments), video_seconds=0.0, audio_seconds=0.0)  # fmt: skip

        post_module.conform_segment = instant_conform  # type: ignore[assignment]
        production_module.assemble_episode = instant_assemble  # type: ignore[assignment]
        results = {}
        any_failed = False
        warm_up = True
        for run, depth in enumerate((1, 3, 1)):  # the first run warms up (imports, caches) and is not counted
            context = _context(scratch / f"run{run}", pipeline_depth=depth, safety_gate=False)
            context.toolkit.video = InstantRender(context.show.channel)
            context.toolkit.upscaler = context.toolkit.interpolator = PassThrough()  # no shot is checked or converted
            context.critique = instant_critique  # type: ignore[method-assign]
            production = Production(context)
            started = time.perf_counter()
            production.run(args.episodes)
            wall = time.perf_counter() - started
            shots = production.render_stage.stats().jobs  # type: ignore[union-attr]
            if warm_up:
                warm_up = False
                context.station.close()
                continue
            results[depth] = (wall, shots)
            failed = [e.event for e in context.station.events() if e.event.type == "ProductionFailed"]
            dropped = [e.event for e in context.station.events() if e.event.type in ("ShotDropped", "SegmentDropped")]
            if failed or dropped:
                any_failed = True
                print(f"  {len(dropped)} shots or segments dropped: the fake tools must pass everything")
                if failed:
                    print(f"  {len(failed)} episode failures: {failed[0].summary()}")
            per_shot = 1000 * wall / shots
            print(f"depth {depth}: {args.episodes} episodes, {shots} shots in {wall:.2f} s -> {per_shot:.1f} ms per"
                  " shot (graph steps, checkpoints, store, events, threads, render stage)")  # fmt: skip
            context.station.close()
    worst = max(1000 * wall / shots for wall, shots in results.values())
    print(
        f"orchestration overhead: {worst:.1f} ms per shot at worst (target <= 20 ms: {worst / 20:.2f} of it);"
        f" load average {os.getloadavg()[0]:.2f}"
    )
    return 0 if worst <= 20 and not any_failed else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    one = sub.add_parser("busy", help="render-stage busy fraction, pipelined against one step after another")
    one.add_argument("--shots", type=int, default=50)
    one.add_argument("--latency", type=float, default=2.0, help="seconds the simulated render stage takes a shot")
    one.add_argument("--depth", type=int, default=3)
    one.add_argument("--no-gate", action="store_true",
                     help="post without the safety gate (its OCR of every picture is most of post's CPU on 2 cores)")  # fmt: skip
    two = sub.add_parser("overhead", help="orchestration cost per shot with instant fake tools")
    two.add_argument("--episodes", type=int, default=12)
    three = sub.add_parser("embedded", help="on-air seconds made per wall second on the embedded default")
    three.add_argument("--episodes", type=int, default=3)
    three.add_argument("--depth", type=int, default=3)
    args = parser.parse_args()
    return {"busy": busy, "overhead": overhead, "embedded": embedded}[args.what](args)


if __name__ == "__main__":
    sys.exit(main())
