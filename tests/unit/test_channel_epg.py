"""The programme guide (epg.json and XMLTV) from the grid and the agents' plans in the store; the XMLTV validates
against the published XMLTV DTD."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from studio import events as ev
from studio.channel import load_channel
from studio.channel_epg import programme_guide, xmltv
from studio.station import Station
from tests.conftest import REPO

CHANNELS = REPO / "tests" / "data" / "channels"
DTD = REPO / "tests" / "data" / "xmltv.dtd"


def plan(show: str, number: int, title: str, logline: str) -> ev.EpisodePlanned:
    segment = ev.PlannedSegment(f"{show}-e{number:04d}-s01", "opening", "opening", 2.0)
    return ev.EpisodePlanned(
        show=show, episode=number, title=title, topic="boxes", logline=logline, segments=(segment,),
        planned_seconds=2.0,
    )  # fmt: skip


def assert_valid_xmltv(document: bytes) -> None:
    from lxml import etree

    dtd = etree.DTD(str(DTD))
    root = etree.fromstring(document)
    assert dtd.validate(root), dtd.error_log.filter_from_errors()


def test_the_guide_lists_the_grid_with_the_agents_plans_and_validates_as_xmltv(tmp_path: Path) -> None:
    channel = load_channel(CHANNELS / "day.yaml")
    station = Station(tmp_path / "station.sqlite")
    station.record_many([
        plan("station-test", 1, "The Tidy Shelf", "Bo & Mia sort <boxes>."),
        plan("station-test", 2, "Lamp Day", "The lamps go on."),
        plan("night-lab", 1, "Night Gears", "Gears at night."),
    ])  # fmt: skip
    now = datetime(2026, 12, 7, 7, 30, tzinfo=UTC)
    station.record(
        ev.ProgrammeStarted(show="station-test", episode=1, title="Station Test", air_time="2026-12-07T06:00:10+00:00")
    )
    guide = programme_guide(channel, station, now, has_picture=lambda segment_id: segment_id.endswith("s01"))
    listed = [(p["show"], p["start"][:16], p["episode"], p["episode_title"]) for p in guide["programmes"]]
    assert listed == [
        ("garden", "2026-12-07T00:00", None, ""),
        ("lab", "2026-12-07T06:00", 1, "The Tidy Shelf"),
        ("garden", "2026-12-07T12:00", None, ""),
        ("night", "2026-12-07T18:00", 1, "Night Gears"),
        ("garden", "2026-12-08T00:00", None, ""),
        ("lab", "2026-12-08T06:00", 2, "Lamp Day"),
        ("garden", "2026-12-08T12:00", None, ""),
        ("night", "2026-12-08T18:00", None, ""),
    ]
    [on_now] = [p for p in guide["programmes"] if p["on_now"]]
    assert on_now["summary"] == "Bo & Mia sort <boxes>." and on_now["picture"] == "/picture/station-test-e0001-s01.png"
    assert guide["programmes"][0]["summary"] == channel.shows["garden"].premise and guide["ai_generated"]
    document = xmltv(guide, channel_id="test-channel.studio", base_url="http://127.0.0.1:8090/")
    assert_valid_xmltv(document)
    assert b'<sub-title lang="en">The Tidy Shelf</sub-title>' in document and b"&lt;boxes&gt;" in document
    assert b'start="20261207060000 +0000" stop="20261207120000 +0000"' in document
    assert b'<icon src="http://127.0.0.1:8090/picture/station-test-e0001-s01.png"' in document
    station.close()
