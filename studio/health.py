"""A station's health, read from its store: what `studio status` prints and what the metrics endpoint serves.

Every figure comes from the store (one query each, however long the log has grown), so it is the same whether the
station runs in this process, in another, or has stopped; counts are since the data dir was created.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from studio import events as ev
from studio.broadcast.guide import now_and_next

if TYPE_CHECKING:
    from studio.station import Station

RATE_WINDOW_S = 900.0
"""The production rate is measured over the last 15 minutes (or since the station started, if later)."""


@dataclass(frozen=True)
class Health:
    show: str
    title: str
    running: bool
    started_at: float | None
    writer: str
    player_url: str
    filler: str
    outputs: dict[str, bool]
    """`hls`, `rtmp` → up (True) or lost."""
    now: dict[str, Any] | None
    """As the web page shows it: a segment or the ident, and since when."""
    next: list[dict[str, Any]]
    buffered_seconds: float
    buffer_target_s: float
    production_rate: float | None
    """On-air seconds approved per wall second over the last 15 minutes; None before any."""
    paused: bool
    hold: bool
    manual_approval: bool
    counts: dict[str, int] = field(default_factory=dict)
    """Events of each type, ever: `SegmentApproved`, `SegmentAired`, `SegmentDropped`, `EncoderRestarted` …"""
    critic_failures: dict[str, int] = field(default_factory=dict)
    """Failed verdicts by check."""
    filler_seconds: float = 0.0
    """Seconds of ident or card aired, ever."""
    commands_waiting: int = 0
    strategy: str = ""
    """How the showrunner made the latest episode given the buffer (normal, lean, reruns), and why."""
    strategy_reason: str = ""
    pipeline: ev.PipelineMeasured | None = None
    """The production pipeline's latest measurement (render-stage busy fraction, each stage's time per shot)."""
    render_workers: dict[str, dict[str, float]] = field(default_factory=dict)
    """Render workers on a Ray cluster (`--ray`), as the log names them → over the last 15 minutes: `shots`
    rendered, `per_minute`, `render_s` (mean seconds a shot), `lost` (times lost mid-shot)."""


def read_health(station: Station, show: str, *, running: bool, now: float | None = None) -> Health:
    now = time.time() if now is None else now
    started = station.events(show=show, types=["StationStarted"], last=1)
    start_event = next((logged.event for logged in started if isinstance(logged.event, ev.StationStarted)), None)
    started_at = started[0].ts if started else None
    if not running and started:
        stopped = station.events(show=show, types=["StationStopped"], after_id=started[0].id, limit=1)
        now = stopped[0].ts if stopped else now  # the rate of the last run, not one decaying since it stopped
    title = (start_event.title if start_event is not None else "") or show
    outputs: dict[str, bool] = {}
    if start_event is not None:
        outputs = dict.fromkeys(start_event.output_names(), True)
        after = started[0].id
        for logged in station.events(show=show, types=["OutputLost", "OutputRestored"], after_id=after):
            outputs[logged.event.output] = isinstance(logged.event, ev.OutputRestored)  # type: ignore[attr-defined]
    guide = now_and_next(station, show, title)
    window_start = max(started_at or now, now - RATE_WINDOW_S)
    approved = station.total_seconds(show, "SegmentApproved", since=window_start)
    rate = approved / (now - window_start) if approved > 0 and now - window_start >= 1.0 else None
    measured = station.events(show=show, types=["PipelineMeasured"], last=1)
    pipeline = measured[0].event if measured and isinstance(measured[0].event, ev.PipelineMeasured) else None
    workers = render_workers(station, show, since=window_start, until=now)
    planned = station.events(show=show, types=["EpisodePlanned"], last=1)
    plan = planned[0].event if planned and isinstance(planned[0].event, ev.EpisodePlanned) else None
    return Health(
        show=show,
        title=title,
        running=running,
        started_at=started_at,
        writer=start_event.writer if start_event is not None else "",
        player_url=start_event.player_url if start_event is not None else "",
        filler=start_event.filler if start_event is not None else "",
        outputs=outputs if running else {output: False for output in outputs},
        now=guide["now"] if running else None,
        next=guide["next"],
        buffered_seconds=station.buffered_seconds(show),
        buffer_target_s=start_event.buffer_target_s if start_event is not None else 0.0,
        production_rate=rate,
        paused=station.flag(show, "paused"),
        hold=station.flag(show, "hold"),
        manual_approval=station.flag(show, "manual_approval"),
        counts=station.event_counts(show),
        critic_failures=station.critic_failures(show),
        filler_seconds=station.total_seconds(show, "FillerAired"),
        commands_waiting=len(station.commands(show=show, statuses=("pending", "received"))),
        strategy=plan.strategy if plan is not None else "",
        strategy_reason=plan.strategy_reason if plan is not None else "",
        pipeline=pipeline,
        render_workers=workers,
    )


def render_workers(station: Station, show: str, *, since: float, until: float) -> dict[str, dict[str, float]]:
    """Each Ray render worker's shots between `since` and `until` (`Health.render_workers`); empty when shots render
    on the station's own machine."""
    shots: Counter[str] = Counter()
    seconds: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    for logged in station.events(show=show, types=["ClipRendered", "RenderWorkerLost"], since=since, until=until):
        event = logged.event
        if isinstance(event, ev.RenderWorkerLost):
            lost[event.worker] += 1
        elif isinstance(event, ev.ClipRendered) and not event.reused:
            worker = next((facts.get("worker") for facts in event.stages.values() if isinstance(facts, dict)), None)
            if worker:
                shots[worker] += 1
                seconds[worker] += event.duration_ms / 1000
    minutes = max(until - since, 1.0) / 60
    return {
        worker: {"shots": shots[worker], "per_minute": shots[worker] / minutes,
                 "render_s": seconds[worker] / shots[worker] if shots[worker] else 0.0, "lost": lost[worker]}
        for worker in shots | lost
    }  # fmt: skip
