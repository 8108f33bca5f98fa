"""The station store: typed events round-trip, what each event means for the rundown, commands and state."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from studio import events as ev
from studio.station import Station


def sample(hint: Any, name: str = "x") -> Any:
    """A value of every field type the event vocabulary uses, different from the defaults."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, __import__("types").UnionType):
        return sample(next(arg for arg in typing.get_args(hint) if arg is not type(None)), name)
    if origin is tuple:
        return (sample(typing.get_args(hint)[0], name), sample(typing.get_args(hint)[0], name + "2"))
    if hint is Mapping[str, Any] or origin is Mapping:
        return {"key": [1, "two", {"three": 3.5}], "flag": True}
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        return hint(**{f.name: sample(hints[f.name], f.name) for f in dataclasses.fields(hint)})
    return {str: f"{name}-value", int: 7, float: 2.25, bool: True}[hint]


def every_event() -> list[ev.Event]:
    made = []
    for cls in ev.EVENT_TYPES.values():
        hints = typing.get_type_hints(cls)
        fields = {
            f.name: sample(hints[f.name], f.name) for f in dataclasses.fields(cls) if f.name not in ("event_id", "at")
        }
        fields["show"] = "round-trip"
        made.append(cls(**fields))
    return made


def test_every_event_type_round_trips_through_json_and_the_store(tmp_path: Path) -> None:
    station = Station(tmp_path / "station.sqlite")
    events = every_event()
    assert {type(e) for e in events} == set(ev.EVENT_TYPES.values())
    for event in events:
        payload = json.loads(json.dumps(event.to_dict()))
        assert payload["type"] == event.type and payload["agent"] == event.agent
        assert set(payload) == {"type", "agent", *(f.name for f in dataclasses.fields(event))}
        assert ev.event_from_dict(payload) == event
    station.record_many(events)
    station.close()
    read_back = [logged.event for logged in Station(tmp_path / "station.sqlite").events()]
    assert read_back == events


def test_an_event_is_kept_once_even_when_recorded_again(tmp_path: Path) -> None:
    station = Station(tmp_path / "station.sqlite")
    planned = ev.EpisodePlanned(
        show="x", episode=1, title="One", topic="t", logline="l", planned_seconds=4.0,
        segments=(ev.PlannedSegment("x-e0001-s01", "a", "f", 4.0),),
    )  # fmt: skip
    assert station.record(planned) is not None
    assert station.record(planned) is None
    assert len(station.events()) == 1 and len(station.rundown()) == 1


def _plan(station: Station, episode: int, count: int, seconds: float = 3.0) -> list[str]:
    ids = [f"x-e{episode:04d}-s{i + 1:02d}" for i in range(count)]
    station.record(
        ev.EpisodePlanned(
            show="x",
            episode=episode,
            title=f"E{episode}",
            topic="t",
            logline="l",
            planned_seconds=count * seconds,
            segments=tuple(ev.PlannedSegment(s, s, "f", seconds) for s in ids),
        )
    )
    return ids


def _approve(station: Station, segment_id: str, seconds: float = 3.0) -> None:
    station.record(
        ev.SegmentApproved(show="x", segment_id=segment_id, path=f"/m/{segment_id}.mp4", seconds=seconds, shots=1)
    )


def test_rundown_lifecycle_and_buffered_seconds(tmp_path: Path) -> None:
    station = Station(tmp_path / "station.sqlite")
    s1, s2, s3 = _plan(station, 1, 3)
    assert [e.status for e in station.rundown("x")] == ["planned"] * 3
    assert [e.planned_seconds for e in station.rundown("x")] == [3.0] * 3
    _approve(station, s1)
    _approve(station, s2, 4.0)
    station.record(ev.SegmentDropped(show="x", segment_id=s3, reason="critic"))
    assert station.buffered_seconds("x") == 7.0
    station.record(ev.SegmentOnAir(show="x", segment_id=s1, seconds=3.0))
    assert station.buffered_seconds("x") == 7.0, "what is on air still counts until it has aired"
    station.record(ev.SegmentAired(show="x", segment_id=s1, seconds=3.0))
    assert station.buffered_seconds("x") == 4.0
    # A segment whose file broke after approval is skipped: never buffered, never offered again.
    station.record(ev.SegmentSkipped(show="x", segment_id=s2, reason="file is unreadable"))
    assert station.buffered_seconds("x") == 0.0
    assert station.queue("x") == []
    assert {e.segment_id: e.status for e in station.rundown()} == {s1: "aired", s2: "skipped", s3: "dropped"}
    assert station.segment(s2).note == "file is unreadable"
    # Nothing terminal comes back: a replayed approval or a repeat airing changes nothing.
    _approve(station, s1)
    station.record(ev.SegmentOnAir(show="x", segment_id=s1, seconds=3.0, repeat=True))
    assert station.segment(s1).status == "aired"


def test_interrupted_segments_go_back_to_the_queue(tmp_path: Path) -> None:
    station = Station(tmp_path / "station.sqlite")
    (s1,) = _plan(station, 1, 1)
    _approve(station, s1)
    station.record(ev.SegmentOnAir(show="x", segment_id=s1, seconds=3.0))
    assert station.requeue_interrupted("x") == [s1]
    assert station.segment(s1).status == "approved"
    assert [e.segment_id for e in station.queue("x")] == [s1]


def test_person_commands_change_the_rundown_and_state(tmp_path: Path) -> None:
    station = Station(tmp_path / "station.sqlite")
    s1, s2 = _plan(station, 1, 2)
    _approve(station, s1)
    station.record(ev.SegmentRejected(show="x", segment_id=s1, reason="too dark", command_id=1))
    station.record(ev.SegmentRemoved(show="x", segment_id=s2, reason="off topic", command_id=2))
    assert [e.status for e in station.rundown("x")] == ["rejected", "removed"]
    assert station.buffered_seconds("x") == 0.0
    station.record(ev.SegmentReinstated(show="x", segment_id=s1, command_id=3))
    station.record(ev.SegmentReinstated(show="x", segment_id=s2, command_id=4))
    assert [e.status for e in station.rundown("x")] == ["approved", "planned"], "no file yet: back to planned"
    for kind, key, value in (("pause", "paused", True), ("hold", "hold", True), ("resume", "paused", False)):
        command_id = station.add_command("x", kind)
        station.record(ev.CommandApplied(show="x", command_id=command_id, kind=kind, effect="ok"))
        assert station.flag("x", key) is value
    assert station.flag("x", "hold") is True and station.flag("other", "hold") is False


def test_commands_are_answered_once_and_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "station.sqlite"
    station = Station(path)
    first = station.add_command("x", "steer", {"note": "topic: soup"})
    second = station.add_command("x", "skip")
    with pytest.raises(ValueError, match="unknown command"):
        station.add_command("x", "explode")
    station.record(ev.CommandReceived(show="x", command_id=first, kind="steer", args={"note": "topic: soup"}))
    station.close()
    station = Station(path)
    assert [(c.id, c.status) for c in station.commands(show="x")] == [(first, "received"), (second, "pending")]
    station.record(ev.CommandApplied(show="x", command_id=first, kind="steer", effect="used in episode 2"))
    station.record(ev.CommandRejected(show="x", command_id=first, kind="steer", reason="too late"))
    station.record(ev.CommandRejected(show="x", command_id=second, kind="skip", reason="nothing on air"))
    answered = {c.id: (c.status, c.outcome) for c in station.commands()}
    assert answered == {first: ("applied", "used in episode 2"), second: ("rejected", "nothing on air")}


def test_lessons_are_kept_per_show(tmp_path: Path) -> None:
    station = Station(tmp_path / "station.sqlite")
    station.record(ev.LessonLearned(show="x", word="IMAX", reason="leaked"))
    station.record(ev.LessonLearned(show="x", word="imax", reason="again"))
    assert station.lessons("x") == ["imax"] and station.lessons("y") == []


def test_event_filters_and_last(tmp_path: Path) -> None:
    station = Station(tmp_path / "station.sqlite")
    for number in range(1, 6):
        station.record(ev.EpisodeEmpty(show="x", episode=number, title=f"E{number}", reason="r"))
    station.record(ev.StationStopped(show="y", reason="done"))
    assert [e.event.episode for e in station.events(last=2, show="x")] == [4, 5]
    assert [e.event.type for e in station.events(agent="station")] == ["StationStopped"]
    assert [e.event.episode for e in station.events(episode=3)] == [3]
    assert len(station.events(types=["EpisodeEmpty"], limit=3)) == 3


def test_a_store_written_by_studio_0_1_is_upgraded_without_losing_anything(tmp_path: Path) -> None:
    path = tmp_path / "station.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, show TEXT NOT NULL, episode INTEGER,
            segment INTEGER, shot TEXT, agent TEXT NOT NULL, kind TEXT NOT NULL, backend TEXT NOT NULL DEFAULT '',
            summary TEXT NOT NULL DEFAULT '', output TEXT NOT NULL DEFAULT '{}', duration_ms REAL NOT NULL DEFAULT 0);
        CREATE TABLE rundown (position INTEGER PRIMARY KEY AUTOINCREMENT, segment_id TEXT NOT NULL UNIQUE,
            show TEXT NOT NULL, episode INTEGER NOT NULL, segment_index INTEGER NOT NULL, title TEXT NOT NULL,
            format TEXT NOT NULL, status TEXT NOT NULL, path TEXT, seconds REAL NOT NULL DEFAULT 0,
            note TEXT NOT NULL DEFAULT '', updated REAL NOT NULL, aired_at REAL);
        CREATE TABLE commands (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, show TEXT NOT NULL,
            text TEXT NOT NULL, consumed_at REAL);
        INSERT INTO events (ts, show, agent, kind, summary, output) VALUES (1.0, 'x', 'critic', 'verdict', 'ok', '{"a": 1}');
        INSERT INTO rundown (segment_id, show, episode, segment_index, title, format, status, path, seconds, updated)
            VALUES ('x-e0001-s01', 'x', 1, 0, 't', 'f', 'approved', '/m/a.mp4', 3.0, 1.0);
        INSERT INTO commands (ts, show, text, consumed_at) VALUES (1.0, 'x', 'topic: old', 2.0), (1.5, 'x', 'topic: new', NULL);
        """
    )
    old.commit()
    old.close()
    station = Station(path)
    [legacy] = station.events()
    assert isinstance(legacy.event, ev.LegacyEvent)
    assert (legacy.event.old_agent, legacy.event.kind, legacy.event.text, dict(legacy.event.output)) == (
        "critic", "verdict", "ok", {"a": 1},
    )  # fmt: skip
    assert station.buffered_seconds("x") == 3.0
    assert [(c.kind, c.args, c.status) for c in station.commands()] == [
        ("steer", {"note": "topic: old"}, "applied"), ("steer", {"note": "topic: new"}, "pending"),
    ]  # fmt: skip
    station.record(ev.StationStopped(show="x", reason="r"))
    assert len(station.events()) == 2
