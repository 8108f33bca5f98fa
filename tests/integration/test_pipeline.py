"""The production pipeline with the real agents, critic and post: segments are made at once, across episodes, and
one render stage renders their shots one at a time, in airing order; a dropped segment's queued shots are not
rendered."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from studio import events as ev
from studio.agents.llm import OfflineBackedDirector
from studio.config import load_settings
from studio.production import Production, open_station
from studio.show import load_show
from studio.state import StudioContext
from studio.tools.base import Clip
from studio.tools.registry import build_toolkit
from studio.tools.video_procedural import ProceduralVideoGenerator
from tests.conftest import TEST_SHOWS


class SlowRenderer(ProceduralVideoGenerator):
    """The procedural picture after a GPU's delay; records how many renders ran at once."""

    name = "slow-test-renderer"

    def __init__(self, settings: Any, delay: float) -> None:
        super().__init__(settings)
        self.delay = delay
        self.lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0
        self.rendered: list[str] = []
        self.before: Any = None
        """Called with each request before it is rendered (on the render stage's thread)."""

    def generate(self, request: Any, output_path: Path) -> Clip:
        if self.before is not None:
            self.before(request)
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            time.sleep(self.delay)
            clip = super().generate(request, output_path)
        finally:
            with self.lock:
                self.running -= 1
                self.rendered.append(request.shot_id)
        return clip


def _production(tmp_path: Path, delay: float, **settings: Any) -> tuple[Production, SlowRenderer]:
    config = load_settings(data_dir=tmp_path / "data", buffer_target_s=1e6, safety_gate=False, **settings)
    station = open_station(config)
    toolkit = build_toolkit(config)
    renderer = SlowRenderer(config, delay)
    toolkit.video = renderer
    show = load_show(TEST_SHOWS / "two_segments.yaml")
    context = StudioContext(show=show, settings=config, toolkit=toolkit, director=OfflineBackedDirector(),
                            station=station, seed=show.channel.seed)  # fmt: skip
    return Production(context), renderer


def _events(production: Production, cls: type[ev.Event]) -> list[Any]:
    return [logged.event for logged in production.station.events(types=[cls.__name__])]


def test_segments_and_episodes_are_made_at_once_and_one_render_stage_renders_their_shots(tmp_path: Path) -> None:
    production, renderer = _production(tmp_path, delay=0.4, pipeline_depth=3)
    made = production.run(2)
    assert len(made) == 2 and all(path.exists() for path in made)
    assert renderer.most_at_once == 1, "the render stage renders one shot at a time"
    station = production.station
    log = [logged.event for logged in station.events()]
    # Segment 2 was written before segment 1 was approved: they were made at once.
    index = {id(event): at for at, event in enumerate(log)}
    first_approved = next(e for e in log if isinstance(e, ev.SegmentApproved) and e.episode == 1 and e.segment == 0)
    second_written = next(e for e in log if isinstance(e, ev.SegmentWritten) and e.episode == 1 and e.segment == 1)
    assert index[id(second_written)] < index[id(first_approved)]
    # Episode 2 was planned before episode 1 was assembled: the next episode is planned while one is finishing.
    planned_2 = next(e for e in log if isinstance(e, ev.EpisodePlanned) and e.episode == 2)
    assembled_1 = next(e for e in log if isinstance(e, ev.EpisodeAssembled) and e.episode == 1)
    assert index[id(planned_2)] < index[id(assembled_1)]
    # Renders went earliest episode and segment first, whatever order the segments were designed in.
    rendered = [e for e in log if isinstance(e, ev.ClipRendered)]
    episodes = [e.episode for e in rendered]
    assert episodes == sorted(episodes), episodes
    assert all(e.queued_ms >= 0 for e in rendered) and any(e.queued_ms > 100 for e in rendered), "shots queued"
    # Everything planned was made once, and the rundown airs in order.
    approved = [e.segment_id for e in _events(production, ev.SegmentApproved)]
    assert len(approved) == len(set(approved)) == 4
    assert [entry.segment_id for entry in station.queue(production.context.show_key)] == sorted(approved)
    # The pipeline measured itself: a busy fraction and each stage's time per shot.
    measured = _events(production, ev.PipelineMeasured)
    assert measured and measured[-1].renders == len(rendered)
    last = measured[-1]
    assert last.render_busy_fraction is not None and 0.0 < last.render_busy_fraction <= 1.0
    assert last.render_busy_s >= 0.4 * len(rendered) * 0.9
    assert set(last.per_shot_ms) == {"plan", "render", "critique", "post"}
    assert last.per_shot_ms["render"] >= 400 * 0.9 and last.per_shot_ms["critique"] > 0
    assert "render stage busy" in last.summary()


def test_one_segment_at_a_time_makes_the_same_episode(tmp_path: Path) -> None:
    """Depth 1 is production strictly one step after another: the same plan, the same shots, in order."""
    production, renderer = _production(tmp_path / "one", delay=0.0, pipeline_depth=1)
    assert production.make_episode(1) is not None
    serial = [(e.shot, e.prompt if hasattr(e, "prompt") else "") for e in _events(production, ev.ClipRendered)]
    log = [logged.event for logged in production.station.events()]
    kinds = [(type(e).__name__, e.segment) for e in log if isinstance(e, ev.SegmentWritten | ev.SegmentApproved)]
    assert kinds == [("SegmentWritten", 0), ("SegmentApproved", 0), ("SegmentWritten", 1), ("SegmentApproved", 1)]
    parallel, _ = _production(tmp_path / "three", delay=0.0, pipeline_depth=3)
    assert parallel.make_episode(1) is not None
    assert sorted(e.shot for e in _events(parallel, ev.ClipRendered)) == sorted(shot for shot, _ in serial)
    designed = {e.segment: e.shots for e in _events(production, ev.ShotsDesigned)}
    assert designed == {e.segment: e.shots for e in _events(parallel, ev.ShotsDesigned)}, "the same shots"


def test_a_segment_dropped_while_its_shots_wait_for_the_render_stage_is_not_rendered(tmp_path: Path) -> None:
    production, renderer = _production(tmp_path, delay=0.2, pipeline_depth=3)
    station, context, stage = production.station, production.context, production.render_stage
    assert stage is not None
    dropped: list[str] = []

    def drop_the_waiting_segment(request: Any) -> None:
        """While the first shot renders, a person drops the other segment, whose shots wait in the queue."""
        if dropped:
            return
        other = 1 if request.shot_id.startswith("e0001-s01") else 0
        deadline = time.monotonic() + 60
        while not any(key[1] == other for key in stage.queued_keys()):
            assert time.monotonic() < deadline, "the other segment's shots never reached the queue"
            time.sleep(0.01)
        dropped.append(context.segment_id(1, other))
        station.record(context.event(ev.SegmentRemoved, episode=1, segment=other, segment_id=dropped[0],
                                     reason="by a person (test)"))  # fmt: skip

    renderer.before = drop_the_waiting_segment
    path = production.make_episode(1)
    assert path is not None and path.exists(), "the episode is assembled from what is left"
    [dropped_id] = dropped
    prefix = "e0001-" + dropped_id.rsplit("-", 1)[1]
    assert not [shot for shot in renderer.rendered if shot.startswith(prefix)], renderer.rendered
    assert stage.stats().cancelled >= 1, "its queued shots were taken off the stage, not rendered"
    [cancelled] = _events(production, ev.SegmentWorkCancelled)
    assert cancelled.segment_id == dropped_id and "removed by a person" in cancelled.reason
    assert station.segment(dropped_id).status == "removed"
    kept = next(entry for entry in station.rundown() if entry.segment_id != dropped_id)
    assert kept.status == "approved"
    [assembled] = _events(production, ev.EpisodeAssembled)
    assert assembled.segments == 1
