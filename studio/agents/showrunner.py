"""Showrunner: plans the episode and its rundown, taking the producer's steering and the show's memory into account."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from langgraph.runtime import Runtime  # noqa: TC002 - LangGraph reads node and router hints at runtime

from studio import events as ev
from studio.state import EpisodeState, StudioContext, emitted  # noqa: TC001
from studio.strategy import Strategy, choose_strategy, segment_seconds

if TYPE_CHECKING:
    from studio.plan import EpisodePlan

# How many times a premise too close to an aired one is planned again before the plan is taken as a variation.
MAX_REPLANS = 2


def premise_text(plan: EpisodePlan) -> str:
    """What the memory compares premises by (the same words it indexes an `EpisodePlanned` by)."""
    return f"{plan.topic}: {plan.title}. {plan.logline}"


def showrunner(state: EpisodeState, runtime: Runtime[StudioContext]) -> dict[str, Any]:
    """Plan episode `episode_number`.

    Steering notes the station has received are followed and acknowledged in this node's events, so they count as
    applied only once this plan is checkpointed (a crash before re-plans with them; a crash after never uses them
    twice). A premise the memory finds too close to one already planned is planned again, avoiding it, while the
    show has topics that have not aired; after that the plan is a variation, and the event says of which episode.
    """
    ctx = runtime.context
    number = state["episode_number"]
    notes = ctx.station.commands(show=ctx.show_key, kind="steer", statuses=("received",))
    steering = [text for command in notes for text in _steering_for(ctx, command.id, str(command.args.get("note", "")))]
    steering += list(state.get("steering", []))
    aired = ctx.memory.aired_topics(before_episode=number)
    started = time.perf_counter()
    avoid = list(aired)
    rejected: list[str] = []
    threshold = ctx.settings.memory_premise_threshold
    plan, backend = ctx.director.plan_episode(
        ctx.show, number, seed=ctx.seed, recent_topics=avoid, steering=steering, avoid_premises=[]
    )
    check = ctx.memory.check_premise(plan.topic, premise_text(plan), before_episode=number)
    steered = any(text.lower().startswith("topic:") for text in steering)  # a person asked for it: never refused
    while check.too_close(threshold) and not steered and _topics_left(ctx, avoid) and len(rejected) < MAX_REPLANS:
        rejected.append(premise_text(plan))
        avoid.append(plan.topic)
        plan, backend = ctx.director.plan_episode(
            ctx.show, number, seed=ctx.seed, recent_topics=avoid, steering=steering, avoid_premises=rejected
        )
        check = ctx.memory.check_premise(plan.topic, premise_text(plan), before_episode=number)
    canon = ctx.memory.canon()
    segments = [
        s.model_copy(update={"format": fmt.name}) for s in plan.segments if (fmt := canon.format(s.format)) is not None
    ]
    if not segments:
        # An LLM that named no real format: fall back to the show's formats in order.
        segments = [
            s.model_copy(update={"format": ctx.show.formats[i % len(ctx.show.formats)].name})
            for i, s in enumerate(plan.segments)
        ]
    plan = plan.model_copy(update={"segments": segments})
    full_seconds = [canon.format(outline.format).seconds for outline in segments]  # type: ignore[union-attr]
    strategy = buffer_strategy(ctx, full_seconds)
    planned = tuple(
        ev.PlannedSegment(
            segment_id=ctx.segment_id(number, index), title=outline.title, format=outline.format,
            seconds=segment_seconds(seconds, strategy.segment_scale),
        )
        for index, (outline, seconds) in enumerate(zip(segments, full_seconds, strict=True))
    )  # fmt: skip
    planned_seconds = sum(segment.seconds for segment in planned)
    planned_event = ctx.event(
        ev.EpisodePlanned, episode=number, backend=backend, title=plan.title, topic=plan.topic, logline=plan.logline,
        segments=planned, planned_seconds=planned_seconds, steering=tuple(steering),
        buffered_seconds=round(ctx.station.buffered_seconds(ctx.show_key), 2), plan=plan.model_dump(mode="json"),
        novelty="variation" if check.too_close(threshold) and not steered else "new",
        nearest_premise=check.nearest, nearest_similarity=check.similarity, nearest_episode=check.episode,
        rejected_premises=tuple(rejected), strategy=strategy.name, strategy_reason=strategy.reason,
        segment_scale=strategy.segment_scale, duration_ms=(time.perf_counter() - started) * 1000,
    )  # fmt: skip
    changed = _strategy_change(ctx, number, strategy)
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
        "segment_scale": strategy.segment_scale,
        "max_repairs": strategy.max_repairs,
        "events": emitted(planned_event, *changed, *acknowledgements),
    }


def buffer_strategy(ctx: StudioContext, format_seconds: list[float]) -> Strategy:
    """The showrunner's buffer watch (`studio.strategy`): off, or while playout runs faster than real time (a dry
    run has no airtime to make anything in), every episode is made as planned."""
    settings = ctx.settings
    if not settings.buffer_strategy:
        return Strategy(reason="the buffer watch is off (STUDIO_BUFFER_STRATEGY)")
    if not settings.playout_realtime:
        return Strategy(reason="playout runs faster than real time: the episode is made as planned")
    return choose_strategy(
        format_seconds, buffered_s=ctx.station.buffered_seconds(ctx.show_key), rate=ctx.rate(),
        margin=settings.air_through_margin, max_repairs=settings.max_repairs,
    )  # fmt: skip


def _strategy_change(ctx: StudioContext, number: int, strategy: Strategy) -> list[ev.Event]:
    """A `StrategyChanged` when this episode is made another way than the one planned before it."""
    last = ctx.station.events(show=ctx.show_key, types=["EpisodePlanned"], last=1)
    before = last[0].event.strategy if last and isinstance(last[0].event, ev.EpisodePlanned) else "normal"
    if before == strategy.name:
        return []
    return [
        ctx.event(
            ev.StrategyChanged,
            episode=number,
            strategy=strategy.name,
            previous=before,
            reason=strategy.reason,
            segment_scale=strategy.segment_scale,
            max_repairs=strategy.max_repairs,
        )  # fmt: skip
    ]


def _topics_left(ctx: StudioContext, avoid: list[str]) -> bool:
    """Whether the show has topics not yet planned (a show without a topic list always has more to invent)."""
    done = {topic.casefold() for topic in avoid}
    return not ctx.show.topics or any(topic.casefold() not in done for topic in ctx.show.topics)


def _steering_for(ctx: StudioContext, command_id: int, note: str) -> list[str]:
    """What of a note is for the showrunner: the station reads each note when it arrives (`NoteInterpreted`) and
    applies trait changes itself; the topic and the direction are left for the plan."""
    for logged in ctx.station.events(show=ctx.show_key, types=["NoteInterpreted"]):
        reading = logged.event
        if isinstance(reading, ev.NoteInterpreted) and reading.command_id == command_id:
            return [f"topic: {reading.topic}"] * bool(reading.topic) + [reading.direction] * bool(reading.direction)
    return [note] if note.strip() else []
