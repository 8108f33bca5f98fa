"""A whole station in-process (`StationRuntime`): real production, real playout, the store as its only bus.

Waits are on rows appearing in the store, with generous ceilings; nothing asserts a wall-clock duration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from studio import events as ev
from studio.agents.llm import OfflineBackedDirector
from studio.config import Settings, load_settings
from studio.production import Production, open_station
from studio.runtime import StationRuntime
from studio.show import Show, load_show
from studio.state import StudioContext
from studio.station import LoggedEvent, Station
from studio.tools.registry import build_toolkit
from tests.conftest import TEST_SHOWS

SHOW = TEST_SHOWS / "two_segments.yaml"


def settings_for(data_dir: Path, **overrides: Any) -> Settings:
    return load_settings(data_dir=data_dir, port=0, **overrides)


def wait_for(
    station: Station, predicate: Callable[[ev.Event], bool], *, after: int = 0, timeout: float = 300.0
) -> LoggedEvent:
    """The first event after `after` that `predicate` accepts, waiting for it as long as a loaded machine needs."""
    deadline = time.monotonic() + timeout
    last = after
    while time.monotonic() < deadline:
        for logged in station.events(after_id=last):
            last = logged.id
            if predicate(logged.event):
                return logged
        time.sleep(0.1)
    kinds = [logged.event.type for logged in station.events(after_id=after)]
    raise AssertionError(f"no such event within {timeout:.0f} s; after {after}: {kinds[-40:]}")


def of_type(cls: type[ev.Event], **fields: Any) -> Callable[[ev.Event], bool]:
    return lambda event: isinstance(event, cls) and all(getattr(event, k) == v for k, v in fields.items())


def events_of(station: Station, cls: type[ev.Event]) -> list[Any]:
    return [logged.event for logged in station.events(types=[cls.__name__])]


@pytest.fixture
def show() -> Show:
    return load_show(SHOW)


@pytest.fixture
def running(tmp_path: Path, show: Show) -> Iterator[tuple[StationRuntime, Station]]:
    """A realtime station making episodes until the test stops it; the test talks to it through its own store
    connection, as the CLI does."""
    runtime = StationRuntime(show, settings_for(tmp_path / "data"))
    runtime.start()
    client = Station(tmp_path / "data" / "station.sqlite")
    try:
        yield runtime, client
    finally:
        runtime.stop()
        client.close()


@pytest.mark.slow
def test_a_person_steers_a_running_station(running: tuple[StationRuntime, Station]) -> None:
    runtime, client = running
    show = runtime.show_key
    first_aired = wait_for(client, of_type(ev.SegmentAired))

    hold = client.add_command(show, "hold")
    applied = wait_for(client, of_type(ev.CommandApplied, command_id=hold), after=first_aired.id)
    assert "repeats" in applied.event.effect
    repeat = wait_for(client, of_type(ev.SegmentOnAir, repeat=True), after=applied.id)
    last_aired = [e for e in client.events(types=["SegmentAired"]) if e.id < repeat.id][-1].event
    assert repeat.event.segment_id == last_aired.segment_id and not last_aired.repeat

    skip = client.add_command(show, "skip")
    cut = wait_for(client, lambda e: isinstance(e, ev.CommandApplied | ev.CommandRejected) and e.command_id == skip)
    assert isinstance(cut.event, ev.CommandApplied), cut.event
    [skipped] = [e for e in events_of(client, ev.SegmentSkipped) if e.command_id == skip]
    assert skipped.segment_id == last_aired.segment_id and f"command {skip}" in skipped.reason
    assert client.segment(skipped.segment_id).status == "aired", "cutting a repeat does not un-air the segment"

    release = client.add_command(show, "release")
    wait_for(client, of_type(ev.CommandApplied, command_id=release))
    again = client.add_command(show, "release")
    rejected = wait_for(client, of_type(ev.CommandRejected, command_id=again))
    assert rejected.event.reason == "playout is not on hold"

    pause = client.add_command(show, "pause")
    paused = wait_for(client, of_type(ev.CommandApplied, command_id=pause))
    assert client.flag(show, "paused")
    # The step in progress may finish; after that, no render starts while paused.
    time.sleep(8.0)
    quiet_from = client.last_event_id()
    time.sleep(8.0)
    started_while_paused = [
        e for e in client.events(after_id=quiet_from, types=["RenderStarted", "SegmentWritten", "EpisodePlanned"])
    ]
    assert started_while_paused == [], [e.event.summary() for e in started_while_paused]
    resume = client.add_command(show, "resume")
    resumed = wait_for(client, of_type(ev.CommandApplied, command_id=resume), after=paused.id)
    wait_for(
        client, lambda e: isinstance(e, ev.RenderStarted | ev.SegmentWritten | ev.EpisodePlanned), after=resumed.id
    )
    assert not client.flag(show, "paused")

    # Reject a segment of the next episode as soon as it is planned: it is made, but never airs.
    planned = wait_for(client, of_type(ev.EpisodePlanned), after=resumed.id)
    target = planned.event.segments[0].segment_id
    reject = client.add_command(show, "reject", {"segment_id": target, "reason": "off topic"})
    wait_for(client, of_type(ev.CommandApplied, command_id=reject))
    wait_for(client, of_type(ev.SegmentAired, segment_id=planned.event.segments[1].segment_id))
    assert client.segment(target).status == "rejected"
    assert [e for e in events_of(client, ev.SegmentOnAir) if e.segment_id == target] == []
    assert client.buffered_seconds(show) == pytest.approx(
        sum(e.seconds for e in client.rundown(show) if e.status in ("approved", "on_air"))
    )


def test_commands_given_while_no_station_runs_are_applied_when_one_starts(tmp_path: Path, show: Show) -> None:
    data_dir = tmp_path / "data"
    store = open_station(settings_for(data_dir))
    steer = store.add_command("station-test", "steer", {"note": "topic: a very tidy shelf"})
    pause = store.add_command("station-test", "pause")
    resume = store.add_command("station-test", "resume")
    store.close()
    runtime = StationRuntime(show, settings_for(data_dir, playout_realtime=False), episodes=1)
    runtime.start()
    try:
        assert runtime.wait(600), "the station did not finish its episode"
    finally:
        runtime.stop()
    station = Station(data_dir / "station.sqlite")
    answers = {e.command_id: e for e in events_of(station, ev.CommandApplied)}
    assert set(answers) == {steer, pause, resume}
    assert answers[steer].effect.startswith("followed in the plan of episode 1")
    [plan] = events_of(station, ev.EpisodePlanned)
    assert plan.topic == "a very tidy shelf" and plan.steering == ("topic: a very tidy shelf",)
    received = [e.command_id for e in events_of(station, ev.CommandReceived)]
    assert received == [steer, pause, resume]
    assert [c.status for c in station.commands()] == ["applied"] * 3
    assert not station.flag("station-test", "paused")


def make_episode_without_playout(data_dir: Path, show: Show) -> Station:
    """Production alone (no playout): episode 1 approved into the store, nothing aired."""
    settings = settings_for(data_dir)
    station = open_station(settings)
    context = StudioContext(
        show=show, settings=settings, toolkit=build_toolkit(settings), director=OfflineBackedDirector(),
        station=station, seed=show.channel.seed,
    )  # fmt: skip
    assert Production(context).make_episode(1) is not None
    return station


def test_a_segment_corrupted_after_approval_is_skipped_and_never_offered_again(tmp_path: Path, show: Show) -> None:
    data_dir = tmp_path / "data"
    station = make_episode_without_playout(data_dir, show)
    first, second = station.rundown()
    assert (first.status, second.status) == ("approved", "approved")
    assert station.buffered_seconds() == pytest.approx(first.seconds + second.seconds)
    assert first.path is not None
    first.path.write_bytes(first.path.read_bytes()[: first.path.stat().st_size // 3])  # truncated on disk
    station.close()

    for _ in range(2):  # the station, then the station again after a restart
        runtime = StationRuntime(show, settings_for(data_dir, playout_realtime=False), episodes=0)
        runtime.start()
        try:
            assert runtime.wait(300)
        finally:
            runtime.stop()
    station = Station(data_dir / "station.sqlite")
    [skipped] = events_of(station, ev.SegmentSkipped)
    assert skipped.segment_id == first.segment_id and skipped.command_id is None
    assert skipped.reason.startswith("file is incomplete or damaged"), skipped.reason
    assert [e.segment_id for e in events_of(station, ev.SegmentOnAir)] == [second.segment_id]
    assert [e.segment_id for e in events_of(station, ev.SegmentAired)] == [second.segment_id]
    assert station.segment(first.segment_id).status == "skipped"
    assert station.buffered_seconds() == 0.0
    broadcast = [logged.event for logged in station.events(agent="broadcast")]
    after_skip = broadcast[broadcast.index(skipped) + 1]
    assert isinstance(after_skip, ev.SegmentOnAir) and after_skip.segment_id == second.segment_id, (
        "the rest of the episode airs at once, without filler in between"
    )


@pytest.mark.slow
def test_production_waits_while_the_buffer_is_full_and_filler_airs_only_between_episodes(
    tmp_path: Path, show: Show
) -> None:
    """A fresh realtime channel with room for less than one episode ahead: each plan waits until playout has aired
    enough of the queue, and an episode starts only when it can air through, so filler never breaks one."""
    target = 3.0  # an episode of this show is 4 s: one approved episode fills the buffer
    runtime = StationRuntime(show, settings_for(tmp_path / "data", buffer_target_s=target), episodes=3)
    runtime.start()
    try:
        assert runtime.wait(900)
    finally:
        runtime.stop()
    station = Station(tmp_path / "data" / "station.sqlite")
    plans = events_of(station, ev.EpisodePlanned)
    assert [plan.episode for plan in plans] == [1, 2, 3]
    assert all(plan.buffered_seconds < target for plan in plans), [plan.buffered_seconds for plan in plans]
    paused = events_of(station, ev.ProductionPaused)
    resumed = events_of(station, ev.ProductionResumed)
    assert paused and all("buffer full" in p.reason and p.buffered_seconds >= target for p in paused)
    assert len(resumed) == len(paused)
    # Each wait ended because a segment aired, not by itself.
    order = [logged.event for logged in station.events(types=["ProductionPaused", "ProductionResumed", "SegmentAired"])]
    for index, event in enumerate(order):
        if isinstance(event, ev.ProductionResumed):
            since_pause = order[:index][::-1]
            pause_at = next(i for i, e in enumerate(since_pause) if isinstance(e, ev.ProductionPaused))
            assert any(isinstance(e, ev.SegmentAired) for e in since_pause[:pause_at])

    timeline = [logged.event for logged in station.events(types=["SegmentOnAir", "SegmentAired", "FillerStarted"])]
    fillers = events_of(station, ev.FillerAired)
    assert fillers and all(not filler.inside_episode for filler in fillers)
    # Independently of the flag: no filler (the ident, a coming-up card) and no rerun starts between the first and
    # the last segment of an episode.
    current_episode, remaining = None, 0
    for event in timeline:
        if isinstance(event, ev.SegmentOnAir) and not event.rerun:
            if event.episode != current_episode:
                current_episode, remaining = event.episode, show.channel.episode_segments
        elif isinstance(event, ev.SegmentAired) and not event.rerun:
            remaining -= 1
        elif not isinstance(event, ev.SegmentAired):
            what = f"a rerun of {event.segment_id}" if isinstance(event, ev.SegmentOnAir) else event.reason
            assert remaining == 0, f"filler inside episode {current_episode}: {what}"
    aired = sum(e.seconds for e in events_of(station, ev.SegmentAired) if not e.rerun)
    filler = sum(f.seconds for f in fillers)
    assert aired == pytest.approx(3 * 4.0)
    print(f"\nfirst three episodes: {aired:.1f} s of show, {filler:.1f} s of filler ({filler / (aired + filler):.0%})")


def test_a_kill_between_a_nodes_writes_and_its_checkpoint_resumes_the_episode(tmp_path: Path, show: Show) -> None:
    """The window the soak test found under load: a node's writes are saved, the checkpoint after it is not.
    LangGraph's `next` is empty then; the episode must resume (not be taken as finished and planned again)."""
    import sqlite3

    data_dir = tmp_path / "data"
    settings = settings_for(data_dir)
    station = open_station(settings)
    context = StudioContext(
        show=show, settings=settings, toolkit=build_toolkit(settings), director=OfflineBackedDirector(),
        station=station, seed=show.channel.seed,
    )  # fmt: skip
    first = Production(context)
    station.subscribe(
        lambda logged: [
            first.stop_event.set() for e in logged if e.event.type == "ShotsDesigned" and e.event.segment == 0
        ]
    )
    assert first.make_episode(1) is None, "stopped after the first segment's shots were designed"
    production = first
    thread = production.segment_thread_id(1, 0)
    config = {"configurable": {"thread_id": thread}}
    checkpoints = sqlite3.connect(data_dir / "checkpoints.sqlite")
    newest = checkpoints.execute(
        "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? ORDER BY checkpoint_id DESC LIMIT 1", (thread,)
    ).fetchone()
    checkpoints.execute("DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id = ?", (thread, *newest))
    checkpoints.commit()
    checkpoints.close()
    production = Production(context)
    snapshot = production.segment_graph.get_state(config)
    assert snapshot.next == () and [task.name for task in snapshot.tasks] == ["cinematographer"], "in the window"

    assert production.make_episode(1) is not None
    [resumed] = events_of(station, ev.EpisodeResumed)
    assert resumed.next_step.startswith("segment 1: cinematographer"), resumed.next_step
    assert len(events_of(station, ev.EpisodePlanned)) == 1, "the episode was not planned again"
    approved = [e.segment_id for e in events_of(station, ev.SegmentApproved)]
    assert len(approved) == len(set(approved)) == 2
    station.close()
