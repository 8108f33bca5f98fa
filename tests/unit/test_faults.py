"""Fault injection (`STUDIO_FAULTS`): the plan as parsed, seeded draws, and the faulty video backend's faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.config import Settings
from studio.errors import ConfigError, ToolError
from studio.faults import STATION_FAULTS, FaultLog, FaultPlan, FaultyVideoGenerator, read_fault_log
from studio.plan import MotionSpec
from studio.show import Channel
from studio.tools.base import SceneHint, VideoRequest
from studio.tools.media import probe
from studio.tools.video_procedural import ProceduralVideoGenerator

CHANNEL = Channel(width=160, height=90, fps=12, shot_seconds=1, episode_segments=1)


def test_the_plan_reads_faults_and_options() -> None:
    plan = FaultPlan.parse("render_error=0.05, corrupt_clip=1,llm_timeout=0.2,seed=7,latency_s=0,accelerated=0")
    assert plan.rates == {"render_error": 0.05, "corrupt_clip": 1.0, "llm_timeout": 0.2}
    assert (plan.seed, plan.latency_s, plan.accelerated) == (7, 0.0, False)
    assert FaultPlan.parse("").rates == {}


@pytest.mark.parametrize(
    ("text", "problem"),
    [("render_eror=0.1", "render_eror=0.1"), ("render_error", "render_error"), ("render_error=x", "not a number"),
     ("corrupt_clip=2", "between 0 and 1")],
)  # fmt: skip
def test_a_bad_plan_is_a_config_error_naming_it(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        FaultPlan.parse(text)


def test_draws_are_seeded_by_what_they_hit() -> None:
    plan = FaultPlan.parse("render_error=0.5,seed=3")
    draws = [plan.draw("render_error", "shot", n) for n in range(200)]
    assert draws == [plan.draw("render_error", "shot", n) for n in range(200)]
    assert 60 < sum(draws) < 140
    assert not any(plan.draw("corrupt_clip", "shot", n) for n in range(200))


def _request(seed: int = 1) -> VideoRequest:
    return VideoRequest(
        prompt="Bo rolls", negative_prompt="", motion=MotionSpec(), width=576, height=320, num_frames=8, fps=8,
        seed=seed, scene=SceneHint(place="Lab", place_palette=("#ffffff", "#3060c0")), shot_id="e0001-s01-sh01",
    )  # fmt: skip


def _faulty(tmp_path: Path, spec: str) -> FaultyVideoGenerator:
    plan = FaultPlan.parse(spec)
    return FaultyVideoGenerator(
        ProceduralVideoGenerator(Settings()), plan, FaultLog(tmp_path / "faults.jsonl"), CHANNEL
    )


def test_accelerated_renders_are_drawn_at_the_house_format(tmp_path: Path) -> None:
    clip = _faulty(tmp_path, "latency_s=0").generate(_request(), tmp_path / "clip.mkv")
    assert (clip.width, clip.height, clip.fps, clip.num_frames) == (160, 90, 12, 12)
    assert clip.backend == "faulty:procedural"
    assert probe(clip.path).video_frames == 12
    assert read_fault_log(tmp_path) == []


def test_a_render_error_raises_and_is_logged(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="injected fault: render_error"):
        _faulty(tmp_path, "render_error=1").generate(_request(), tmp_path / "clip.mkv")
    assert [entry["fault"] for entry in read_fault_log(tmp_path)] == ["render_error"]


def test_a_corrupt_clip_is_cut_short_after_it_was_written(tmp_path: Path) -> None:
    whole = _faulty(tmp_path / "a", "latency_s=0").generate(_request(), tmp_path / "whole.mkv")
    cut = _faulty(tmp_path, "corrupt_clip=1,latency_s=0").generate(_request(), tmp_path / "cut.mkv")
    assert cut.path.stat().st_size < whole.path.stat().st_size / 2
    assert [entry["fault"] for entry in read_fault_log(tmp_path)] == ["corrupt_clip"]


def test_ensure_by_fires_each_fault_that_the_draws_missed_once(tmp_path: Path) -> None:
    """Rates so low that the seeded draws miss every one of these requests: with `ensure_by=3` the third render
    of the process raises the render error, the fourth is slow and cut short, and later renders meet none (each
    fault is in faults.jsonl once, which a restarted process reads too)."""
    spec = "render_error=0.0001,corrupt_clip=0.0001,render_latency=0.0001,latency_s=0,slow_s=0,ensure_by=3,seed=5"
    plan = FaultPlan.parse(spec)
    assert plan.ensure_by == 3
    assert not any(plan.draw(kind, "e0001-s01-sh01", seed, "Bo rolls") for kind in STATION_FAULTS for seed in range(9))
    faulty = _faulty(tmp_path, spec)
    outcomes = []
    for seed in range(1, 7):
        try:
            faulty.generate(_request(seed), tmp_path / f"clip{seed}.mkv")
            outcomes.append("rendered")
        except ToolError:
            outcomes.append("failed")
    assert outcomes == ["rendered", "rendered", "failed", "rendered", "rendered", "rendered"]
    assert [entry["fault"] for entry in read_fault_log(tmp_path)] == ["render_error", "render_latency", "corrupt_clip"]
    again = _faulty(tmp_path, spec)  # a restarted station: the log says every fault has fired
    for seed in range(7, 11):
        again.generate(_request(seed), tmp_path / f"clip{seed}.mkv")
    assert len(read_fault_log(tmp_path)) == 3
