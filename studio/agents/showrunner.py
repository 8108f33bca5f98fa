"""Showrunner: plans the episode and its rundown, taking the producer's steering into account."""

from __future__ import annotations

import time
from typing import Any

from langgraph.runtime import Runtime  # noqa: TC002 - LangGraph reads node and router hints at runtime

from studio.state import EpisodeState, StudioContext  # noqa: TC001


def showrunner(state: EpisodeState, runtime: Runtime[StudioContext]) -> dict[str, Any]:
    ctx = runtime.context
    number = state["episode_number"]
    steering = ctx.station.take_commands(ctx.show_key) + list(state.get("steering", []))
    recent = [episode["title"] for episode in ctx.station.episodes(ctx.show_key)]
    started = time.perf_counter()
    plan, backend = ctx.director.plan_episode(ctx.show, number, seed=ctx.seed, recent_topics=recent, steering=steering)
    known = {fmt.name.casefold(): fmt.name for fmt in ctx.show.formats}
    segments = [
        s.model_copy(update={"format": known[s.format.casefold()]})
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
    planned_seconds = sum(next(f.seconds for f in ctx.show.formats if f.name == s.format) for s in segments)
    ctx.station.set_episode(ctx.show_key, number, title=plan.title, status="planned", planned_seconds=planned_seconds)
    for index, outline in enumerate(segments):
        ctx.station.plan_segment(
            segment_id=ctx.segment_id(number, index), show=ctx.show_key, episode=number, segment_index=index,
            title=outline.title, format=outline.format,
        )  # fmt: skip
    ctx.record(
        "showrunner", "episode_planned", backend=backend, episode=number,
        summary=f"episode {number}: {plan.title!r} ({len(segments)} segments, {planned_seconds:g} s planned)",
        output={**plan.model_dump(mode="json"), "steering": steering,
                "buffered_seconds": round(ctx.station.buffered_seconds(), 2)},
        duration_ms=(time.perf_counter() - started) * 1000,
    )  # fmt: skip
    return {"plan": plan, "segment_index": 0, "steering": steering}
