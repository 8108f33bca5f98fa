"""Critic: watches each rendered clip, approves it or sends it back with a concrete repair."""

from __future__ import annotations

import time
from typing import Any, Literal

from langgraph.runtime import Runtime  # noqa: TC002 - LangGraph reads node and router hints at runtime

from studio.plan import CheckResult, Repair, Verdict
from studio.state import EpisodeState, StudioContext  # noqa: TC001


def critic(state: EpisodeState, runtime: Runtime[StudioContext]) -> dict[str, Any]:
    ctx = runtime.context
    verdicts = dict(state.get("verdicts", {}))
    shots = {shot.id: shot for shot in state["shots"]}
    render_errors = state.get("render_errors", {})
    for shot_id in state.get("pending", []):
        shot = shots[shot_id]
        started = time.perf_counter()
        if shot_id in render_errors:
            verdict = Verdict(
                shot_id=shot_id, passed=False, score=0.0,
                checks=[CheckResult(check="duration", passed=False, score=0.0, detail=render_errors[shot_id])],
                repair=Repair(action="rerender", new_seed=True, note=f"render failed: {render_errors[shot_id]}"),
            )  # fmt: skip
            backend = "render-error"
        else:
            verdict, backend = ctx.critique(state["clips"][shot_id], shot)
        if not verdict.passed and shot.attempt >= ctx.settings.max_repairs:
            verdict = verdict.model_copy(
                update={
                    "repair": Repair(action="drop", new_seed=False, note=f"still failing after {shot.attempt} repairs")
                }
            )
        for word in ctx.lessons_from(verdict):
            ctx.station.add_lesson(ctx.show_key, word, f"leaked as text in {shot_id}")
        verdicts[shot_id] = verdict
        failed = ", ".join(f"{c.check} ({c.detail})" for c in verdict.failures) or "all checks passed"
        ctx.record(
            "critic", "verdict", backend=backend, episode=state["episode_number"], segment=state["segment_index"],
            shot=shot_id, summary=f"{'APPROVED' if verdict.passed else 'REJECTED'} attempt {shot.attempt}: {failed}"
            + (f" → {verdict.repair.action}: {verdict.repair.note}" if verdict.repair else ""),
            output=verdict.model_dump(mode="json"), duration_ms=(time.perf_counter() - started) * 1000,
        )  # fmt: skip
    return {"verdicts": verdicts}


def route_after_critic(state: EpisodeState) -> Literal["cinematographer", "post"]:
    """Back to the cinematographer while any shot of this pass failed and may still be repaired."""
    verdicts = state.get("verdicts", {})
    for shot_id in state.get("pending", []):
        verdict = verdicts.get(shot_id)
        if (
            verdict is not None
            and not verdict.passed
            and verdict.repair is not None
            and verdict.repair.action != "drop"
        ):
            return "cinematographer"
    return "post"
