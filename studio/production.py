"""Production keeps the playout buffer full: a pipeline of LangGraph threads feeding one render stage.

Each episode is planned in its own thread (the showrunner) and each of its segments is made in its own (script,
shots, render, critic, post: `studio.graph`). Up to `pipeline_depth` segment threads run at once on a pool of
worker threads, across episode boundaries: the next episode is planned as soon as every segment of the ones in
hand has started, so the render stage (`studio.pipeline`, the one thread that owns the GPU) always has a shot
queued while the agents write, the critic judges and post conforms on the other threads. Segments finish out of
order; playout airs them in rundown order. Once all of an episode's segments are done production assembles its
file.

The graphs' nodes return their decisions as events; production writes them to the station store from the update
streams (with `durability="sync"` a node's update is checkpointed before it is streamed). After a crash every
unfinished thread resumes from its last checkpoint, and the events of that checkpoint are written again: the store
keeps each `event_id` once, so nothing is lost and nothing is logged twice.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph.types import Command

from studio import events as ev
from studio.errors import ConfigError
from studio.graph import build_episode_graph, build_segment_graph
from studio.pipeline import RenderStage
from studio.post import assemble_episode
from studio.state import ProductionStopped, SegmentCancelled, StudioContext
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


STAGE_EVENTS: dict[str, tuple[str, ...]] = {
    "plan": ("EpisodePlanned", "SegmentWritten", "ShotsDesigned", "ShotRepaired"),
    "render": ("ClipRendered", "RenderFailed"),
    "critique": ("VerdictGiven",),
    "post": ("SegmentApproved", "SegmentHeld", "SegmentDropped"),
}
"""Which decisions' `duration_ms` count as each stage's work."""


@dataclass
class StageClock:
    """Each stage's work as its events report it (count and milliseconds), for `PipelineMeasured`."""

    counts: dict[str, int] = field(default_factory=dict)
    ms: dict[str, float] = field(default_factory=dict)
    shots: int = 0
    """Shot attempts rendered (or failed): the denominator of the per-shot figures."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stage_of: dict[str, str] = field(default_factory=lambda: {t: s for s, ts in STAGE_EVENTS.items() for t in ts})

    def add(self, event: ev.Event) -> None:
        stage = self._stage_of.get(event.type)
        if stage is None or getattr(event, "reused", False):
            return
        with self._lock:
            self.counts[stage] = self.counts.get(stage, 0) + 1
            self.ms[stage] = self.ms.get(stage, 0.0) + event.duration_ms
            if stage == "render":
                self.shots += 1

    def per_shot_ms(self) -> dict[str, float]:
        with self._lock:
            shots = max(self.shots, 1)
            return {stage: round(self.ms.get(stage, 0.0) / shots, 1) for stage in STAGE_EVENTS}


@dataclass
class EpisodeJob:
    """An episode in hand: its plan and a segment job per segment (a future of the segment's approved files)."""

    number: int
    title: str
    segments: list[Future[list[str]]]

    def unfinished(self) -> int:
        return sum(not job.done() for job in self.segments)

    def done(self) -> bool:
        return all(job.done() for job in self.segments)


MAX_EPISODES_IN_FLIGHT = 2
"""Episodes in hand at once: the one finishing and the next, planned as soon as a worker has no segment of the
first to make, so the render stage never waits."""


@dataclass
class Production:
    """Makes episodes through the graphs, segments in parallel, pausing while the buffer is full or a person paused
    it."""

    context: StudioContext
    """The show, settings, tools, writer and station every node gets; production reads the same ones."""
    stop_event: threading.Event = field(default_factory=threading.Event)
    paused: threading.Event = field(default_factory=threading.Event)
    """Set while a person has paused production: no new step starts."""
    finished_episodes: list[Path] = field(default_factory=list)
    rate: ProductionRate = field(default_factory=ProductionRate)
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Segment id → a person's decision, waiting for the segment's review node to take it."""
    _requests_lock: threading.Lock = field(default_factory=threading.Lock)
    remakes: list[RemakeRequest] = field(default_factory=list)
    """Re-prompts accepted and waiting to be made, oldest first: made between the steps of the segments in hand
    (their renders go through the render stage like any other)."""
    finished: bool = False
    """Production made the episodes it was asked for and takes no more work."""
    render_stage: RenderStage | None = None
    """The stage that owns the GPU; a channel passes one shared by its shows. Left out, production makes its own."""
    depth: int | None = None
    """Segments made at once; left out, `settings.pipeline_depth`."""
    stages: StageClock = field(default_factory=StageClock)
    demand: threading.Event = field(default_factory=threading.Event)
    """Set while production has work in hand (the render stage counts its idle time as starved only then)."""
    _progress: threading.Event = field(default_factory=threading.Event)
    """Set when a segment job starts or ends (what `run` waits for)."""
    winding_down: threading.Event = field(default_factory=threading.Event)
    """Set: `run` starts no new episode, finishes the ones in hand and returns."""
    _remake_lock: threading.Lock = field(default_factory=threading.Lock)
    _clock_lock: threading.Lock = field(default_factory=threading.Lock)
    _busy_since: float | None = None
    _pause_waiters: int = 0
    _pause_began: float = 0.0

    def __post_init__(self) -> None:
        connection = sqlite3.connect(self.context.settings.data_dir / "checkpoints.sqlite", check_same_thread=False)
        # As the station store: WAL (LangGraph's saver sets it) without an fsync per step. A killed process loses
        # nothing committed; a power cut may lose the last steps, which are then made again.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
        from langgraph.checkpoint.sqlite import SqliteSaver

        # Only our own plan types may be revived from a checkpoint.
        serde = JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES)
        self.checkpointer = SqliteSaver(connection, serde=serde)
        self.episode_graph = build_episode_graph(self.checkpointer)
        self.segment_graph = build_segment_graph(self.checkpointer)
        self.depth = self.depth or self.context.settings.pipeline_depth
        self._owns_stage = self.render_stage is None
        if self.render_stage is None:
            farm = self.context.render_farm
            self.render_stage = RenderStage(
                paused=self.paused, stopping=self.stop_event, demand=self.demand, slots=farm.slots if farm else 1
            )
        self.context.render_stage = self.render_stage
        self.pool = ThreadPoolExecutor(max_workers=self.depth, thread_name_prefix=f"studio-{self.context.show_key}")
        self.context.gate = self.gate
        self.context.rate = self.rate_now

    @property
    def station(self) -> Station:
        return self.context.station

    def record(self, events: Iterable[dict[str, Any]] | None) -> None:
        """Write a node's events to the store (each once), and count what production made."""
        typed = [ev.event_from_dict(payload) for payload in events or ()]
        if not typed:
            return
        for event, row_id in zip(typed, self.station.record_many(typed), strict=True):
            if row_id is None:
                continue
            self.stages.add(event)
            if isinstance(event, ev.SegmentApproved):
                with self._clock_lock:
                    self.rate.approved_seconds += event.seconds

    # --- the clock ------------------------------------------------------------------------------------------------

    def _working(self, working: bool) -> None:
        """Production has work in hand (or not): the rate's busy time runs only while it has."""
        with self._clock_lock:
            now = time.perf_counter()
            if working and self._busy_since is None:
                self._busy_since = now
                self.demand.set()
            elif not working and self._busy_since is not None:
                self.rate.busy_seconds += now - self._busy_since
                self._busy_since = None
                self.demand.clear()

    def rate_now(self) -> float | None:
        """The production rate with the time worked so far counted (what the showrunner's buffer watch reads)."""
        self._tick()
        return self.rate.value()

    def _tick(self) -> None:
        """Bring the rate's busy time up to now (while working)."""
        with self._clock_lock:
            if self._busy_since is not None:
                now = time.perf_counter()
                self.rate.busy_seconds += now - self._busy_since
                self._busy_since = now

    # --- waiting --------------------------------------------------------------------------------------------------

    def gate(self) -> None:
        """Block while paused (time paused is not counted as busy); raise `ProductionStopped` when stopping. Between
        steps, re-prompted shots waiting to be made are made first."""
        if self.paused.is_set() and not self.stop_event.is_set():
            with self._clock_lock:
                self._pause_waiters += 1
                if self._pause_waiters == 1:
                    self._pause_began = time.perf_counter()
            try:
                while self.paused.is_set() and not self.stop_event.is_set():
                    self.stop_event.wait(0.2)
            finally:
                with self._clock_lock:
                    self._pause_waiters -= 1
                    if self._pause_waiters == 0:
                        self.rate.busy_seconds -= time.perf_counter() - self._pause_began
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
        """Make the re-prompts waiting, one after another (not while paused, nor inside one another, nor on two
        threads at once)."""
        from studio.remake import remake

        if not self._remake_lock.acquire(blocking=False):
            return
        try:
            while not self.paused.is_set() and not self.stop_event.is_set():
                with self._requests_lock:
                    if not self.remakes:
                        return
                    request = self.remakes.pop(0)
                try:
                    outcome = remake(self.context, request, self.station.record_many)
                except Exception as error:  # noqa: BLE001 - a failing re-prompt must not take the channel down
                    log.exception("re-prompt %s failed", request.command_id)
                    outcome = (False, f"could not be made: {type(error).__name__}: {error}"[:500])
                if outcome is None:
                    return  # stopping: the command is answered when the station runs again
                applied, text = outcome
                answer = (
                    self.context.event(ev.CommandApplied, command_id=request.command_id, kind="reprompt", effect=text)
                    if applied
                    else self.context.event(
                        ev.CommandRejected, command_id=request.command_id, kind="reprompt", reason=text
                    )  # fmt: skip
                )
                self.station.record(answer)
        finally:
            self._remake_lock.release()

    def buffer_full(self, in_hand: Iterable[EpisodeJob] = ()) -> bool:
        """Whether the approved seconds queued ahead of the playhead, with the planned seconds of the episodes in
        hand still to be made, reach the buffer target."""
        show = self.context.show_key
        seconds = self.station.buffered_seconds(show)
        for job in in_hand:
            seconds += sum(
                entry.planned_seconds for entry in self.station.rundown(show, episode=job.number)
                if entry.status == "planned"
            )  # fmt: skip
        return seconds >= self.context.settings.buffer_target_s

    def wait_for_buffer_room(self) -> None:
        """The showrunner's buffer watch: no new episode while enough approved material is queued."""
        show = self.context.show_key
        target = self.context.settings.buffer_target_s
        announced = False
        while not self.stop_event.is_set() and self.buffer_full():
            if not announced:
                self._working(False)
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

    # --- threads --------------------------------------------------------------------------------------------------

    def _thread_id(self, number: int) -> str:
        """The episode's planning thread (`studio.checkpoint_retention` reads its episode number from it)."""
        return f"{self.context.show_key}-seed{self.context.seed}-e{number:04d}"

    def segment_thread_id(self, number: int, index: int) -> str:
        """The thread that makes segment `index` (from 0) of episode `number`."""
        return f"{self._thread_id(number)}-s{index + 1:02d}"

    @staticmethod
    def _config(thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}}

    def next_episode_number(self, in_hand: Iterable[int] = ()) -> int:
        """The lowest unfinished episode not in hand, else one after every episode known."""
        taken = set(in_hand)
        episodes = self.station.episodes(self.context.show_key)
        unfinished = [e["number"] for e in episodes if e["status"] == "planned" and e["number"] not in taken]
        if unfinished:
            return min(unfinished)
        return max([e["number"] for e in episodes] + list(taken), default=0) + 1

    # --- episodes -------------------------------------------------------------------------------------------------

    def make_episode(self, number: int) -> Path | None:
        """Plan (or resume) one episode and make its segments (at once, up to the pipeline's depth). Returns the
        episode file, or None if stopped or empty."""
        self._working(True)
        try:
            job = self.start_episode(number)
            return None if job is None else self.finish_episode(job)
        finally:
            self._working(False)

    def start_episode(self, number: int) -> EpisodeJob | None:
        """Plan (or take the saved plan of) episode `number` and queue a job for each of its segments. None when
        the station stops first."""
        config = self._config(self._thread_id(number))
        snapshot = self.episode_graph.get_state(config)
        values: dict[str, Any] = dict(snapshot.values or {})
        if values:
            # Whatever the last checkpoint decided may not have reached the store before the station stopped.
            self.record(values.get("events"))
            self._announce_resume(number, values)
        if values.get("plan") is None:
            # `next` leaves out a step whose node finished (its writes are saved) before the checkpoint after it was:
            # a kill in that window. Its task is still pending, and resuming applies its writes.
            pending = snapshot.next or tuple(task.name for task in snapshot.tasks)
            graph_input = None if values and pending else {"episode_number": number, "approved_segments": []}
            try:
                self.gate()
                for chunk in self.episode_graph.stream(
                    graph_input, config, context=self.context, stream_mode="updates", durability="sync"
                ):
                    for update in chunk.values():
                        if isinstance(update, dict):
                            self.record(update.get("events"))
            except ProductionStopped:
                return None
            if self.stop_event.is_set():
                return None
            values = dict(self.episode_graph.get_state(config).values)
        plan = values["plan"]
        inputs = {
            "episode_number": number, "plan": plan, "steering": list(values.get("steering", [])),
            "segment_scale": values.get("segment_scale", 1.0), "max_repairs": values.get("max_repairs"),
        }  # fmt: skip
        segments = [self.pool.submit(self._segment_job, number, index, inputs) for index in range(len(plan.segments))]
        return EpisodeJob(number, plan.title, segments)

    def _announce_resume(self, number: int, values: dict[str, Any]) -> None:
        """`EpisodeResumed` with where each unfinished thread of the episode goes on."""
        steps: list[str] = []
        plan = values.get("plan")
        if plan is None:
            steps.append("showrunner")
        else:
            for index in range(len(plan.segments)):
                snapshot = self.segment_graph.get_state(self._config(self.segment_thread_id(number, index)))
                pending = snapshot.next or tuple(task.name for task in snapshot.tasks)
                if snapshot.values and pending:
                    steps.append(", ".join(pending) if len(plan.segments) == 1 else
                                 f"segment {index + 1}: {', '.join(pending)}")  # fmt: skip
        if steps or plan is None:
            self.station.record(self.context.event(ev.EpisodeResumed, episode=number, next_step="; ".join(steps)))

    def _segment_job(self, number: int, index: int, inputs: dict[str, Any]) -> list[str]:
        """Make (or resume) one segment's thread on a worker; returns the files it approved. Raises
        `ProductionStopped` when the station stops first."""
        self._progress.set()
        try:
            return self._make_segment(number, index, inputs)
        finally:
            self._progress.set()

    def _make_segment(self, number: int, index: int, inputs: dict[str, Any]) -> list[str]:
        ctx = self.context
        segment_id = ctx.segment_id(number, index)
        config = self._config(self.segment_thread_id(number, index))
        snapshot = self.segment_graph.get_state(config)
        if snapshot.values:
            self.record(snapshot.values.get("events"))
        pending = snapshot.next or tuple(task.name for task in snapshot.tasks)
        if snapshot.values and not pending:
            return list(snapshot.values.get("approved_segments", []))
        graph_input: Any = None
        if not snapshot.values:
            entry = self.station.segment(segment_id)
            if entry is not None and entry.status != "planned":
                return []  # made (or dropped) before, by an earlier version's episode thread
            graph_input = {**inputs, "segment_index": index, "approved_segments": []}
        if ctx.invalidated(segment_id):
            return []
        stepped = False
        try:
            while True:
                self.gate()
                for chunk in self.segment_graph.stream(
                    graph_input, config, context=ctx, stream_mode="updates", durability="sync"
                ):
                    stepped = True
                    for update in chunk.values():
                        if isinstance(update, dict):
                            self.record(update.get("events"))
                    self.gate()
                    if "review" in chunk:
                        continue  # a person's decision ends the segment: no planned work is left to cancel
                    if reason := ctx.invalidated(segment_id):
                        raise SegmentCancelled(reason)
                snapshot = self.segment_graph.get_state(config)
                if not snapshot.interrupts:
                    break
                # Manual approval: the review node waits for a person's decision (checkpointed, so a restart
                # waits again for the same segment); it is resumed with it.
                decision = self.wait_for_review(str(snapshot.interrupts[0].value["segment_id"]))
                if decision is None:
                    raise ProductionStopped("the station is stopping")
                graph_input = Command(resume=decision)
        except SegmentCancelled as cancelled:
            if stepped:
                self.station.record(
                    ctx.event(
                        ev.SegmentWorkCancelled,
                        episode=number,
                        segment=index,
                        segment_id=segment_id,
                        reason=str(cancelled),
                    )  # fmt: skip
                )
            return []
        finally:
            if not self.stop_event.is_set():
                self._measured()
        return list(self.segment_graph.get_state(config).values.get("approved_segments", []))

    def _measured(self) -> None:
        """A `PipelineMeasured` with the render stage's busy fraction and each stage's time per shot so far."""
        assert self.render_stage is not None
        self._tick()
        stats = self.render_stage.stats()
        fraction = stats.busy_fraction
        self.station.record(
            self.context.event(
                ev.PipelineMeasured,
                render_busy_fraction=round(fraction, 4) if fraction is not None else None,
                render_busy_s=round(stats.busy_s, 3),
                render_starved_s=round(stats.starved_s, 3),
                renders=stats.jobs,
                renders_cancelled=stats.cancelled,
                renders_queued=stats.queued,
                render_queue_wait_s=round(stats.queue_wait_s, 3),
                per_shot_ms=self.stages.per_shot_ms(),
                depth=self.depth or 1,
                rate=round(value, 4) if (value := self.rate.value()) is not None else None,
            )  # fmt: skip
        )

    def finish_episode(self, job: EpisodeJob) -> Path | None:
        """Wait for the episode's segments, then assemble its file. None when stopped or empty; raises what a
        segment's job raised (the episode is tried again from its checkpoints)."""
        failure: BaseException | None = None
        for segment in job.segments:
            try:
                self._wait(segment)
            except ProductionStopped:
                return None
            except Exception as error:  # noqa: BLE001 - the first failure is raised once all have ended
                failure = failure or error
        if self.stop_event.is_set():
            return None
        if failure is not None:
            raise failure
        number = job.number
        made = [
            entry for entry in self.station.rundown(self.context.show_key, episode=number)
            if entry.status in ("approved", "on_air", "aired", "skipped") and entry.path is not None
        ]  # fmt: skip
        if not made:
            outcome: ev.Event = self.context.event(
                ev.EpisodeEmpty, episode=number, title=job.title, reason="no segment was approved"
            )
            path = None
        else:
            outcome = assemble_episode(self.context, number, job.title,
                                       [Path(entry.path) for entry in made if entry.path])  # fmt: skip
            path = Path(outcome.path)  # type: ignore[attr-defined]
        self.station.record(outcome)
        self._delete_threads(job)
        if path is not None:
            self.finished_episodes.append(path)
        return path

    def _wait(self, future: Future[list[str]]) -> list[str]:
        while True:
            try:
                return future.result(timeout=0.2)
            except FutureTimeout:
                if self.stop_event.is_set() and not future.running():
                    future.cancel()
                    raise ProductionStopped("the station is stopping") from None

    def _delete_threads(self, job: EpisodeJob) -> None:
        self.checkpointer.delete_thread(self._thread_id(job.number))
        for index in range(len(job.segments)):
            self.checkpointer.delete_thread(self.segment_thread_id(job.number, index))

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

    def run(self, episodes: int | None) -> list[Path]:
        """Make episodes until `episodes` are made (None: until stopped), keeping the next one planned and queued
        while the last segments of the one before are made."""
        made = 0
        failures: dict[int, int] = {}
        in_hand: list[EpisodeJob] = []
        started = 0
        try:
            while not self.stop_event.is_set():
                self.make_remakes()
                wanted = (episodes is None or started < episodes) and not self.winding_down.is_set()
                # The next episode is planned just in time: when a worker would otherwise have no segment to make
                # (so a steering note reaches the earliest plan it can without the render stage going idle).
                unfinished = sum(job.unfinished() for job in in_hand)
                room = len(in_hand) < MAX_EPISODES_IN_FLIGHT and unfinished < (self.depth or 1)
                if wanted and room and not (in_hand and self.buffer_full(in_hand)):
                    if not in_hand:
                        self.wait_for_buffer_room()
                    try:
                        self.gate()
                    except ProductionStopped:
                        break
                    self._working(True)
                    job = self.start_episode(self.next_episode_number(job.number for job in in_hand))
                    if job is None:
                        break
                    in_hand.append(job)
                    started += 1
                    continue
                if not in_hand:
                    if not wanted:
                        break
                    continue
                head = in_hand[0]
                if not head.done():
                    # Woken when a segment job starts or ends: the next episode is planned once a worker is free.
                    self._progress.wait(0.5)
                    self._progress.clear()
                    continue
                in_hand.pop(0)
                outcome = self._finish(head, failures)
                if outcome is None:
                    break
                if outcome == 0:  # failed, to be tried again (from its checkpoints)
                    started -= 1
                made += outcome
                if not in_hand:
                    self._working(False)
        finally:
            self._working(False)
        self.finish(made)
        return self.finished_episodes

    def _finish(self, job: EpisodeJob, failures: dict[int, int]) -> int | None:
        """Finish an episode in hand: 1 when done (or given up after failing too often), 0 when it failed and will
        be tried again, None when stopping."""
        try:
            self.finish_episode(job)
        except Exception as error:  # noqa: BLE001 - a failing episode must not take the channel down
            return self._failed(job.number, error, failures)
        return None if self.stop_event.is_set() else 1

    def _failed(self, number: int, error: BaseException, failures: dict[int, int]) -> int:
        failures[number] = failures.get(number, 0) + 1
        gave_up = failures[number] >= MAX_EPISODE_FAILURES
        log.error("episode %s failed", number, exc_info=error)
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

    def make_next_episode(self, failures: dict[int, int]) -> int | None:
        """Make (or resume) the next episode: 1 when it is done (or given up after failing too often), 0 when it
        failed and will be tried again, None when the station is stopping. `failures` counts failures per episode
        across calls."""
        number = self.next_episode_number()
        try:
            self.make_episode(number)
        except Exception as error:  # noqa: BLE001 - a failing episode must not take the channel down
            return self._failed(number, error, failures)
        if self.stop_event.is_set():
            return None
        return 1

    def finish(self, made: int) -> None:
        """Production is over (unless stopping): what a person re-prompted before the end is still made, then
        `ProductionFinished`."""
        if self.stop_event.is_set():
            self.close()
            return
        while True:
            self.make_remakes()
            with self._requests_lock:
                if not self.remakes or self.stop_event.is_set():
                    self.finished = True
                    break
            self.stop_event.wait(0.2)  # paused: wait for a resume
        self.station.record(self.context.event(ev.ProductionFinished, episodes=made))

    def close(self) -> None:
        """Let the workers and the render stage go: queued work fails with `ProductionStopped`, and segment jobs in
        progress end at their next step (a render in progress on the stage finishes on its own)."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self._owns_stage and self.render_stage is not None:
            self.render_stage.close()

    def _give_up(self, number: int) -> None:
        """Close an episode that keeps failing: its unmade segments are dropped, what was approved still airs."""
        self.checkpointer.delete_thread(self._thread_id(number))
        plan_rows = self.station.rundown(self.context.show_key, episode=number)
        for index in range(max((entry.segment_index for entry in plan_rows), default=-1) + 1):
            self.checkpointer.delete_thread(self.segment_thread_id(number, index))
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
