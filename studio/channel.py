"""The channel file: several shows on one channel, with a programme grid (which show airs when, in the station's
time zone), the rerun policy and bumpers between shows. Read through `studio.yamlfile` like a show file: every
problem at once, as `file:line: field: message`.

```yaml
name: Studio One
timezone: Europe/London          # IANA name; slot times are wall-clock times there (DST included)
shows:                           # a name for each show → its show file, relative to this file
  cooking: ../shows/cooking.yaml
  nature: ../shows/nature.yaml
default: nature                  # airs whenever no slot does (needed unless the slots fill the week)
reruns: allowed                  # or never
bumpers: true                    # the next show's ident airs between two shows
slots:
  - {show: cooking, start: "07:00", end: "09:00", days: [mon, tue, wed, thu, fri]}
  - {show: cooking, start: "18:30", length: 90m}
```

`channel_of_shows()` makes the channel of plain show files: one show airs all day; several rotate, an episode
each in turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import ConfigDict, Field, field_validator, model_validator

from studio import yamlfile
from studio.errors import ShowFileError
from studio.model_docs import DocumentedModel
from studio.show import load_show

if TYPE_CHECKING:
    from studio.show import Show

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * DAY_MINUTES
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_LENGTH = re.compile(r"(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?")
_EXPECTED = "a channel file is a mapping with name, timezone, shows, slots …"
NonEmpty = Annotated[str, Field(min_length=1)]


def clock_minutes(text: str, *, allow_24: bool = False) -> int:
    """Minutes after midnight of "HH:MM" (24-hour clock); "24:00" only as an end."""
    match = _CLOCK.fullmatch(text.strip())
    if match is None:
        raise ValueError(f'{text!r} is not a time of day; write it as "HH:MM" (24-hour clock), e.g. "18:30"')
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise ValueError(f"{text!r} is not a time of day (00:00 to 23:59{', or 24:00' if allow_24 else ''})")
    return hours * 60 + minutes


def length_minutes(text: str) -> int:
    """Minutes of a length such as "90m", "1h30m", "2h" or a plain number of minutes."""
    cleaned = text.strip().lower()
    if cleaned.isdigit():
        return int(cleaned)
    match = _LENGTH.fullmatch(cleaned)
    if not cleaned or match is None or not (match[1] or match[2]):
        raise ValueError(f"{text!r} is not a length; write minutes or hours, e.g. 90m, 1h30m, 2h")
    return int(match[1] or 0) * 60 + int(match[2] or 0)


class _Strict(DocumentedModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Slot(_Strict):
    show: NonEmpty
    """Which show airs (a name from `shows`)."""
    start: NonEmpty
    """When the slot starts, "HH:MM" on the station's clock."""
    end: str | None = None
    """When it ends, "HH:MM" ("24:00" is midnight; an end before the start is on the next day). Or give `length`."""
    length: str | None = None
    """How long it lasts: 30m, 1h30m, 2h (at most a day). Or give `end`."""
    days: list[Day] = Field(default_factory=lambda: list(DAYS), min_length=1)
    """The days the slot starts on, mon … sun; every day when left out."""

    @field_validator("start")
    @classmethod
    def _start_is_a_time(cls, start: str) -> str:
        clock_minutes(start)
        return start

    @field_validator("end")
    @classmethod
    def _end_is_a_time(cls, end: str | None) -> str | None:
        if end is not None:
            clock_minutes(end, allow_24=True)
        return end

    @field_validator("length")
    @classmethod
    def _length_is_a_length(cls, length: str | None) -> str | None:
        if length is not None:
            minutes = length_minutes(length)
            if not 0 < minutes <= DAY_MINUTES:
                raise ValueError(f"{length!r}: a slot lasts more than 0 minutes and at most a day (24h)")
        return length

    @model_validator(mode="after")
    def _end_or_length(self) -> Slot:
        if (self.end is None) == (self.length is None):
            raise ValueError("give either end or length (one of them)")
        if self.end is not None and clock_minutes(self.end, allow_24=True) % DAY_MINUTES == clock_minutes(self.start):
            raise ValueError(f"end {self.end} is the start: a slot lasts more than 0 minutes (at most a day)")
        return self

    @property
    def start_minute(self) -> int:
        return clock_minutes(self.start)

    @property
    def minutes(self) -> int:
        if self.length is not None:
            return length_minutes(self.length)
        assert self.end is not None
        return (clock_minutes(self.end, allow_24=True) - self.start_minute) % DAY_MINUTES or DAY_MINUTES

    def week_spans(self) -> list[tuple[int, int]]:
        """The minutes of the week (Monday 00:00 is 0) the slot covers, as [start, end) spans."""
        spans = []
        for day in sorted(DAYS.index(name) for name in set(self.days)):
            start = day * DAY_MINUTES + self.start_minute
            end = start + self.minutes
            spans += [(start, WEEK_MINUTES), (0, end - WEEK_MINUTES)] if end > WEEK_MINUTES else [(start, end)]
        return spans


class ChannelFile(_Strict):
    name: NonEmpty
    """The channel's name, on the web page and in the programme guide."""
    timezone: NonEmpty = "UTC"
    """IANA time zone of the grid's clock, e.g. Europe/London (DST changes follow it)."""
    shows: dict[str, str] = Field(min_length=1)
    """A short name for each show → its show file, relative to this channel file."""
    default: str | None = None
    """The show that airs whenever no slot does; needed unless the slots fill the whole week."""
    reruns: Literal["allowed", "never"] = "allowed"
    """Whether a show may air an episode again when its slot has no new one ready."""
    bumpers: bool = True
    """Air the next show's ident between two shows."""
    slots: list[Slot] = []
    """The programme grid. Without slots, the default show airs all the time."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r}; use an IANA name such as UTC, Europe/London or America/New_York"
            ) from None
        return name

    @model_validator(mode="after")
    def _grid_is_consistent(self) -> ChannelFile:
        names = list(self.shows)
        known = ", ".join(names)
        problems: list[str] = []
        if self.default is not None and self.default not in self.shows:
            problems.append(f"default: unknown show {self.default!r} (the channel's shows are {known})")
        for index, slot in enumerate(self.slots):
            if slot.show not in self.shows:
                problems.append(f"slots.{index}.show: unknown show {slot.show!r} (the channel's shows are {known})")
        spans = [(span, index) for index, slot in enumerate(self.slots) for span in slot.week_spans()]
        spans.sort()
        reported: set[tuple[int, int]] = set()
        for position, ((_start, end), index) in enumerate(spans):
            for (other_start, _), other in spans[position + 1 :]:
                if other_start >= end:
                    break
                pair = (min(index, other), max(index, other))
                if pair not in reported and other != index:
                    reported.add(pair)
                    later = max(index, other)
                    problems.append(
                        f"slots.{later}: overlaps slots.{min(index, other)} on {DAYS[other_start // DAY_MINUTES]}"
                        f" at {(other_start % DAY_MINUTES) // 60:02d}:{other_start % 60:02d}; slots may not overlap"
                    )
        if self.default is None:
            covered = 0
            for (start, end), _ in spans:
                if start > covered:
                    break
                covered = max(covered, end)
            if covered < WEEK_MINUTES:
                where = "no slots" if not self.slots else (
                    f"the slots leave {DAYS[covered // DAY_MINUTES]} {(covered % DAY_MINUTES) // 60:02d}:"
                    f"{covered % 60:02d} empty"
                )  # fmt: skip
                problems.append(f"default: {where}; name the show that airs when no slot does (default: NAME)")
        slotted = {slot.show for slot in self.slots} | {self.default}
        for name in names:
            if name not in slotted:
                problems.append(f"shows.{name}: has no slot and is not the default, so it would never air")
        if problems:
            raise ValueError("\n".join(problems))
        return self


@dataclass(frozen=True)
class Channel:
    """A channel ready to air: its shows loaded, its grid in minutes, its clock's zone."""

    name: str
    zone: ZoneInfo
    shows: dict[str, Show]
    """The channel's name for each show → the show, in the order the channel file lists them."""
    slots: tuple[Slot, ...] = ()
    default: str | None = None
    reruns: str = "allowed"
    bumpers: bool = True
    source: Path | None = None
    keys: dict[str, str] = field(default_factory=dict)
    """The channel's name for each show → the show's key in the station store (the slug of its title)."""

    def __post_init__(self) -> None:
        from studio.state import slug

        self.keys.update({name: slug(show.title) for name, show in self.shows.items()})

    @property
    def rotation(self) -> bool:
        """No grid: the shows take turns, an episode each."""
        return not self.slots and self.default is None

    @property
    def first(self) -> Show:
        return next(iter(self.shows.values()))

    def name_of(self, show_key: str) -> str:
        return next(name for name, key in self.keys.items() if key == show_key)


def channel_of_shows(paths: list[str | Path]) -> Channel:
    """The channel of plain show files: one airs all the time; several rotate (no grid). UTC clock."""
    shows = {}
    for path in paths:
        show = load_show(path)
        shows[str(path)] = show
    first = next(iter(shows.values()))
    _check_house_format(shows, None)
    return Channel(
        name=first.title if len(shows) == 1 else " · ".join(show.title for show in shows.values()),
        zone=ZoneInfo("UTC"), shows=shows, default=str(paths[0]) if len(shows) == 1 else None,
    )  # fmt: skip


def _check_house_format(shows: dict[str, Show], problems: list[str] | None) -> None:
    """One muxer stream-copies every segment, so every show of a channel has the same house format."""
    first_name, first = next(iter(shows.items()))
    look = (first.channel.width, first.channel.height, first.channel.fps)
    from studio.state import slug

    keys: dict[str, str] = {}
    for name, show in shows.items():
        theirs = (show.channel.width, show.channel.height, show.channel.fps)
        problem = ""
        if theirs != look:
            problem = (
                f"shows.{name}: house format {theirs[0]}x{theirs[1]} at {theirs[2]} fps differs from {first_name}'s"
                f" {look[0]}x{look[1]} at {look[2]} fps; one channel airs one format (set the same `channel:`"
                " width, height and fps in every show file)"
            )
        elif slug(show.title) in keys:
            problem = (
                f"shows.{name}: its title {show.title!r} is {keys[slug(show.title)]}'s (the station keeps each show"
                " under its title); give the shows different titles"
            )
        keys.setdefault(slug(show.title), name)
        if problem and problems is None:
            raise ShowFileError(problem.split(": ", 1)[1])
        if problem and problems is not None:
            problems.append(problem)


def _times_as_text(root: yaml.MappingNode) -> None:
    """Slot times read as written: YAML 1.1 reads an unquoted 18:30 as the number 1110 (base 60)."""
    for key, value in root.value:
        if key.value == "slots" and isinstance(value, yaml.SequenceNode):
            for item in value.value:
                if isinstance(item, yaml.MappingNode):
                    for slot_key, slot_value in item.value:
                        if slot_key.value in ("start", "end", "length") and isinstance(slot_value, yaml.ScalarNode):
                            slot_value.tag = "tag:yaml.org,2002:str"


def load_channel(path: str | Path) -> Channel:
    """Read and validate a channel file and the show files it names; every problem is a `ShowFileError` naming the
    file and line (a show file's own problems name that file)."""
    channel_path = Path(path)
    source = str(channel_path)
    text = yamlfile.decode(yamlfile.read_show_bytes(channel_path), source)
    shows: dict[str, Show] = {}

    def load_shows(spec: ChannelFile) -> list[str]:
        problems: list[str] = []
        for name, show_file in spec.shows.items():
            show_path = channel_path.parent / show_file
            try:
                shows[name] = load_show(show_path)
            except ShowFileError as error:
                more = (
                    f" (and {len(error.problems) - 1} more: studio validate {show_path})"
                    if len(error.problems) > 1
                    else ""
                )
                problems.append(f"shows.{name}: {error.problems[0].strip()}{more}")
        if shows:
            _check_house_format(shows, problems)
        return problems

    spec = yamlfile.parse_document(
        text, source, ChannelFile, expected=_EXPECTED, as_text=_times_as_text, after=load_shows
    )
    return Channel(
        name=spec.name, zone=ZoneInfo(spec.timezone), shows=shows, slots=tuple(spec.slots), default=spec.default,
        reruns=spec.reruns, bumpers=spec.bumpers, source=channel_path,
    )  # fmt: skip


def is_channel_file(path: str | Path) -> bool:
    """Whether a file given to `studio run` is a channel file (it has `slots:`, `shows:` or `timezone:` at the top)
    rather than a show file."""
    try:
        text = yamlfile.decode(yamlfile.read_show_bytes(Path(path)), str(path))
    except ShowFileError:
        return False
    return any(re.match(rf"{key}\s*:", line) for line in text.splitlines() for key in ("shows", "slots", "timezone"))
