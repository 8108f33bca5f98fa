"""The render stage: the one thread that owns the GPU, fed by a bounded priority queue.

Production runs several segment jobs at once (`studio.production`): while one segment's shots render, others are
written and designed, judged by the critic and conformed by post on their own threads. Each render node hands its
shots to this stage and waits for them; the stage renders one job at a time, earliest episode and segment first
(so the segment that airs next is finished first, and a repair jumps ahead of the next episode's shots). It never
waits for the agents unless none of the jobs in flight has a shot to render.

The queue is bounded: a job submitted while it is full waits for room (back-pressure on the agents). A job whose
work was invalidated before it started (a person dropped its segment) is not rendered: its future fails with
`RenderCancelled`. While production is paused no new render starts; when it stops, queued jobs fail with
`ProductionStopped` and the render in progress finishes (a GPU call cannot be interrupted).

The stage measures itself: busy time (rendering) and starved time (idle while production wanted work done: not
paused, not waiting for buffer room), so `busy / (busy + starved)` is the render-stage busy fraction that
`PipelineMeasured` events, `studio status` and the benchmarks report.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from studio.errors import StudioError
from studio.state import ProductionStopped

if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_CAPACITY = 16
"""Render jobs queued at most (segment jobs in flight x their shots stay well under it)."""


class RenderCancelled(StudioError):
    """The job's work was invalidated before it started: it was not rendered."""


class RenderWorkerLost(StudioError):
    """The worker behind a slot of the stage died while it had a job (`studio.ray_render`): the job was not done,
    and the worker is gone. The stage puts the job back in its queue for another slot."""

    def __init__(self, worker: str, reason: str) -> None:
        super().__init__(f"render worker {worker} was lost: {reason}")
        self.worker = worker
        self.reason = reason


@dataclass(order=True)
class _Job:
    key: tuple[Any, ...]
    seq: int
    run: Callable[[float, int], Any] = field(compare=False)
    """Called on a slot's thread with the seconds the job waited in the queue and the slot's number."""
    future: Future[Any] = field(compare=False)
    cancelled: Callable[[], str] = field(compare=False)
    submitted: float = field(compare=False)


@dataclass(frozen=True)
class StageStats:
    busy_s: float
    """Seconds spent rendering."""
    starved_s: float
    """Seconds idle while production wanted work done."""
    jobs: int
    cancelled: int
    queued: int
    """Jobs waiting now."""
    queue_wait_s: float
    """Seconds jobs spent waiting in the queue, all together."""

    @property
    def busy_fraction(self) -> float | None:
        total = self.busy_s + self.starved_s
        return self.busy_s / total if total > 0 else None


class RenderStage:
    """Render threads (one per slot: a GPU of this machine, or a render worker on a Ray cluster), a bounded priority
    queue in front of them, and their busy/starved clock (summed over the slots)."""

    def __init__(
        self,
        *,
        capacity: int = DEFAULT_CAPACITY,
        paused: threading.Event | None = None,
        stopping: threading.Event | None = None,
        demand: threading.Event | None = None,
        name: str = "studio-render",
        slots: int = 1,
    ) -> None:
        self.slots = max(1, slots)
        self.capacity = max(1, capacity)
        self.paused = paused or threading.Event()
        self.stopping = stopping or threading.Event()
        self.demand = demand or threading.Event()
        """Set while production wants work done; idle time counts as starved only then."""
        self._name = name
        self._heap: list[_Job] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._live = self.slots
        """Slots whose thread still takes jobs (a slot whose worker was lost retires, unless it is the last)."""
        self._closed = False
        self._busy_s = 0.0
        self._starved_s = 0.0
        self._jobs = 0
        self._cancelled = 0
        self._queue_wait_s = 0.0

    # --- submitting -----------------------------------------------------------------------------------------------

    def submit(
        self, key: tuple[Any, ...], run: Callable[[float, int], Any], *, cancelled: Callable[[], str] | None = None
    ) -> Future[Any]:
        """Queue `run` (called on a slot's thread with its queue wait in seconds and the slot's number); lower `key`
        renders first.
        Blocks while the queue is full; raises `ProductionStopped` when the station stops meanwhile."""
        future: Future[Any] = Future()
        with self._cond:
            while len(self._heap) >= self.capacity and not self._closed and not self.stopping.is_set():
                self._cond.wait(0.2)
            if self._closed or self.stopping.is_set():
                raise ProductionStopped("the station is stopping")
            heapq.heappush(
                self._heap,
                _Job(key, next(self._seq), run, future, cancelled or (lambda: ""), time.perf_counter()),
            )
            self._start()
            self._cond.notify_all()
        return future

    def wait(self, future: Future[Any]) -> Any:
        """The job's result, waking to raise `ProductionStopped` when the station stops first."""
        while True:
            if self.stopping.is_set() and not future.done():
                raise ProductionStopped("the station is stopping")
            try:
                return future.result(timeout=0.2)
            except TimeoutError:
                continue

    # --- the render thread ----------------------------------------------------------------------------------------

    def _start(self) -> None:
        if not self._threads:
            for slot in range(self.slots):
                name = self._name if self.slots == 1 else f"{self._name}-{slot}"
                thread = threading.Thread(target=self._loop, args=(slot,), name=name, daemon=True)
                self._threads.append(thread)
                thread.start()

    def _take(self) -> _Job | None:
        """The next job to render (None when closing), counting idle time while production wanted work."""
        with self._cond:
            last = time.perf_counter()
            while True:
                if self._closed:
                    return None
                if self.stopping.is_set():
                    self._fail_queued(ProductionStopped("the station is stopping"))
                    return None
                if self._heap and not self.paused.is_set():
                    job = heapq.heappop(self._heap)
                    self._cond.notify_all()  # room for a waiting submitter
                    now = time.perf_counter()
                    if self.demand.is_set():
                        self._starved_s += now - last
                    return job
                self._cond.wait(0.05)
                now = time.perf_counter()
                if self.demand.is_set() and not self.paused.is_set() and not self.stopping.is_set():
                    self._starved_s += now - last
                last = now

    def _loop(self, slot: int) -> None:
        while True:
            job = self._take()
            if job is None:
                return
            reason = job.cancelled()
            if reason:
                with self._cond:
                    self._cancelled += 1
                job.future.set_exception(RenderCancelled(reason))
                continue
            started = time.perf_counter()
            waited = started - job.submitted
            try:
                result = job.run(waited, slot)
            except RenderWorkerLost:
                with self._cond:
                    self._busy_s += time.perf_counter() - started
                    # Back in the queue as it was (its key and place), for the next free slot.
                    heapq.heappush(self._heap, job)
                    self._cond.notify_all()
                    if self._live > 1:
                        self._live -= 1
                        return  # this slot's worker is gone; the last slot stays (its jobs render here)
                continue
            except BaseException as error:  # noqa: BLE001 - handed to the waiting node, which decides
                job.future.set_exception(error)
            else:
                job.future.set_result(result)
            with self._cond:
                self._busy_s += time.perf_counter() - started
                self._jobs += 1
                self._queue_wait_s += waited

    def _fail_queued(self, error: BaseException) -> None:
        while self._heap:
            heapq.heappop(self._heap).future.set_exception(error)
        self._cond.notify_all()

    # --- measuring and closing ------------------------------------------------------------------------------------

    def stats(self) -> StageStats:
        with self._cond:
            return StageStats(
                busy_s=self._busy_s, starved_s=self._starved_s, jobs=self._jobs, cancelled=self._cancelled,
                queued=len(self._heap), queue_wait_s=self._queue_wait_s,
            )  # fmt: skip

    def queued_keys(self) -> list[tuple[Any, ...]]:
        """The keys of the jobs waiting, in the order they will render."""
        with self._cond:
            return [job.key for job in sorted(self._heap)]

    def close(self) -> None:
        """Stop the thread after the job in progress; queued jobs fail with `ProductionStopped`."""
        with self._cond:
            self._closed = True
            self._fail_queued(ProductionStopped("the render stage is closed"))
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=30)
