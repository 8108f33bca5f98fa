"""Critic: watches each rendered clip, approves it or sends it back with a concrete repair."""

from __future__ import annotations

import time
from typing import Any, Literal

from langgraph.runtime import Runtime  # noqa: TC002 - LangGraph reads node and router hints at runtime

from studio import events as ev
from studio.plan import CheckResult, Repair, Shot, Verdict  # noqa: TC001 - LangGraph reads node hints at runtime
from studio.state import EpisodeState, StudioContext, emitted  # noqa: TC001


def critic(state: EpisodeState, runtime: Runtime[StudioContext]) -> dict[str, Any]:
    ctx = runtime.context
    verdicts = dict(state.get("verdicts", {}))
    shots = {shot.id: shot for shot in state["shots"]}
    render_errors = state.get("render_errors", {})
    events: list[ev.Event] = []
    known_lessons = set(ctx.station.lessons(ctx.show_key))
    for shot_id in state.get("pending", []):
        ctx.gate()
        verdict, shot_events = judge_one(
            ctx, shots[shot_id], state["clips"].get(shot_id, ""), render_errors.get(shot_id, ""),
            episode=state["episode_number"], segment=state["segment_index"], known_lessons=known_lessons,
            last_attempt=state.get("max_repairs"),
        )  # fmt: skip
        verdicts[shot_id] = verdict
        events += shot_events
        if verdict.repair is not None and verdict.repair.action == "drop":
            failed = ", ".join(check.check for check in verdict.failures) or "failed"
            events.append(
                ctx.event(
                    ev.ShotDropped,
                    episode=state["episode_number"],
                    segment=state["segment_index"],
                    shot=shot_id,
                    attempt=shots[shot_id].attempt,
                    reason=f"{failed}; {verdict.repair.note}",
                )  # fmt: skip
            )
    return {"verdicts": verdicts, "events": emitted(*events)}


def judge_one(
    ctx: StudioContext,
    shot: Shot,
    clip_path: str,
    render_error: str,
    *,
    episode: int,
    segment: int,
    known_lessons: set[str],
    last_attempt: int | None = None,
) -> tuple[Verdict, list[ev.Event]]:
    """The verdict on one attempt of a shot (its render, or the error that stopped it), and the events that say so:
    the verdict and lessons not in `known_lessons` yet (added to it). From `last_attempt` (the settings'
    `max_repairs`) on, a failing verdict's repair is `drop`."""
    started = time.perf_counter()
    if render_error:
        verdict = Verdict(
            shot_id=shot.id, passed=False, score=0.0,
            checks=[CheckResult(check="duration", passed=False, score=0.0, detail=render_error)],
            repair=Repair(action="rerender", new_seed=True, note=f"render failed: {render_error}"),
        )  # fmt: skip
        backend = "render-error"
        evidence: dict[str, str] = {}
    else:
        verdict, backend, evidence = ctx.critique(clip_path, shot)
    if not verdict.passed and shot.attempt >= (ctx.settings.max_repairs if last_attempt is None else last_attempt):
        verdict = verdict.model_copy(
            update={"repair": Repair(action="drop", new_seed=False, note=f"still failing after {shot.attempt} repairs")}
        )
    where = {"episode": episode, "segment": segment, "shot": shot.id}
    events: list[ev.Event] = [
        ctx.event(
            ev.VerdictGiven,
            **where,
            backend=backend,
            attempt=shot.attempt,
            passed=verdict.passed,
            score=verdict.score,
            failures=tuple(f"{c.check} ({c.detail})" for c in verdict.failures),
            repair=verdict.repair.action if verdict.repair else "",
            repair_note=verdict.repair.note if verdict.repair else "",
            verdict=verdict.model_dump(mode="json"),
            **evidence,
            duration_ms=(time.perf_counter() - started) * 1000,
        )  # fmt: skip
    ]
    for word in ctx.lessons_from(verdict):
        if word.casefold() not in known_lessons:
            known_lessons.add(word.casefold())
            events.append(ctx.event(ev.LessonLearned, **where, word=word, reason=f"leaked as text in {shot.id}"))
    return verdict, events


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
