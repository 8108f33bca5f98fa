"""Manual approval through LangGraph interrupts: every segment made waits for a person; production waits with it,
across a restart; a person's approve airs it, a reject never does, and switching back to auto approves what waits.
"""

from __future__ import annotations

from pathlib import Path

from studio import events as ev
from studio.production import open_station
from studio.runtime import StationRuntime
from studio.show import load_show
from studio.station import Station
from tests.integration.test_runtime import SHOW, events_of, of_type, settings_for, wait_for


def answered(command_id: int):  # noqa: ANN201 - a predicate
    return lambda e: isinstance(e, ev.CommandApplied | ev.CommandRejected) and e.command_id == command_id


def test_segments_wait_for_a_person_across_a_restart_and_air_only_when_approved(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    show = load_show(SHOW)
    store = open_station(settings_for(data_dir))
    manual = store.add_command("station-test", "approval", {"mode": "manual"})
    store.close()
    client = Station(data_dir / "station.sqlite")

    runtime = StationRuntime(show, settings_for(data_dir, playout_realtime=False), episodes=1)
    runtime.start()
    try:
        wait_for(client, of_type(ev.ApprovalModeChanged, manual=True, command_id=manual))
        first = wait_for(client, of_type(ev.SegmentAwaitingReview, segment=0))
        segment_id = first.event.segment_id
        assert client.segment(segment_id).status == "planned", "made, but not approved: it cannot air"
        assert client.buffered_seconds("station-test") == 0.0
        assert segment_id in client.awaiting_review("station-test"), "the second segment may be waiting too"
        reject = client.add_command("station-test", "reject", {"segment_id": segment_id})
        rejected = wait_for(client, answered(reject))
        assert isinstance(rejected.event, ev.CommandApplied) and "rejected" in rejected.event.effect
        assert client.segment(segment_id).status == "rejected"
        # Segments are made side by side: the second may have been waiting since before the first was rejected.
        second = wait_for(client, of_type(ev.SegmentAwaitingReview, segment=1))
        assert client.segment(second.event.segment_id).status == "planned", "a rejection does not approve another"
    finally:
        runtime.stop()
    rendered_before_restart = len(events_of(client, ev.ClipRendered))

    runtime = StationRuntime(show, settings_for(data_dir, playout_realtime=False), episodes=1)
    runtime.start()
    try:
        resumed = wait_for(client, of_type(ev.EpisodeResumed), after=second.id)
        assert "review" in resumed.event.next_step, "the episode resumes at the person's review"
        approve = client.add_command("station-test", "approve", {"segment_id": second.event.segment_id})
        approved = wait_for(client, answered(approve))
        assert isinstance(approved.event, ev.CommandApplied) and "approved by a person" in approved.event.effect
        assert runtime.wait(300), "the station finished its one episode"
    finally:
        runtime.stop()

    assert len(events_of(client, ev.ClipRendered)) == rendered_before_restart, "nothing was rendered again"
    aired = [e.segment_id for e in events_of(client, ev.SegmentAired)]
    assert aired == [second.event.segment_id]
    assert [e.segment_id for e in events_of(client, ev.SegmentApproved)] == [second.event.segment_id]
    [assembled] = events_of(client, ev.EpisodeAssembled)
    assert assembled.segments == 1
    assert not events_of(client, ev.SegmentWorkCancelled), "a rejected segment was made: no work was cancelled"
    answers = [e.command_id for e in events_of(client, ev.CommandApplied)]
    assert sorted(answers) == sorted([manual, reject, approve]), "each command answered exactly once"
    client.close()


def test_switching_back_to_automatic_approves_what_waits(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = open_station(settings_for(data_dir))
    store.add_command("station-test", "approval", {"mode": "manual"})
    store.close()
    client = Station(data_dir / "station.sqlite")
    runtime = StationRuntime(load_show(SHOW), settings_for(data_dir, playout_realtime=False), episodes=1)
    runtime.start()
    try:
        waiting = wait_for(client, of_type(ev.SegmentAwaitingReview))
        again = client.add_command("station-test", "approval", {"mode": "manual"})
        assert wait_for(client, answered(again)).event.reason == "approval is already manual"
        auto = client.add_command("station-test", "approval", {"mode": "auto"})
        applied = wait_for(client, answered(auto))
        # Segments are made side by side: every one that reached review before the switch waits, and is approved
        # by it.
        held = [e.event.segment_id for e in client.events(types=["SegmentAwaitingReview"]) if e.id < applied.id]
        assert waiting.event.segment_id in held
        assert f"{len(held)} waiting segment(s) approved" in applied.event.effect
        assert runtime.wait(300)
    finally:
        runtime.stop()
    approved = {item.event.segment_id: item.id for item in client.events(types=["SegmentApproved"])}
    # What waited is approved by the switch (a segment made beside it may be approved by the critic a moment before
    # the waiting one's review step records it), and airs in the rundown's order.
    assert set(held) <= set(approved) and all(approved[segment_id] > applied.id for segment_id in held), approved
    aired = [e.segment_id for e in events_of(client, ev.SegmentAired)]
    assert aired == [entry.segment_id for entry in client.rundown()], aired
    assert len(events_of(client, ev.SegmentAwaitingReview)) == len(held), "after auto, the critic's approval stands"
    assert [c.id for c in client.commands() if c.status == "applied"].count(auto) == 1
    assert len([e for e in events_of(client, ev.CommandApplied) if e.command_id == auto]) == 1
    client.close()
