"""`StationView`: what the TUI shows, read from a real store at a fixed moment (no Textual needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio import events as ev
from studio.station import Station
from studio.tui.view import LogFilter, StationView, answer_to
from tests.tui import scene


@pytest.fixture
def view(tmp_path: Path) -> StationView:
    station = Station(scene.build(tmp_path / "data"))
    made = StationView(station, scene.SHOW, clock=lambda: scene.NOW)
    made.refresh()
    return made


def test_on_air_the_segment_its_current_shot_the_next_join_and_the_buffer(view: StationView) -> None:
    assert view.on_air is not None and view.on_air.segment_id == scene.SEGMENTS[0]
    assert view.seconds_to_next_join() == pytest.approx(0.5)
    shot = view.shot_on_air()
    assert shot is not None and shot.shot_id == "e0001-s01-sh02", "1.5 s into two 1 s shots: the second"
    assert view.thumbnail() == Path(shot.thumbnail) and view.thumbnail().name == "e0001-s01-sh02.thumb.png"
    assert view.buffered_seconds() == pytest.approx(0.5), "2 s approved, 1.5 s of it already aired"
    assert view.outputs == {"hls": True, "rtmp": True}
    assert view.buffer_target_s == 120.0
    assert [entry.segment_id for entry in view.up_next()] == list(scene.SEGMENTS[1:])


def test_outputs_follow_lost_and_restored_and_the_station_stopping(view: StationView) -> None:
    view.station.record(ev.OutputLost(show=scene.SHOW, output="rtmp", url="rtmp://host/live/***", note="refused"))
    view.refresh()
    assert view.outputs == {"hls": True, "rtmp": False}
    view.station.record(ev.OutputRestored(show=scene.SHOW, output="rtmp", url="rtmp://host/live/***"))
    view.station.record(ev.StationStopped(show=scene.SHOW, reason="done"))
    view.refresh()
    assert view.stopped == "done" and view.on_air is None and not any(view.outputs.values())


def test_the_rundown_shows_each_segment_and_shot_state_with_tries_and_verdicts(view: StationView) -> None:
    rows = {row.key: row for row in view.rundown_rows()}
    assert rows[scene.SEGMENTS[0]].state == "on air"
    assert rows[scene.SEGMENTS[1]].state == "rendering 1/2", "one shot approved, one re-rendering"
    assert rows[scene.SEGMENTS[2]].state == "planned"
    assert rows["e0001-s02-sh01"].state == "rendering" and rows["e0001-s02-sh01"].attempts == "2"
    assert rows["e0001-s02-sh02"].verdict == "pass 0.93"
    failed = view.shots["e0001-s02-sh01"]
    assert failed.contact_sheet.endswith("e0001-s02-sh01.sheet.png")
    assert failed.prompt == "flat bright colours. Bo rolls right", "the repaired prompt replaces the designed one"


def test_production_rate_is_approved_show_seconds_per_wall_second(view: StationView) -> None:
    [(approved_at, seconds)] = list(view.approvals)
    assert view.production_rate() == pytest.approx(seconds / (scene.NOW - scene.T0))
    assert approved_at > scene.T0


def test_the_log_filters_by_agent_episode_and_verdict(view: StationView) -> None:
    critic = view.filtered_log(LogFilter(agent="critic"))
    assert critic and all(logged.event.agent == "critic" for logged in critic)
    failed = view.filtered_log(LogFilter(verdict="failed"))
    assert [logged.event.shot for logged in failed] == ["e0001-s02-sh01"]
    assert len(view.filtered_log(LogFilter(verdict="passed"))) == 3
    assert view.filtered_log(LogFilter(episode=2)) == []
    episode_one = view.filtered_log(LogFilter(episode=1))
    assert episode_one and all(logged.event.episode == 1 for logged in episode_one)
    assert "critic" in view.agents() and "command" in view.agents()


def test_answers_to_this_front_ends_commands_only(view: StationView) -> None:
    sent = view.send("skip")
    assert view.station.command(sent).kind == "skip"
    applied = ev.CommandApplied(show=scene.SHOW, command_id=sent, kind="skip", effect="cut it")
    other = ev.CommandApplied(show=scene.SHOW, command_id=sent + 1, kind="skip", effect="cut it")
    assert answer_to(applied, [sent]) == (True, f"command {sent} (skip) applied: cut it")
    assert answer_to(other, [sent]) is None
    statuses = {command.kind: command.status for command in view.commands()}
    assert statuses == {"steer": "applied", "pin": "rejected", "skip": "pending"}
    assert view.canon_names() == {}


def test_attaching_reads_the_latest_start_and_a_bounded_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.tui import view as view_module

    station = Station(scene.build(tmp_path / "data"))
    station.record_many([ev.CommandReceived(show=scene.SHOW, command_id=99, kind="skip") for _ in range(30)])
    monkeypatch.setattr(view_module, "LOG_HISTORY", 10)
    attached = StationView(station, scene.SHOW, clock=lambda: scene.NOW)
    first = attached.refresh()
    assert isinstance(first[0].event, ev.StationStarted) and len(first) == 11, "the start, then the last 10"
    assert attached.started_at == first[0].ts and attached.outputs == {"hls": True, "rtmp": True}
    station.record(ev.CommandReceived(show=scene.SHOW, command_id=100, kind="skip"))
    assert [logged.event.command_id for logged in attached.refresh()] == [100]


def test_a_long_running_channels_rundown_shows_what_is_to_come_and_only_the_latest_done(tmp_path: Path) -> None:
    """After a week a rundown holds thousands of aired segments; the table (redrawn whenever a row changes) shows
    every segment still to air and the last twelve done."""
    from studio.runtime import StationQueue
    from studio.tui.view import HISTORY_ROWS
    from tests.unit.test_playout_queue import air, approve, plan

    station = Station(tmp_path / "station.sqlite")
    queue = StationQueue(station, "x", rate=lambda: None, margin=1.5, realtime=True)
    segments = [plan(station, episode, 1)[0] for episode in range(1, 21)]
    for segment_id in segments:
        approve(station, tmp_path, segment_id)
    for _ in range(18):
        air(queue, queue.next_item())
    view = StationView(station, "x")
    view.refresh()
    # A shot of every segment, as the view learns them from the log.
    for episode in range(1, 21):
        view._shot(
            f"x-e{episode:04d}-s01-sh01", ev.RenderStarted(show="x", episode=episode, segment=0, attempt=0, seconds=3.0)
        )
    shown = [row.segment_id for row in view.rundown_rows(with_shots=False)]
    assert HISTORY_ROWS == 12
    assert shown == segments[18 - 12 :], "the last 12 aired, then the 2 to come"
    assert sorted(shot.episode for shot in view.shots.values()) == list(range(7, 21)), (
        "the shots of segments no longer shown are forgotten"
    )
    assert [row.segment_id for row in view.rundown_rows(history=None, with_shots=False)] == segments
    # The rows shown are read alone, and are the ones the whole rundown would give.
    whole = station.rundown("x")
    for keep in (0, 1, 12, 18, 40):
        tail = station.rundown_tail("x", done={"aired"}, keep_done=keep)
        aired = [entry for entry in whole if entry.status == "aired"]
        expected = [entry for entry in whole if entry.status != "aired" or entry in aired[len(aired) - keep :]]
        assert tail == (expected if keep else [entry for entry in whole if entry.status != "aired"]), keep
    station.close()
