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
from studio.channel import Channel
from studio.channel_runtime import ChannelRuntime, ShowDesk, single_show_channel
from studio.command_processor import CommandProcessor
from studio.errors import StudioError
from studio.lock import StationLock
from studio.malloc_arenas import limit_malloc_arenas
from studio.pipeline import RenderStage
from studio.production import Production, open_station
from studio.secrets import mask_url
from studio.state import StudioContext
from studio.strategy import can_make_in_time

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime
    from pathlib import Path

    from studio.agents.llm import Director
    from studio.broadcast.interstitial import Interstitials
    from studio.broadcast.web import PlayerServer
    from studio.channel_playout import ChannelQueue
    from studio.config import Settings
    from studio.memory import ShowMemory
    from studio.metrics import MetricsServer
    from studio.ray_render import RenderFarm
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
    through without a break. Yes when every segment is made; otherwise production must keep ahead of playout
    (`studio.strategy.can_make_in_time`). No measured rate: only a finished episode may start."""
    if all(made for _, made in segments):
        return True
    if rate is None or rate <= 0:
        return False
    return can_make_in_time(segments, rate=rate, margin=margin)


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
        between: Interstitials | None = None,
    ) -> None:
        self.station = station
        self.between = between
        """What fills a gap between episodes (cards, reruns); None: the ident."""
        self.show = show
        self.rate = rate
        self.margin = margin
        self.realtime = realtime
        last = station.last_aired(show)
        self._last_played: QueuedSegment | None = _queued(last) if last is not None and last.path else None
        self._last_on_air: QueuedSegment | None = None
        """The last item aired, a rerun included: what a hold repeats (a person holds what they see)."""

    def next_item(self, *, fill_gaps: bool = True) -> QueuedSegment | Idle:
        """The next segment to air, or why none can (`Idle`). Between episodes the gap is filled with a card or a
        rerun (`between`) unless `fill_gaps` is off (a channel asking whether this show has anything new to air)."""
        item, upcoming = self._next()
        if isinstance(item, QueuedSegment) or item.inside_episode or self.between is None or not fill_gaps:
            return item
        return self.between.fill(item, upcoming)

    def held_item(self) -> QueuedSegment | None:
        """What a hold repeats once the item on air (if any) ends: the last item aired, a rerun included, else the
        last new segment; None when neither's file is there."""
        for held in (self._last_on_air, self._last_played):
            if held is not None and held.path.is_file():
                return held
        return None

    def _next(self) -> tuple[QueuedSegment | Idle, int | None]:
        """What airs next without filling gaps, and the episode a gap comes before (None: not planned yet)."""
        if self.station.flag(self.show, "hold") and (held := self.held_item()) is not None:
            return replace(held, repeat=True), None
        queue = self.station.queue(self.show)
        if not queue:
            if self._last_played is None:
                return Idle("nothing approved yet: production is making the first episode"), None
            return Idle("waiting for the next episode"), None
        head = queue[0]
        started = self._episode_started(head.episode)
        if head.status != "on_air" and head.segment_id in self.station.remaking(self.show):
            reason = f"{head.segment_id} is being made again with a re-prompted shot"
            return Idle(reason, inside_episode=started), head.episode
        if head.status == "planned":
            if head.segment_id in self.station.awaiting_review(self.show):
                return Idle(f"{head.segment_id} waits for a person to approve it", inside_episode=started), head.episode
            return Idle(f"waiting for {head.segment_id} to be made", inside_episode=started), head.episode
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
                reason = (
                    f"episode {head.episode} waits until it can air without a break ({made} of {len(remaining)}"
                    " segments made)"
                )
                return Idle(reason), head.episode
        return _queued(head), head.episode

    def in_episode(self) -> bool:
        """Whether an episode of this show has begun to air and has segments still to air (the channel finishes it
        before another show takes over)."""
        queue = self.station.queue(self.show)
        return bool(queue) and self._episode_started(queue[0].episode)

    def _episode_started(self, episode: int) -> bool:
        return any(
            entry.status in ("aired", "skipped", "on_air") for entry in self.station.rundown(self.show, episode=episode)
        )

    def started(self, segment: QueuedSegment) -> None:
        self.station.record(
            self._event(ev.SegmentOnAir, segment, seconds=segment.seconds, repeat=segment.repeat, rerun=segment.rerun)
        )

    def aired(self, segment: QueuedSegment) -> None:
        self.station.record(
            self._event(ev.SegmentAired, segment, seconds=segment.seconds, repeat=segment.repeat, rerun=segment.rerun)
        )
        if not segment.rerun:
            self._last_played = replace(segment, repeat=False)
        self._last_on_air = replace(segment, repeat=False)
        if self.between is not None:
            self.between.aired(segment)

    def skipped(self, segment: QueuedSegment, reason: str, command_id: int | None) -> None:
        if segment.rerun:  # the segment itself aired before: only this rerun is dropped
            if self._last_on_air is not None and self._last_on_air.segment_id == segment.segment_id:
                self._last_on_air = None  # a hold goes back to the last new segment, not the dropped rerun
            self.station.record(self._event(ev.RerunDropped, segment, reason=reason))
            if self.between is not None:
                self.between.dropped(segment)
            return
        self.station.record(self._event(ev.SegmentSkipped, segment, reason=reason, command_id=command_id))

    def _event(self, cls: type[ev.Event], segment: QueuedSegment, **fields: object) -> ev.Event:
        return cls(show=self.show, episode=segment.episode, segment_id=segment.segment_id, **fields)  # type: ignore[call-arg]


def _queued(entry: RundownEntry) -> QueuedSegment:
    assert entry.path is not None
    return QueuedSegment(entry.segment_id, entry.path, entry.seconds, episode=entry.episode)


# --- the runtime ---------------------------------------------------------------------------------------------------


class StationRuntime(ChannelRuntime):
    """Production, playout and the web player of one station. `start()`, then `wait()` until it is done (or
    `stop()` it): done means production made the episodes asked for and playout aired what was queued.

    Given a `Channel` of several shows, it airs them by the channel's grid (or in turns): one playout over a
    `ChannelQueue`, and one production thread (the GPU is one resource) making episodes for each show in turn
    (`--episodes N`: N of each). `show`, `context` and `production` are then the first show's; `desks` has every
    show's. `clock` is the channel's clock (tests simulate a day with it)."""

    def __init__(
        self,
        show: Show | Channel,
        settings: Settings,
        *,
        seed: int | None = None,
        episodes: int | None = None,
        toolkit: Toolkit | None = None,
        director: Director | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        from studio.channel_playout import utc_now

        self.channel: Channel | None = show if isinstance(show, Channel) else None
        if isinstance(show, Channel):
            show = show.first
        self.show = show
        self.clock = clock or utc_now
        self.desks: dict[str, ShowDesk] = {}
        """The channel's name for each show → its desk (one, under the show's key, for a single show)."""
        self.reruns = self.channel.reruns if self.channel is not None else "allowed"
        """The channel's rerun policy (`allowed` or `never`): whether a slot with no new episode ready may air one
        again."""
        self.settings = settings
        self.seed = show.channel.seed if seed is None else seed
        self.episodes = episodes
        self._toolkit = toolkit
        self._director = director
        self._lock = StationLock(settings.data_dir)
        self._stop = threading.Event()
        self._retention_due = threading.Event()
        self._stopped = False
        self._threads: list[threading.Thread] = []
        self.station: Station
        self.context: StudioContext
        self.production: Production
        self.supervisor: PlayoutSupervisor
        self.server: PlayerServer | None = None
        self.metrics: MetricsServer | None = None
        self.farm: RenderFarm | None = None
        """The Ray render workers (`--ray`), None when shots render here."""
        self._interstitials: list[Interstitials] = []
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
        limit_malloc_arenas()
        from studio.agents.llm import make_director, make_vision_model
        from studio.broadcast.guide import segment_picture
        from studio.broadcast.web import PlayerServer, check_rtmp_reachable
        from studio.channel_epg import programme_guide
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
            vision = make_vision_model(settings)
            shows = self.channel.shows if self.channel is not None else {self.show.title: self.show}
            interrupted: list[str] = []
            if settings.ray_address:
                from studio.ray_render import RenderFarm

                self.farm = RenderFarm(settings, settings.ray_address, resource=settings.ray_render_resource).start()
            slots = self.farm.slots if self.farm is not None else 1
            # A channel's shows share one render stage: the GPUs are one resource, whatever show a shot is for.
            shared_stage = RenderStage(stopping=self._stop, slots=slots) if self.channel is not None else None
            for name, show in shows.items():
                memory = self._open_memory(station, show)
                seed = self.seed if show is self.show else show.channel.seed
                context = StudioContext(
                    show=show, settings=settings, toolkit=toolkit, director=director, station=station, seed=seed,
                    notify=self.record, memory=memory, vision=vision, render_farm=self.farm,
                )  # fmt: skip
                production = Production(context, render_stage=shared_stage)
                if station.flag(context.show_key, "paused"):
                    production.paused.set()
                interrupted += station.requeue_interrupted(context.show_key)
                self.desks[name] = ShowDesk(self, context, production)
            first = next(iter(self.desks.values()))
            self.context, self.production = first.context, first.production
            self.commands = CommandProcessor(self)
            self._other_commands = [CommandProcessor(desk) for desk in list(self.desks.values())[1:]]  # type: ignore[arg-type]
            filler_path, filler = self._make_ident(toolkit, self.show, self.context)
            hls_dir = settings.data_dir / "hls"
            media_root = settings.data_dir / "media"
            guide_channel = self.channel or single_show_channel(self.show, self.show_key)
            title = self.channel.name if self.channel is not None else self.show.title
            self.server = PlayerServer(
                hls_dir, bind=settings.bind, port=settings.port, title=title,
                status=self._status_source(station, title),
                pictures=lambda segment_id: segment_picture(station, media_root, segment_id),
                guide=lambda: programme_guide(
                    guide_channel, station, self.clock(),
                    has_picture=lambda segment_id: segment_picture(station, media_root, segment_id) is not None,
                ),
            )  # fmt: skip
            self.server.start()
            if settings.metrics_port is not None:
                from studio.metrics import MetricsServer

                self.metrics = MetricsServer(station, self.show_key, settings.metrics_port)
                self.metrics.start()
            queue: StationQueue | ChannelQueue
            if self.channel is not None:
                queue = self._channel_queue(toolkit)
            else:
                queue = StationQueue(
                    station, self.show_key, rate=self.production.rate_now, margin=settings.air_through_margin,
                    realtime=settings.playout_realtime,
                    between=self._make_interstitials(self.show, self.context, filler_path if filler == "ident" else None),
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
                    title=title,
                    metrics_url=self.metrics.url if self.metrics is not None else "",
                    backend=director.backend,
                )  # fmt: skip
            )
            for desk in self.desks.values():
                for change in desk.context.memory.seed_canon():
                    self.record(change)
            if interrupted:
                log.info("segments interrupted on air air again from their start: %s", ", ".join(interrupted))
            for processor in (self.commands, *self._other_commands):
                processor.process(backlog=True)
            self.supervisor.start()
        except BaseException:
            if self.server is not None:
                self.server.stop()
            if self.metrics is not None:
                self.metrics.stop()
            if self.farm is not None:
                self.farm.stop()
            station.close()
            self._lock.release()
            raise
        from studio.retention import Retention

        self.retention = Retention(settings, station, self.show_key, self.record)
        station.subscribe(lambda logged: self._retention_due.set() if Retention.calls_for_a_pass(logged) else None)
        production_loop = self._production_loop if self.channel is None else self._channel_production_loop
        loops = {self._command_loop: "commands", production_loop: "production", self._retention_loop: "retention"}
        for target, name in loops.items():
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _make_interstitials(self, show: Show, context: StudioContext, ident: Path | None) -> Interstitials | None:
        """Coming-up cards and reruns for the gaps between a show's episodes (reruns only if the settings and the
        channel's policy allow them); none while playout runs faster than real time (a dry run has no gaps worth
        filling)."""
        if not self.settings.playout_realtime:
            return None
        from studio.broadcast.interstitial import Interstitials

        channel = show.channel
        interstitials = Interstitials(
            self.station, context.show_key, show, context.media_dir, ident, width=channel.width,
            height=channel.height, fps=channel.fps, card_seconds=self.settings.filler_seconds * 1.5,
            loudness_lufs=self.settings.loudness_lufs, true_peak_dbtp=self.settings.true_peak_dbtp,
            reruns=self.settings.reruns and self.reruns == "allowed",
        )  # fmt: skip
        self._interstitials.append(interstitials)
        return interstitials

    def _make_ident(self, toolkit: Toolkit, show: Show, context: StudioContext) -> tuple[Path | None, str]:
        """The show's ident for playout to air when nothing else can, and what airs then, in words; the plain card
        when the ident cannot be made (the channel must start all the same)."""
        from studio.broadcast.ident import ensure_ident

        channel = show.channel
        try:
            path = ensure_ident(
                context.media_dir, show, toolkit, width=channel.width, height=channel.height, fps=channel.fps,
                seconds=self.settings.filler_seconds, loudness_lufs=self.settings.loudness_lufs,
                true_peak_dbtp=self.settings.true_peak_dbtp,
            )  # fmt: skip
        except (StudioError, OSError) as error:
            log.warning("the show's ident could not be made (%s): the plain card airs instead", error)
            return None, f"plain card (the ident could not be made: {error})"[:300]
        return path, "ident"

    def _open_memory(self, station: Station, show: Show) -> ShowMemory:
        """The show's memory with its Chroma index open and caught up with the store; a `MemoryStoreError` says what
        to do when the index cannot be opened (the store itself is never touched by it)."""
        from studio.memory import ShowMemory
        from studio.memory.embedder import MiniLM
        from studio.memory.index import MemoryIndex
        from studio.state import slug

        show_key = slug(show.title)
        index = MemoryIndex(self.settings.data_dir / "memory", show_key, MiniLM(), url=self.settings.memory_chroma_url)
        index.open()
        memory = ShowMemory(station, show, show_key, index)
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
        self._retention_due.set()
        for desk in self.desks.values():
            desk.production.stop_event.set()
        self.supervisor.stop()
        for interstitials in self._interstitials:
            interstitials.close()
        for thread in self._threads:
            thread.join(PRODUCTION_STOP_TIMEOUT_S if thread.name == "production" else 5.0)
        if self.server is not None:
            self.server.stop()
        if self.metrics is not None:
            self.metrics.stop()
        if self.farm is not None:
            self.farm.stop()
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
            for processor in (self.commands, *self._other_commands):
                try:
                    processor.process()
                except Exception:  # noqa: BLE001 - a bad command never stops the channel
                    log.exception("processing commands failed")

    def _retention_loop(self) -> None:
        """Pruning passes (`studio.retention`): after a segment airs, and every `retention_interval_s`."""
        while not self._stop.is_set():
            self._retention_due.wait(self.settings.retention_interval_s)
            self._retention_due.clear()
            if self._stop.is_set():
                return
            try:
                self.retention.run_pass()
            except Exception:  # noqa: BLE001 - pruning never stops the channel; the next pass tries again
                log.exception("a pruning pass failed")
