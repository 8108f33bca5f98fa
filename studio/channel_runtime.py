"""The part of `StationRuntime` that airs a channel of several shows: a desk per show (context, production,
commands), the channel's playout queue with its bumpers, and the one production thread that serves the shows in
turn (the GPU is one resource): the show whose slot comes soonest, then the one with the smallest buffer.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from studio.channel import Channel
from studio.state import ProductionStopped

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from pathlib import Path

    from studio import events as ev
    from studio.broadcast.playout import PlayoutSupervisor
    from studio.channel_playout import ChannelQueue
    from studio.config import Settings
    from studio.production import Production
    from studio.runtime import StationRuntime
    from studio.show import Show
    from studio.state import StudioContext
    from studio.station import Station
    from studio.tools.base import Toolkit

log = logging.getLogger(__name__)


@dataclass
class ShowDesk:
    """One show of a channel inside the runtime: its context and production, and the runtime's store, playout and
    recorder (what a `CommandProcessor` needs to answer that show's commands)."""

    runtime: StationRuntime
    context: StudioContext
    production: Production

    @property
    def show(self) -> Show:
        return self.context.show

    @property
    def show_key(self) -> str:
        return self.context.show_key

    @property
    def station(self) -> Station:
        return self.runtime.station

    @property
    def supervisor(self) -> PlayoutSupervisor:
        return self.runtime.supervisor

    def record(self, event: ev.Event) -> None:
        self.runtime.record(event)


class ChannelRuntime:
    """`StationRuntime`'s channel half (a mixin: the runtime provides these attributes)."""

    channel: Channel | None
    desks: dict[str, ShowDesk]
    station: Station
    settings: Settings
    supervisor: PlayoutSupervisor
    show: Show
    show_key: str
    episodes: int | None
    clock: Callable[[], datetime]
    finished_episodes: list[Path]
    _stop: threading.Event

    def record(self, event: ev.Event) -> None: ...

    def _make_ident(self, toolkit: Toolkit, show: Show, context: StudioContext) -> tuple[Path | None, str]: ...

    def _status_source(self, station: Station, title: str) -> Callable[[], dict[str, Any]]:
        from studio.broadcast.guide import channel_now_and_next, now_and_next

        if self.channel is None:
            return lambda: now_and_next(station, self.show_key, self.show.title)
        keys = [desk.show_key for desk in self.desks.values()]
        return lambda: channel_now_and_next(station, keys, title)

    def _channel_queue(self, toolkit: Toolkit) -> ChannelQueue:
        from studio.broadcast import commands
        from studio.channel_playout import Bumper, ChannelQueue

        assert self.channel is not None
        settings = self.settings
        from studio.runtime import StationQueue

        queues = {}
        bumpers = {}
        fps = self.show.channel.fps
        seconds = commands.house_frames(settings.filler_seconds, fps) / fps
        for name, desk in self.desks.items():
            ident, _ = self._make_ident(toolkit, desk.show, desk.context)
            queues[name] = StationQueue(
                self.station, desk.show_key, rate=desk.production.rate_now, margin=settings.air_through_margin,
                realtime=settings.playout_realtime, between=self._make_interstitials(desk.show, desk.context, ident),
            )  # fmt: skip
            if self.channel.bumpers and ident is not None:
                bumpers[name] = Bumper(name, ident, seconds)
        return ChannelQueue(self.channel, queues, bumpers=bumpers, record=self.record, clock=self.clock)

    def _next_to_make(self, made: dict[str, int]) -> str | None:
        """The show production serves next: among those under their buffer target (and not paused, and short of
        `--episodes`), the one whose slot comes soonest, then the one with the smallest buffer."""
        from datetime import timedelta

        from studio.channel_grid import next_start

        assert self.channel is not None
        now = self.clock()
        target = self.settings.buffer_target_s
        choices = []
        for order, (name, desk) in enumerate(self.desks.items()):
            if desk.production.paused.is_set() or (self.episodes is not None and made[name] >= self.episodes):
                continue
            buffered = self.station.buffered_seconds(desk.show_key)
            if buffered >= target:
                continue
            starts = None if self.channel.rotation else next_start(self.channel, name, now)
            wait = (starts - now).total_seconds() if starts is not None else timedelta(days=30).total_seconds()
            choices.append((0.0 if self.channel.rotation else wait, buffered, order, name))
        return min(choices)[3] if choices else None

    def _channel_production_loop(self) -> None:
        """One production thread for every show of the channel, an episode at a time."""
        made = dict.fromkeys(self.desks, 0)
        failures: dict[str, dict[int, int]] = {name: {} for name in self.desks}
        try:
            while not self._stop.is_set():
                if self.episodes is not None and all(count >= self.episodes for count in made.values()):
                    break
                for desk in self.desks.values():
                    desk.production.make_remakes()
                name = self._next_to_make(made)
                if name is None:
                    self._stop.wait(1.0)  # every buffer is full (or paused): wait for room
                    continue
                production = self.desks[name].production
                try:
                    production.gate()
                except ProductionStopped:
                    break
                outcome = production.make_next_episode(failures[name])
                if outcome is None:
                    break
                made[name] += outcome
            for name, desk in self.desks.items():
                desk.production.finish(made[name])
                self.finished_episodes += desk.production.finished_episodes
        except Exception:  # noqa: BLE001
            log.exception("production stopped unexpectedly")
        # Done means aired: what is queued airs in its shows' slots before playout ends.
        keys = [desk.show_key for desk in self.desks.values()]
        while not self._stop.is_set() and any(self.station.queue(key) for key in keys):
            self._stop.wait(0.5)
        if not self._stop.is_set():
            self.supervisor.finish()


def single_show_channel(show: Show, show_key: str) -> Channel:
    """A one-show channel for the guide of a plain show file: the show all day, on UTC."""
    from zoneinfo import ZoneInfo

    return Channel(name=show.title, zone=ZoneInfo("UTC"), shows={show_key: show}, default=show_key)
