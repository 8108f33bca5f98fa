"""The on-air safety gate in a running station: a segment the gate fails is held, not aired (the log says why), and
the episode airs on without it; a person's `approve` overrides the gate and it airs, `reject` keeps it off air; a
segment that passes carries what the gate saw (and that the tone check did not run, with no vision model)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio import events as ev
from studio.gate import GateVerdict, SafetyGate
from studio.plan import Shot
from studio.runtime import StationRuntime
from studio.show import load_show
from studio.station import Station
from tests.integration.test_manual_approval import answered
from tests.integration.test_runtime import SHOW, events_of, of_type, settings_for, wait_for

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

REASON = "text in the picture: 'SAMPLE' (0.99, bottom-right, 1.5 s)"


def test_a_held_segment_waits_for_a_person_while_the_episode_airs_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_judge = SafetyGate.judge_file

    def judge(self: SafetyGate, path: Path, **kwargs: object) -> GateVerdict:
        verdict = real_judge(self, path, **kwargs)  # type: ignore[arg-type]
        if "-e0001-s01" in path.name or "-e0002-s01" in path.name:  # the first segment of each episode "shows text"
            return GateVerdict(False, (REASON,), {**verdict.evidence, "text": [{"text": "SAMPLE"}]}, verdict.seconds)
        return verdict

    monkeypatch.setattr(SafetyGate, "judge_file", judge)
    data_dir = tmp_path / "data"
    runtime = StationRuntime(load_show(SHOW), settings_for(data_dir, playout_realtime=False), episodes=2)
    runtime.start()
    client = Station(data_dir / "station.sqlite")
    try:
        first = wait_for(client, of_type(ev.SegmentHeld, episode=1)).event
        assert first.reasons == (REASON,) and first.evidence["checked"] is True
        assert "held, not aired" in first.summary()
        assert client.segment(first.segment_id).status == "held"
        approve = client.add_command("station-test", "approve", {"segment_id": first.segment_id})
        applied = wait_for(client, answered(approve)).event
        assert isinstance(applied, ev.CommandApplied) and "over the safety gate" in applied.effect

        second = wait_for(client, of_type(ev.SegmentHeld, episode=2)).event
        reject = client.add_command("station-test", "reject", {"segment_id": second.segment_id})
        rejected = wait_for(client, answered(reject)).event
        assert isinstance(rejected, ev.CommandApplied)
        assert runtime.wait(300), "the station finished its episodes"
    finally:
        runtime.stop()

    aired = [e.segment_id for e in events_of(client, ev.SegmentAired)]
    assert first.segment_id in aired, "approved by a person over the gate: it aired"
    assert second.segment_id not in aired, "rejected: never aired"
    assert client.segment(second.segment_id).status == "rejected"
    assert "station-test-e0002-s02" in aired, "the episode aired on without its held segment"
    approved = {e.segment_id: e for e in events_of(client, ev.SegmentApproved)}
    assert approved[first.segment_id].safety_gate["overridden_by_command"] == approve
    passed = approved["station-test-e0001-s02"].safety_gate
    assert passed["checked"] is True and passed["passed"] is True
    assert passed["tone"] == {"checked": False, "reason": "tone check did not run: no vision model configured"}
    client.close()


def test_the_gate_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(self: SafetyGate, path: Path, **kwargs: object) -> GateVerdict:
        raise AssertionError("the gate is off: it must not run")

    monkeypatch.setattr(SafetyGate, "judge_file", never)
    monkeypatch.setenv("STUDIO_SAFETY_GATE", "off")
    data_dir = tmp_path / "data"
    runtime = StationRuntime(load_show(SHOW), settings_for(data_dir, playout_realtime=False), episodes=1)
    runtime.start()
    try:
        assert runtime.wait(300)
    finally:
        runtime.stop()
    client = Station(data_dir / "station.sqlite")
    approved = events_of(client, ev.SegmentApproved)
    assert approved and all(e.safety_gate["checked"] is False for e in approved)
    assert not events_of(client, ev.SegmentHeld)
    client.close()


def test_a_held_segment_re_prompted_is_gated_again_and_approved_when_its_new_version_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.test_reprompt import leftward

    real_judge = SafetyGate.judge_file

    def judge(self: SafetyGate, path: Path, **kwargs: object) -> GateVerdict:
        verdict = real_judge(self, path, **kwargs)  # type: ignore[arg-type]
        if path.name == "station-test-e0001-s01.mp4":  # the first version "shows text"; the remade one is clean
            return GateVerdict(False, (REASON,), verdict.evidence, verdict.seconds)
        return verdict

    monkeypatch.setattr(SafetyGate, "judge_file", judge)
    data_dir = tmp_path / "data"
    # Production goes on until stopped: with a number of episodes asked for, a station making segments side by
    # side may have made them all before the re-prompt arrives, and rightly refuses to make more.
    runtime = StationRuntime(load_show(SHOW), settings_for(data_dir, playout_realtime=False))
    runtime.start()
    client = Station(data_dir / "station.sqlite")
    try:
        held = wait_for(client, of_type(ev.SegmentHeld, episode=1)).event
        [shot] = [Shot.model_validate(item["shot"]) for item in client.recipe(held.segment_id)["shots"][:1]]
        reprompt = client.add_command(
            "station-test", "reprompt", {"segment_id": held.segment_id, "shot_id": shot.id, "prompt": leftward(shot)}
        )
        applied = wait_for(client, answered(reprompt)).event
        assert isinstance(applied, ev.CommandApplied), applied
        wait_for(client, of_type(ev.SegmentAired, segment_id=held.segment_id))
    finally:
        runtime.stop()
    [remade] = events_of(client, ev.SegmentRemade)
    assert remade.segment_id == held.segment_id and remade.safety_gate["passed"] is True
    approved = [e for e in events_of(client, ev.SegmentApproved) if e.segment_id == held.segment_id]
    assert len(approved) == 1 and approved[0].recipe == remade.recipe
    assert held.segment_id in [e.segment_id for e in events_of(client, ev.SegmentAired)]
    client.close()
