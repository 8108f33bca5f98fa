"""Every steering action of the TUI, pressed in a Textual pilot against a real running station.

The app is attached to the station's store as `studio attach` is; each key press becomes a command the runtime
applies, and the test waits for its effect in the store and for its answer on the screen.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, TextArea

from benchmarks.soak import start_station, wait_until_started
from studio import events as ev
from studio.plan import Shot
from studio.runtime import StationRuntime
from studio.show import load_show
from studio.state import slug
from studio.station import LoggedEvent, Station
from studio.tui.app import StudioApp
from tests.conftest import TEST_SHOWS
from tests.integration.test_reprompt import leftward
from tests.integration.test_runtime import settings_for

SHOW = TEST_SHOWS / "two_segments.yaml"
WAIT_S = 300.0


@pytest.fixture
def station_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A station of the two-segment show running as `studio run --headless` in its own process, as a person
    attaches the TUI to one (`studio attach`): its show key and store. `@pytest.mark.buffer(seconds)` sets how far
    production runs ahead of playout (by default 120 s: a segment planned now airs minutes later).

    In the test's own process its production would keep the process busy, and a Textual pilot waits after each key
    for the whole process to go idle (up to 1 s): typing a steering note took 14 s, the first test here 100 s in a
    loaded suite."""
    data_dir = tmp_path / "data"
    path = data_dir / "station.sqlite"
    env = {**os.environ, "STUDIO_DATA_DIR": str(data_dir)}
    if (marker := request.node.get_closest_marker("buffer")) is not None:
        env["STUDIO_BUFFER_TARGET_S"] = str(marker.args[0])
    process = start_station(SHOW, env, tmp_path / "station.log")
    try:
        wait_until_started(path, 0, process)
        yield slug(load_show(SHOW).title), path
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"the station did not stop on SIGTERM; see {tmp_path / 'station.log'}") from None


async def until(pilot: object, station: Station, predicate: Callable[[ev.Event], bool], after: int = 0) -> LoggedEvent:
    """The first event after `after` that `predicate` accepts, letting the app run while waiting."""
    deadline = time.monotonic() + WAIT_S
    last = after
    while time.monotonic() < deadline:
        for logged in station.events(after_id=last):
            last = logged.id
            if predicate(logged.event):
                return logged
        await pilot.pause(0.2)  # type: ignore[attr-defined]
    raise AssertionError(f"no such event within {WAIT_S:.0f} s after {after}")


def answered(command_id: int) -> Callable[[ev.Event], bool]:
    return lambda event: isinstance(event, ev.CommandApplied | ev.CommandRejected) and event.command_id == command_id


async def type_into_prompt(pilot: object, app: StudioApp, text: str) -> None:
    prompt = app.screen.query_one("#prompt-input", Input)
    for character in text:
        await pilot.press("space" if character == " " else character)  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    assert prompt.value == text
    await pilot.press("enter")  # type: ignore[attr-defined]


def shown_answers(app: StudioApp) -> list[str]:
    return app.answers


def commands_table_statuses(app: StudioApp) -> dict[str, str]:
    table = app.query_one("#commands-table", DataTable)
    return {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[3]) for i in range(table.row_count)}


# A station that stops making episodes once three are buffered: keys typed while production runs flat out on both
# cores took 0.7 s each to reach the app (100 s for this test under a loaded suite).
@pytest.mark.buffer(12.0)
def test_a_direction_and_a_pinned_trait_typed_in_the_tui_shape_the_next_plan_and_prompts(
    station_dir: tuple[str, Path],
) -> None:
    show, path = station_dir
    station = Station(path)

    async def scenario() -> None:
        app = StudioApp(path, show, attached=True, refresh_s=0.2)
        async with app.run_test(size=(100, 30)) as pilot:
            first_plan = await until(pilot, station, lambda e: isinstance(e, ev.EpisodePlanned))
            # The trait first: every shot of Bo designed after it is pinned carries it, none before.
            await pilot.press("t")
            await type_into_prompt(pilot, app, "Bo: wears a tiny green hat")
            [pin] = [c for c in station.commands(kind="pin")]
            assert pin.args == {"kind": "character", "name": "Bo", "trait": "wears a tiny green hat"}
            pinned = await until(pilot, station, answered(pin.id))
            assert isinstance(pinned.event, ev.CommandApplied), pinned.event

            await pilot.press("d")
            await type_into_prompt(pilot, app, "topic: lamps of the sea")
            [steer] = [c for c in station.commands(kind="steer")]
            followed = await until(pilot, station, answered(steer.id))
            assert isinstance(followed.event, ev.CommandApplied), followed.event
            plan = await until(
                pilot, station, lambda e: isinstance(e, ev.EpisodePlanned) and "topic: lamps of the sea" in e.steering
            )
            assert plan.id > first_plan.id and plan.event.topic == "lamps of the sea"
            await until(pilot, station, lambda e: isinstance(e, ev.ShotsDesigned) and e.episode == plan.event.episode)
            bo_prompts = {
                "before": [shot.prompt for logged in station.events(types=["ShotsDesigned"]) if logged.id < pinned.id
                           for shot in logged.event.shots if "Bo" in shot.characters],
                "after": [shot.prompt for logged in station.events(types=["ShotsDesigned"], after_id=pinned.id)
                          for shot in logged.event.shots if "Bo" in shot.characters],
            }  # fmt: skip
            assert bo_prompts["after"] and all("wears a tiny green hat" in text for text in bo_prompts["after"])
            assert not any("green hat" in text for text in bo_prompts["before"])
            await pilot.pause(0.5)
            answers = shown_answers(app)
            assert any(f"command {pin.id} (pin) applied" in text for text in answers), answers
            assert any(f"command {steer.id} (steer) applied" in text for text in answers), answers
            assert commands_table_statuses(app)[str(steer.id)] == "applied"

    try:
        asyncio.run(scenario())
    finally:
        station.close()


# The segment rejected is planned after the cut and must not have aired by then: with 20 s buffered it airs about
# 20 s after its plan, and the test waits that long for the episode to air.
@pytest.mark.slow
@pytest.mark.buffer(20.0)
def test_reject_skip_and_pause_pressed_in_the_tui_reach_playout_and_production(
    station_dir: tuple[str, Path],
) -> None:
    show, path = station_dir
    station = Station(path)

    async def scenario() -> None:
        app = StudioApp(path, show, attached=True, refresh_s=0.2)
        async with app.run_test(size=(100, 30)) as pilot:
            # Hold, then skip: the segment on air repeats; skip cuts the repeat; release ends the hold.
            on_air = await until(pilot, station, lambda e: isinstance(e, ev.SegmentOnAir))
            await pilot.press("h")
            [hold] = station.commands(kind="hold")
            held = await until(pilot, station, answered(hold.id))
            assert isinstance(held.event, ev.CommandApplied), held.event
            # A held 2-second segment may end between the press and the station applying it; then the station
            # rightly answers "nothing to skip", and the next repeat is skipped instead.
            after = held.id
            for _ in range(5):
                repeat = await until(pilot, station, lambda e: isinstance(e, ev.SegmentOnAir) and e.repeat, after=after)
                await pilot.press("s")
                skip = station.commands(kind="skip")[-1]
                cut = await until(pilot, station, answered(skip.id), after=repeat.id)
                if isinstance(cut.event, ev.CommandApplied):
                    break
                assert "nothing to skip" in cut.event.reason, cut.event
                after = cut.id
            assert isinstance(cut.event, ev.CommandApplied), cut.event
            skipped = await until(pilot, station, lambda e: isinstance(e, ev.SegmentSkipped), after=repeat.id)
            assert skipped.event.command_id == skip.id and skipped.event.segment_id == repeat.event.segment_id
            await until(pilot, station, lambda e: isinstance(e, ev.SegmentOnAir), after=skipped.id)
            await pilot.pause(0.5)
            await pilot.press("h")
            [release] = station.commands(kind="release")
            released = await until(pilot, station, answered(release.id))
            assert isinstance(released.event, ev.CommandApplied), released.event
            assert on_air.id < repeat.id

            # Reject: the first segment of the next episode, selected in the Rundown tab; it never airs.
            plan = await until(pilot, station, lambda e: isinstance(e, ev.EpisodePlanned), after=cut.id)
            target = plan.event.segments[0].segment_id
            await pilot.press("2")
            await pilot.pause(0.5)
            table = app.query_one("#rundown-table", DataTable)
            row = next(i for i, item in enumerate(app._rundown_rows) if item.key == target)
            table.move_cursor(row=row)
            await pilot.press("x")
            [reject] = station.commands(kind="reject")
            assert reject.args == {"segment_id": target}
            rejected = await until(pilot, station, answered(reject.id))
            assert isinstance(rejected.event, ev.CommandApplied), rejected.event
            await until(pilot, station, lambda e: isinstance(e, ev.SegmentAired | ev.SegmentSkipped)
                        and e.segment_id == plan.event.segments[1].segment_id)  # fmt: skip
            assert station.segment(target).status == "rejected"
            assert not [e for e in station.events(types=["SegmentOnAir"]) if e.event.segment_id == target]
            await pilot.pause(0.5)
            states = {item.key: item.state for item in app._rundown_rows}
            assert states[target] == "rejected"

            # Pause: after the step in progress, no render starts; resume, and they start again.
            await pilot.press("p")
            [pause] = station.commands(kind="pause")
            paused = await until(pilot, station, answered(pause.id))
            assert isinstance(paused.event, ev.CommandApplied)
            await pilot.pause(8.0)
            quiet_from = station.last_event_id()
            await pilot.pause(8.0)
            assert (
                station.events(after_id=quiet_from, types=["RenderStarted", "SegmentWritten", "EpisodePlanned"]) == []
            )
            assert "PAUSED" in str(app.query_one("#status").render())
            await pilot.press("p")
            [resume] = station.commands(kind="resume")
            resumed = await until(pilot, station, answered(resume.id))
            assert isinstance(resumed.event, ev.CommandApplied)
            await until(pilot, station, lambda e: isinstance(e, ev.RenderStarted | ev.SegmentWritten
                                                              | ev.EpisodePlanned), after=resumed.id)  # fmt: skip
            await pilot.pause(0.5)
            answers = shown_answers(app)
            for command in (hold, skip, release, reject, pause, resume):
                assert any(f"command {command.id} ({command.kind}) applied" in text for text in answers), answers

    try:
        asyncio.run(scenario())
    finally:
        station.close()


async def reprompt_the_first_shot(pilot: object, app: StudioApp, station: Station, segment_id: str) -> None:
    """Select the segment's first shot, press e, write a new prompt over the old one and send it with Ctrl+S: the
    station makes the segment again, and the rundown shows the new prompt."""
    [first_shot] = [Shot.model_validate(item["shot"]) for item in station.recipe(segment_id)["shots"][:1]]
    row = next(i for i, item in enumerate(app._rundown_rows) if item.shot_id == first_shot.id)
    app.query_one("#rundown-table", DataTable).move_cursor(row=row)
    await pilot.press("e")  # type: ignore[attr-defined]
    editor = app.screen.query_one("#reprompt-text", TextArea)
    assert " ".join(editor.text.split()) == " ".join(first_shot.prompt.split()), "it opens on the shot's prompt"
    prompt = leftward(first_shot)
    await pilot.press("f7", *(" " if c == " " else c for c in prompt))  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    assert editor.text == prompt
    await pilot.press("ctrl+s")  # type: ignore[attr-defined]
    [command] = station.commands(kind="reprompt")
    assert command.args == {"segment_id": segment_id, "shot_id": first_shot.id, "prompt": prompt}
    answer = await until(pilot, station, answered(command.id))
    assert isinstance(answer.event, ev.CommandApplied) and f"{segment_id} made again" in answer.event.effect
    await pilot.pause(0.5)  # type: ignore[attr-defined]
    rows = {item.key: item for item in app._rundown_rows}
    assert rows[first_shot.id].title == prompt and rows[first_shot.id].state == "approved"
    assert rows[segment_id].state == "awaiting review"
    assert any(f"command {command.id} (reprompt) applied" in text for text in app.answers), app.answers


@pytest.mark.slow
def test_manual_approval_toggled_in_the_tui_makes_segments_wait_for_a_press(tmp_path: Path) -> None:
    runtime = StationRuntime(load_show(SHOW), settings_for(tmp_path / "data", playout_realtime=False), episodes=1)
    runtime.start()
    path = tmp_path / "data" / "station.sqlite"
    station = Station(path)

    async def scenario() -> None:
        app = StudioApp(path, runtime.show_key, attached=True, refresh_s=0.2)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("m")
            [manual] = station.commands(kind="approval")
            assert manual.args == {"mode": "manual"}
            assert isinstance((await until(pilot, station, answered(manual.id))).event, ev.CommandApplied)
            for key, expected in (("a", "SegmentApproved"), ("x", "SegmentRejected")):
                waiting = await until(pilot, station, lambda e: isinstance(e, ev.SegmentAwaitingReview)
                                      and station.segment(e.segment_id).status == "planned")  # fmt: skip
                target = waiting.event.segment_id
                await pilot.press("2")
                await pilot.pause(0.5)
                states = {item.key: item.state for item in app._rundown_rows}
                assert states[target] == "awaiting review"
                assert "waiting for you" in str(app.query_one("#status").render())
                if key == "a":
                    await reprompt_the_first_shot(pilot, app, station, target)
                row = next(i for i, item in enumerate(app._rundown_rows) if item.key == target)
                app.query_one("#rundown-table", DataTable).move_cursor(row=row)
                await pilot.press(key)
                [decided] = [
                    c for c in station.commands() if c.args.get("segment_id") == target and c.kind != "reprompt"
                ]
                answer = await until(pilot, station, answered(decided.id))
                assert isinstance(answer.event, ev.CommandApplied), answer.event
                decision = await until(
                    pilot, station, lambda e, kind=expected, sid=target: e.type == kind and e.segment_id == sid
                )
                assert decision.id < answer.id, "the decision and its answer are recorded together, in order"
                await pilot.press("1")

    try:
        asyncio.run(scenario())
        assert runtime.wait(300)
    finally:
        runtime.stop()
    aired = [e.event.segment_id for e in station.events(types=["SegmentAired"])]
    rejected = [e.event.segment_id for e in station.events(types=["SegmentRejected"])]
    assert len(aired) == 1 and len(rejected) == 1 and set(aired).isdisjoint(rejected)
    station.close()
