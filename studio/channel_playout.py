"""Playout of a channel of several shows: one queue (what the playout supervisor reads) over each show's
`StationQueue`, choosing the show by the grid (or in turns), with a bumper between two shows.

At a slot boundary an episode already on air finishes first, as broadcasters finish a programme: cutting it would
throw away made material and leave a story without its end, and the overrun is one episode at most (the next
episode of the old show never starts once its slot is over). The next show's slot starts that much later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from studio import events as ev
from studio.broadcast.playout import Idle, QueuedSegment
from studio.channel_grid import airing_at

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from studio.channel import Channel
    from studio.runtime import StationQueue

log = logging.getLogger(__name__)

BUMPER_PREFIX = "bumper-"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Bumper:
    """The ident of the show coming up, aired between two shows."""

    show: str
    path: Path
    seconds: float


class ChannelQueue:
    """The playout queue of a channel: the show whose slot is on (or whose turn it is) airs; an episode on air
    finishes first; a bumper (the next show's ident) airs when the channel goes from one show to another."""

    def __init__(
        self,
        channel: Channel,
        queues: dict[str, StationQueue],
        *,
        bumpers: dict[str, Bumper],
        record: Callable[[ev.Event], None],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.channel = channel
        self.queues = queues
        """The channel's name for each show → that show's queue over the store."""
        self.bumpers = bumpers
        self.record = record
        self.clock = clock
        self.slot_show: str | None = None
        """The show the channel has gone over to (its bumper aired)."""
        self.on_show: str | None = None
        """The show whose segment went on air last."""
        self._turn = 0
        self._aired_this_turn = False
        self._given: dict[str, str] = {}
        """Segment id → the show it was taken from."""

    # --- choosing --------------------------------------------------------------------------------------------

    def next_item(self) -> QueuedSegment | Idle:
        # An episode on air finishes first, whatever the grid says now.
        if self.on_show is not None and self.queues[self.on_show].in_episode():
            return self._from(self.on_show)
        target = self._target()
        if target != self.slot_show:
            previous, self.slot_show = self.slot_show, target
            bumper = self.bumpers.get(target)
            if previous is not None and self.channel.bumpers and bumper is not None:
                return QueuedSegment(BUMPER_PREFIX + self.channel.keys[target], bumper.path, 0.0)
        return self._from(target)

    def _from(self, show: str) -> QueuedSegment | Idle:
        item = self.queues[show].next_item()
        if isinstance(item, QueuedSegment):
            self._given[item.segment_id] = show
        return item

    def _target(self) -> str:
        if not self.channel.rotation:
            airing = airing_at(self.channel, self.clock())
            assert airing is not None
            return airing.show
        names = list(self.channel.shows)
        if self._aired_this_turn and self.on_show == names[self._turn]:
            self._turn = (self._turn + 1) % len(names)  # its episode is over: the next show's turn
            self._aired_this_turn = False
        # A show with nothing ready gives its turn to the next one that has an episode ready to start; with none
        # ready, the channel stays where it is (no bumper for a show that has nothing to air).
        for step in range(len(names)):
            candidate = names[(self._turn + step) % len(names)]
            if isinstance(self.queues[candidate].next_item(fill_gaps=False), QueuedSegment):
                self._turn = (self._turn + step) % len(names)
                return candidate
        return self.slot_show or names[self._turn]

    # --- what happened ---------------------------------------------------------------------------------------

    def _bumper_show(self, segment: QueuedSegment) -> str | None:
        if not segment.segment_id.startswith(BUMPER_PREFIX):
            return None
        key = segment.segment_id.removeprefix(BUMPER_PREFIX)
        return next((name for name, show_key in self.channel.keys.items() if show_key == key), None)

    def started(self, segment: QueuedSegment) -> None:
        if self._bumper_show(segment) is not None:
            return
        show = self._given.get(segment.segment_id) or self.slot_show
        assert show is not None
        queue = self.queues[show]
        if not segment.repeat and not queue.in_episode():
            self._programme_started(show, segment)
        self.on_show = show
        if show == list(self.channel.shows)[self._turn]:
            self._aired_this_turn = True
        queue.started(segment)

    def _programme_started(self, show: str, segment: QueuedSegment) -> None:
        now = self.clock()
        airing = None if self.channel.rotation else airing_at(self.channel, now)
        zone = self.channel.zone
        self.record(
            ev.ProgrammeStarted(
                show=self.channel.keys[show],
                episode=segment.episode,
                title=self.channel.shows[show].title,
                air_time=now.astimezone(zone).isoformat(),
                slot_start=airing.start.astimezone(zone).isoformat() if airing is not None else "",
                slot_end=airing.end.astimezone(zone).isoformat() if airing is not None else "",
            )  # fmt: skip
        )

    def aired(self, segment: QueuedSegment) -> None:
        bumper_show = self._bumper_show(segment)
        if bumper_show is not None:
            self.record(
                ev.BumperAired(
                    show=self.channel.keys[bumper_show],
                    title=self.channel.shows[bumper_show].title,
                    seconds=self.bumpers[bumper_show].seconds,
                    previous_show=self.channel.keys[self.on_show] if self.on_show is not None else "",
                )  # fmt: skip
            )
            return
        self._queue_of(segment).aired(segment)

    def skipped(self, segment: QueuedSegment, reason: str, command_id: int | None) -> None:
        if self._bumper_show(segment) is not None:
            log.warning("the bumper %s could not air: %s", segment.segment_id, reason)
            return
        self._queue_of(segment).skipped(segment, reason, command_id)

    def _queue_of(self, segment: QueuedSegment) -> StationQueue:
        show = self._given.get(segment.segment_id) or self.on_show or self.slot_show
        assert show is not None
        return self.queues[show]
