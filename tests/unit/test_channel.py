"""The channel file (schema and loader, errors as `file:line: field:`) and the grid resolver across simulated days,
midnight and DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from studio.channel import channel_of_shows, clock_minutes, length_minutes, load_channel
from studio.channel_grid import airing_at, day_bounds, next_airing, next_start, schedule
from studio.errors import ShowFileError
from tests.conftest import REPO, TEST_SHOWS

CHANNELS = REPO / "tests" / "data" / "channels"
EXAMPLE = REPO / "channels" / "example.yaml"


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ShowFileError) as caught:
        load_channel(path)
    return [problem.split(f"{path}:", 1)[1] for problem in caught.value.problems]


def test_the_shipped_channel_loads_with_its_shows() -> None:
    channel = load_channel(EXAMPLE)
    assert channel.name == "Studio One" and channel.zone == ZoneInfo("Europe/London")
    assert list(channel.shows) == ["cooking", "nature", "sitcom"] and channel.default == "nature"
    assert channel.keys == {"cooking": "kitchen-quest", "nature": "wild-margins", "sitcom": "llama-ops"}
    assert [(slot.show, slot.start_minute, slot.minutes) for slot in channel.slots] == [
        ("cooking", 420, 120), ("cooking", 540, 180), ("sitcom", 1140, 90), ("sitcom", 1350, 150),
    ]  # fmt: skip
    assert channel.reruns == "allowed" and channel.bumpers and not channel.rotation


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bad_times.yaml", [
            "2: timezone: unknown time zone 'Mars/Olympus_Mons'",
            "7: slots.0.start: '25:00' is not a time of day",
            "8: slots.1: give either end or length",
            "9: slots.2.days.1: Input should be 'mon'",
            "10: slots.3.start: '7.30' is not a time of day",
            "10: slots.3.length: '3 days' is not a length",
        ]),
        ("bad_grid.yaml", [
            "1: default: the slots leave mon 14:00 empty",
            "6: shows.orphan: has no slot and is not the default",
            "9: slots.1: overlaps slots.0 on mon at 11:00",
            "10: slots.2.show: unknown show 'ghost'",
            "11: slots.3: overlaps slots.0 on mon at 06:00",
        ]),
        ("bad_format.yaml", [
            "4: shows.small: house format 256x144 at 12 fps differs from lab's 192x108 at 12 fps",
            "5: shows.missing: ",
        ]),
    ],
)  # fmt: skip
def test_a_bad_channel_file_names_every_problem_with_its_line(name: str, expected: list[str]) -> None:
    found = problems_of(CHANNELS / name)
    assert len(found) == len(expected), found
    for problem, start in zip(found, expected, strict=True):
        assert problem.startswith(start), (problem, start)


def test_unquoted_times_read_as_written_and_lengths_parse() -> None:
    assert clock_minutes("06:05") == 365 and clock_minutes("24:00", allow_24=True) == 1440
    assert [length_minutes(text) for text in ("90m", "1h30m", "2h", "45", "1h 5min")] == [90, 90, 120, 45, 65]
    channel = load_channel(CHANNELS / "day.yaml")
    assert [slot.start for slot in channel.slots] == ["06:00", "18:00"]


def test_plain_show_files_make_a_channel_one_all_day_several_in_rotation() -> None:
    one = channel_of_shows([TEST_SHOWS / "two_segments.yaml"])
    assert not one.rotation and airing_at(one, datetime(2026, 12, 7, 3, tzinfo=UTC)).show == one.default
    several = channel_of_shows([TEST_SHOWS / "two_segments.yaml", CHANNELS / "night_lab.yaml"])
    assert several.rotation and airing_at(several, datetime(2026, 12, 7, tzinfo=UTC)) is None
    with pytest.raises(ShowFileError, match="house format"):
        channel_of_shows([TEST_SHOWS / "two_segments.yaml", TEST_SHOWS / "minimal.yaml"])


def test_the_right_show_is_on_at_every_minute_of_a_simulated_day() -> None:
    channel = load_channel(CHANNELS / "day.yaml")
    day = datetime(2026, 12, 7, tzinfo=UTC)
    for minute in range(0, 24 * 60):
        at = day + timedelta(minutes=minute)
        expected = "lab" if 6 * 60 <= minute < 12 * 60 else "night" if minute >= 18 * 60 else "garden"
        airing = airing_at(channel, at)
        assert airing is not None and airing.show == expected, (minute, airing)
        assert airing.covers(at)
    lab = airing_at(channel, day + timedelta(hours=7))
    assert (lab.start, lab.end, lab.slot) == (day + timedelta(hours=6), day + timedelta(hours=12), 0)
    following = next_airing(channel, day + timedelta(hours=7))
    assert (following.show, following.start, following.end) == ("garden", lab.end, day + timedelta(hours=18))
    # The night slot runs over midnight into the next day; the garden fills the rest.
    night = airing_at(channel, day + timedelta(hours=23, minutes=59))
    assert night.end == day + timedelta(hours=24) and night.show == "night"
    assert next_start(channel, "lab", day + timedelta(hours=13)) == day + timedelta(days=1, hours=6)
    assert next_start(channel, "lab", day + timedelta(hours=7)) == day + timedelta(hours=7)
    listed = schedule(channel, *day_bounds(channel, day))
    assert [(a.show, a.start.hour, a.end.hour) for a in listed] == [
        ("garden", 0, 6), ("lab", 6, 12), ("garden", 12, 18), ("night", 18, 0),
    ]  # fmt: skip
    assert all(a.end == b.start for a, b in zip(listed, listed[1:], strict=False)), "no gaps, no overlaps"


def test_slots_follow_the_wall_clock_across_dst_changes() -> None:
    channel = load_channel(EXAMPLE)
    london = ZoneInfo("Europe/London")
    for day in (datetime(2026, 3, 28), datetime(2026, 3, 29), datetime(2026, 10, 24), datetime(2026, 10, 25)):
        at = day.replace(hour=19, minute=30, tzinfo=london)
        airing = airing_at(channel, at)
        assert airing.show == "sitcom", day
        assert airing.start.astimezone(london).hour == 19 and airing.end.astimezone(london).hour == 20
        start, end = day_bounds(channel, at)
        listed = schedule(channel, start, end)
        assert all(a.end == b.start for a, b in zip(listed, listed[1:], strict=False)), day
    # The day clocks go back is 25 hours long; the one they go forward, 23.
    assert day_bounds(channel, datetime(2026, 10, 25, 12, tzinfo=london))[1] - day_bounds(
        channel, datetime(2026, 10, 25, 12, tzinfo=london)
    )[0] == timedelta(hours=25)
    start, end = day_bounds(channel, datetime(2026, 3, 29, 12, tzinfo=london))
    assert end - start == timedelta(hours=23)
    # Friday's late sitcom runs past midnight into Saturday.
    late = airing_at(channel, datetime(2026, 12, 12, 0, 30, tzinfo=london))
    assert late.show == "sitcom" and late.start.astimezone(london).day == 11
