"""A channel of three shows airs by its grid across a simulated day: the right show in each slot, an episode on air
finishes before the next show, bumpers between shows, and the programme guide (epg.json, XMLTV that validates
against the XMLTV DTD) lists the agents' own episodes in their slots.

The episodes are made first (production alone, as the channel's production thread would), then the channel airs
them faster than real time on a simulated clock that moves with the air position: one second on air is half an
hour of the grid's day. Simulated air times are summed from the store's own events afterwards.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from studio import events as ev
from studio.agents.llm import OfflineBackedDirector
from studio.channel import load_channel
from studio.channel_grid import airing_at
from studio.production import Production, open_station
from studio.runtime import StationRuntime
from studio.state import StudioContext
from studio.station import Station
from studio.tools.registry import build_toolkit
from tests.conftest import REPO
from tests.integration.test_runtime import settings_for
from tests.integration.test_web_guide import get
from tests.unit.test_channel_epg import assert_valid_xmltv

DAY = REPO / "tests" / "data" / "channels" / "day.yaml"
DAY_START = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)  # a Monday, in the garden's default time before the lab's slot
SCALE = 1800.0  # simulated seconds per second on air
EPISODES = {"garden": 2, "lab": 2, "night": 2}


def make_episodes(data_dir: Path, channel: Any) -> None:
    settings = settings_for(data_dir)
    station = open_station(settings)
    toolkit = build_toolkit(settings)
    for name, count in EPISODES.items():
        show = channel.shows[name]
        context = StudioContext(
            show=show, settings=settings, toolkit=toolkit, director=OfflineBackedDirector(), station=station,
            seed=show.channel.seed,
        )  # fmt: skip
        production = Production(context)
        for number in range(1, count + 1):
            assert production.make_episode(number) is not None, (name, number)
    station.close()


def simulated_times(station: Station) -> list[tuple[datetime, ev.Event]]:
    """Each event with the simulated time on air when it was recorded: the start plus everything aired before."""
    position = 0.0
    timed = []
    for logged in station.events():
        event = logged.event
        timed.append((DAY_START + timedelta(seconds=SCALE * position), event))
        if isinstance(event, ev.SegmentAired | ev.BumperAired | ev.FillerAired):
            position += event.seconds
    return timed


@pytest.mark.slow
def test_three_shows_air_in_their_slots_across_a_simulated_day(tmp_path: Path) -> None:
    channel = load_channel(DAY)
    data_dir = tmp_path / "data"
    make_episodes(data_dir, channel)

    runtime: StationRuntime | None = None

    def clock() -> datetime:
        aired = runtime.supervisor.aired_seconds if runtime is not None and hasattr(runtime, "supervisor") else 0.0
        return DAY_START + timedelta(seconds=SCALE * aired)

    runtime = StationRuntime(
        channel, settings_for(data_dir, playout_realtime=False, filler_seconds=1.0), episodes=0, clock=clock
    )
    runtime.start()
    try:
        assert runtime.wait(600), "the channel aired everything that was made"
        status, body, content_type = get(runtime.player_url + "epg.json")
        assert status == 200 and content_type == "application/json"
        guide = json.loads(body)
        status, document, content_type = get(runtime.player_url + "epg.xml")
        assert status == 200 and content_type == "application/xml"
    finally:
        runtime.stop()
    station = Station(data_dir / "station.sqlite")
    names = {key: name for name, key in channel.keys.items()}
    timed = simulated_times(station)

    programmes = [(at, event) for at, event in timed if isinstance(event, ev.ProgrammeStarted)]
    assert sorted((names[e.show], e.episode) for _, e in programmes) == sorted(
        (name, number) for name, count in EPISODES.items() for number in range(1, count + 1)
    ), "every episode made aired once, as a programme of its show"
    longest_episode = timedelta(seconds=SCALE * 4.0)
    current: tuple[str, int | None] | None = None
    slot_end = DAY_START
    shows_in_order: list[str] = []
    for at, event in timed:
        if isinstance(event, ev.ProgrammeStarted):
            # The programme starts in its own show's slot, at the time the channel says it did.
            airing = airing_at(channel, at)
            assert airing is not None and airing.show == names[event.show], (at, event)
            assert abs(datetime.fromisoformat(event.air_time) - at) < timedelta(seconds=SCALE * 0.05), (at, event)
            assert (event.slot_start, event.slot_end) == (airing.start.isoformat(), airing.end.isoformat())
            current, slot_end = (event.show, event.episode), airing.end
            if not shows_in_order or shows_in_order[-1] != names[event.show]:
                shows_in_order.append(names[event.show])
        elif isinstance(event, ev.SegmentOnAir):
            # Every segment belongs to the programme on air; one that runs past its slot is the end of an episode
            # already started (broadcasters finish the programme), never more than an episode late.
            assert current == (event.show, event.episode), (at, event, current)
            assert at < slot_end + longest_episode, (at, event)
    assert shows_in_order == ["garden", "lab", "garden", "night"], shows_in_order

    # A bumper (the ident of the show coming up) airs between two shows, and only then.
    order = [e for _, e in timed if isinstance(e, ev.ProgrammeStarted | ev.BumperAired)]
    for before, after in zip(order, order[1:], strict=False):
        if isinstance(after, ev.ProgrammeStarted) and isinstance(before, ev.ProgrammeStarted):
            assert before.show == after.show, "no bumper between two programmes of the same show"
        if isinstance(before, ev.BumperAired):
            assert isinstance(after, ev.ProgrammeStarted) and after.show == before.show, (before, after)
    bumpers = [(names[e.previous_show], names[e.show]) for e in order if isinstance(e, ev.BumperAired)]
    assert bumpers == [("garden", "lab"), ("lab", "garden"), ("garden", "night")], bumpers
    assert station.queue() == [], "everything made aired"

    # The guide lists the grid with the agents' own episodes in the slots they aired in, and validates as XMLTV.
    assert_valid_xmltv(document)
    planned = {(e.show, e.episode): e for e in (logged.event for logged in station.events(types=["EpisodePlanned"]))}
    listed = [
        (p["show"], p["start"][11:16], p["episode"]) for p in guide["programmes"] if p["start"][:10] == "2026-12-07"
    ]
    assert listed == [("garden", "00:00", 1), ("lab", "06:00", 1), ("garden", "12:00", 2), ("night", "18:00", 1)]
    for programme in guide["programmes"]:
        if programme["episode"] is not None:
            plan = planned[(programme["show_key"], programme["episode"])]
            assert (programme["episode_title"], programme["summary"]) == (plan.title, plan.logline)
            assert programme["picture"].startswith(f"/picture/{programme['show_key']}-e")
            assert plan.title.encode() in document or "&" in plan.title
    assert [p["show"] for p in guide["programmes"] if p["on_now"]] == ["night"]
    station.close()


@pytest.mark.slow
def test_studio_run_with_several_show_files_makes_and_airs_an_episode_of_each_in_turn(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """The CLI path of a channel without a grid: one production thread makes an episode of each show, playout airs
    them in turns with a bumper between, and the run ends once both aired."""
    from tests.conftest import TEST_SHOWS
    from tests.integration.test_cli import studio

    monkeypatch.setenv("STUDIO_PLAYOUT_REALTIME", "false")
    monkeypatch.setenv("STUDIO_FILLER_SECONDS", "1.0")
    garden = DAY.parent / "garden.yaml"
    data_dir = tmp_path / "data"
    result = studio(
        "run", str(TEST_SHOWS / "two_segments.yaml"), str(garden), "--episodes", "1", "--headless", "--port", "0",
        data_dir=data_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    station = Station(data_dir / "station.sqlite")
    shows = ["station-test", "garden-hour"]
    planned = [e.event.show for e in station.events(types=["EpisodePlanned"])]
    assert sorted(planned) == sorted(shows), planned
    aired = [e.event for e in station.events(types=["ProgrammeStarted", "BumperAired", "SegmentOnAir"])]
    programmes = [e.show for e in aired if isinstance(e, ev.ProgrammeStarted)]
    assert sorted(programmes) == sorted(shows), programmes
    current = None
    for event in aired:
        if isinstance(event, ev.ProgrammeStarted):
            current = event.show
        elif isinstance(event, ev.SegmentOnAir):
            assert event.show == current, (event, current)
    bumpers = [e.show for e in aired if isinstance(e, ev.BumperAired)]
    assert bumpers == programmes[1:], (bumpers, programmes)
    [started] = [e.event for e in station.events(types=["StationStarted"])]
    assert started.title == "Station Test · Garden Hour"
    assert station.queue() == []
    station.close()
