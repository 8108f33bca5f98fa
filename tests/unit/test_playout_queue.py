"""The playout queue over the store: airing order, the air-through gate, hold, and what a restart resumes."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio import events as ev
from studio.broadcast.playout import Idle, QueuedSegment
from studio.runtime import StationQueue, can_air_through
from studio.station import Station


@pytest.mark.parametrize(
    ("segments", "rate", "expected"),
    [
        ([(3.0, True), (3.0, True)], None, True),  # all made: always
        ([(3.0, True), (3.0, False)], None, False),  # unmade and no measured rate: wait
        ([(3.0, True), (3.0, False)], 2.0, True),  # 3 * 1.5 / 2 = 2.25 s to make, 3 s ahead
        ([(3.0, True), (3.0, False)], 1.0, False),  # 4.5 s to make > 3 s ahead
        ([(3.0, True), (1.0, False), (5.0, False)], 2.0, False),  # the second fits (0.75 <= 3), the third not (4.5 > 4)
        ([(3.0, True), (3.0, False), (3.0, False)], 2.0, True),  # 2.25 <= 3 and 4.5 <= 6
        ([(3.0, False)], 100.0, False),  # nothing airs ahead of an unmade first segment
        ([(3.0, True), (3.0, False)], 0.0, False),
    ],
)
def test_can_air_through(segments: list[tuple[float, bool]], rate: float | None, expected: bool) -> None:
    assert can_air_through(segments, rate, margin=1.5) is expected


class Rate:
    def __init__(self) -> None:
        self.value: float | None = None

    def __call__(self) -> float | None:
        return self.value


def plan(station: Station, episode: int, count: int, seconds: float = 3.0) -> list[str]:
    ids = [f"x-e{episode:04d}-s{index + 1:02d}" for index in range(count)]
    station.record(
        ev.EpisodePlanned(
            show="x", episode=episode, title=f"E{episode}", topic="t", logline="l", planned_seconds=count * seconds,
            segments=tuple(ev.PlannedSegment(segment_id, segment_id, "f", seconds) for segment_id in ids),
        )
    )  # fmt: skip
    return ids


def approve(station: Station, tmp_path: Path, segment_id: str, seconds: float = 3.0) -> Path:
    path = tmp_path / f"{segment_id}.mp4"
    path.write_bytes(b"stand-in: the queue never opens the file")
    station.record(ev.SegmentApproved(show="x", segment_id=segment_id, path=str(path), seconds=seconds, shots=1))
    return path


def air(queue: StationQueue, segment: QueuedSegment | Idle) -> None:
    assert isinstance(segment, QueuedSegment), segment
    queue.started(segment)
    queue.aired(segment)


def test_an_episode_waits_until_it_can_air_through_then_airs_in_order(tmp_path: Path) -> None:
    station = Station(tmp_path / "station.sqlite")
    rate = Rate()
    queue = StationQueue(station, "x", rate=rate, margin=1.5, realtime=True)
    assert queue.next_item() == Idle("nothing approved yet: production is making the first episode")
    s1, s2, s3 = plan(station, 1, 3)
    approve(station, tmp_path, s1)
    waiting = queue.next_item()
    assert isinstance(waiting, Idle) and not waiting.inside_episode and "1 of 3 segments made" in waiting.reason
    rate.value = 1.0  # production as fast as real time: 2 unmade segments cannot be made in time
    assert isinstance(queue.next_item(), Idle)
    rate.value = 10.0
    first = queue.next_item()
    assert isinstance(first, QueuedSegment) and (first.segment_id, first.episode) == (s1, 1)
    air(queue, first)
    # Inside the episode now: a segment not made yet is a break the gate failed to prevent, and says so.
    inside = queue.next_item()
    assert inside == Idle(f"waiting for {s2} to be made", inside_episode=True)
    approve(station, tmp_path, s2)
    air(queue, queue.next_item())
    station.record(ev.SegmentDropped(show="x", segment_id=s3, reason="every shot failed"))
    assert queue.next_item() == Idle("waiting for the next episode")
    assert [e.status for e in station.rundown("x")] == ["aired", "aired", "dropped"]


def test_faster_than_real_time_playout_starts_only_finished_episodes(tmp_path: Path) -> None:
    station = Station(tmp_path / "station.sqlite")
    queue = StationQueue(station, "x", rate=lambda: 100.0, margin=1.5, realtime=False)
    s1, s2 = plan(station, 1, 2)
    approve(station, tmp_path, s1)
    assert isinstance(queue.next_item(), Idle)
    approve(station, tmp_path, s2)
    assert isinstance(queue.next_item(), QueuedSegment)


def test_hold_repeats_the_last_segment_and_a_restart_resumes_the_interrupted_one(tmp_path: Path) -> None:
    station = Station(tmp_path / "station.sqlite")
    queue = StationQueue(station, "x", rate=lambda: None, margin=1.5, realtime=True)
    s1, s2 = plan(station, 1, 2)
    for segment_id in (s1, s2):
        approve(station, tmp_path, segment_id)
    air(queue, queue.next_item())
    command = station.add_command("x", "hold")
    station.record(ev.CommandApplied(show="x", command_id=command, kind="hold", effect="held"))
    again = queue.next_item()
    assert isinstance(again, QueuedSegment) and (again.segment_id, again.repeat) == (s1, True)
    air(queue, again)
    aired = [e.event for e in station.events(types=["SegmentAired"])]
    assert [(e.segment_id, e.repeat) for e in aired] == [(s1, False), (s1, True)]
    release = station.add_command("x", "release")
    station.record(ev.CommandApplied(show="x", command_id=release, kind="release", effect="released"))
    second = queue.next_item()
    assert isinstance(second, QueuedSegment) and second.segment_id == s2
    queue.started(second)  # ... and the station dies while s2 is on air
    station.close()

    station = Station(tmp_path / "station.sqlite")
    assert station.requeue_interrupted("x") == [s2]
    resumed = StationQueue(station, "x", rate=lambda: None, margin=1.5, realtime=True)
    item = resumed.next_item()
    assert isinstance(item, QueuedSegment) and item.segment_id == s2, (
        "the interrupted segment airs again, inside its episode"
    )
    station.record(ev.CommandApplied(show="x", command_id=station.add_command("x", "hold"), kind="hold", effect="held"))
    held = resumed.next_item()
    assert isinstance(held, QueuedSegment) and (held.segment_id, held.repeat) == (s1, True), "hold survives a restart"


def test_a_hold_while_a_rerun_airs_repeats_the_rerun_and_a_dropped_rerun_hands_the_hold_back(tmp_path: Path) -> None:
    """A person holds what they see: the hold answer names the item on air, so a rerun on air is what repeats.
    Once that rerun is skipped (dropped), the hold repeats the last new segment instead."""
    station = Station(tmp_path / "station.sqlite")
    queue = StationQueue(station, "x", rate=lambda: None, margin=1.5, realtime=True)
    (s1,) = plan(station, 1, 1)
    (s2,) = plan(station, 2, 1)
    for segment_id in (s1, s2):
        approve(station, tmp_path, segment_id)
    air(queue, queue.next_item())
    air(queue, queue.next_item())
    rerun = QueuedSegment(s1, tmp_path / f"{s1}.mp4", 3.0, episode=1, repeat=True, rerun=True)
    air(queue, rerun)
    station.record(ev.CommandApplied(show="x", command_id=station.add_command("x", "hold"), kind="hold", effect="held"))
    held = queue.next_item()
    assert isinstance(held, QueuedSegment)
    assert (held.segment_id, held.repeat, held.rerun) == (s1, True, True)
    queue.started(held)
    queue.skipped(held, "skipped by a person", None)
    after = queue.next_item()
    assert isinstance(after, QueuedSegment) and (after.segment_id, after.repeat) == (s2, True)
