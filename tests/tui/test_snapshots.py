"""The TUI's main screens drawn from a fixed store at a fixed moment (pytest-textual-snapshot).

`pytest tests/tui/test_snapshots.py --snapshot-update` redraws them after a deliberate change; look at the SVGs
in `__snapshots__/` before committing them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from studio.tui.app import StudioApp
from tests.tui import scene


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The log's times are drawn in local time: draw them in UTC here, and put the zone back after."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def app(tmp_path: Path, utc: None) -> StudioApp:
    data_dir = tmp_path / "data"
    return StudioApp(
        scene.build(data_dir), scene.SHOW, attached=True, title="Station Test", clock=lambda: scene.NOW,
        refresh_s=3600, show_clock=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "keys", "size"),
    [
        pytest.param("on_air", [], (80, 24), id="on_air"),
        pytest.param("rundown", ["2"], (80, 24), id="rundown"),
        pytest.param("log", ["3"], (80, 24), id="log"),
        pytest.param("commands", ["4"], (80, 24), id="commands"),
        pytest.param("help", ["question_mark"], (80, 24), id="help"),
        pytest.param("on_air_large", [], (160, 48), id="on_air_large"),
    ],
)
def test_screen(snap_compare: Any, app: StudioApp, name: str, keys: list[str], size: tuple[int, int]) -> None:
    assert snap_compare(app, press=keys, terminal_size=size)


def test_a_failed_verdict_opens_with_its_contact_sheet(snap_compare: Any, app: StudioApp) -> None:
    async def open_the_failed_shot(pilot: Any) -> None:
        await pilot.press("2")
        table = pilot.app.query_one("#rundown-table")
        row = next(i for i, item in enumerate(pilot.app._rundown_rows) if item.key == "e0001-s02-sh01")
        table.move_cursor(row=row)
        await pilot.press("enter")
        for _ in range(100):  # until the verdict's screen shows its contact sheet
            if pilot.app.screen.query("#contact-sheet"):
                break
            await pilot.pause(0.1)
        await pilot.pause()

    # Tall enough for the whole verdict: a scrollbar's thumb would be drawn wherever layout timing put it.
    assert snap_compare(app, run_before=open_the_failed_shot, terminal_size=(120, 64))


def test_the_direction_prompt(snap_compare: Any, app: StudioApp) -> None:
    async def open_it(pilot: Any) -> None:
        await pilot.press("d")
        # The cursor blinks on a timer: the picture is taken with it steady, wherever the timer is.
        pilot.app.screen.query_one("#prompt-input").cursor_blink = False
        await pilot.pause()

    assert snap_compare(app, run_before=open_it, terminal_size=(80, 24))


def test_a_dialog_open_holds_the_screen_under_it_still_and_it_catches_up_when_the_dialog_closes(app: StudioApp) -> None:
    """Typing into a dialog must not lag while a busy station logs events: what the dialog dims is not redrawn
    until it closes, then nothing read meanwhile is missing."""
    import asyncio

    from textual.widgets import DataTable

    from studio import events as ev
    from studio.station import Station

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("3")
            log = app.query_one("#log-table", DataTable)
            before = log.row_count
            await pilot.press("d")  # the direction prompt
            await pilot.pause()
            station = Station(app.view.station.path)
            station.record(ev.CommandReceived(show=scene.SHOW, command_id=99, kind="steer", args={"note": "x"}))
            station.close()
            app.refresh_view()
            assert app.view.log and app.view.log[-1].event.kind == "steer", "the store was read"
            assert log.row_count == before, "the log under the dialog was not redrawn"
            await pilot.press("escape")
            await pilot.pause()
            app.refresh_view()
            assert log.row_count == before + 1, "it caught up once the dialog closed"

    asyncio.run(scenario())
