"""Plain progress lines: the front-end of `studio run --headless` (and of `studio run` until the TUI exists).

A client of the station store like any other front-end: it prints the events the station records, as they come.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from studio import events as ev

if TYPE_CHECKING:
    from rich.console import Console

    from studio.station import LoggedEvent, Station


def lines_for(event: ev.Event) -> list[str]:
    """What a person reads for one event: usually one line, more for the station's start."""
    if isinstance(event, ev.StationStarted):
        lines = [f"station started: studio {event.version}, seed {event.seed}, writer {event.writer}"]
        lines += [f"  {kind:<12} {backend}" for kind, backend in event.backends.items()]
        outputs = ", ".join(event.outputs[1:])
        lines.append(
            f"on air: {event.player_url}  (data in {event.data_dir}{'; pushing to ' + outputs if outputs else ''})"
        )
        return lines
    return [f"{event.agent}: {event.summary()}"]


class ProgressLines:
    """Prints every event recorded after `after_id`, oldest first."""

    def __init__(self, station: Station, after_id: int, console: Console, *, styled: bool) -> None:
        self.station = station
        self.last_id = after_id
        self.console = console
        self.styled = styled

    def print_new(self) -> None:
        for logged in self.station.events(after_id=self.last_id):
            self.last_id = logged.id
            self._print(logged)

    def say(self, text: str) -> None:
        """A line from the front-end itself (not an event)."""
        self._line(datetime.now(), text)

    def _print(self, logged: LoggedEvent) -> None:
        for text in lines_for(logged.event):
            self._line(datetime.fromtimestamp(logged.ts), text)

    def _line(self, when: datetime, text: str) -> None:
        stamp = when.strftime("%H:%M:%S")
        if self.styled:
            from rich.markup import escape

            self.console.print(f"[dim]{stamp}[/dim] {escape(text)}", highlight=False)
        else:
            print(f"{stamp} {text}", flush=True)
