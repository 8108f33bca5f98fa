"""The showrunner's buffer watch: when the buffer would run dry before an episode is made, it plans shorter segments
with fewer repairs, then no repairs and reruns, says why in the log — and the rest of the graph follows the plan."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from studio import events as ev
from studio.agents.llm import OfflineBackedDirector
from studio.config import load_settings
from studio.production import Production
from studio.show import parse_show
from studio.state import StudioContext
from studio.station import Station
from studio.strategy import LEAN, NORMAL, RERUNS, choose_strategy
from studio.tools.registry import build_toolkit
from tests.integration.test_graph import SHOW, LeakyGenerator

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize(
    ("buffered", "rate", "name", "scale", "repairs"),
    [
        (0.0, None, NORMAL, 1.0, None),  # nothing measured yet: as planned
        (120.0, 2.0, NORMAL, 1.0, None),  # faster than real time: always in time
        (0.0, 2.0, NORMAL, 1.0, None),  # the first 7 s segment made in 5.25 s: within the 10 s gap allowed
        (60.0, 0.5, NORMAL, 1.0, None),  # each 7 s segment made (21, 42, 63 s) before it is due (70, 77, 84 s)
        (20.0, 0.5, LEAN, 0.6, 1),  # at 70 % the third is made at 44.1 s, due at 39.8; at 60 % 37.8 <= 38.4
        (5.0, 0.1, RERUNS, 0.5, 0),  # nothing saves it: half length, no repairs, reruns fill the gap
    ],
)
def test_the_strategy_follows_the_buffer_and_the_rate(
    buffered: float, rate: float | None, name: str, scale: float, repairs: int | None
) -> None:
    strategy = choose_strategy([7.0, 7.0, 7.0], buffered_s=buffered, rate=rate, margin=1.5, max_repairs=2)
    assert (strategy.name, strategy.segment_scale, strategy.max_repairs) == (name, scale, repairs), strategy.reason
    assert strategy.reason


def test_the_lean_scale_is_the_longest_that_airs_through() -> None:
    """Lean means as long as the buffer allows: the largest scale (in tenths) at which every segment is made
    before it is due."""
    from studio.strategy import can_make_in_time, segment_seconds

    strategy = choose_strategy([7.0, 7.0, 7.0], buffered_s=20.0, rate=0.5, margin=1.5, max_repairs=2)
    assert strategy.name == LEAN
    fits = [
        can_make_in_time(
            [(segment_seconds(7.0, s), False)] * 3, rate=0.5, margin=1.5, runway_s=30.0
        )  # 20 s + the gap allowed
        for s in (strategy.segment_scale, round(strategy.segment_scale + 0.1, 2))
    ]
    assert fits == [True, False]


def _context(tmp_path: Path, *, realtime: bool, rate: tuple[float, float] | None, leak: str = "") -> Production:
    settings = load_settings(data_dir=tmp_path / "data", max_repairs=2, playout_realtime=realtime)
    show = parse_show(
        SHOW.replace("{topic}]", "polishes the zebra statue]").replace("seconds: 3", "seconds: 6"), "repair_lab.yaml"
    )
    toolkit = build_toolkit(settings)
    if leak:
        toolkit.video = LeakyGenerator(settings, leak)
    station = Station(settings.data_dir / "station.sqlite")
    context = StudioContext(
        show=show, settings=settings, toolkit=toolkit, director=OfflineBackedDirector(), station=station, seed=5
    )
    production = Production(context)
    if rate is not None:  # what production measured before: approved on-air seconds over busy wall seconds
        production.rate.approved_seconds, production.rate.busy_seconds = rate
    return production


def _events(station: Station, cls: type[ev.Event]) -> list[ev.Event]:
    return [logged.event for logged in station.events() if isinstance(logged.event, cls)]


def test_a_production_that_cannot_keep_up_makes_a_short_episode_without_repairs_and_says_why(tmp_path: Path) -> None:
    production = _context(tmp_path, realtime=True, rate=(1.0, 10.0), leak="zebra")  # 0.1 on-air s per wall s
    production.make_episode(1)
    station = production.station
    [planned] = _events(station, ev.EpisodePlanned)
    assert isinstance(planned, ev.EpisodePlanned)
    assert (planned.strategy, planned.segment_scale) == (RERUNS, 0.5)
    assert "0.10 on-air s per wall s" in planned.strategy_reason and "reruns" in planned.strategy_reason
    assert [segment.seconds for segment in planned.segments] == [3.0]
    [changed] = _events(station, ev.StrategyChanged)
    assert isinstance(changed, ev.StrategyChanged) and (changed.previous, changed.strategy) == (NORMAL, RERUNS)
    assert "strategy normal → reruns from episode 1" in changed.summary()
    [written] = _events(station, ev.SegmentWritten)
    assert isinstance(written, ev.SegmentWritten) and written.seconds == 3.0
    # The painted word fails the critic; with no repairs allowed the shot is dropped at once, not rendered again.
    verdicts = _events(station, ev.VerdictGiven)
    assert [(v.passed, v.repair) for v in verdicts] == [(False, "drop")]  # type: ignore[attr-defined]
    assert len(_events(station, ev.ClipRendered)) == 1
    assert _events(station, ev.ShotDropped)


def test_as_planned_while_production_keeps_up_or_playout_is_a_dry_run(tmp_path: Path) -> None:
    fast = _context(tmp_path / "fast", realtime=True, rate=(20.0, 10.0), leak="zebra")
    fast.make_episode(1)
    dry = _context(tmp_path / "dry", realtime=False, rate=(1.0, 10.0))
    dry.make_episode(1)
    for production, why in ((fast, "is made before the buffer runs dry"), (dry, "faster than real time")):
        [planned] = _events(production.station, ev.EpisodePlanned)
        assert isinstance(planned, ev.EpisodePlanned)
        assert (planned.strategy, planned.segment_scale) == (NORMAL, 1.0) and why in planned.strategy_reason
        assert [segment.seconds for segment in planned.segments] == [6.0]
        assert not _events(production.station, ev.StrategyChanged)
    # Kept up: the leaked word is repaired as usual, and the episode airs at full length.
    verdicts = _events(fast.station, ev.VerdictGiven)
    assert [v.passed for v in verdicts] == [False, True]  # type: ignore[attr-defined]
    [approved] = _events(fast.station, ev.SegmentApproved)
    assert approved.seconds == 6.0  # type: ignore[attr-defined]
