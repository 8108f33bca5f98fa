"""What the TUI shows, read from the station store alone: no Textual here, so it is tested directly.

`StationView.refresh()` reads the events recorded since the last call and keeps what the screens need: what is on
air and since when, each shot's state (rendering → critiquing → approved, repaired or dropped) with its verdict
and evidence pictures, which outputs are live, the production rate, and the commands this front-end sent with
their answers. The rundown, the buffer and the station flags are read from the store's tables as they are.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from studio import events as ev
from studio.station import QUEUED_STATUSES, SegmentStatus

if TYPE_CHECKING:
    from studio.station import Command, LoggedEvent, RundownEntry, Station

LOG_HISTORY = 5000
RATE_WINDOW_S = 900.0
"""The production rate is measured over the last 15 minutes of approvals."""


REMAKING = ("re-making", "rendering", "critiquing", "repairing")
"""What a shot of a made segment goes through again when a person re-prompts it."""


DONE_STATUSES = frozenset(get_args(SegmentStatus)) - {*QUEUED_STATUSES, "held"}
"""Rundown statuses of a segment that will not air (again): aired, skipped, dropped, rejected, removed."""
HISTORY_ROWS = 12
"""Done segments the rundown table keeps showing, the latest ones."""


@dataclass
class ShotState:
    shot_id: str
    episode: int | None
    segment: int | None
    status: str = "designed"
    """designed, rendering, critiquing, repairing, approved, dropped; re-making once a person re-prompted it"""
    attempt: int = 0
    prompt: str = ""
    seconds: float = 0.0
    verdict: str = ""
    backend: str = ""
    thumbnail: str = ""
    contact_sheet: str = ""
    since: float = 0.0


@dataclass(frozen=True)
class OnAir:
    """What playout is airing: a segment (with its id) or the filler card (with why)."""

    since: float
    seconds: float | None
    segment_id: str = ""
    episode: int | None = None
    reason: str = ""
    repeat: bool = False

    @property
    def is_filler(self) -> bool:
        return not self.segment_id


@dataclass(frozen=True)
class RundownRow:
    """One line of the rundown: a segment, or one of its shots (`shot_id` set)."""

    key: str
    episode: int
    segment_id: str
    label: str
    """`e3 s2` for a segment, `  sh01` for a shot."""
    title: str
    """The segment's title, or the shot's prompt."""
    state: str
    attempts: str = ""
    verdict: str = ""
    seconds: float = 0.0
    shot_id: str = ""


@dataclass(frozen=True)
class LogFilter:
    agent: str = ""
    episode: int | None = None
    verdict: str = ""
    """"" (every event), "passed" or "failed": only the critic's verdicts of that kind."""

    def keeps(self, event: ev.Event) -> bool:
        if self.agent and event.agent != self.agent:
            return False
        if self.episode is not None and event.episode != self.episode:
            return False
        if self.verdict:
            if not isinstance(event, ev.VerdictGiven):
                return False
            return event.passed == (self.verdict == "passed")
        return True


@dataclass
class StationView:
    """The station as a front-end sees it. `clock` is injectable so screens can be drawn for a fixed moment."""

    station: Station
    show: str
    clock: Callable[[], float] = time.time
    log: deque[LoggedEvent] = field(default_factory=lambda: deque(maxlen=LOG_HISTORY))
    shots: dict[str, ShotState] = field(default_factory=dict)
    on_air: OnAir | None = None
    outputs: dict[str, bool] = field(default_factory=dict)
    started_at: float | None = None
    stopped: str = ""
    player_url: str = ""
    writer: str = ""
    buffer_target_s: float = 0.0
    approvals: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=500))
    awaiting: set[str] = field(default_factory=set)
    """Segments made and waiting for a person (manual approval)."""
    pipeline: ev.PipelineMeasured | None = None
    """The production pipeline's latest measurement: render-stage busy fraction, each stage's time per shot."""
    last_id: int = 0

    def refresh(self) -> list[LoggedEvent]:
        """Read what was recorded since the last call; returns it (oldest first). The first call reads the station's
        latest start and at most `LOG_HISTORY` events after it, so attaching to a station that has run for weeks
        is quick."""
        if self.last_id == 0:
            started = self.station.events(show=self.show, types=["StationStarted"], last=1)
            after = started[0].id - 1 if started else 0
            new = self.station.events(show=self.show, after_id=after, last=LOG_HISTORY)
            if started and (not new or new[0].id != started[0].id):
                new = [started[0], *new]
        else:
            new = self.station.events(show=self.show, after_id=self.last_id)
        for logged in new:
            self.last_id = logged.id
            self.log.append(logged)
            self._apply(logged)
        return new

    # --- what the events mean -----------------------------------------------------------------------------------

    def _apply(self, logged: LoggedEvent) -> None:
        event = logged.event
        match event:
            case ev.StationStarted():
                self.started_at = logged.ts
                self.stopped = ""
                self.player_url = event.player_url
                self.writer = event.writer
                self.buffer_target_s = event.buffer_target_s
                self.outputs = dict.fromkeys(event.output_names(), True)
                self.on_air = None
            case ev.StationStopped():
                self.stopped = event.reason
                self.on_air = None
                self.outputs = {output: False for output in self.outputs}
            case ev.ShotsDesigned():
                for shot in event.shots:
                    state = self._shot(shot.shot_id, event)
                    state.prompt, state.seconds = shot.prompt, shot.seconds
            case ev.ShotRepaired():
                state = self._shot(event.shot or "", event)
                state.status, state.prompt, state.since = "repairing", event.prompt, logged.ts
            case ev.RenderStarted():
                state = self._shot(event.shot or "", event)
                state.status, state.attempt, state.since = "rendering", event.attempt, logged.ts
            case ev.ClipRendered():
                state = self._shot(event.shot or "", event)
                state.status, state.backend, state.since = "critiquing", event.backend, logged.ts
            case ev.VerdictGiven():
                state = self._shot(event.shot or "", event)
                state.attempt, state.since = event.attempt, logged.ts
                state.status = "approved" if event.passed else "repairing"
                state.verdict = (
                    f"pass {event.score:.2f}"
                    if event.passed
                    else "fail: " + ", ".join(failure.split(" (")[0] for failure in event.failures)
                )
                state.thumbnail = event.thumbnail or state.thumbnail
                state.contact_sheet = event.contact_sheet or state.contact_sheet
            case ev.ShotDropped():
                self._shot(event.shot or "", event).status = "dropped"
            case ev.ShotReprompted():
                state = self._shot(event.shot or "", event)
                state.status, state.prompt, state.attempt, state.since = (
                    "re-making",
                    event.prompt,
                    event.attempt,
                    logged.ts,
                )
            case ev.RepromptFailed():
                state = self._shot(event.shot or "", event)
                state.status, state.prompt, state.since = "approved", event.previous_prompt, logged.ts
                state.verdict = "re-prompt failed: " + event.reason
            case ev.SegmentRemade():
                self._shot(event.shot or "", event).status = "approved"
            case ev.SegmentAwaitingReview():
                self.awaiting.add(event.segment_id)
            case ev.SegmentApproved():
                self.approvals.append((logged.ts, event.seconds))
                self.awaiting.discard(event.segment_id)
            case ev.SegmentRejected() | ev.SegmentDropped():
                self.awaiting.discard(event.segment_id)
            case ev.PipelineMeasured():
                self.pipeline = event
            case ev.SegmentOnAir():
                self.on_air = OnAir(logged.ts, event.seconds, event.segment_id, event.episode, repeat=event.repeat)
            case ev.FillerStarted():
                self.on_air = OnAir(logged.ts, None, reason=event.reason)
            case ev.SegmentAired() | ev.SegmentSkipped():
                if self.on_air is not None and self.on_air.segment_id == event.segment_id:
                    self.on_air = None
            case ev.OutputLost():
                self.outputs[event.output] = False
            case ev.OutputRestored():
                self.outputs[event.output] = True
            case ev.PlayoutEnded():
                self.on_air = None
            case _:
                pass

    def _shot(self, shot_id: str, event: ev.Event) -> ShotState:
        if shot_id not in self.shots:
            self.shots[shot_id] = ShotState(shot_id, event.episode, event.segment)
        return self.shots[shot_id]

    # --- on air -------------------------------------------------------------------------------------------------

    def seconds_to_next_join(self) -> float | None:
        """Until the segment on air ends (None for the filler card, which ends when something can air)."""
        if self.on_air is None or self.on_air.seconds is None:
            return None
        return max(0.0, self.on_air.since + self.on_air.seconds - self.clock())

    def buffered_seconds(self) -> float:
        """Approved material ahead of the playhead: what is queued, less what of the segment on air has aired."""
        buffered = self.station.buffered_seconds(self.show)
        if self.on_air is not None and self.on_air.seconds is not None and not self.on_air.repeat:
            buffered -= min(self.on_air.seconds, max(0.0, self.clock() - self.on_air.since))
        return max(0.0, buffered)

    def production_rate(self) -> float | None:
        """Seconds of show approved per second of wall time over the last window (None before the first)."""
        now = self.clock()
        start = max(self.started_at or now, now - RATE_WINDOW_S)
        made = sum(seconds for at, seconds in self.approvals if at >= start)
        if now - start < 1.0 or not made:
            return None
        return made / (now - start)

    def now_playing(self) -> RundownEntry | None:
        if self.on_air is None or self.on_air.is_filler:
            return None
        return self.station.segment(self.on_air.segment_id)

    def up_next(self, count: int = 3) -> list[RundownEntry]:
        playing = self.on_air.segment_id if self.on_air is not None else ""
        return [entry for entry in self.station.queue(self.show) if entry.segment_id != playing][:count]

    def shot_on_air(self) -> ShotState | None:
        """The shot the playhead is in: the segment's approved shots laid end to end from when it went on air."""
        entry = self.now_playing()
        if entry is None or self.on_air is None:
            return None
        shots = [
            shot
            for shot in self.shots.values()
            if shot.episode == entry.episode and shot.segment == entry.segment_index and shot.status == "approved"
        ]
        if not shots:
            return None
        elapsed = max(0.0, self.clock() - self.on_air.since)
        for shot in shots:
            if elapsed < shot.seconds:
                return shot
            elapsed -= shot.seconds
        return shots[-1]

    def thumbnail(self) -> Path | None:
        """The picture of what is on air: the current shot's thumbnail, when the critic wrote one."""
        shot = self.shot_on_air()
        if shot is None or not shot.thumbnail:
            return None
        path = Path(shot.thumbnail)
        return path if path.is_file() else None

    def flags(self) -> dict[str, bool]:
        return {key: self.station.flag(self.show, key) for key in ("paused", "hold", "manual_approval")}

    # --- rundown ------------------------------------------------------------------------------------------------

    def rundown_rows(self, *, with_shots: bool = True, history: int | None = HISTORY_ROWS) -> list[RundownRow]:
        """The rundown as the table shows it: every segment still to air, and the last `history` that are done
        (aired, skipped, rejected, removed, dropped; None: all of them). A channel that has run for a week has
        thousands of those, and the table is redrawn whenever a row changes: only the rows shown are read, and the
        shots of segments no longer shown are forgotten, so neither grows with the channel's age."""
        rows: list[RundownRow] = []
        if history is None:
            entries = self.station.rundown(self.show)
        else:
            entries = self.station.rundown_tail(self.show, done=DONE_STATUSES, keep_done=history)
            shown = {(entry.episode, entry.segment_index) for entry in entries}
            if any((shot.episode, shot.segment) not in shown for shot in self.shots.values()):
                self.shots = {key: shot for key, shot in self.shots.items() if (shot.episode, shot.segment) in shown}
        shots_of: dict[tuple[int, int], list[ShotState]] = {}
        for shot in self.shots.values():
            shots_of.setdefault((shot.episode, shot.segment), []).append(shot)
        for entry in entries:
            shots = shots_of.get((entry.episode, entry.segment_index), [])
            rows.append(
                RundownRow(
                    key=entry.segment_id,
                    episode=entry.episode,
                    segment_id=entry.segment_id,
                    label=f"e{entry.episode} s{entry.segment_index + 1}",
                    title=entry.title,
                    state=self.segment_state(entry, shots),
                    attempts=str(sum(shot.attempt + 1 for shot in shots if shot.status != "designed") or ""),
                    verdict=entry.note if entry.status in ("skipped", "rejected", "removed", "dropped", "held") else "",
                    seconds=entry.seconds or entry.planned_seconds,
                )  # fmt: skip
            )
            if with_shots and entry.status in ("planned", "approved"):
                for shot in shots:
                    rows.append(
                        RundownRow(
                            key=shot.shot_id,
                            episode=entry.episode,
                            segment_id=entry.segment_id,
                            label="  " + shot.shot_id.rsplit("-", 1)[-1],
                            title=shot.prompt,
                            state=shot.status,
                            attempts=str(shot.attempt + 1),
                            verdict=shot.verdict,
                            seconds=shot.seconds,
                            shot_id=shot.shot_id,
                        )  # fmt: skip
                    )
        return rows

    def segment_state(self, entry: RundownEntry, shots: Iterable[ShotState]) -> str:
        shots = list(shots)
        if entry.status in ("planned", "approved") and any(shot.status in REMAKING for shot in shots):
            if entry.status == "approved" or entry.segment_id in self.awaiting:
                return "re-making"
        if entry.status != "planned":
            if self.on_air is not None and self.on_air.segment_id == entry.segment_id:
                return "on air"
            return entry.status.replace("_", " ")
        if entry.segment_id in self.awaiting:
            return "awaiting review"
        if not shots:
            return "planned"
        counts: dict[str, int] = {}
        for shot in shots:
            counts[shot.status] = counts.get(shot.status, 0) + 1
        done = counts.get("approved", 0) + counts.get("dropped", 0)
        for status in ("rendering", "critiquing", "repairing"):
            if counts.get(status):
                return f"{status} {done}/{len(shots)}"
        return "post" if done == len(shots) else f"writing {done}/{len(shots)}"

    # --- log and commands ---------------------------------------------------------------------------------------

    def filtered_log(self, log_filter: LogFilter, limit: int = 500) -> list[LoggedEvent]:
        kept = [logged for logged in self.log if log_filter.keeps(logged.event)]
        return kept[-limit:]

    def agents(self) -> list[str]:
        return sorted({logged.event.agent for logged in self.log})

    def commands(self, limit: int = 50) -> list[Command]:
        return self.station.commands(show=self.show)[-limit:]

    def send(self, kind: str, /, **args: Any) -> int:
        """Add a command for the station; returns its id (its answer arrives as an event)."""
        return self.station.add_command(self.show, kind, args)

    def canon_names(self) -> dict[str, str]:
        """Character and place names (any case) → their kind, for pinning a trait by name."""
        return {entry.name.casefold(): entry.kind for entry in self.station.canon(self.show)}


def answer_to(event: ev.Event, command_ids: Iterable[int]) -> tuple[bool, str] | None:
    """`(applied, text)` when `event` answers one of `command_ids`."""
    ids = set(command_ids)
    if isinstance(event, ev.CommandApplied) and event.command_id in ids:
        return True, f"command {event.command_id} ({event.kind}) applied: {event.effect}"
    if isinstance(event, ev.CommandRejected) and event.command_id in ids:
        return False, f"command {event.command_id} ({event.kind}) rejected: {event.reason}"
    return None
