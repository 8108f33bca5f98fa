"""The channel's playout queue over fake show queues: the grid picks the show, an episode on air finishes first,
a bumper airs once per change of show, and plain show files take turns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from studio import events as ev
from studio.broadcast.playout import Idle, QueuedSegment
from studio.channel import channel_of_shows, load_channel
from studio.channel_playout import Bumper, ChannelQueue
from tests.conftest import TEST_SHOWS
from tests.unit.test_channel_epg import CHANNELS


@dataclass
class FakeQueue:
    """A show's queue: episodes of `per_episode` segments, `ready` segments made."""

    show: str
    ready: int
    per_episode: int = 2
    done: int = 0
    on_air: bool = False
    log: list[str] = field(default_factory=list)
    reruns: bool = False
    """Fills its gaps with reruns (when asked to fill them)."""

    def next_item(self, *, fill_gaps: bool = True) -> QueuedSegment | Idle:
        if self.done >= self.ready:
            if self.reruns and fill_gaps and not self.in_episode():
                return QueuedSegment(f"{self.show}-rerun", Path("x.mp4"), 2.0, 1, repeat=True, rerun=True)
            return Idle("waiting for the next episode", inside_episode=self.in_episode())
        episode = self.done // self.per_episode + 1
        return QueuedSegment(f"{self.show}-e{episode}-s{self.done % self.per_episode}", Path("x.mp4"), 2.0, episode)

    def in_episode(self) -> bool:
        return self.done % self.per_episode != 0 or self.on_air

    def started(self, segment: QueuedSegment) -> None:
        self.on_air = True

    def aired(self, segment: QueuedSegment) -> None:
        self.on_air = False
        self.done += 1
        self.log.append(segment.segment_id)

    def skipped(self, segment: QueuedSegment, reason: str, command_id: int | None) -> None:
        self.done += 1


def air(queue: ChannelQueue, clock: list[datetime], steps: int, step: timedelta) -> list[str]:
    aired = []
    for _ in range(steps):
        item = queue.next_item()
        if isinstance(item, QueuedSegment):
            queue.started(item)
            queue.aired(item)
            aired.append(item.segment_id)
        else:
            aired.append("idle")
        clock[0] += step
    return aired


def test_the_grid_picks_the_show_an_episode_finishes_and_a_bumper_airs_once_per_change() -> None:
    channel = load_channel(CHANNELS / "day.yaml")
    clock = [datetime(2026, 12, 7, 11, 0, tzinfo=UTC)]
    fakes = {"lab": FakeQueue("lab", 4), "night": FakeQueue("night", 2), "garden": FakeQueue("garden", 2, 1)}
    events: list[ev.Event] = []
    bumpers = {name: Bumper(name, Path(f"{name}.mp4"), 1.0) for name in fakes}
    queue = ChannelQueue(channel, fakes, bumpers=bumpers, record=events.append, clock=lambda: clock[0])  # type: ignore[arg-type]
    aired = air(queue, clock, 6, timedelta(minutes=40))
    # 11:00 lab e1 s0, 11:40 lab e1 s1, 12:20 the garden's slot: bumper, then garden; lab's e2 never starts.
    assert aired == ["lab-e1-s0", "lab-e1-s1", "bumper-garden-hour", "garden-e1-s0", "garden-e2-s0", "idle"], aired
    kinds = [(type(e).__name__, e.show) for e in events]
    assert kinds == [
        ("ProgrammeStarted", "station-test"), ("BumperAired", "garden-hour"), ("ProgrammeStarted", "garden-hour"),
        ("ProgrammeStarted", "garden-hour"),
    ], kinds  # fmt: skip
    # An episode on air when its slot ends finishes first (lab e2 s1 at 12:00, in the garden's time).
    clock[0] = datetime(2026, 12, 8, 11, 20, tzinfo=UTC)
    fakes["lab"].ready = 6
    assert air(queue, clock, 4, timedelta(minutes=20)) == [
        "bumper-station-test", "lab-e2-s0", "lab-e2-s1", "bumper-garden-hour",
    ]  # fmt: skip


def test_plain_show_files_take_turns_and_a_show_with_nothing_ready_gives_its_turn() -> None:
    channel = channel_of_shows(
        [TEST_SHOWS / "two_segments.yaml", CHANNELS / "night_lab.yaml", CHANNELS / "garden.yaml"]
    )
    names = list(channel.shows)
    fakes = {names[0]: FakeQueue("a", 4), names[1]: FakeQueue("b", 0), names[2]: FakeQueue("c", 2, 1)}
    queue = ChannelQueue(channel, fakes, bumpers={}, record=lambda event: None)  # type: ignore[arg-type]
    aired = air(queue, [datetime(2026, 12, 7, tzinfo=UTC)], 7, timedelta(0))
    assert aired == ["a-e1-s0", "a-e1-s1", "c-e1-s0", "a-e2-s0", "a-e2-s1", "c-e2-s0", "idle"], aired


def test_a_show_with_only_reruns_to_offer_does_not_take_a_turn_from_one_with_a_new_episode() -> None:
    channel = channel_of_shows([TEST_SHOWS / "two_segments.yaml", CHANNELS / "night_lab.yaml"])
    names = list(channel.shows)
    fakes = {names[0]: FakeQueue("a", 4), names[1]: FakeQueue("b", 0, reruns=True)}
    queue = ChannelQueue(channel, fakes, bumpers={}, record=lambda event: None)  # type: ignore[arg-type]
    aired = air(queue, [datetime(2026, 12, 7, tzinfo=UTC)], 5, timedelta(0))
    assert aired == ["a-e1-s0", "a-e1-s1", "a-e2-s0", "a-e2-s1", "idle"], aired


def test_production_serves_the_show_whose_slot_comes_soonest_with_the_smallest_buffer(tmp_path: Path) -> None:
    import threading
    from types import SimpleNamespace

    from studio.config import load_settings
    from studio.runtime import StationRuntime

    channel = load_channel(CHANNELS / "day.yaml")
    settings = load_settings(data_dir=tmp_path, buffer_target_s=10.0)
    clock = [datetime(2026, 12, 7, 13, 0, tzinfo=UTC)]
    runtime = StationRuntime(channel, settings, clock=lambda: clock[0], episodes=2)
    buffered = {"station-test": 0.0, "night-lab": 0.0, "garden-hour": 0.0}
    runtime.station = SimpleNamespace(buffered_seconds=lambda key: buffered[key])  # type: ignore[assignment]
    runtime.desks = {
        name: SimpleNamespace(show_key=key, production=SimpleNamespace(paused=threading.Event()))  # type: ignore[misc]
        for name, key in channel.keys.items()
    }
    made = dict.fromkeys(channel.shows, 0)
    # 13:00: the garden is on now; the night show is next (18:00), the lab tomorrow at 06:00.
    assert runtime._next_to_make(made) == "garden"
    buffered["garden-hour"] = 10.0
    assert runtime._next_to_make(made) == "night"
    runtime.desks["night"].production.paused.set()
    assert runtime._next_to_make(made) == "lab", "a paused show is passed over, not waited for"
    made["lab"] = 2
    assert runtime._next_to_make(made) is None, "every show has its episodes, or a full buffer, or is paused"
