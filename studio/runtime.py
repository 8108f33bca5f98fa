"""`StationRuntime`: one station, headless — production, playout and the web player, steered through the store.

Front-ends never reach into it: they read events from the station store and add commands to it. The runtime's
command processor answers each command once (`CommandReceived`, then `CommandApplied` or `CommandRejected`);
commands added while no station runs are answered when one starts.

Playout reads its queue from the store (`StationQueue`): segments air in rundown order, an episode starts only
when it can air through without a break, and whatever happens to a segment (on air, aired, skipped and why) is
an event, so a restart resumes exactly where the channel was.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from studio import __version__
from studio import events as ev
from studio.broadcast.playout import Idle, PlayoutSupervisor, QueuedSegment
from studio.command_processor import CommandProcessor
from studio.errors import StudioError
from studio.lock import StationLock
from studio.production import Production, open_station
from studio.secrets import mask_url
from studio.state import StudioContext

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from studio.agents.llm import Director
    from studio.broadcast.web import PlayerServer
    from studio.config import Settings
    from studio.memory import ShowMemory
    from studio.metrics import MetricsServer
    from studio.show import Show
    from studio.station import RundownEntry, Station
    from studio.tools.base import Toolkit

log = logging.getLogger(__name__)

COMMAND_POLL_S = 0.25
# How long stop() waits for production to reach a step boundary (a shot being rendered finishes first).
PRODUCTION_STOP_TIMEOUT_S = 120.0


# --- the playout gate ----------------------------------------------------------------------------------------------


def can_air_through(segments: Sequence[tuple[float, bool]], rate: float | None, margin: float) -> bool:
    """Whether an episode whose remaining segments are `(seconds, made)`, in airing order, can start now and air
    through without a break.

    Yes when every segment is made. Otherwise production (making `rate` on-air seconds per wall second, slowed by
    `margin` for safety) must finish each unmade segment, in order, before the segments ahead of it have aired.
    No measured rate: only a finished episode may start."""
    if all(made for _, made in segments):
        return True
    if rate is None or rate <= 0:
        return False
    airs_at = 0.0
    to_make = 0.0
    for seconds, made in segments:
        if not made:
            to_make += seconds
            if to_make * margin / rate > airs_at:
                return False
        airs_at += seconds
    return True


class StationQueue:
    """The playout queue over the station store (the `PlayoutQueue` the supervisor reads)."""

    def __init__(
        self,
        station: Station,
        show: str,
        *,
        rate: Callable[[], float | None],
        margin: float,
        realtime: bool,
    ) -> None:
        self.station = station
        self.show = show
        self.rate = rate
        self.margin = margin
        self.realtime = realtime
        last = station.last_aired(show)
        self._last_played: QueuedSegment | None = _queued(last) if last is not None and last.path else None

    def next_item(self) -> QueuedSegment | Idle:
        if self.station.flag(self.show, "hold") and self._last_played is not None:
            if self._last_played.path.is_file():
                return replace(self._last_played, repeat=True)
        queue = self.station.queue(self.show)
        if not queue:
            if self._last_played is None:
                return Idle("nothing approved yet: production is making the first episode")
            return Idle("waiting for the next episode")
        head = queue[0]
        started = self._episode_started(head.episode)
        if head.status != "on_air" and head.segment_id in self.station.remaking(self.show):
            return Idle(f"{head.segment_id} is being made again with a re-prompted shot", inside_episode=started)
        if head.status == "planned":
            if head.segment_id in self.station.awaiting_review(self.show):
                return Idle(f"{head.segment_id} waits for a person to approve it", inside_episode=started)
            return Idle(f"waiting for {head.segment_id} to be made", inside_episode=started)
        if not started:
            remaining = [
                (entry.seconds, True) if entry.status != "planned" else (entry.planned_seconds, False)
                for entry in queue
                if entry.episode == head.episode
            ]
            # Playout faster than real time (tests, dry runs) has no airtime to make anything in.
            rate = self.rate() if self.realtime else None
            if not can_air_through(remaining, rate, self.margin):
                made = sum(1 for _, is_made in remaining if is_made)
                return Idle(
                    f"episode {head.episode} waits until it can air without a break ({made} of {len(remaining)}"
                    " segments made)"
                )
        return _queued(head)

    def _episode_started(self, episode: int) -> bool:
        return any(
            entry.status in ("aired", "skipped", "on_air") for entry in self.station.rundown(self.show, episode=episode)
        )

    def started(self, segment: QueuedSegment) -> None:
        self.station.record(self._event(ev.SegmentOnAir, segment, seconds=segment.seconds, repeat=segment.repeat))

    def aired(self, segment: QueuedSegment) -> None:
        self.station.record(self._event(ev.SegmentAired, segment, seconds=segment.seconds, repeat=segment.repeat))
        self._last_played = replace(segment, repeat=False)

    def skipped(self, segment: QueuedSegment, reason: str, command_id: int | None) -> None:
        self.station.record(self._event(ev.SegmentSkipped, segment, reason=reason, command_id=command_id))

    def _event(self, cls: type[ev.Event], segment: QueuedSegment, **fields: object) -> ev.Event:
        return cls(show=self.show, episode=segment.episode, segment_id=segment.segment_id, **fields)  # type: ignore[call-arg]


def _queued(entry: RundownEntry) -> QueuedSegment:
    assert entry.path is not None
    return QueuedSegment(entry.segment_id, entry.path, entry.seconds, episode=entry.episode)


# --- the runtime ---------------------------------------------------------------------------------------------------


class StationRuntime:
    """Production, playout and the web player of one station. `start()`, then `wait()` until it is done (or
    `stop()` it): done means production made the episodes asked for and playout aired what was queued."""

    def __init__(
        self,
        show: Show,
        settings: Settings,
        *,
        seed: int | None = None,
        episodes: int | None = None,
        toolkit: Toolkit | None = None,
        director: Director | None = None,
    ) -> None:
        self.show = show
        self.settings = settings
        self.seed = show.channel.seed if seed is None else seed
        self.episodes = episodes
        self._toolkit = toolkit
        self._director = director
        self._lock = StationLock(settings.data_dir)
        self._stop = threading.Event()
        self._stopped = False
        self._threads: list[threading.Thread] = []
        self.station: Station
        self.context: StudioContext
        self.production: Production
        self.supervisor: PlayoutSupervisor
        self.server: PlayerServer | None = None
        self.metrics: MetricsServer | None = None
        self.start_event_id = 0
        self.finished_episodes: list[Path] = []

    @property
    def show_key(self) -> str:
        return self.context.show_key

    @property
    def player_url(self) -> str:
        return self.server.url if self.server is not None else ""

    # --- start and stop ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the store and start everything. Raises `StudioError` (one clear line) when it cannot."""
        from studio.agents.llm import make_director
        from studio.broadcast.guide import now_and_next, segment_picture
        from studio.broadcast.web import PlayerServer, check_rtmp_reachable
        from studio.tools.registry import build_toolkit

        settings = self.settings
        station = open_station(settings)
        try:
            self._lock.acquire()
        except StudioError:
            station.close()
            raise
        self.station = station
        self.start_event_id = station.last_event_id()
        try:
            if settings.rtmp_url:
                check_rtmp_reachable(settings.rtmp_url)
            toolkit = self._toolkit or build_toolkit(settings)
            if settings.faults:
                from studio.faults import with_faults

                toolkit = with_faults(toolkit, settings.faults, settings.data_dir, self.show.channel)
            director = self._director or make_director(settings)
            memory = self._open_memory(station)
            self.context = StudioContext(
                show=self.show, settings=settings, toolkit=toolkit, director=director, station=station, seed=self.seed,
                notify=self.record, memory=memory,
            )  # fmt: skip
            self.commands = CommandProcessor(self)
            self.production = Production(self.context)
            if station.flag(self.show_key, "paused"):
                self.production.paused.set()
            interrupted = station.requeue_interrupted(self.show_key)
            filler_path, filler = self._make_ident(toolkit)
            hls_dir = settings.data_dir / "hls"
            media_root = settings.data_dir / "media"
            self.server = PlayerServer(
                hls_dir, bind=settings.bind, port=settings.port, title=self.show.title,
                status=lambda: now_and_next(station, self.show_key, self.show.title),
                pictures=lambda segment_id: segment_picture(station, media_root, segment_id),
            )  # fmt: skip
            self.server.start()
            if settings.metrics_port is not None:
                from studio.metrics import MetricsServer

                self.metrics = MetricsServer(station, self.show_key, settings.metrics_port)
                self.metrics.start()
            queue = StationQueue(
                station, self.show_key, rate=self.production.rate.value, margin=settings.air_through_margin,
                realtime=settings.playout_realtime,
            )  # fmt: skip
            self.supervisor = PlayoutSupervisor(
                show=self.show_key, hls_dir=hls_dir, media_dir=settings.data_dir / "media", width=self.show.channel.width,
                height=self.show.channel.height, fps=self.show.channel.fps, queue=queue, emit=self.record,
                rtmp_url=settings.rtmp_url, realtime=settings.playout_realtime, filler_seconds=settings.filler_seconds,
                filler_path=filler_path, hls_list_size=settings.hls_list_size,
            )  # fmt: skip
            selected = {s.kind: f"{s.name} ({s.reason})" for s in toolkit.statuses if s.selected}
            outputs = ("hls", *([mask_url(settings.rtmp_url)] if settings.rtmp_url else []))
            self.record(
                self.context.event(
                    ev.StationStarted,
                    version=__version__,
                    writer=director.backend,
                    backends=selected,
                    seed=self.seed,
                    data_dir=str(settings.data_dir),
                    player_url=self.server.url,
                    outputs=outputs,
                    buffer_target_s=settings.buffer_target_s,
                    filler=filler,
                    title=self.show.title,
                    metrics_url=self.metrics.url if self.metrics is not None else "",
                    backend=director.backend,
                )  # fmt: skip
            )
            for change in memory.seed_canon():
                self.record(change)
            if interrupted:
                log.info("segments interrupted on air air again from their start: %s", ", ".join(interrupted))
            self.commands.process(backlog=True)
            self.supervisor.start()
        except BaseException:
            if self.server is not None:
                self.server.stop()
            if self.metrics is not None:
                self.metrics.stop()
            station.close()
            self._lock.release()
            raise
        for target, name in ((self._command_loop, "commands"), (self._production_loop, "production")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _make_ident(self, toolkit: Toolkit) -> tuple[Path | None, str]:
        """The show's ident for playout to air when nothing else can, and what airs then, in words; the plain card
        when the ident cannot be made (the channel must start all the same)."""
        from studio.broadcast.ident import ensure_ident

        channel = self.show.channel
        try:
            path = ensure_ident(
                self.context.media_dir, self.show, toolkit, width=channel.width, height=channel.height, fps=channel.fps,
                seconds=self.settings.filler_seconds, loudness_lufs=self.settings.loudness_lufs,
                true_peak_dbtp=self.settings.true_peak_dbtp,
            )  # fmt: skip
        except (StudioError, OSError) as error:
            log.warning("the show's ident could not be made (%s): the plain card airs instead", error)
            return None, f"plain card (the ident could not be made: {error})"[:300]
        return path, "ident"

    def _open_memory(self, station: Station) -> ShowMemory:
        """The show's memory with its Chroma index open and caught up with the store; a `MemoryStoreError` says what
        to do when the index cannot be opened (the store itself is never touched by it)."""
        from studio.memory import ShowMemory
        from studio.memory.embedder import MiniLM
        from studio.memory.index import MemoryIndex
        from studio.state import slug

        show_key = slug(self.show.title)
        index = MemoryIndex(self.settings.data_dir / "memory", show_key, MiniLM(), url=self.settings.memory_chroma_url)
        index.open()
        memory = ShowMemory(station, self.show, show_key, index)
        memory.catch_up()
        station.subscribe(memory.ingest)
        return memory

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the station is done (playout ended) or stopped; True when it is."""
        if self._stop.is_set():
            return True
        return self.supervisor.wait(timeout)

    def stop(self, reason: str = "stopped") -> None:
        """Stop production at its next step, end playout and the web player, close the store. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        self.production.stop_event.set()
        self.supervisor.stop()
        for thread in self._threads:
            thread.join(PRODUCTION_STOP_TIMEOUT_S if thread.name == "production" else 5.0)
        if self.server is not None:
            self.server.stop()
        if self.metrics is not None:
            self.metrics.stop()
        with contextlib.suppress(Exception):
            self.record(self.context.event(ev.StationStopped, reason=reason))
        self.station.close()
        self._lock.release()

    def record(self, event: ev.Event) -> None:
        """Write an event of the runtime, playout or a progress notice to the store."""
        try:
            self.station.record(event)
        except Exception:  # noqa: BLE001 - the channel never stops because a log line could not be written
            log.exception("could not record %s", event.type)

    # --- threads ----------------------------------------------------------------------------------------------

    def _production_loop(self) -> None:
        try:
            self.finished_episodes = self.production.run(self.episodes)
        except Exception:  # noqa: BLE001
            log.exception("production stopped unexpectedly")
        if not self._stop.is_set():
            self.supervisor.finish()

    def _command_loop(self) -> None:
        while not self._stop.wait(COMMAND_POLL_S):
            try:
                self.commands.process()
            except Exception:  # noqa: BLE001 - a bad command never stops the channel
                log.exception("processing commands failed")
