"""Screenwriter: one segment outline → beats with characters, place and timing."""

from __future__ import annotations

import time
from typing import Any

from langgraph.runtime import Runtime  # noqa: TC002 - LangGraph reads node and router hints at runtime

from studio import events as ev
from studio.state import EpisodeState, StudioContext, emitted  # noqa: TC001
from studio.strategy import segment_seconds


def screenwriter(state: EpisodeState, runtime: Runtime[StudioContext]) -> dict[str, Any]:
    ctx = runtime.context
    plan, index = state["plan"], state["segment_index"]
    outline = plan.segments[index]
    canon = ctx.memory.canon()
    fmt = canon.format(outline.format)
    assert fmt is not None, "the showrunner plans only formats the show has"
    cast = list(fmt.characters) or canon.names("character")
    previously = ctx.memory.previously(cast, before_episode=plan.number)
    started = time.perf_counter()
    script, backend = ctx.director.write_segment(ctx.show, plan, outline, seed=ctx.seed, previously=previously)
    # Beats are scaled so the segment lasts what its format says (shortened by a lean strategy), whatever the
    # writer's arithmetic.
    seconds = segment_seconds(fmt.seconds, state.get("segment_scale", 1.0))
    total = sum(beat.seconds for beat in script.beats)
    scale = seconds / total if total else 1.0
    script = script.model_copy(
        update={"beats": [b.model_copy(update={"seconds": round(b.seconds * scale, 3)}) for b in script.beats]}
    )
    written = ctx.event(
        ev.SegmentWritten, episode=plan.number, segment=index, backend=backend, title=script.title,
        format=script.format, mood=script.mood, beats=tuple(beat.description for beat in script.beats),
        seconds=seconds, script=script.model_dump(mode="json"), previously=tuple(previously),
        duration_ms=(time.perf_counter() - started) * 1000,
    )  # fmt: skip
    return {"script": script, "shots": [], "verdicts": {}, "clips": {}, "pending": [], "events": emitted(written)}
