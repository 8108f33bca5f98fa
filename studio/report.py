"""`studio report`: what a station did in one episode or a time range, gathered from its store for a person to read.

This module gathers (events, rundown, commands, contact sheets as PNG bytes); `studio.report_html` writes the one
self-contained HTML file. Everything comes from the station store and the media files it names: a clip pruned from
disk is said to be gone, never an error.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from studio import events as ev
from studio.errors import ConfigError
from studio.report_sheets import SheetMaker

if TYPE_CHECKING:
    from studio.station import Command, LoggedEvent, RundownEntry, Station

COMMAND_EVENT_TYPES: tuple[str, ...] = tuple(
    name for name, cls in ev.EVENT_TYPES.items() if "command_id" in {item.name for item in dataclasses.fields(cls)}
)
"""Every event that names the command it applied (the answer, and what changed because of it)."""


@dataclass(frozen=True)
class ClipRecord:
    """One render of a shot (an attempt), with what the critic said of it and the picture of its evidence."""

    shot_id: str
    attempt: int
    rendered: ev.ClipRendered | None
    verdict: ev.VerdictGiven | None
    repaired: ev.ShotRepaired | None = None
    """The repair that asked for this render (attempts after the first)."""
    reprompted: ev.ShotReprompted | None = None
    """A person's new prompt that asked for this render."""
    sheet_jpeg: bytes | None = None
    sheet_note: str = ""
    """Where the contact sheet came from, or why there is none (the clip was pruned)."""


@dataclass(frozen=True)
class ShotRecord:
    designed: ev.DesignedShot
    motion: str
    """The intended camera and subject motion, in words."""
    clips: list[ClipRecord]
    dropped: ev.ShotDropped | None = None


@dataclass(frozen=True)
class SegmentRecord:
    segment_id: str
    index: int
    title: str
    entry: RundownEntry | None
    written: ev.SegmentWritten | None
    shots: list[ShotRecord]
    outcome: list[ev.Event]
    """What post and the people did with it: approved, dropped, remade, rejected …"""


@dataclass(frozen=True)
class EpisodeRecord:
    number: int
    planned: ev.EpisodePlanned | None
    segments: list[SegmentRecord]
    outcome: list[ev.Event]
    """Assembled, empty, failed."""


@dataclass(frozen=True)
class AiringRow:
    at: float
    segment_id: str
    episode: int | None
    seconds: float
    status: str
    """aired, aired again (hold), skipped, on air, filler."""
    why: str = ""
    filler_seconds: float = 0.0


@dataclass(frozen=True)
class CheckRate:
    check: str
    failed: int
    judged: int

    @property
    def rate(self) -> float:
        return self.failed / self.judged if self.judged else 0.0


@dataclass(frozen=True)
class SteeringRecord:
    command: Command
    answer: ev.Event | None
    """`CommandApplied` or `CommandRejected`; None while it waits."""
    effects: list[ev.Event]
    """Every other event that names the command (a skip, a pinned trait, a remade segment …)."""
    followed_in: ev.EpisodePlanned | None = None
    """For a note: the first plan that followed it."""


@dataclass(frozen=True)
class Report:
    show: str
    title: str
    range_text: str
    generated_at: float
    started: ev.StationStarted | None
    episodes: list[EpisodeRecord]
    airing: list[AiringRow]
    rates: list[CheckRate]
    verdicts: int
    steering: list[SteeringRecord]
    counts: dict[str, int] = field(default_factory=dict)
    """Events of each type in the range."""


def gather_report(
    station: Station,
    show: str,
    *,
    episode: int | None = None,
    since: float | None = None,
    until: float | None = None,
    contact_sheets: bool = True,
) -> Report:
    """Everything the report shows for `show`: one episode, a time range, or both (their intersection)."""
    numbers = [row["number"] for row in station.episodes(show)]
    if episode is not None and episode not in numbers:
        known = (
            "it has planned no episode yet"
            if not numbers
            else f"it has episode {numbers[0]}"
            if len(numbers) == 1
            else f"it has episodes {numbers[0]}–{numbers[-1]}"
        )
        raise ConfigError(
            f"no episode {episode} in show {show!r} ({known}): pick one from `studio log --type EpisodePlanned`"
        )
    logged = station.events(show=show, episode=episode, since=since, until=until)
    if episode is not None and logged:
        # Filler has no episode: what aired between the episode's first and last event belongs to its airing.
        fillers = station.events(show=show, types=["FillerAired"], since=logged[0].ts, until=logged[-1].ts)
        logged = sorted([*logged, *fillers], key=lambda item: item.id)
    events = [item.event for item in logged]
    started = station.events(show=show, types=["StationStarted"], until=until, last=1)
    start_event = started[0].event if started and isinstance(started[0].event, ev.StationStarted) else None
    rundown = {entry.segment_id: entry for entry in station.rundown(show, episode=episode)}
    failures = station.critic_failures(show, episode=episode, since=since, until=until)
    verdicts = sum(isinstance(event, ev.VerdictGiven) for event in events)
    checks = _checks_judged(events)
    rates = [CheckRate(check, failures.get(check, 0), verdicts) for check in dict.fromkeys([*checks, *failures])]
    rates.sort(key=lambda rate: (-rate.failed, rate.check))
    counts: dict[str, int] = {}
    for event in events:
        counts[event.type] = counts.get(event.type, 0) + 1
    with tempfile.TemporaryDirectory(prefix="studio-report-") as scratch:
        sheets = SheetMaker(Path(scratch), enabled=contact_sheets)
        by_episode: dict[int, list[ev.Event]] = {}
        for event in events:
            if event.episode is not None:
                by_episode.setdefault(event.episode, []).append(event)
        episodes = [_episode(number, by_episode[number], rundown, sheets) for number in sorted(by_episode)]
    return Report(
        show=show,
        title=(start_event.title if start_event is not None else "") or show,
        range_text=_range_text(episode, since, until, logged),
        generated_at=time.time(),
        started=start_event,
        episodes=episodes,
        airing=_airing(logged),
        rates=rates,
        verdicts=verdicts,
        steering=_steering(station, show, episode, since, until, events),
        counts=counts,
    )


def _range_text(episode: int | None, since: float | None, until: float | None, logged: list[LoggedEvent]) -> str:
    from datetime import datetime

    def clock(at: float) -> str:
        return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")

    parts = [f"episode {episode}"] if episode is not None else []
    if since is not None or until is not None:
        parts.append(
            f"from {clock(since) if since is not None else 'the start'} to {clock(until) if until is not None else 'now'}"
        )
    if not parts:
        parts.append("the whole log")
    span = f" (events {clock(logged[0].ts)} – {clock(logged[-1].ts)})" if logged else " (no event in it)"
    return ", ".join(parts) + span


def _checks_judged(events: list[ev.Event]) -> list[str]:
    names: dict[str, None] = {}
    for event in events:
        if isinstance(event, ev.VerdictGiven):
            for check in event.verdict.get("checks", []):
                if isinstance(check, dict) and check.get("check"):
                    names.setdefault(str(check["check"]))
    return list(names)


# --- episodes, segments, shots, clips ------------------------------------------------------------------------------


def _episode(
    number: int, events: list[ev.Event], rundown: dict[str, RundownEntry], sheets: SheetMaker
) -> EpisodeRecord:
    planned = next((e for e in reversed(events) if isinstance(e, ev.EpisodePlanned)), None)
    order: dict[str, tuple[int, str]] = {}
    if planned is not None:
        order = {item.segment_id: (index, item.title) for index, item in enumerate(planned.segments)}
    for entry in rundown.values():
        if entry.episode == number:
            order.setdefault(entry.segment_id, (entry.segment_index, entry.title))
    for event in events:
        segment_id = getattr(event, "segment_id", None)
        if isinstance(segment_id, str) and segment_id not in order and event.segment is not None:
            order[segment_id] = (event.segment, segment_id)
    by_segment: dict[int, list[ev.Event]] = {}
    for event in events:
        if event.segment is not None:
            by_segment.setdefault(event.segment, []).append(event)
    segments = [
        _segment(segment_id, index, title, rundown.get(segment_id), by_segment.get(index, []), sheets)
        for segment_id, (index, title) in sorted(order.items(), key=lambda item: item[1][0])
    ]
    outcome = [e for e in events if isinstance(e, ev.EpisodeAssembled | ev.EpisodeEmpty | ev.ProductionFailed)]
    return EpisodeRecord(number, planned, segments, outcome)


_SEGMENT_OUTCOMES = (
    ev.SegmentApproved, ev.SegmentDropped, ev.SegmentAwaitingReview, ev.SegmentRemade, ev.RepromptFailed,
    ev.SegmentRejected, ev.SegmentRemoved, ev.SegmentReinstated,
)  # fmt: skip


def _segment(
    segment_id: str,
    index: int,
    title: str,
    entry: RundownEntry | None,
    events: list[ev.Event],
    sheets: SheetMaker,
) -> SegmentRecord:
    written = next((e for e in reversed(events) if isinstance(e, ev.SegmentWritten)), None)
    designed = next((e for e in reversed(events) if isinstance(e, ev.ShotsDesigned)), None)
    motions = _recipe_motions(events)
    shot_ids = [shot.shot_id for shot in designed.shots] if designed is not None else []
    shot_ids += sorted({e.shot for e in events if e.shot and e.shot not in shot_ids})  # type: ignore[misc]
    shots = []
    for shot_id in shot_ids:
        design = next((shot for shot in designed.shots if shot.shot_id == shot_id), None) if designed else None
        if design is None:
            design = ev.DesignedShot(shot_id, "", "", 0.0, 0)
        shots.append(_shot(design, motions.get(shot_id), [e for e in events if e.shot == shot_id], sheets))
    outcome = [e for e in events if isinstance(e, _SEGMENT_OUTCOMES) and getattr(e, "segment_id", None) == segment_id]
    return SegmentRecord(segment_id, index, title, entry, written, shots, outcome)


def _recipe_motions(events: list[ev.Event]) -> dict[str, str]:
    """Each shot's intended motion in words, from what post recorded the segment was made of."""
    from studio.plan import MotionSpec

    motions: dict[str, str] = {}
    for event in events:
        recipe = getattr(event, "recipe", None) or {}
        for item in recipe.get("shots", []):
            shot = item.get("shot", {}) if isinstance(item, dict) else {}
            try:
                motions[str(shot["id"])] = MotionSpec.model_validate(shot["motion"]).describe()
            except (KeyError, TypeError, ValueError):
                continue
    return motions


def _shot(design: ev.DesignedShot, motion: str | None, events: list[ev.Event], sheets: SheetMaker) -> ShotRecord:
    if motion is None:
        from studio.vocabulary import motion_from_prompt

        motion = f"{motion_from_prompt(design.prompt).describe()} (read from the prompt)" if design.prompt else ""
    attempts = sorted({e.attempt for e in events if isinstance(e, ev.ClipRendered | ev.VerdictGiven)})
    clips = []
    for attempt in attempts:
        rendered = next((e for e in reversed(events) if isinstance(e, ev.ClipRendered) and e.attempt == attempt), None)
        verdict = next((e for e in reversed(events) if isinstance(e, ev.VerdictGiven) and e.attempt == attempt), None)
        repaired = next((e for e in events if isinstance(e, ev.ShotRepaired) and e.attempt == attempt), None)
        reprompted = next((e for e in events if isinstance(e, ev.ShotReprompted) and e.attempt == attempt), None)
        sheet, note = sheets.sheet(rendered, verdict)
        clips.append(ClipRecord(design.shot_id, attempt, rendered, verdict, repaired, reprompted, sheet, note))
    dropped = next((e for e in events if isinstance(e, ev.ShotDropped)), None)
    return ShotRecord(design, motion, clips, dropped)


# --- what aired, and steering --------------------------------------------------------------------------------------


def _airing(logged: list[LoggedEvent]) -> list[AiringRow]:
    """The timeline: each segment put on air (aired, again on hold, or skipped and why), each stretch of filler."""
    rows: list[AiringRow] = []
    open_rows: dict[str, int] = {}
    for item in logged:
        event = item.event
        if isinstance(event, ev.SegmentOnAir):
            status = _again(event) or "on air"
            open_rows[event.segment_id] = len(rows)
            rows.append(AiringRow(item.ts, event.segment_id, event.episode, event.seconds, status))
        elif isinstance(event, ev.SegmentAired | ev.SegmentSkipped):
            skipped = isinstance(event, ev.SegmentSkipped)
            status = "skipped" if skipped else _again(event) or "aired"
            why = event.reason if isinstance(event, ev.SegmentSkipped) else ""
            at = open_rows.pop(event.segment_id, None)
            if at is None:
                rows.append(AiringRow(item.ts, event.segment_id, event.episode, 0.0 if skipped else event.seconds,
                                      status, why))  # fmt: skip
            else:
                rows[at] = dataclasses.replace(rows[at], status=status, why=why)
        elif isinstance(event, ev.RerunDropped):
            at = open_rows.pop(event.segment_id, None)
            row = AiringRow(item.ts, event.segment_id, event.episode, 0.0, "rerun dropped", event.reason)
            if at is None:
                rows.append(row)
            else:
                rows[at] = dataclasses.replace(rows[at], status=row.status, why=row.why)
        elif isinstance(event, ev.FillerAired):
            where = "inside an episode: " if event.inside_episode else ""
            rows.append(
                AiringRow(
                    item.ts - event.seconds,
                    "",
                    None,
                    0.0,
                    "filler",
                    f"{event.what}, {where}{event.reason}",
                    event.seconds,
                )
            )
    return rows


def _again(event: ev.Event) -> str:
    """How a segment aired again (a rerun between episodes, a repeat on hold), or "" the first time."""
    if getattr(event, "rerun", False):
        return "aired again (rerun)"
    return "aired again (hold)" if getattr(event, "repeat", False) else ""


def _steering(
    station: Station, show: str, episode: int | None, since: float | None, until: float | None, events: list[ev.Event]
) -> list[SteeringRecord]:
    related = [item.event for item in station.events(show=show, types=COMMAND_EVENT_TYPES)]
    repeats = [
        item.event for item in station.events(show=show, types=["SegmentAired"])
        if item.event.repeat and not item.event.rerun  # type: ignore[attr-defined]
    ]  # fmt: skip
    releases = [e for e in related if isinstance(e, ev.CommandApplied) and e.kind == "release"]
    plans = [item.event for item in station.events(show=show, types=["EpisodePlanned"])]
    in_range = {getattr(event, "command_id", None) for event in events} - {None}
    records = []
    for command in station.commands(show=show):
        mine = [event for event in related if getattr(event, "command_id", None) == command.id]
        asked_in_range = (since is None or command.ts >= since) and (until is None or command.ts <= until)
        if command.id not in in_range and not (episode is None and asked_in_range):
            continue
        answer = next((e for e in mine if isinstance(e, ev.CommandApplied | ev.CommandRejected)), None)
        effects = [e for e in mine if e is not answer and not isinstance(e, ev.CommandReceived)]
        if command.kind == "hold" and isinstance(answer, ev.CommandApplied):
            # A hold changes what airs, not the log of the command: the repeats until the next release are its effect.
            end = next((r.at for r in releases if r.at > answer.at), float("inf"))
            effects += [e for e in repeats if answer.at <= e.at <= end]
        followed = None
        note = str(command.args.get("note", "")) if command.kind == "steer" else ""
        if note:
            followed = next((p for p in plans if isinstance(p, ev.EpisodePlanned) and note in p.steering), None)
        records.append(SteeringRecord(command, answer, effects, followed))
    return records
