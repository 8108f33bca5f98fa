"""Crash safety: `studio run` SIGKILLed at random moments and started again, then left to finish.

What must hold however the kills fall: no approved segment lost, none aired twice, no shot rendered again whose
result was saved, no decision logged twice, and a steering note given just before a kill applied exactly once.
The figures are printed (`pytest -s`); `SOAK_SEED` replays a run's kill moments.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.soak import start_station, wait_until_started
from studio import events as ev
from studio.station import Station
from tests.conftest import TEST_SHOWS

SHOW = TEST_SHOWS / "two_segments.yaml"
KILLS = 4


def start(data_dir: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, STUDIO_DATA_DIR=str(data_dir), STUDIO_PIPELINE_DEPTH="3")  # the product default
    return start_station(SHOW, env, data_dir.parent / "station.log", *extra)  # the log kept beside the store


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("SOAK_SEED", "20261201"))
    rng = random.Random(seed)
    data_dir = tmp_path / "station"
    station_path = data_dir / "station.sqlite"
    last_id = 0
    steer_id: int | None = None
    kill_moments: list[float] = []
    for run in range(KILLS):
        process = start(data_dir)
        last_id = wait_until_started(station_path, last_id, process)
        wait = rng.uniform(1.0, 10.0)
        if run == 1:
            time.sleep(wait)
            client = Station(station_path)
            steer_id = client.add_command("station-test", "steer", {"note": "topic: a very tidy shelf"})
            client.close()
            wait = rng.uniform(0.2, 1.5)
        time.sleep(wait)
        assert process.poll() is None, "the station ended by itself before it was killed"
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        kill_moments.append(round(wait, 2))
        client = Station(station_path)
        last_id = client.last_event_id()
        client.close()

    # Three: the note reaches the next episode planned after it, and two may have been planned before it (the one
    # being made and the next, planned just in time).
    final = start(data_dir, "--episodes", "3")
    assert final.wait(900) == 0, "the last run did not finish its episodes"

    station = Station(station_path)
    events = [logged.event for logged in station.events()]

    def of(cls: type[ev.Event]) -> list[object]:
        return [event for event in events if isinstance(event, cls)]

    approved = [e.segment_id for e in of(ev.SegmentApproved)]
    aired = [e.segment_id for e in of(ev.SegmentAired) if not e.repeat]
    on_air = Counter(e.segment_id for e in of(ev.SegmentOnAir) if not e.repeat)
    rendered = Counter((e.shot, e.attempt) for e in of(ev.ClipRendered) if not e.reused)
    reused = [(e.shot, e.attempt) for e in of(ev.ClipRendered) if e.reused]
    render_starts = Counter((e.shot, e.attempt) for e in of(ev.RenderStarted))
    planned = Counter(e.episode for e in of(ev.EpisodePlanned))
    steer_applied = [e for e in of(ev.CommandApplied) if e.command_id == steer_id]
    steered_plans = [e for e in of(ev.EpisodePlanned) if "topic: a very tidy shelf" in e.steering]
    rerendered = {key: count for key, count in render_starts.items() if count > 1}

    print(
        f"\nsoak (seed {seed}): {KILLS} SIGKILLs after {kill_moments} s, then a run to the end;"
        f" {len(planned)} episodes planned, {len(approved)} segments approved, {len(aired)} aired,"
        f" {sum(count - 1 for count in on_air.values())} put on air again after a kill;"
        f" {sum(rendered.values())} shots rendered, {len(reused)} saved renders reused after a kill,"
        f" {len(rerendered)} in-flight renders started again; steering note applied {len(steer_applied)} time(s)"
    )
    assert steer_id is not None
    assert len(approved) == len(set(approved)) >= 4, "no segment approved twice"
    assert sorted(aired) == sorted(approved), "every approved segment aired, exactly once"
    assert of(ev.SegmentSkipped) == [], "a kill never damages an approved file"
    assert all(count == 1 for count in rendered.values()), (
        f"rendered twice: {[k for k, c in rendered.items() if c > 1]}"
    )
    assert len(rerendered) <= KILLS, f"only a render in flight at a kill may start again: {rerendered}"
    assert all(count == 1 for count in planned.values()), f"an episode planned twice: {planned}"
    assert len(steer_applied) == 1 and len(steered_plans) == 1
    assert station.command(steer_id).status == "applied"
    assert steered_plans[0].topic == "a very tidy shelf"
    assert [entry.status for entry in station.rundown() if entry.status not in ("aired", "dropped")] == []
    leftover = subprocess.run(["pgrep", "-f", str(data_dir)], capture_output=True, text=True).stdout.split()
    assert leftover == [], "ffmpeg processes left behind"
