"""ShowMemory over the station store alone (no index): the canon's history, pins, premises by topic."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio import events as ev
from studio.memory import ShowMemory
from studio.show import parse_show
from studio.station import Station

SHOW = """\
title: Canon Lab
premise: a robot keeps a lab
tone: dry
visual_style: flat colours
characters:
  - {name: Bo, species: robot, look: a small round orange robot, wardrobe: a blue scarf, palette: [orange, blue]}
places:
  - {name: Lab, description: a white lab, palette: [white]}
formats:
  - {name: only, description: Bo works, beats: ["{host} works"], seconds: 3}
topics: [gears, lamps]
music: {mood: calm}
"""


def memory_for(station: Station, text: str = SHOW) -> ShowMemory:
    return ShowMemory(station, parse_show(text, "canon.yaml"), "canon-lab")


def test_the_show_file_seeds_the_canon_once_and_an_edit_is_a_recorded_change_that_keeps_pins(tmp_path: Path) -> None:
    station = Station(tmp_path / "station.sqlite")
    memory = memory_for(station)
    first = memory.seed_canon()
    assert [(c.kind, c.name, c.reason) for c in first] == [
        ("character", "Bo", "from the show file"),
        ("place", "Lab", "from the show file"),
    ]
    station.record_many(first)
    assert memory.seed_canon() == [], "an unchanged show file changes nothing"
    pinned = memory.pin("character", "bo", "wears a red scarf", command_id=7)
    station.record(pinned)
    assert pinned.reason == "pinned by a person (command 7)"
    assert "a red scarf" in pinned.description and "blue scarf" not in pinned.description
    edited = memory_for(station, SHOW.replace("small round orange robot", "tall thin orange robot"))
    [change] = edited.seed_canon()
    assert change.reason == "the show file changed" and change.previous_description == pinned.description
    assert "tall thin orange robot" in change.description and "red scarf" in change.description, "the pin stays"
    station.record(change)
    assert edited.canon().entry("character", "Bo").description == change.description


def test_forgetting_a_pin_goes_back_to_the_show_file(tmp_path: Path) -> None:
    station = Station(tmp_path / "station.sqlite")
    memory = memory_for(station)
    station.record_many(memory.seed_canon())
    station.record(memory.pin("character", "Bo", "has a green antenna"))
    station.record(memory.pin("character", "Bo", "wears a red scarf"))
    back = memory.unpin("character", "Bo")
    assert back.traits == ("has a green antenna",) and "blue scarf" in back.description
    station.record(back)
    with pytest.raises(KeyError, match="has no trait 'a hat'"):
        memory.unpin("character", "Bo", "a hat")
    with pytest.raises(KeyError, match=r"no character 'Zorg' in this show \(characters: Bo\)"):
        memory.pin("character", "Zorg", "glows")


def test_premises_are_checked_by_topic_without_an_index(tmp_path: Path) -> None:
    station = Station(tmp_path / "station.sqlite")
    memory = memory_for(station)
    station.record(
        ev.EpisodePlanned(
            show="canon-lab", episode=1, title="Gear Day", topic="Gears", logline="l", segments=(), planned_seconds=3.0
        )  # fmt: skip
    )
    assert memory.aired_topics(before_episode=2) == ["Gears"]
    same = memory.check_premise(" gears ", "gears: Gears Again", before_episode=2)
    assert (same.similarity, same.episode, same.nearest) == (1.0, 1, "Gears: Gear Day")
    assert memory.check_premise("lamps", "lamps: Lamp Night", before_episode=2).similarity == 0.0
    assert memory.check_premise("gears", "gears", before_episode=1).episode is None, "only earlier episodes count"
