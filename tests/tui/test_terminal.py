"""The TUI in a real terminal (tmux): `studio run` opens it, a direction typed there is acknowledged and planned,
`studio attach` opens a second one in another window, quitting that leaves the channel running, and quitting the
first asks whether to stop the channel.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio import events as ev
from studio.lock import running_station_pid
from studio.station import Station
from tests.conftest import REPO, require_system_tool
from tests.integration.test_runtime import wait_for

WAIT_S = 300.0


class Terminal:
    """A tmux server of its own (its own socket), a window per command."""

    def __init__(self, tmux: str, socket: Path) -> None:
        self.tmux, self.socket = tmux, socket

    def __call__(self, *args: str) -> str:
        done = subprocess.run([self.tmux, "-S", str(self.socket), *args], capture_output=True, text=True, timeout=30)
        if done.returncode != 0 and args[0] != "kill-server":
            raise AssertionError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def screen(self, window: str) -> str:
        return self("capture-pane", "-p", "-t", window)

    def wait_for_text(self, window: str, text: str, timeout: float = WAIT_S) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(window)
            if text in screen:
                return screen
            time.sleep(0.3)
        raise AssertionError(f"{text!r} never appeared in window {window}; it shows:\n{screen}")

    def windows(self) -> list[str]:
        return self("list-windows", "-F", "#{window_index}").split()


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    made = Terminal(require_system_tool("tmux"), tmp_path / "tmux.sock")
    try:
        yield made
    finally:
        made("kill-server")


def studio_command() -> list[str]:
    installed = Path(sys.executable).parent / "studio"
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "studio.cli"]


@pytest.mark.slow
def test_studio_run_opens_the_tui_steers_and_attach_detaches_without_stopping(
    terminal: Terminal, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    run = [*studio_command(), "run", str(REPO / "shows" / "cooking.yaml"), "--port", "0", "--data-dir", str(data_dir)]
    terminal("new-session", "-d", "-s", "studio", "-x", "110", "-y", "32", "-c", str(REPO), shlex.join(run))
    terminal("set-option", "-w", "-t", "studio:0", "remain-on-exit", "on")  # a crash stays readable
    terminal.wait_for_text("studio:0", "running here")
    terminal.wait_for_text("studio:0", "ON AIR")

    terminal("send-keys", "-t", "studio:0", "d")
    terminal.wait_for_text("studio:0", "A direction for the showrunner")
    terminal("send-keys", "-t", "studio:0", "-l", "topic: saffron paella")
    terminal("send-keys", "-t", "studio:0", "Enter")
    station = Station(data_dir / "station.sqlite")
    try:
        deadline = time.monotonic() + 30
        while not station.commands(kind="steer") and time.monotonic() < deadline:
            time.sleep(0.2)
        [steer] = station.commands(kind="steer")
        assert steer.args == {"note": "topic: saffron paella"}
        applied = wait_for(station, lambda e: isinstance(e, ev.CommandApplied) and e.command_id == steer.id).id
        terminal.wait_for_text("studio:0", f"command {steer.id} (steer) applied")
        plan = [e.event for e in station.events(types=["EpisodePlanned"]) if e.id < applied][-1]
        assert plan.topic == "saffron paella" and plan.steering == ("topic: saffron paella",)
        assert plan.episode >= 2, "typed while episode 1 was being made: the next plan follows it"

        attach = [*studio_command(), "attach", "--data-dir", str(data_dir)]
        terminal("new-window", "-t", "studio", "-c", str(REPO), shlex.join(attach))
        terminal.wait_for_text("studio:1", "attached")
        terminal.wait_for_text("studio:1", "saffron paella")
        terminal("send-keys", "-t", "studio:1", "q")
        deadline = time.monotonic() + 30
        while "1" in terminal.windows() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert terminal.windows() == ["0"], "quitting the attached TUI closes its window"
        assert running_station_pid(data_dir) is not None, "the channel is still running"
        after_quit = station.last_event_id()
        wait_for(station, lambda e: True, after=after_quit)

        terminal("send-keys", "-t", "studio:0", "q")
        terminal.wait_for_text("studio:0", "Stop the channel?")
        terminal("send-keys", "-t", "studio:0", "s")
        wait_for(station, lambda e: isinstance(e, ev.StationStopped), after=after_quit)
        deadline = time.monotonic() + 60
        while running_station_pid(data_dir) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert running_station_pid(data_dir) is None
    finally:
        station.close()
