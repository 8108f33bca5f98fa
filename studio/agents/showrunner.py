"""Showrunner: plans the episode and its rundown, taking the producer's steering into account."""

from __future__ import annotations

import time
from typing import Any

from langgraph.runtime import Runtime  # noqa: TC002 - LangGraph reads node and router hints at runtime

from studio import events as ev
from studio.state import EpisodeState, StudioContext, emitted  # noqa: TC001


def showrunner(state: EpisodeState, runtime: Runtime[StudioContext]) -> dict[str, Any]:
    """Plan episode `episode_number`. Steering notes the station has received are followed and acknowledged in
    this node's events, so they count as applied only once this plan is checkpointed (a crash before re-plans
    with them; a crash after never uses them twice)."""
    ctx = runtime.context
    number = state["episode_number"]
    notes = ctx.station.commands(show=ctx.show_key, kind="steer", statuses=("received",))
    steering = [str(command.args.get("note", "")) for command in notes] + list(state.get("steering", []))
    # The topics of earlier episodes, newest last: both writers take them as subjects not to repeat.
    recent = [
        logged.event.topic
        for logged in ctx.station.events(show=ctx.show_key, types=["EpisodePlanned"])
        if isinstance(logged.event, ev.EpisodePlanned)
    ]
    started = time.perf_counter()
    plan, backend = ctx.director.plan_episode(ctx.show, number, seed=ctx.seed, recent_topics=recent, steering=steering)
    known = {fmt.name.casefold(): fmt for fmt in ctx.show.formats}
    segments = [
        s.model_copy(update={"format": known[s.format.casefold()].name})
        for s in plan.segments
        if s.format.casefold() in known
    ]
    if not segments:
        # An LLM that named no real format: fall back to the show's formats in order.
        segments = [
            s.model_copy(update={"format": ctx.show.formats[i % len(ctx.show.formats)].name})
            for i, s in enumerate(plan.segments)
        ]
    plan = plan.model_copy(update={"segments": segments})
    planned = tuple(
        ev.PlannedSegment(
            segment_id=ctx.segment_id(number, index), title=outline.title, format=outline.format,
            seconds=known[outline.format.casefold()].seconds,
        )
        for index, outline in enumerate(segments)
    )  # fmt: skip
    planned_seconds = sum(segment.seconds for segment in planned)
    planned_event = ctx.event(
        ev.EpisodePlanned, episode=number, backend=backend, title=plan.title, topic=plan.topic, logline=plan.logline,
        segments=planned, planned_seconds=planned_seconds, steering=tuple(steering),
        buffered_seconds=round(ctx.station.buffered_seconds(ctx.show_key), 2), plan=plan.model_dump(mode="json"),
        duration_ms=(time.perf_counter() - started) * 1000,
    )  # fmt: skip
    acknowledgements = [
        ctx.event(
            ev.CommandApplied,
            episode=number,
            command_id=command.id,
            kind="steer",
            effect=f"followed in the plan of episode {number}, {plan.title!r}",
        )  # fmt: skip
        for command in notes
    ]
    return {
        "plan": plan,
        "segment_index": 0,
        "steering": list(state.get("steering", [])),
        "events": emitted(planned_event, *acknowledgements),
    }
