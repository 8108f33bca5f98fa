from __future__ import annotations

from pathlib import Path

from studio.station import Station


def test_rundown_lifecycle_and_playout_order(tmp_path: Path) -> None:
    station = Station(tmp_path / "station.sqlite")
    for index in range(3):
        station.plan_segment(
            segment_id=f"s{index}", show="x", episode=1, segment_index=index, title=f"t{index}", format="f"
        )
    station.plan_segment(segment_id="s0", show="x", episode=1, segment_index=0, title="again", format="f")
    assert [e.segment_id for e in station.rundown("x")] == ["s0", "s1", "s2"]
    station.approve_segment("s1", tmp_path / "s1.mp4", 4.0)
    station.approve_segment("s0", tmp_path / "s0.mp4", 3.0)
    station.drop_segment("s2", "critic")
    assert station.buffered_seconds() == 7.0
    first = station.next_to_air()
    assert first is not None and first.segment_id == "s0"
    station.mark_aired("s0")
    station.mark_aired("s0")
    second = station.next_to_air(first.position)
    assert second is not None and second.segment_id == "s1"
    assert station.buffered_seconds() == 4.0
    statuses = {e.segment_id: e.status for e in station.rundown()}
    assert statuses == {"s0": "aired", "s1": "approved", "s2": "dropped"}
    # An aired or dropped segment can never be re-approved (a resumed episode must not air it twice).
    station.approve_segment("s0", tmp_path / "other.mp4", 3.0)
    assert station.rundown()[0].status == "aired"


def test_log_commands_and_lessons_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "station.sqlite"
    station = Station(path)
    station.log(show="x", agent="critic", kind="verdict", summary="ok", output={"score": 1.0}, backend="checks")
    station.add_command("x", "topic: soup")
    station.add_lesson("x", "IMAX", "leaked")
    station.close()
    reopened = Station(path)
    [event] = reopened.events(show="x")
    assert (event.agent, event.output, event.backend) == ("critic", {"score": 1.0}, "checks")
    assert reopened.take_commands("x") == ["topic: soup"]
    assert reopened.take_commands("x") == []
    assert reopened.lessons("x") == ["imax"]
