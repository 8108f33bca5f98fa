"""Production keeps the playout buffer full: one LangGraph thread per episode, made one after another.

The graph's nodes return their decisions as events; production writes them to the station store from the update
stream (with `durability="sync"` a node's update is checkpointed before it is streamed). After a crash the
episode's thread resumes from its last checkpoint, and the events of that checkpoint are written again: the store
keeps each `event_id` once, so nothing is lost and nothing is logged twice.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph.types import Command

from studio import events as ev
from studio.errors import ConfigError
from studio.graph import build_graph
from studio.state import ProductionStopped, StudioContext
from studio.station import Station

if TYPE_CHECKING:
    from collections.abc import Iterable

    from studio.config import Settings
    from studio.remake import RemakeRequest

log = logging.getLogger(__name__)

CHECKPOINT_TYPES = [
    ("studio.plan", name)
    for name in (
        "EpisodePlan", "SegmentOutline", "SegmentScript", "Beat", "ShotDesign", "ShotList", "Shot", "MotionSpec",
        "CameraMove", "SubjectMotion", "CheckResult", "Repair", "Verdict",
    )
]  # fmt: skip

# An episode whose graph fails this many times in a row (a node raising something no tool error covers) is
# given up, so one bad episode cannot stop the channel.
MAX_EPISODE_FAILURES = 3
FAILURE_BACKOFF_S = 5.0


def ensure_data_dir(data_dir: Path) -> None:
    """Create the data dir and prove it is writable, or say what to do."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        raise ConfigError(
            f"data dir {data_dir} is not writable ({error.strerror or error}): pass --data-dir DIR or set STUDIO_DATA_DIR"
        ) from None


def open_station(settings: Settings) -> Station:
    ensure_data_dir(settings.data_dir)
    return Station(settings.data_dir / "station.sqlite")


@dataclass
class ProductionRate:
    """On-air seconds approved per wall second production spent working (waits for buffer room and pauses
    excluded). None until a segment has been approved in this run."""

    approved_seconds: float = 0.0
    busy_seconds: float = 0.0

    def value(self) -> float | None:
        if self.approved_seconds <= 0 or self.busy_seconds <= 0:
            return None
        return self.approved_seconds / self.busy_seconds


@dataclass
class Production:
    """Makes episodes one after another through the graph, pausing while the buffer is full or a person paused it."""

    context: StudioContext
    """The show, settings, tools, writer and station every node gets; production reads the same ones."""
    stop_event: threading.Event = field(default_factory=threading.Event)
    paused: threading.Event = field(default_factory=threading.Event)
    """Set while a person has paused production: no new step starts."""
    finished_episodes: list[Path] = field(default_factory=list)
    rate: ProductionRate = field(default_factory=ProductionRate)
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Segment id → a person's decision, waiting for the episode's review node to take it."""
    _requests_lock: threading.Lock = field(default_factory=threading.Lock)
    remakes: list[RemakeRequest] = field(default_factory=list)
    """Re-prompts accepted and waiting to be made, oldest first: made between the steps of the episode in hand, on
    production's own thread (the one that owns the GPU)."""
    finished: bool = False
    """Production made the episodes it was asked for and takes no more work."""
    _remaking: bool = False

    def __post_init__(self) -> None:
        connection = sqlite3.connect(self.context.settings.data_dir / "checkpoints.sqlite", check_same_thread=False)
        from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
        from langgraph.checkpoint.sqlite import SqliteSaver

        # Only our own plan types may be revived from a checkpoint.
        serde = JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES)
        self.checkpointer = SqliteSaver(connection, serde=serde)
        self.graph = build_graph(self.checkpointer)
        self.context.gate = self.gate
        self.context.rate = self.rate.value

    @property
    def station(self) -> Station:
        return self.context.station

    def record(self, events: Iterable[dict[str, Any]] | None) -> None:
        """Write a node's events to the store (each once), and count what production made."""
        typed = [ev.event_from_dict(payload) for payload in events or ()]
        if not typed:
            return
        for event, row_id in zip(typed, self.station.record_many(typed), strict=True):
            if row_id is not None and isinstance(event, ev.SegmentApproved):
                self.rate.approved_seconds += event.seconds

    # --- waiting --------------------------------------------------------------------------------------------------

    def gate(self) -> None:
        """Block while paused (time paused is not counted as busy); raise `ProductionStopped` when stopping. Between
        steps, re-prompted shots waiting to be made are made first."""
        if self.paused.is_set() and not self.stop_event.is_set():
            waited = time.perf_counter()
            while self.paused.is_set() and not self.stop_event.is_set():
                self.stop_event.wait(0.2)
            self.rate.busy_seconds -= time.perf_counter() - waited
        if self.stop_event.is_set():
            raise ProductionStopped("the station is stopping")
        self.make_remakes()

    # --- re-prompted shots ----------------------------------------------------------------------------------------

    def request_remake(self, request: RemakeRequest) -> bool:
        """Queue a re-prompt the command processor accepted; its command is answered once it is made. False when
        production has finished and makes nothing more."""
        with self._requests_lock:
            if self.finished:
                return False
            self.remakes.append(request)
            return True

    def make_remakes(self) -> None:
        """Make the re-prompts waiting, one after another (not while paused, nor inside one another)."""
        from studio.remake import remake

        while not self._remaking and not self.paused.is_set() and not self.stop_event.is_set():
            with self._requests_lock:
                if not self.remakes:
                    return
                request = self.remakes.pop(0)
            self._remaking = True
            try:
                outcome = remake(self.context, request, self.station.record_many)
            except Exception as error:  # noqa: BLE001 - a failing re-prompt must not take the channel down
                log.exception("re-prompt %s failed", request.command_id)
                outcome = (False, f"could not be made: {type(error).__name__}: {error}"[:500])
            finally:
                self._remaking = False
            if outcome is None:
                return  # stopping: the command is answered when the station runs again
            applied, text = outcome
            answer = (
                self.context.event(ev.CommandApplied, command_id=request.command_id, kind="reprompt", effect=text)
                if applied
                else self.context.event(ev.CommandRejected, command_id=request.command_id, kind="reprompt", reason=text)
            )
            self.station.record(answer)

    def wait_for_buffer_room(self) -> None:
        """The showrunner's buffer watch: no new episode while enough approved material is queued."""
        show = self.context.show_key
        target = self.context.settings.buffer_target_s
        announced = False
        while not self.stop_event.is_set() and self.station.buffered_seconds(show) >= target:
            if not announced:
                self.station.record(
                    self.context.event(
                        ev.ProductionPaused,
                        reason=f"buffer full (at least {target:.0f} s approved ahead of the playhead); waiting for room",
                        buffered_seconds=round(self.station.buffered_seconds(show), 1),
                    )
                )
                announced = True
            self.make_remakes()
            self.stop_event.wait(1.0)
        if announced and not self.stop_event.is_set():
            self.station.record(self.context.event(ev.ProductionResumed, reason="the buffer has room again"))

    # --- episodes -------------------------------------------------------------------------------------------------

    def _thread_id(self, number: int) -> str:
        return f"{self.context.show_key}-seed{self.context.seed}-e{number:04d}"

    def next_episode_number(self) -> int:
        episodes = self.station.episodes(self.context.show_key)
        unfinished = [e["number"] for e in episodes if e["status"] == "planned"]
        if unfinished:
            return min(unfinished)
        return max((e["number"] for e in episodes), default=0) + 1

    def make_episode(self, number: int) -> Path | None:
        """Run (or resume) one episode's graph. Returns the episode file, or None if stopped or empty."""
        config: dict[str, Any] = {"configurable": {"thread_id": self._thread_id(number)}}
        snapshot = self.graph.get_state(config)
        if snapshot.values:
            # Whatever the last checkpoint decided may not have reached the store before the station stopped.
            self.record(snapshot.values.get("events"))
        # `next` leaves out a step whose node finished (its writes are saved) before the checkpoint after it was:
        # a kill in that window. Its task is still pending, and resuming applies its writes.
        pending = snapshot.next or tuple(task.name for task in snapshot.tasks)
        if snapshot.values and not pending:
            return self._finish_thread(number, snapshot.values)
        graph_input = None
        if pending:
            self.station.record(self.context.event(ev.EpisodeResumed, episode=number, next_step=", ".join(pending)))
        else:
            graph_input = {"episode_number": number, "approved_segments": []}
        try:
            while True:
                step_started = time.perf_counter()
                for chunk in self.graph.stream(
                    graph_input, config, context=self.context, stream_mode="updates", durability="sync"
                ):
                    self.rate.busy_seconds += time.perf_counter() - step_started
                    for update in chunk.values():
                        if isinstance(update, dict):
                            self.record(update.get("events"))
                    if self.stop_event.is_set():
                        return None  # the checkpoint keeps everything done so far
                    self.gate()
                    step_started = time.perf_counter()
                snapshot = self.graph.get_state(config)
                if not snapshot.interrupts:
                    break
                # Manual approval: the review node waits for a person's decision (checkpointed, so a restart
                # waits again for the same segment); it is resumed with it.
                decision = self.wait_for_review(str(snapshot.interrupts[0].value["segment_id"]))
                if decision is None:
                    return None
                graph_input = Command(resume=decision)
        except ProductionStopped:
            return None
        return self._finish_thread(number, self.graph.get_state(config).values)

    def wait_for_review(self, segment_id: str) -> dict[str, Any] | None:
        """A person's decision on a segment waiting for review (the command processor hands it over), or None
        when the station stops first."""
        while not self.stop_event.is_set():
            self.make_remakes()  # a segment waiting for review is the one a person is most likely to re-prompt
            with self._requests_lock:
                decision = self.reviews.pop(segment_id, None)
            if decision is not None:
                return decision
            self.stop_event.wait(0.2)
        return None

    def review_decided(
        self, segment_id: str, *, approved: bool, command_id: int, reason: str = "", answer: bool = True
    ) -> None:
        """Hand a person's decision to the review node; `answer`: it acknowledges `command_id` when it records it."""
        with self._requests_lock:
            self.reviews[segment_id] = {
                "approved": approved, "command_id": command_id, "reason": reason, "answer": answer,
            }  # fmt: skip

    def _finish_thread(self, number: int, values: dict[str, Any]) -> Path | None:
        self.checkpointer.delete_thread(self._thread_id(number))
        episode_path = values.get("episode_path") or ""
        return Path(episode_path) if episode_path else None

    def run(self, episodes: int | None) -> list[Path]:
        made = 0
        failures: dict[int, int] = {}
        while not self.stop_event.is_set() and (episodes is None or made < episodes):
            self.make_remakes()
            self.wait_for_buffer_room()
            try:
                self.gate()
            except ProductionStopped:
                break
            outcome = self.make_next_episode(failures)
            if outcome is None:
                break
            made += outcome
        self.finish(made)
        return self.finished_episodes

    def make_next_episode(self, failures: dict[int, int]) -> int | None:
        """Make (or resume) the next episode: 1 when it is done (or given up after failing too often), 0 when it
        failed and will be tried again, None when the station is stopping. `failures` counts failures per episode
        across calls."""
        number = self.next_episode_number()
        try:
            path = self.make_episode(number)
        except Exception as error:  # noqa: BLE001 - a failing episode must not take the channel down
            failures[number] = failures.get(number, 0) + 1
            gave_up = failures[number] >= MAX_EPISODE_FAILURES
            log.exception("episode %s failed", number)
            self.station.record(
                self.context.event(
                    ev.ProductionFailed,
                    episode=number,
                    error=f"{type(error).__name__}: {error}"[:500],
                    attempt=failures[number],
                    gave_up=gave_up,
                )  # fmt: skip
            )
            if gave_up:
                self._give_up(number)
            self.stop_event.wait(FAILURE_BACKOFF_S)
            return 1 if gave_up else 0
        if self.stop_event.is_set():
            return None
        if path is not None:
            self.finished_episodes.append(path)
        return 1

    def finish(self, made: int) -> None:
        """Production is over (unless stopping): what a person re-prompted before the end is still made, then
        `ProductionFinished`."""
        if self.stop_event.is_set():
            return
        while True:
            self.make_remakes()
            with self._requests_lock:
                if not self.remakes or self.stop_event.is_set():
                    self.finished = True
                    break
            self.stop_event.wait(0.2)  # paused: wait for a resume
        self.station.record(self.context.event(ev.ProductionFinished, episodes=made))

    def _give_up(self, number: int) -> None:
        """Close an episode that keeps failing: its unmade segments are dropped, what was approved still airs."""
        self.checkpointer.delete_thread(self._thread_id(number))
        title = next((e["title"] for e in self.station.episodes(self.context.show_key) if e["number"] == number), "")
        for entry in self.station.rundown(self.context.show_key, episode=number):
            if entry.status == "planned":
                self.station.record(
                    self.context.event(
                        ev.SegmentDropped,
                        episode=number,
                        segment=entry.segment_index,
                        segment_id=entry.segment_id,
                        reason=f"episode {number} failed {MAX_EPISODE_FAILURES} times",
                    )  # fmt: skip
                )
        self.station.record(
            self.context.event(
                ev.EpisodeEmpty,
                episode=number,
                title=title or f"episode {number}",
                reason=f"given up after {MAX_EPISODE_FAILURES} failures",
            )
        )
