"""Re-prompting a shot of a made segment: the shot is rendered again from the person's words, the critic judges it,
the segment is made again around it before it airs, and the command is answered with what happened."""

from __future__ import annotations

import hashlib
from pathlib import Path

from studio import events as ev
from studio.broadcast.playout import Idle, QueuedSegment
from studio.critic.analysis import ClipAnalysis
from studio.critic.judge import judge
from studio.plan import Shot
from studio.production import open_station
from studio.runtime import StationQueue, StationRuntime
from studio.show import load_show
from studio.station import Station
from studio.tools.checks import default_checks
from studio.tools.media import read_video
from tests.integration.test_manual_approval import answered
from tests.integration.test_runtime import SHOW, events_of, of_type, settings_for, wait_for

SHOW_KEY = "station-test"


def leftward(shot: Shot) -> str:
    """The opening's first beat is "{host} rolls from left to right across the lab": the person turns them round."""
    [host] = shot.characters
    look = {character.name: character.look for character in load_show(SHOW).characters}[host]
    return (
        f"Flat bright colours. {host}, {look}, rolls from right to left across the lab. Setting: a white lab with"
        " blue tiles."
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _motion_failed(clip: str, shot: Shot) -> bool:
    """Whether the critic finds the clip moving otherwise than the shot asks (the wrong way, or backwards)."""
    frames, fps = read_video(Path(clip), width=576, height=320)
    verdict = judge(ClipAnalysis(frames, fps), shot, default_checks())
    return any(check.check in ("direction", "reversed") for check in verdict.failures)


def test_a_shot_reprompted_while_its_segment_waits_for_review_is_made_again_from_the_persons_words(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    store = open_station(settings_for(data_dir))
    store.add_command(SHOW_KEY, "approval", {"mode": "manual"})
    store.close()
    client = Station(data_dir / "station.sqlite")
    # One segment at a time: the second is still being made while the first waits for review.
    settings = settings_for(data_dir, playout_realtime=False, pipeline_depth=1)
    runtime = StationRuntime(load_show(SHOW), settings, episodes=1)
    runtime.start()
    try:
        waiting = wait_for(client, of_type(ev.SegmentAwaitingReview, segment=0))
        segment_id = waiting.event.segment_id
        [before] = [Shot.model_validate(item["shot"]) for item in client.recipe(segment_id)["shots"][:1]]
        old_clip = client.recipe(segment_id)["shots"][0]["clip"]
        assert "left to right" in before.prompt and not _motion_failed(old_clip, before), before
        digest_before = _digest(Path(waiting.event.path))
        host, prompt = before.characters[0], leftward(before)

        def reprompt(shot_id: str, prompt: str, segment: str = segment_id) -> ev.Event:
            command = client.add_command(
                SHOW_KEY, "reprompt", {"segment_id": segment, "shot_id": shot_id, "prompt": prompt}
            )
            return wait_for(client, answered(command)).event

        # Refused, each with a reason a person can act on, and nothing made again.
        unknown_shot = reprompt("e0001-s01-sh09", prompt)
        assert isinstance(unknown_shot, ev.CommandRejected) and before.id in unknown_shot.reason
        camera_word = reprompt(before.id, prompt + " Shot on a Canon EOS.")
        assert isinstance(camera_word, ev.CommandRejected) and "'Canon EOS'" in camera_word.reason
        empty = reprompt(before.id, "   ")
        assert isinstance(empty, ev.CommandRejected) and "empty" in empty.reason
        not_made = reprompt(before.id, prompt, segment=f"{SHOW_KEY}-e0001-s02")
        assert isinstance(not_made, ev.CommandRejected) and "still being made" in not_made.reason
        assert not events_of(client, ev.ShotReprompted)

        done = reprompt(before.id, prompt)
        assert isinstance(done, ev.CommandApplied), done
        assert f"{segment_id} made again" in done.effect and "passed the critic" in done.effect

        [reprompted] = events_of(client, ev.ShotReprompted)
        assert (reprompted.shot, reprompted.prompt, reprompted.previous_prompt) == (before.id, prompt, before.prompt)
        assert reprompted.attempt == before.attempt + 1
        [remade] = events_of(client, ev.SegmentRemade)
        assert remade.path == waiting.event.path and remade.command_id is not None
        new_shot = Shot.model_validate(remade.recipe["shots"][0]["shot"])
        new_clip = remade.recipe["shots"][0]["clip"]
        assert new_shot.written_prompt == prompt and new_clip != old_clip
        assert [(s.subject, s.direction) for s in new_shot.motion.subjects] == [(host, "left")]
        # The picture follows the person's words: the host now rolls leftwards, which the old shot's motion fails.
        verdicts = [e for e in events_of(client, ev.VerdictGiven) if e.shot == before.id]
        assert verdicts[-1].passed and verdicts[-1].attempt >= reprompted.attempt
        assert _motion_failed(new_clip, before)
        assert not _motion_failed(new_clip, new_shot)
        # The other shot of the segment is the one that was approved, untouched.
        assert remade.recipe["shots"][1:] == client.recipe(segment_id)["shots"][1:]
        assert _digest(Path(remade.path)) != digest_before
        digest_remade = _digest(Path(remade.path))

        approve = client.add_command(SHOW_KEY, "approve", {"segment_id": segment_id})
        assert isinstance(wait_for(client, answered(approve)).event, ev.CommandApplied)
        second = wait_for(client, of_type(ev.SegmentAwaitingReview, segment=1))
        approve = client.add_command(SHOW_KEY, "approve", {"segment_id": second.event.segment_id})
        wait_for(client, answered(approve))
        assert runtime.wait(300), "the station finished its one episode"
        aired = wait_for(client, of_type(ev.SegmentAired, segment_id=segment_id))
        assert aired is not None and _digest(Path(remade.path)) == digest_remade, "the new version aired"
    finally:
        runtime.stop()
    assert client.segment(segment_id).status == "aired"
    assert client.recipe(segment_id)["shots"][0]["shot"]["written_prompt"] == leftward(before)
    client.close()


def test_a_segment_being_made_again_waits_in_the_queue_and_airs_once_it_is(tmp_path: Path) -> None:
    """The playout queue does not air the old version of a segment a person re-prompted."""
    data_dir = tmp_path / "data"
    runtime = StationRuntime(load_show(SHOW), settings_for(data_dir, playout_realtime=False), episodes=1)
    runtime.start()
    try:
        assert runtime.wait(300)
    finally:
        runtime.stop()
    station = Station(data_dir / "station.sqlite")
    [first, second] = [entry.segment_id for entry in station.rundown(SHOW_KEY)]
    # Put the episode back in the queue as if it had not aired, with a re-prompt of its first segment pending.
    station._execute("UPDATE rundown SET status = 'approved'")  # noqa: SLF001 - a test sets the stage
    command = station.add_command(SHOW_KEY, "reprompt", {"segment_id": first, "shot_id": "x", "prompt": "y"})
    queue = StationQueue(station, SHOW_KEY, rate=lambda: None, margin=1.0, realtime=False)
    idle = queue.next_item()
    assert isinstance(idle, Idle) and f"{first} is being made again" in idle.reason
    assert idle.inside_episode is False
    station.record(ev.CommandRejected(show=SHOW_KEY, command_id=command, kind="reprompt", reason="test"))
    assert station.remaking(SHOW_KEY) == set()
    ready = queue.next_item()
    assert isinstance(ready, QueuedSegment) and ready.segment_id == first and second != first
    station.close()
