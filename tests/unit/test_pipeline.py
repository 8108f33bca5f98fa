"""The render stage: one thread, a bounded priority queue, cancellation, pause and stop, and its own clock."""

from __future__ import annotations

import threading
import time

import pytest

from studio.pipeline import RenderCancelled, RenderStage, RenderWorkerLost
from studio.state import ProductionStopped


def _stage(**kwargs: object) -> RenderStage:
    return RenderStage(**kwargs)  # type: ignore[arg-type]


def test_jobs_render_one_at_a_time_earliest_key_first() -> None:
    stage = _stage()
    order: list[tuple[int, int]] = []
    running = []
    gate = threading.Event()

    def job(key: tuple[int, int]) -> object:
        def run(queued_s: float, slot: int) -> tuple[int, int]:
            running.append(key)
            assert len(running) == 1, "two renders at once"
            if key == (9, 9):
                gate.wait(5)  # hold the stage while the others queue up
            order.append(key)
            running.remove(key)
            return key

        return run

    first = stage.submit((9, 9), job((9, 9)))
    time.sleep(0.1)  # the stage has taken the first job; the rest queue behind it
    futures = [stage.submit(key, job(key)) for key in [(3, 1), (1, 2), (2, 0), (1, 1)]]
    gate.set()
    assert [stage.wait(f) for f in futures] == [(3, 1), (1, 2), (2, 0), (1, 1)]
    assert stage.wait(first) == (9, 9)
    assert order == [(9, 9), (1, 1), (1, 2), (2, 0), (3, 1)], "priority order once the queue formed"
    assert stage.stats().jobs == 5
    stage.close()


def test_a_full_queue_holds_the_submitter_back_until_the_stage_takes_a_job() -> None:
    stage = _stage(capacity=2)
    release = threading.Event()
    stage.submit((0,), lambda q, slot: release.wait(5))
    time.sleep(0.1)
    stage.submit((1,), lambda q, slot: None)
    stage.submit((2,), lambda q, slot: None)
    submitted = threading.Event()

    def third() -> None:
        stage.submit((3,), lambda q, slot: None)
        submitted.set()

    threading.Thread(target=third, daemon=True).start()
    assert not submitted.wait(0.5), "the queue is full: the submitter waits"
    release.set()
    assert submitted.wait(5), "room again once the stage took a job"
    stage.close()


def test_a_job_invalidated_before_it_starts_is_not_rendered() -> None:
    stage = _stage()
    hold = threading.Event()
    rendered: list[str] = []
    stage.submit((0,), lambda q, slot: hold.wait(5))
    time.sleep(0.05)
    dropped = stage.submit((1,), lambda q, slot: rendered.append("dropped"), cancelled=lambda: "dropped by a person")
    kept = stage.submit((2,), lambda q, slot: rendered.append("kept"))
    hold.set()
    with pytest.raises(RenderCancelled, match="dropped by a person"):
        stage.wait(dropped)
    stage.wait(kept)
    assert rendered == ["kept"]
    assert stage.stats().cancelled == 1
    stage.close()


def test_nothing_starts_while_paused_and_stopping_fails_what_is_queued() -> None:
    paused, stopping = threading.Event(), threading.Event()
    stage = _stage(paused=paused, stopping=stopping)
    paused.set()
    ran: list[int] = []
    future = stage.submit((0,), lambda q, slot: ran.append(0))
    time.sleep(0.3)
    assert ran == [] and not future.done(), "paused: the job waits"
    paused.clear()
    stage.wait(future)
    assert ran == [0]
    paused.set()
    queued = stage.submit((1,), lambda q, slot: ran.append(1))
    stopping.set()
    with pytest.raises(ProductionStopped):
        stage.wait(queued)
    with pytest.raises(ProductionStopped):
        stage.submit((2,), lambda q, slot: None)
    assert ran == [0]
    stage.close()


def test_the_clock_counts_idle_time_only_while_production_has_work_in_hand() -> None:
    demand = threading.Event()
    stage = _stage(demand=demand)
    stage.wait(stage.submit((0,), lambda q, slot: time.sleep(0.3)))
    time.sleep(0.3)  # idle, nobody wants anything: not starved
    assert stage.stats().starved_s < 0.1
    demand.set()
    time.sleep(0.4)  # idle while production has work in hand: starved
    stage.wait(stage.submit((1,), lambda q, slot: time.sleep(0.3)))
    stats = stage.stats()
    assert stats.busy_s == pytest.approx(0.6, abs=0.15)
    assert stats.starved_s == pytest.approx(0.4, abs=0.15)
    assert stats.busy_fraction == pytest.approx(0.6, abs=0.12)
    stage.close()


def test_an_error_in_a_job_reaches_the_node_that_waits_for_it() -> None:
    stage = _stage()

    def fails(queued_s: float, slot: int) -> None:
        raise RuntimeError("CUDA out of memory")

    with pytest.raises(RuntimeError, match="CUDA out of memory"):
        stage.wait(stage.submit((0,), fails))
    assert stage.wait(stage.submit((1,), lambda q, slot: "next")) == "next", "the stage goes on"
    stage.close()


def test_slots_render_side_by_side_and_the_clock_sums_them() -> None:
    """Two slots (two GPUs, two render workers): two jobs at once, each slot on its own thread, and the busy time
    is the sum of both."""
    stage = _stage(slots=2)
    both = threading.Barrier(2, timeout=5)

    def run(queued_s: float, slot: int) -> tuple[int, str]:
        both.wait()  # fails unless the other slot is rendering at the same time
        time.sleep(0.2)
        return slot, threading.current_thread().name

    done = [stage.wait(future) for future in [stage.submit((0,), run), stage.submit((1,), run)]]
    assert sorted(slot for slot, _ in done) == [0, 1]
    assert sorted(name for _, name in done) == ["studio-render-0", "studio-render-1"]
    assert stage.stats().busy_s == pytest.approx(0.4, abs=0.1)
    assert stage.stats().jobs == 2
    stage.close()


def test_a_job_whose_worker_is_lost_goes_back_to_the_queue_for_another_slot() -> None:
    """The other slot's worker dies mid-job while one slot holds a long job: the lost job waits in the queue, in
    its place, and is done by the holding slot; the slot that lost its worker takes no more jobs, and the last slot
    left is never retired (its jobs are rendered on the station's own machine)."""
    stage = _stage(slots=2)
    ran: list[tuple[str, int]] = []
    holder: list[int] = []
    lost = threading.Event()
    started = threading.Event()

    def hold(queued_s: float, slot: int) -> str:
        holder.append(slot)
        started.set()
        lost.wait(5)
        ran.append(("hold", slot))
        return "held"

    def shot(name: str) -> object:
        def run(queued_s: float, slot: int) -> str:
            if slot != holder[0]:
                raise RenderWorkerLost(f"{slot} (127.0.0.1 pid 7)", "ActorDiedError: the node died")
            ran.append((name, slot))
            return name

        return run

    first = stage.submit((0,), hold)
    assert started.wait(5)
    # One slot is busy holding: the other takes the next job and loses its worker; the job waits for the holder.
    later = [stage.submit((key,), shot(f"shot {key}")) for key in (1, 2)]
    time.sleep(0.3)
    assert not any(future.done() for future in later), "nothing is lost: the job waits in the queue"
    assert stage.queued_keys() == [(1,), (2,)], "back in its place, first in the queue"
    lost.set()
    assert [stage.wait(future) for future in [first, *later]] == ["held", "shot 1", "shot 2"]
    assert ran == [("hold", holder[0]), ("shot 1", holder[0]), ("shot 2", holder[0])]
    assert stage.stats().jobs == 3
    stage.close()
