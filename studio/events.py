"""The event vocabulary: everything that happens on a station, as frozen dataclasses (past-tense facts).

Events are the station's only record. Nodes return them in their state updates, production writes them to the
station store once (deduplicated by `event_id`, so a replayed checkpoint never logs twice), playout and the command
processor write theirs directly. `studio log` renders `summary()`, `studio log --json` prints `to_dict()` with every
field, and any front-end reads them back typed with `event_from_dict`.

Fields are plain JSON values, tuples of them, or the small frozen records defined here; `Mapping` fields hold a
structured output verbatim (a plan, a verdict) for "open it to see what it said".
"""

from __future__ import annotations

import dataclasses
import time
import types
import typing
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["EVENT_TYPES", "Event", "event_from_dict", "where"]


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, kw_only=True)
class Event:
    """What every event carries: where it belongs, who did it, with what, and how long it took."""

    agent: ClassVar[str] = "station"

    show: str
    """The show's key (slug of its title)."""
    episode: int | None = None
    segment: int | None = None
    """Index of the segment in its episode, from 0."""
    shot: str | None = None
    backend: str = ""
    """Which backend or writer made this decision (`offline-director`, `procedural → ffmpeg`, …)."""
    duration_ms: float = 0.0
    at: float = field(default_factory=time.time)
    """When it happened (Unix time)."""
    event_id: str = field(default_factory=_new_id)
    """Unique id: a replayed checkpoint carries the same id, and the store keeps the first."""

    @property
    def type(self) -> str:
        return type(self).__name__

    def summary(self) -> str:
        """One line a person reads in `studio log`."""
        return self.type

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-ready values, plus `type` and `agent`."""
        payload: dict[str, Any] = {"type": self.type, "agent": self.agent}
        for item in dataclasses.fields(self):
            payload[item.name] = _plain(getattr(self, item.name))
        return payload


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {item.name: _plain(getattr(value, item.name)) for item in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def size(count: int) -> str:
    """Bytes as a person reads them: `812 B`, `48.0 kB`, `1.25 GB` (powers of 1000, as the media budget)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(count) >= scale:
            return f"{count / scale:.{2 if unit == 'GB' else 1}f} {unit}"
    return f"{count} B"


def where(event: Event) -> str:
    """`e3 s2 e0003-s02-sh01`: the episode, segment (from 1) and shot an event belongs to."""
    parts = []
    if event.episode is not None:
        parts.append(f"e{event.episode}")
    if event.segment is not None:
        parts.append(f"s{event.segment + 1}")
    if event.shot:
        parts.append(event.shot)
    return " ".join(parts)


# --- records inside events ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedSegment:
    segment_id: str
    title: str
    format: str
    seconds: float


@dataclass(frozen=True)
class DesignedShot:
    shot_id: str
    prompt: str
    negative_prompt: str
    seconds: float
    seed: int
    characters: tuple[str, ...] = ()
    place: str = ""


# --- the station --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StationStarted(Event):
    version: str
    writer: str
    """Who writes the plans: the offline director or an OpenAI-compatible model (its URL masked)."""
    backends: Mapping[str, str]
    """Tool kind → selected backend."""
    seed: int
    data_dir: str
    player_url: str
    outputs: tuple[str, ...] = ()
    """Where the channel goes: `hls`, and the RTMP URL with its key masked."""
    buffer_target_s: float = 0.0
    """How many seconds of approved show production keeps ahead of the playhead."""
    filler: str = ""
    """What airs when nothing else can: `ident` (the show's own), or the plain card and why."""
    title: str = ""
    """The show's title, as the show file writes it."""
    metrics_url: str = ""
    """Where Prometheus metrics are served (loopback), when they are."""

    def output_names(self) -> list[str]:
        """The outputs as `OutputLost`/`OutputRestored` name them: `hls`, `rtmp` (here RTMP is its masked URL)."""
        return [output.split(":", 1)[0] if "://" in output else output for output in self.outputs]

    def summary(self) -> str:
        tools = ", ".join(f"{kind} {name}" for kind, name in self.backends.items())
        return f"station started: studio {self.version}, seed {self.seed}, writer {self.writer}; {tools}; on air at {self.player_url}"


@dataclass(frozen=True, kw_only=True)
class StationStopped(Event):
    reason: str

    def summary(self) -> str:
        return f"station stopped: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class ProductionPaused(Event):
    agent: ClassVar[str] = "showrunner"
    reason: str
    buffered_seconds: float = 0.0

    def summary(self) -> str:
        return f"production paused: {self.reason} ({self.buffered_seconds:.0f} s buffered)"


@dataclass(frozen=True, kw_only=True)
class ProductionResumed(Event):
    agent: ClassVar[str] = "showrunner"
    reason: str

    def summary(self) -> str:
        return f"production resumed: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class ProductionFinished(Event):
    agent: ClassVar[str] = "showrunner"
    episodes: int

    def summary(self) -> str:
        return f"production finished: {self.episodes} episode(s) made; airing what is still queued"


@dataclass(frozen=True, kw_only=True)
class ProductionFailed(Event):
    """An episode's graph raised something no tool error covers; production tries the episode again from its last
    checkpoint, and gives it up after a few failures so the channel goes on."""

    agent: ClassVar[str] = "showrunner"
    error: str
    attempt: int
    gave_up: bool = False

    def summary(self) -> str:
        then = "giving the episode up" if self.gave_up else "trying again from its last checkpoint"
        return f"episode {self.episode} failed (attempt {self.attempt}): {self.error}; {then}"


@dataclass(frozen=True, kw_only=True)
class PipelineMeasured(Event):
    """How the production pipeline is doing, after each segment job ends: the render stage's busy fraction (busy
    over busy plus idle while production had work in hand) and each stage's time per shot attempt so far."""

    agent: ClassVar[str] = "showrunner"
    render_busy_fraction: float | None
    render_busy_s: float
    render_starved_s: float
    """Seconds the render stage sat idle while production had work in hand (waiting for the agents)."""
    renders: int
    renders_cancelled: int = 0
    renders_queued: int = 0
    render_queue_wait_s: float = 0.0
    per_shot_ms: Mapping[str, float] = field(default_factory=dict)
    """plan, render, critique, post → milliseconds of that stage's work per shot attempt."""
    depth: int = 1
    """Segments made at once."""
    rate: float | None = None
    """On-air seconds approved per wall second production worked (this run)."""

    def describe_stages(self) -> str:
        return ", ".join(f"{stage} {_ms(ms)}" for stage, ms in self.per_shot_ms.items())

    def summary(self) -> str:
        busy = f"{self.render_busy_fraction:.0%}" if self.render_busy_fraction is not None else "not measured yet"
        rate = f", {self.rate:.2f}x real time" if self.rate is not None else ""
        return (f"render stage busy {busy} ({self.renders} renders, {self.render_starved_s:.1f} s waiting for the"
                f" agents){rate}; per shot: {self.describe_stages()}")  # fmt: skip


def _ms(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"


# --- showrunner, screenwriter, cinematographer ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EpisodePlanned(Event):
    agent: ClassVar[str] = "showrunner"
    title: str
    topic: str
    logline: str
    segments: tuple[PlannedSegment, ...]
    planned_seconds: float
    steering: tuple[str, ...] = ()
    """The producer's notes this plan followed."""
    buffered_seconds: float = 0.0
    plan: Mapping[str, Any] = field(default_factory=dict)
    """The structured plan as written."""
    novelty: str = "new"
    """new, or variation (every topic of the show has aired: it revisits the nearest earlier premise)."""
    nearest_premise: str = ""
    """The most similar premise already planned, from the memory, and how similar (cosine, 0-1)."""
    nearest_similarity: float = 0.0
    nearest_episode: int | None = None
    rejected_premises: tuple[str, ...] = ()
    """Premises this plan replaced because they were too close to one already aired."""
    strategy: str = "normal"
    """How the showrunner makes this episode given the buffer (`studio.strategy`): normal, lean or reruns."""
    strategy_reason: str = ""
    segment_scale: float = 1.0

    def summary(self) -> str:
        steered = f"; following {len(self.steering)} note(s)" if self.steering else ""
        novelty = ""
        if self.novelty != "new" and self.nearest_episode is not None:
            novelty = f"; a {self.novelty} of episode {self.nearest_episode}"
        elif self.nearest_premise:
            novelty = f"; nearest earlier premise {self.nearest_similarity:.2f} (episode {self.nearest_episode})"
        return (
            f"episode {self.episode}: {self.title!r} ({len(self.segments)} segments, {self.planned_seconds:g} s planned"
            f"{steered}{novelty}{'' if self.strategy == 'normal' else f'; {self.strategy}'})"
        )


@dataclass(frozen=True, kw_only=True)
class StrategyChanged(Event):
    """The showrunner makes episodes another way from this one on, because of the buffer and the production rate."""

    agent: ClassVar[str] = "showrunner"
    strategy: str
    previous: str
    reason: str
    segment_scale: float = 1.0
    max_repairs: int | None = None

    def summary(self) -> str:
        return f"strategy {self.previous} → {self.strategy} from episode {self.episode}: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class EpisodeResumed(Event):
    agent: ClassVar[str] = "showrunner"
    next_step: str

    def summary(self) -> str:
        return f"resuming episode {self.episode} at {self.next_step}"


@dataclass(frozen=True, kw_only=True)
class SegmentWritten(Event):
    agent: ClassVar[str] = "screenwriter"
    title: str
    format: str
    mood: str
    beats: tuple[str, ...]
    seconds: float
    script: Mapping[str, Any] = field(default_factory=dict)
    previously: tuple[str, ...] = ()
    """The continuity the memory gave the writer: what these characters did in earlier episodes."""

    def summary(self) -> str:
        return f"{self.title!r}: {len(self.beats)} beats, {self.seconds:g} s, mood {self.mood!r}"


@dataclass(frozen=True, kw_only=True)
class ShotsDesigned(Event):
    agent: ClassVar[str] = "cinematographer"
    segment_title: str
    shots: tuple[DesignedShot, ...]

    def summary(self) -> str:
        return f"{len(self.shots)} shots for {self.segment_title!r}"


@dataclass(frozen=True, kw_only=True)
class ShotRepaired(Event):
    agent: ClassVar[str] = "cinematographer"
    attempt: int
    action: str
    note: str
    prompt: str
    negative_prompt: str
    seed: int
    reverse_only: bool = False

    def summary(self) -> str:
        return f"attempt {self.attempt}: {self.action} ({self.note})"


# --- render --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RenderStarted(Event):
    """Progress, not a decision: written as it happens, so a render re-run after a crash shows twice."""

    agent: ClassVar[str] = "render"
    attempt: int
    seconds: float

    def summary(self) -> str:
        return f"rendering {self.shot} (attempt {self.attempt}, {self.seconds:g} s)"


@dataclass(frozen=True, kw_only=True)
class ClipRendered(Event):
    agent: ClassVar[str] = "render"
    attempt: int
    path: str
    seconds: float
    seed: int
    stages: Mapping[str, Any] = field(default_factory=dict)
    """Stage → backend, seconds, frames, size, fps."""
    reused: bool = False
    """The render's output was already on disk (saved before a restart): nothing was rendered again."""
    queued_ms: float = 0.0
    """How long the shot waited in the render stage's queue before it started (`duration_ms` is the render)."""

    def summary(self) -> str:
        done = "reused the saved render" if self.reused else self.backend
        return f"attempt {self.attempt}, {self.seconds:g} s: {done}"


@dataclass(frozen=True, kw_only=True)
class RenderFailed(Event):
    agent: ClassVar[str] = "render"
    attempt: int
    error: str

    def summary(self) -> str:
        return f"attempt {self.attempt} failed: {self.error}"


@dataclass(frozen=True, kw_only=True)
class RenderWorkerLost(Event):
    """A render worker on a Ray cluster (`--ray`) died while it rendered this shot: the shot goes back to the
    render stage's queue for another worker (or, with none left, for this machine). Nothing approved is lost."""

    agent: ClassVar[str] = "render"
    attempt: int
    worker: str
    """The worker: its slot, node address and process (`0 (10.0.0.5 pid 4242, GPU 0)`)."""
    error: str
    """What Ray said (the actor died, its node was lost, …)."""
    workers_left: int
    """Render workers still alive; 0: shots render on the station's own machine."""

    def summary(self) -> str:
        after = f"{self.workers_left} left" if self.workers_left else "none left: rendering here"
        return f"render worker {self.worker} lost mid-shot ({self.error}); the shot goes to another ({after})"


@dataclass(frozen=True, kw_only=True)
class BackendFellBack(Event):
    agent: ClassVar[str] = "render"
    kind: str
    """Tool kind: video, upscale, extend, interpolate, music."""
    failed_backend: str
    fallback_backend: str
    reason: str

    def summary(self) -> str:
        return f"{self.kind}: {self.failed_backend} failed ({self.reason}); {self.fallback_backend} did it instead"


# --- critic --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class VerdictGiven(Event):
    agent: ClassVar[str] = "critic"
    attempt: int
    passed: bool
    score: float
    failures: tuple[str, ...] = ()
    """`check (measured detail)` for each failed check."""
    repair: str = ""
    """The repair asked for: rerender, reverse, drop, or empty when it passed."""
    repair_note: str = ""
    verdict: Mapping[str, Any] = field(default_factory=dict)
    """Every check's result and evidence."""
    contact_sheet: str = ""
    """A PNG of the evidence (sampled frames, motion arrows, text boxes read), beside the clip."""
    thumbnail: str = ""
    """A small PNG of the clip's middle frame, for the on-air panel."""

    def summary(self) -> str:
        failed = ", ".join(self.failures) or "all checks passed"
        repair = f" → {self.repair}: {self.repair_note}" if self.repair else ""
        return f"{'APPROVED' if self.passed else 'REJECTED'} attempt {self.attempt}: {failed}{repair}"


@dataclass(frozen=True, kw_only=True)
class ShotDropped(Event):
    agent: ClassVar[str] = "critic"
    attempt: int
    reason: str

    def summary(self) -> str:
        return f"{self.shot} dropped after attempt {self.attempt}: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class LessonLearned(Event):
    agent: ClassVar[str] = "critic"
    word: str
    reason: str

    def summary(self) -> str:
        return f"lesson: never ask for {self.word!r} again ({self.reason})"


# --- post ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SegmentApproved(Event):
    agent: ClassVar[str] = "post"
    segment_id: str
    path: str
    seconds: float
    shots: int
    dropped_shots: tuple[str, ...] = ()
    music_backend: str = ""
    video_seconds: float = 0.0
    audio_seconds: float = 0.0
    recipe: Mapping[str, Any] = field(default_factory=dict)
    """What the segment is made of, to make it again (a re-prompted shot): `shots` (each shot as planned and the
    clip that passed), `mood` and `music_seed`."""
    safety_gate: Mapping[str, Any] = field(default_factory=dict)
    """What the on-air safety gate saw (frames read, text found, whether the tone check ran and why not), or
    `{"checked": false, …}` when it is off or a person approved the segment over it."""

    def summary(self) -> str:
        dropped = f" (dropped shots: {', '.join(self.dropped_shots)})" if self.dropped_shots else ""
        return f"{self.segment_id}: {self.shots} shots, {self.seconds:.2f} s{dropped}"


@dataclass(frozen=True, kw_only=True)
class SegmentDropped(Event):
    agent: ClassVar[str] = "post"
    segment_id: str
    reason: str

    def summary(self) -> str:
        return f"{self.segment_id} dropped: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class SegmentAwaitingReview(Event):
    """Manual approval: the segment is made and waits for a person (approve or reject it); production waits too."""

    agent: ClassVar[str] = "post"
    segment_id: str
    path: str
    seconds: float
    recipe: Mapping[str, Any] = field(default_factory=dict)
    """As in `SegmentApproved`: a segment waiting for review can be re-prompted."""

    def summary(self) -> str:
        return f"{self.segment_id} ({self.seconds:.2f} s) waits for a person: `studio approve|reject {self.segment_id}`"


@dataclass(frozen=True, kw_only=True)
class SegmentHeld(Event):
    """The on-air safety gate failed the conformed segment: it is held, not aired, until a person approves it
    (`studio approve`, which overrides the gate), rejects it, or re-prompts a shot (the new version is gated
    again). Playout goes on without it."""

    agent: ClassVar[str] = "post"
    segment_id: str
    path: str
    seconds: float
    reasons: tuple[str, ...]
    """Why, one line per fault: text in the picture, avoided words, outside the show's tone."""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    """What the gate read and where (`text`: each line with its time, confidence, corner and box), the avoided
    words found, and what the tone check said or why it did not run."""
    recipe: Mapping[str, Any] = field(default_factory=dict)
    """As in `SegmentApproved`: a held segment can be re-prompted."""

    def summary(self) -> str:
        return (
            f"{self.segment_id} held, not aired: {'; '.join(self.reasons)} (`studio approve|reject {self.segment_id}`)"
        )


@dataclass(frozen=True, kw_only=True)
class ShotReprompted(Event):
    """A person rewrote the prompt of a shot in a made segment: the shot is rendered again from it, judged by the
    critic, and the segment is made again around it."""

    agent: ClassVar[str] = "cinematographer"
    segment_id: str
    attempt: int
    prompt: str
    previous_prompt: str
    command_id: int | None = None

    def summary(self) -> str:
        return f"{self.shot} re-prompted by a person: {self.prompt!r}"


@dataclass(frozen=True, kw_only=True)
class RepromptFailed(Event):
    """A re-prompted shot could not be made (the critic failed every try, or post failed): the segment airs as it
    was, its shot as it was."""

    agent: ClassVar[str] = "critic"
    segment_id: str
    reason: str
    previous_prompt: str
    command_id: int | None = None

    def summary(self) -> str:
        return f"the re-prompt of {self.shot} failed: {self.reason}; {self.segment_id} airs as it was"


@dataclass(frozen=True, kw_only=True)
class SegmentRemade(Event):
    """A segment made again around a re-prompted shot; its file was replaced before it aired."""

    agent: ClassVar[str] = "post"
    segment_id: str
    path: str
    seconds: float
    recipe: Mapping[str, Any] = field(default_factory=dict)
    """What it is made of now (as in `SegmentApproved`)."""
    command_id: int | None = None
    video_seconds: float = 0.0
    audio_seconds: float = 0.0
    safety_gate: Mapping[str, Any] = field(default_factory=dict)
    """What the on-air safety gate saw in the new version (as in `SegmentApproved`)."""

    def summary(self) -> str:
        return f"{self.segment_id} made again with the new {self.shot} ({self.seconds:.2f} s)"


@dataclass(frozen=True, kw_only=True)
class SegmentWorkCancelled(Event):
    """A person dropped or rejected a segment while it was being made: its work in flight was abandoned (shots
    still queued for the render stage are not rendered) and nothing more is made for it."""

    agent: ClassVar[str] = "showrunner"
    segment_id: str
    reason: str

    def summary(self) -> str:
        return f"stopped making {self.segment_id}: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class EpisodeAssembled(Event):
    agent: ClassVar[str] = "post"
    title: str
    path: str
    segments: int
    video_seconds: float
    audio_seconds: float

    def summary(self) -> str:
        return f"episode {self.episode} {self.title!r}: {self.segments} segments, {self.video_seconds:.2f} s"


@dataclass(frozen=True, kw_only=True)
class EpisodeEmpty(Event):
    agent: ClassVar[str] = "post"
    title: str
    reason: str

    def summary(self) -> str:
        return f"episode {self.episode} {self.title!r} has nothing to air: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class SegmentRejected(Event):
    """A person rejected a segment: it never airs."""

    agent: ClassVar[str] = "command"
    segment_id: str
    reason: str
    command_id: int | None = None

    def summary(self) -> str:
        return f"{self.segment_id} rejected: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class SegmentRemoved(Event):
    """A person took a queued segment out of the playout queue."""

    agent: ClassVar[str] = "command"
    segment_id: str
    reason: str
    command_id: int | None = None

    def summary(self) -> str:
        return f"{self.segment_id} removed from the queue: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class ApprovalModeChanged(Event):
    """Manual approval on (every made segment waits for a person before it can air) or off (the critic decides)."""

    agent: ClassVar[str] = "command"
    manual: bool
    command_id: int | None = None

    def summary(self) -> str:
        if self.manual:
            return "manual approval: every segment made from now on waits for a person before it can air"
        return "automatic approval: segments the critic passes air without waiting"


@dataclass(frozen=True, kw_only=True)
class SegmentReinstated(Event):
    """A person approved a rejected or removed segment again: it is back in the queue."""

    agent: ClassVar[str] = "command"
    segment_id: str
    command_id: int | None = None

    def summary(self) -> str:
        return f"{self.segment_id} approved again and back in the queue"


# --- memory ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CanonChanged(Event):
    """A canonical character, place or prop: first taken from the show file, then changed by the show file or a
    person. Every prompt after it describes the entry in exactly these words."""

    agent: ClassVar[str] = "memory"
    kind: str
    """character, place or prop."""
    name: str
    description: str
    palette: tuple[str, ...]
    """Hex colours, main first: the renderer draws them and the continuity check holds the picture to them."""
    traits: tuple[str, ...] = ()
    """Trait changes pinned on top of the show file, oldest first."""
    previous_description: str = ""
    reason: str
    """Who changed what: "from the show file", "the show file changed", "pinned by a person (command 12)"."""
    command_id: int | None = None

    def summary(self) -> str:
        what = "new" if not self.previous_description else "now"
        return f"{self.kind} {self.name} {what}: {self.description!r} ({self.reason})"


@dataclass(frozen=True)
class TraitChange:
    character: str
    trait: str


@dataclass(frozen=True, kw_only=True)
class NoteInterpreted(Event):
    """What a steering note asks for: a topic, a direction for the showrunner, trait changes, and what was not
    understood (said, never guessed)."""

    agent: ClassVar[str] = "showrunner"
    command_id: int
    note: str
    topic: str = ""
    direction: str = ""
    traits: tuple[TraitChange, ...] = ()
    not_understood: tuple[str, ...] = ()

    def summary(self) -> str:
        parts = [f"topic {self.topic!r}"] if self.topic else []
        parts += [f"{change.character}: {change.trait}" for change in self.traits]
        parts += [f"direction {self.direction!r}"] if self.direction else []
        unread = f"; not understood: {'; '.join(self.not_understood)}" if self.not_understood else ""
        return f"note {self.command_id} read as {', '.join(parts) or 'nothing to do'}{unread}"


@dataclass(frozen=True)
class MemoryMatch:
    kind: str
    text: str
    similarity: float
    episode: int | None = None


@dataclass(frozen=True, kw_only=True)
class MemorySearched(Event):
    agent: ClassVar[str] = "memory"
    query: str
    matches: tuple[MemoryMatch, ...]
    command_id: int | None = None

    def summary(self) -> str:
        best = f"; best {self.matches[0].similarity:.2f}: {self.matches[0].text[:80]!r}" if self.matches else ""
        return f"searched memory for {self.query!r}: {len(self.matches)} match(es){best}"


@dataclass(frozen=True, kw_only=True)
class MemoryForgotten(Event):
    """A person took something out of the show's memory (a lesson, a pinned trait)."""

    agent: ClassVar[str] = "memory"
    kind: str
    key: str
    command_id: int | None = None

    def summary(self) -> str:
        return f"forgot {self.kind} {self.key!r}"


@dataclass(frozen=True, kw_only=True)
class MemoryRebuilt(Event):
    agent: ClassVar[str] = "memory"
    entries: int
    reason: str

    def summary(self) -> str:
        return f"memory index rebuilt from the station store: {self.entries} entries ({self.reason})"


# --- broadcast -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SegmentOnAir(Event):
    agent: ClassVar[str] = "broadcast"
    segment_id: str
    seconds: float
    repeat: bool = False
    """Aired again: playout is on hold, or a rerun."""
    rerun: bool = False
    """Aired again as a rerun, chosen to fill a gap between episodes."""

    def summary(self) -> str:
        return f"on air: {self.segment_id} ({self.seconds:.2f} s){_again(self.repeat, self.rerun)}"


@dataclass(frozen=True, kw_only=True)
class SegmentAired(Event):
    agent: ClassVar[str] = "broadcast"
    segment_id: str
    seconds: float
    repeat: bool = False
    rerun: bool = False

    def summary(self) -> str:
        return f"aired {self.segment_id} ({self.seconds:.2f} s){_again(self.repeat, self.rerun)}"


def _again(repeat: bool, rerun: bool) -> str:
    return " again (rerun)" if rerun else " again (hold)" if repeat else ""


@dataclass(frozen=True, kw_only=True)
class SegmentSkipped(Event):
    agent: ClassVar[str] = "broadcast"
    segment_id: str
    reason: str
    command_id: int | None = None
    """The command that asked for it, if a person did."""

    def summary(self) -> str:
        return f"skipped {self.segment_id}: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class FillerStarted(Event):
    agent: ClassVar[str] = "broadcast"
    reason: str
    inside_episode: bool = False
    """True when the filler interrupts an episode (what the playout gate exists to prevent)."""
    what: str = "ident"
    """What airs: the show's ident, or a coming-up card for the next episode."""

    def summary(self) -> str:
        return f"{self.what} on air{' INSIDE an episode' if self.inside_episode else ''}: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class FillerAired(Event):
    agent: ClassVar[str] = "broadcast"
    seconds: float
    reason: str
    inside_episode: bool = False
    what: str = "ident"

    def summary(self) -> str:
        where = " INSIDE an episode" if self.inside_episode else ""
        return f"{self.what} aired{where} for {self.seconds:.1f} s: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class RerunDropped(Event):
    """A rerun chosen to fill a gap could not air (its file is gone or damaged) or was skipped; the aired segment
    itself keeps its place in the log."""

    agent: ClassVar[str] = "broadcast"
    segment_id: str
    reason: str

    def summary(self) -> str:
        return f"rerun of {self.segment_id} dropped: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class ProgrammeStarted(Event):
    """A channel of several shows started an episode of `show` (its first segment goes on air now)."""

    agent: ClassVar[str] = "broadcast"
    title: str
    """The show's title."""
    air_time: str
    """When, on the channel's clock (ISO 8601 with its offset; a simulated clock in tests)."""
    slot_start: str = ""
    """The grid slot it airs in (ISO 8601), empty in a rotation."""
    slot_end: str = ""

    def summary(self) -> str:
        slot = f" in the slot {self.slot_start[11:16]}–{self.slot_end[11:16]}" if self.slot_start else ""
        return f"programme: {self.title} episode {self.episode}{slot}"


@dataclass(frozen=True, kw_only=True)
class BumperAired(Event):
    """The ident of the next show aired between two shows (`show` is the show coming up)."""

    agent: ClassVar[str] = "broadcast"
    title: str
    seconds: float
    previous_show: str = ""
    """The show the channel comes from (its key), empty at the start."""

    def summary(self) -> str:
        return f"bumper: coming up, {self.title} ({self.seconds:.1f} s)"


@dataclass(frozen=True, kw_only=True)
class EncoderRestarted(Event):
    agent: ClassVar[str] = "broadcast"
    reason: str
    restarts: int
    log_tail: str = ""
    replaying: tuple[str, ...] = ()
    """Items the muxer that ended had taken in but not written out (or was airing): they air again first."""

    def summary(self) -> str:
        tail = f" (ffmpeg: {self.log_tail})" if self.log_tail else ""
        again = f"; airing again: {', '.join(self.replaying)}" if self.replaying else ""
        return f"muxer restarted ({self.restarts} so far): {self.reason}{again}{tail}"


@dataclass(frozen=True, kw_only=True)
class FeederTimedOut(Event):
    agent: ClassVar[str] = "broadcast"
    item: str
    seconds: float

    def summary(self) -> str:
        return f"feeding {self.item} ({self.seconds:.2f} s) hung past its watchdog"


@dataclass(frozen=True, kw_only=True)
class ItemFailed(Event):
    agent: ClassVar[str] = "broadcast"
    item: str
    error: str

    def summary(self) -> str:
        return f"could not air {self.item}: {self.error}"


@dataclass(frozen=True, kw_only=True)
class OutputLost(Event):
    agent: ClassVar[str] = "broadcast"
    output: str
    """`rtmp`."""
    url: str
    """With its stream key masked."""
    note: str = ""

    def summary(self) -> str:
        return f"{self.output} output lost ({self.url}): {self.note}"


@dataclass(frozen=True, kw_only=True)
class OutputRestored(Event):
    agent: ClassVar[str] = "broadcast"
    output: str
    url: str

    def summary(self) -> str:
        return f"{self.output} output restored ({self.url})"


@dataclass(frozen=True, kw_only=True)
class PlayoutEnded(Event):
    agent: ClassVar[str] = "broadcast"
    aired_seconds: float
    finished: bool
    """True when the queue ran out after production finished; False when the station was stopped."""

    def summary(self) -> str:
        return f"playout ended after {self.aired_seconds:.1f} s on air ({'finished' if self.finished else 'stopped'})"


@dataclass(frozen=True, kw_only=True)
class PlayoutFailed(Event):
    agent: ClassVar[str] = "broadcast"
    error: str

    def summary(self) -> str:
        return f"playout failed: {self.error}"


# --- commands ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CommandReceived(Event):
    agent: ClassVar[str] = "command"
    command_id: int
    kind: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        args = " ".join(f"{key}={value!r}" for key, value in self.args.items())
        return f"command {self.command_id} received: {self.kind}{' ' + args if args else ''}"


@dataclass(frozen=True, kw_only=True)
class CommandApplied(Event):
    agent: ClassVar[str] = "command"
    command_id: int
    kind: str
    effect: str

    def summary(self) -> str:
        return f"command {self.command_id} ({self.kind}) applied: {self.effect}"


@dataclass(frozen=True, kw_only=True)
class CommandRejected(Event):
    agent: ClassVar[str] = "command"
    command_id: int
    kind: str
    reason: str

    def summary(self) -> str:
        return f"command {self.command_id} ({self.kind}) rejected: {self.reason}"


# --- retention -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MediaPruned(Event):
    """A pruning pass freed media to keep `media/` under its budget (`studio.retention`): rejected takes and shot
    renders of segments already made first, then the files of aired episodes beyond the ones kept for reruns,
    oldest first. Nothing that may still air, nor thumbnails, contact sheets or the ident, is ever deleted."""

    files: tuple[str, ...]
    """What was deleted, relative to the media dir."""
    bytes_freed: int
    reason: str
    kept_bytes: int
    """What media/ holds after the pass."""
    budget_bytes: int = 0
    kept_for_reruns: tuple[str, ...] = ()
    """The aired episodes whose segment files are kept for reruns (`show/e0003`)."""
    dry_run: bool = False

    def summary(self) -> str:
        done = "would free" if self.dry_run else "freed"
        return (
            f"media pruned: {len(self.files)} file(s), {done} {size(self.bytes_freed)} ({self.reason}); media holds"
            f" {size(self.kept_bytes)} of a {size(self.budget_bytes)} budget"
        )


@dataclass(frozen=True, kw_only=True)
class CheckpointsPruned(Event):
    """The LangGraph checkpointer was pruned: finished episodes' threads deleted, running threads cut down to their
    latest checkpoints (what a resume needs), the database vacuumed when most of it was free."""

    threads: tuple[str, ...]
    """Threads deleted whole (their episodes are finished)."""
    checkpoints_deleted: int
    writes_deleted: int
    bytes_before: int
    bytes_after: int
    vacuumed: bool = False

    def summary(self) -> str:
        vacuumed = ", vacuumed" if self.vacuumed else ""
        return (
            f"checkpoints pruned: {self.checkpoints_deleted} checkpoint(s) and {self.writes_deleted} write(s) deleted,"
            f" {len(self.threads)} finished thread(s){vacuumed}; {size(self.bytes_before)} → {size(self.bytes_after)}"
        )


# --- a store written by studio 0.1 ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LegacyEvent(Event):
    """An event written by studio 0.1 (free-form), kept readable after the store was upgraded."""

    agent: ClassVar[str] = "legacy"
    old_agent: str
    kind: str
    text: str
    output: Mapping[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        return f"[{self.old_agent} {self.kind}] {self.text}"


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        StationStarted, StationStopped, ProductionPaused, ProductionResumed, ProductionFinished, ProductionFailed,
        PipelineMeasured, SegmentWorkCancelled,
        EpisodePlanned, StrategyChanged, EpisodeResumed, SegmentWritten, ShotsDesigned, ShotRepaired,
        RenderStarted, ClipRendered, RenderFailed, RenderWorkerLost, BackendFellBack,
        VerdictGiven, ShotDropped, LessonLearned,
        SegmentApproved, SegmentDropped, SegmentAwaitingReview, SegmentHeld, ShotReprompted, RepromptFailed, SegmentRemade,
        EpisodeAssembled, EpisodeEmpty,
        SegmentRejected, SegmentRemoved, SegmentReinstated, ApprovalModeChanged,
        CanonChanged, NoteInterpreted, MemorySearched, MemoryForgotten, MemoryRebuilt,
        SegmentOnAir, SegmentAired, SegmentSkipped, FillerStarted, FillerAired, RerunDropped, ProgrammeStarted,
        BumperAired, EncoderRestarted, FeederTimedOut,
        ItemFailed, OutputLost, OutputRestored, PlayoutEnded, PlayoutFailed,
        CommandReceived, CommandApplied, CommandRejected,
        MediaPruned, CheckpointsPruned,
        LegacyEvent,
    )
}  # fmt: skip

AGENTS: tuple[str, ...] = tuple(dict.fromkeys(cls.agent for cls in EVENT_TYPES.values()))


def event_from_dict(payload: Mapping[str, Any]) -> Event:
    """The typed event `to_dict()` wrote. Unknown keys are ignored (a newer studio may add fields)."""
    type_name = payload.get("type")
    cls = EVENT_TYPES.get(str(type_name))
    if cls is None:
        raise ValueError(f"unknown event type {type_name!r}")
    return _build(cls, payload)


def _build(cls: type[Any], payload: Mapping[str, Any]) -> Any:
    hints = _hints(cls)
    values = {
        item.name: _coerce(hints[item.name], payload[item.name])
        for item in dataclasses.fields(cls)
        if item.name in payload
    }
    return cls(**values)


def _coerce(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _coerce(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        (item_hint, *_rest) = typing.get_args(hint) or (Any,)
        return tuple(_coerce(item_hint, item) for item in value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value)
    if hint is float and isinstance(value, int):
        return float(value)
    return value


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]
