"""The grid resolver: which show's slot airs at a moment, when it ends, what follows. Pure functions of a `Channel`
and an aware datetime, so a test can walk a whole simulated day (or a DST change) in microseconds.

Slot times are wall-clock times in the channel's zone (`zoneinfo`), so a 19:00 slot starts at 19:00 local time on
both sides of a DST change. A slot that would start in the hour a spring change skips starts at the same wall
time read before the change (zoneinfo's fold=0); every comparison is made in UTC. Time no slot takes is the
default show's, cut at local midnight so the guide lists one programme per day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from studio.channel import DAY_MINUTES, DAYS

if TYPE_CHECKING:
    from studio.channel import Channel


@dataclass(frozen=True)
class Airing:
    """One programme of the grid: a show's slot (or the default show's fill) from `start` to `end` (UTC)."""

    show: str
    """The channel's name for the show."""
    start: datetime
    end: datetime
    slot: int | None
    """Index of the slot in the channel file; None for the default show filling unslotted time."""

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


def _wall(channel: Channel, day: date, minute: int) -> datetime:
    """UTC of `minute` minutes after local midnight of `day` on the channel's clock (wall time)."""
    local_day = day + timedelta(days=minute // DAY_MINUTES)
    minute %= DAY_MINUTES
    local = datetime.combine(local_day, time(minute // 60, minute % 60), tzinfo=channel.zone)
    return local.astimezone(UTC)


def _slots_starting(channel: Channel, first: date, last: date) -> list[Airing]:
    airings = []
    day = first
    while day <= last:
        weekday = DAYS[day.weekday()]
        for index, slot in enumerate(channel.slots):
            if weekday in slot.days:
                start = _wall(channel, day, slot.start_minute)
                end = _wall(channel, day, slot.start_minute + slot.minutes)
                airings.append(Airing(slot.show, start, end, index))
        day += timedelta(days=1)
    return sorted(airings, key=lambda airing: airing.start)


def schedule(channel: Channel, start: datetime, end: datetime) -> list[Airing]:
    """Every airing that overlaps [start, end), in order, without gaps: slots, and the default show between them.
    Rotation channels (no grid) have none."""
    if channel.rotation:
        return []
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    first = start.astimezone(channel.zone).date() - timedelta(days=1)  # a slot may run over midnight (up to a day)
    last = end.astimezone(channel.zone).date() + timedelta(days=1)
    timeline: list[Airing] = []
    cursor = _wall(channel, first, 0)
    for slot in _slots_starting(channel, first, last):
        slot_start = max(slot.start, cursor)  # a DST change may make two wall-clock slots touch
        if slot_start >= slot.end:
            continue
        timeline += _fill(channel, cursor, slot_start)
        timeline.append(Airing(slot.show, slot_start, slot.end, slot.slot))
        cursor = slot.end
    timeline += _fill(channel, cursor, _wall(channel, last + timedelta(days=1), 0))
    return [airing for airing in timeline if airing.end > start and airing.start < end]


def _fill(channel: Channel, start: datetime, end: datetime) -> list[Airing]:
    """The default show from `start` to `end`, one airing per local day."""
    if channel.default is None or start >= end:
        return []
    airings = []
    while start < end:
        local = start.astimezone(channel.zone)
        midnight = _wall(channel, local.date() + timedelta(days=1), 0)
        airings.append(Airing(channel.default, start, min(midnight, end), None))
        start = min(midnight, end)
    return airings


def airing_at(channel: Channel, at: datetime) -> Airing | None:
    """The airing on the grid at `at` (aware); None for a rotation channel."""
    at = at.astimezone(UTC)
    return next((airing for airing in schedule(channel, at, at + timedelta(seconds=1)) if airing.covers(at)), None)


def next_airing(channel: Channel, at: datetime) -> Airing | None:
    """The airing after the one at `at`."""
    now = airing_at(channel, at)
    return None if now is None else airing_at(channel, now.end)


def next_start(channel: Channel, show: str, at: datetime, horizon: timedelta = timedelta(days=8)) -> datetime | None:
    """When `show` is next on the grid at or after `at` (`at` itself while its airing runs); None if not within
    `horizon` or on a rotation channel."""
    for airing in schedule(channel, at, at + horizon):
        if airing.show == show:
            return max(airing.start, at.astimezone(UTC))
    return None


def day_bounds(channel: Channel, at: datetime) -> tuple[datetime, datetime]:
    """Local midnight to midnight of the channel's day at `at`, in UTC."""
    day = at.astimezone(channel.zone).date()
    return _wall(channel, day, 0), _wall(channel, day + timedelta(days=1), 0)
