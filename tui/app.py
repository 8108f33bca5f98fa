"""The Textual app: the live rundown of one station, and steering it while it runs.

A client of the station store like every front-end: it reads events (`StationView`) and adds commands; it never
reaches into the runtime. So the same app runs inside `studio run` and as `studio attach` on a station another
process runs, several at once, and quitting it never stops a channel it did not start.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.events import Resize
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    ProgressBar,
    Select,
    Static,
    TabbedContent,
    TabPane,
    TextArea,
)

# Imported before the app starts, always: textual-image asks the terminal for its cell size when it is imported,
# which hangs once Textual owns the terminal.
from textual_image.widget import HalfcellImage

from studio import events as ev
from studio.station import Station
from studio.tui.view import LOG_HISTORY, LogFilter, StationView, answer_to

if TYPE_CHECKING:
    from studio.station import LoggedEvent

REFRESH_S = 0.5
STATE_STYLES = {
    "aired": "dim", "on air": "bold green", "approved": "green", "skipped": "yellow", "rejected": "red",
    "removed": "red", "dropped": "red", "repairing": "yellow", "rendering": "cyan", "critiquing": "magenta",
    "awaiting": "bold magenta", "re-making": "bold cyan", "held": "bold red",
}  # fmt: skip


def _clock(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%H:%M:%S")


def _minutes(seconds: float) -> str:
    """`m:ss`, rounded up: a join 0.4 s away is `0:01`, not `0:00`."""
    whole = math.ceil(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _styled(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state.split(" ")[0] if not state.startswith("on air") else state, ""))


# --- modal screens -------------------------------------------------------------------------------------------------


class PromptScreen(ModalScreen[str | None]):
    """One line of text from the person (a direction, a trait); Escape cancels."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, placeholder: str, hint: str = "") -> None:
        super().__init__()
        self.title_text, self.placeholder, self.hint = title, placeholder, hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(placeholder=self.placeholder, id="prompt-input")
            yield Static(self.hint or "Enter sends it · Escape cancels", classes="dialog-hint")

    @on(Input.Submitted)
    def submitted(self, message: Input.Submitted) -> None:
        self.dismiss(message.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class RepromptScreen(ModalScreen[str | None]):
    """A shot's prompt to rewrite: Ctrl+S sends it, Escape cancels."""

    BINDINGS: ClassVar = [
        Binding("ctrl+s", "send", "Send", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, shot_id: str, prompt: str) -> None:
        super().__init__()
        self.shot_id, self.prompt = shot_id, prompt

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(f"Re-prompt {self.shot_id}", classes="dialog-title")
            yield TextArea(self.prompt, soft_wrap=True, id="reprompt-text")
            yield Static(
                "Say every character and place in full and the motion explicitly; no camera or brand words. The shot"
                " is rendered again, the critic judges it, and its segment is made again before it airs."
                " Ctrl+S sends it · Escape cancels",
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        self.query_one("#reprompt-text", TextArea).focus()

    def action_send(self) -> None:
        text = " ".join(self.query_one("#reprompt-text", TextArea).text.split())
        self.dismiss(text if text and text != " ".join(self.prompt.split()) else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class QuitScreen(ModalScreen[str]):
    """Quitting the TUI of `studio run`: stop the channel, keep it running without the TUI, or stay."""

    BINDINGS: ClassVar = [
        Binding("s", "choose('stop')", "Stop the channel"),
        Binding("k", "choose('detach')", "Keep it running"),
        Binding("escape", "choose('cancel')", "Cancel"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Stop the channel?", classes="dialog-title")
            yield Static(
                "Stopping ends production at its next step and playout at once; everything approved is kept and"
                " `studio run` again resumes. Keeping it running closes this screen and prints progress lines;"
                " `studio attach` opens it again."
            )
            with Horizontal(classes="buttons"):
                yield Button("Stop the channel (s)", variant="error", id="stop")
                yield Button("Keep it running (k)", variant="primary", id="detach")
                yield Button("Cancel (esc)", id="cancel")

    @on(Button.Pressed)
    def pressed(self, message: Button.Pressed) -> None:
        self.dismiss(message.button.id or "cancel")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)


class EventScreen(ModalScreen[None]):
    """One decision in full: every field, the backend and the time it took; a verdict's contact sheet."""

    BINDINGS: ClassVar = [Binding("escape,q,enter", "close", "Close")]

    def __init__(self, logged: LoggedEvent) -> None:
        super().__init__()
        self.logged = logged

    def compose(self) -> ComposeResult:
        event = self.logged.event
        with VerticalScroll(classes="dialog wide"):
            yield Label(f"{event.type} · {event.agent} · {ev.where(event)} · {_clock(self.logged.ts)}",
                        classes="dialog-title")  # fmt: skip
            yield Static(Text(event.summary()))
            facts = f"backend: {event.backend or '—'}   took: {event.duration_ms / 1000:.2f} s"
            yield Static(Text(facts, style="dim"))
            sheet = Path(event.contact_sheet) if isinstance(event, ev.VerdictGiven) and event.contact_sheet else None
            if sheet is not None and sheet.is_file():
                data_dir = self.app.station_path.parent  # type: ignore[attr-defined]
                shown = sheet.relative_to(data_dir) if sheet.is_relative_to(data_dir) else sheet
                yield Label(f"evidence: {shown} (in {'the data dir' if shown != sheet else 'its folder'})")
                yield HalfcellImage(sheet, id="contact-sheet")
            yield Static(_fields_text(event, self.app.station_path.parent), id="event-fields")  # type: ignore[attr-defined]

    def action_close(self) -> None:
        self.dismiss(None)


def _fields_text(event: ev.Event, data_dir: Path) -> Text:
    """Every field that has a value; paths inside the data dir are shown from it (`media/…`)."""
    text = Text()
    skip = {"type", "agent", "event_id", "at", "show"}
    inside = str(data_dir).rstrip("/") + "/"
    for key, value in event.to_dict().items():
        if key in skip or value in ("", None, [], {}):
            continue
        text.append(f"{key}: ", style="bold")
        text.append(_plain(value).replace(inside, "") + "\n")
    return text


def _plain(value: Any, indent: str = "  ") -> str:
    if isinstance(value, dict):
        return "".join(f"\n{indent}{key}: {_plain(item, indent + '  ')}" for key, item in value.items())
    if isinstance(value, list):
        if all(not isinstance(item, dict | list) for item in value):
            return ", ".join(str(item) for item in value)
        return "".join(f"\n{indent}- {_plain(item, indent + '  ')}" for item in value)
    return str(value)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        lines = Text()
        lines.append("studio — the live rundown of one station\n\n", style="bold")
        for binding in StudioApp.BINDINGS:
            if isinstance(binding, Binding) and binding.description:
                lines.append(f"  {binding.key_display or binding.key:<10}", style="bold cyan")
                lines.append(f"{binding.description}: {ACTION_HELP.get(binding.action, '')}\n")
        lines.append(
            "\nEvery action is a command in the station store; its answer (applied, or rejected and why) shows as a"
            " notification and in the Commands tab. Ctrl+P opens the command palette: every action is there too.\n"
        )
        with VerticalScroll(classes="dialog wide"):
            yield Static(lines)

    def action_close(self) -> None:
        self.dismiss(None)


ACTION_HELP = {
    "direct": "a direction for the showrunner in plain words; it shapes the next episode plan",
    "pin_trait": "pin a trait on a character or place, e.g. `Pepito: wears a red scarf` (every later prompt)",
    "approve": "approve the selected segment waiting for review, or put a rejected or removed one back in the queue",
    "reject": "reject the selected segment (the one on air when none is selected): it never airs",
    "drop": "take the selected queued segment out of the queue",
    "reprompt": "rewrite the selected shot's prompt: it is rendered again and its segment made again before it airs",
    "skip": "cut what is on air; the next item airs now",
    "pause": "pause production after the step in progress, or resume it",
    "hold": "loop the segment on air, or release the hold",
    "approval": "manual approval (every segment waits for you before it airs) or automatic (the critic decides)",
    "show_tab('onair')": "now playing, up next, the buffer and the outputs",
    "show_tab('rundown')": "every segment and shot with its state",
    "show_tab('log')": "the agents' decisions; Enter opens one",
    "show_tab('commands')": "what was asked and how the station answered",
    "help": "this screen",
    "quit": "quit (an attached TUI never stops the channel)",
}


# --- the app -------------------------------------------------------------------------------------------------------


class StudioApp(App[str]):
    """The TUI of one station. `attached`: quitting just closes it; otherwise (inside `studio run`) quitting asks
    whether to stop the channel, and the app returns "stop" or "detach"."""

    CSS_PATH = "studio.tcss"
    TITLE = "studio"
    BINDINGS: ClassVar = [
        Binding("d", "direct", "Direct"),
        Binding("t", "pin_trait", "Trait"),
        Binding("a", "approve", "Approve"),
        Binding("x", "reject", "Reject"),
        Binding("delete", "drop", "Drop", key_display="del"),
        Binding("e", "reprompt", "Re-prompt"),
        Binding("s", "skip", "Skip"),
        Binding("p", "pause", "Pause"),
        Binding("h", "hold", "Hold"),
        Binding("m", "approval", "Manual/auto"),
        Binding("1", "show_tab('onair')", "On air", show=False),
        Binding("2", "show_tab('rundown')", "Rundown", show=False),
        Binding("3", "show_tab('log')", "Log", show=False),
        Binding("4", "show_tab('commands')", "Commands", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c,ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        station_path: Path,
        show: str,
        *,
        attached: bool = True,
        title: str = "",
        clock: Callable[[], float] = time.time,
        refresh_s: float = REFRESH_S,
        is_done: Callable[[], bool] | None = None,
        stop_requested: Callable[[], bool] | None = None,
        show_clock: bool = True,
    ) -> None:
        super().__init__()
        self.station_path = station_path
        self.station = Station(station_path)
        self.view = StationView(self.station, show, clock=clock)
        self.attached = attached
        self.sub_title = f"{title or show} · {'attached' if attached else 'running here'}"
        self.refresh_s = refresh_s
        self.is_done = is_done
        self.stop_requested = stop_requested
        self.show_clock = show_clock
        self.sent: list[int] = []
        self.answers: list[str] = []
        """The answers to this TUI's commands, as shown."""
        self.log_filter = LogFilter()
        self._rundown_rows: list[Any] = []
        self._commands_drawn: list[tuple[int, str]] = []
        self._log_shown = 0
        self._thumbnail: Path | None = None
        self._done_told = False
        self._undrawn: list[LoggedEvent] = []
        """Events read from the store while a dialog was open, drawn when it closes."""

    # --- layout -------------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(show_clock=self.show_clock)
        with TabbedContent(initial="onair", id="tabs"):
            with TabPane("On air", id="onair"):
                with Horizontal(id="onair-top"):
                    yield Vertical(Static("no picture yet", id="thumb-empty"), id="thumb-box")
                    with Vertical(id="onair-info"):
                        yield Static(id="now")
                        yield Static(id="next")
                        with Horizontal(id="buffer-row"):
                            yield Label("buffer ", id="buffer-label")
                            yield ProgressBar(total=100, show_eta=False, show_percentage=False, id="buffer")
                            yield Label("", id="buffer-text")
                        yield Static(id="status")
                yield DataTable(id="recent", cursor_type="row", zebra_stripes=True)
            with TabPane("Rundown", id="rundown"):
                yield DataTable(id="rundown-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Log", id="log"):
                with Horizontal(id="log-filters"):
                    yield Select([], prompt="every agent", id="filter-agent")
                    yield Input(placeholder="episode", id="filter-episode", type="integer")
                    yield Select([("passed", "passed"), ("failed", "failed")], prompt="every verdict",
                                 id="filter-verdict")  # fmt: skip
                yield DataTable(id="log-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Commands", id="commands"):
                yield DataTable(id="commands-table", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.main = self.screen
        self.main.query_one("#recent", DataTable).add_columns("time", "agent", "where", "decision")
        rundown = self.main.query_one("#rundown-table", DataTable)
        rundown.add_column("segment", width=8)
        rundown.add_column("title / prompt", width=30)
        rundown.add_columns("state", "tries", "verdict", "s")
        self.main.query_one("#log-table", DataTable).add_columns("time", "agent", "where", "decision")
        self.main.query_one("#commands-table", DataTable).add_columns("id", "command", "asked", "status", "answer")
        self.refresh_view()
        self.set_interval(self.refresh_s, self.refresh_view)

    def on_resize(self, message: Resize) -> None:
        self.screen.set_class(message.size.width >= 120 and message.size.height >= 40, "tall")

    def on_unmount(self) -> None:
        self.station.close()

    # --- reading the store --------------------------------------------------------------------------------------

    def refresh_view(self) -> None:
        try:
            self._refresh_view()
        except NoMatches:
            # Every widget drawn here is composed at start and never removed: only a tick that lands while the
            # app shuts down finds them gone.
            return

    def _refresh_view(self) -> None:
        new = self.view.refresh()
        for logged in new:
            answer = answer_to(logged.event, self.sent)
            if answer is not None:
                applied, text = answer
                self.answers.append(text)
                self.notify(text, title="applied" if applied else "rejected",
                            severity="information" if applied else "warning", timeout=8)  # fmt: skip
        self._undrawn.extend(new)
        if isinstance(self.screen, ModalScreen):
            # A dialog is open over the main screen, which it dims: redrawing what is under it would composite the
            # whole screen again on every tick and make typing into the dialog lag while the station is busy. The
            # main screen catches up as soon as the dialog closes.
            self._check_finished()
            return
        new, self._undrawn = self._undrawn, []
        self._draw_on_air()
        self._draw_recent(new)
        self._draw_rundown()
        self._draw_log(new)
        self._draw_commands()
        self._check_finished()

    def _check_finished(self) -> None:
        if self.stop_requested is not None and self.stop_requested():
            self.exit("stop")
            return
        if self.is_done is not None and self.is_done() and not self._done_told:
            self._done_told = True
            self.notify("the station finished what it was asked to make; q quits", timeout=30)

    def _draw_on_air(self) -> None:
        view = self.view
        now = self.main.query_one("#now", Static)
        if view.stopped:
            now.update(Text(f"off air: the station stopped ({view.stopped})", style="bold red"))
        elif view.on_air is None:
            now.update(Text("waiting for playout", style="dim"))
        elif view.on_air.is_filler:
            now.update(Text.assemble(("ON AIR ", "bold reverse yellow"), f" ident (filler) — {view.on_air.reason}"))
        else:
            entry = view.now_playing()
            title = entry.title if entry is not None else view.on_air.segment_id
            left = view.seconds_to_next_join()
            line = Text.assemble(("ON AIR ", "bold reverse green"), f" {title}", (f"  e{view.on_air.episode}", "dim"))
            if left is not None:
                line.append(
                    f"\nnext join in {_minutes(left)}" + (" (on hold: repeating)" if view.flags()["hold"] else "")
                )
            shot = view.shot_on_air()
            if shot is not None:
                line.append(f"\nshot {shot.shot_id}", style="dim")
            now.update(line)
        upcoming = view.up_next()
        text = Text("up next: ", style="bold")
        text.append(", ".join(f"{entry.title} ({entry.status})" for entry in upcoming) or "nothing queued yet")
        self.main.query_one("#next", Static).update(text)
        buffered = view.buffered_seconds()
        target = view.buffer_target_s or max(buffered, 60.0)
        bar = self.main.query_one("#buffer", ProgressBar)
        bar.update(total=target, progress=min(buffered, target))
        self.main.query_one("#buffer-text", Label).update(f" {_minutes(buffered)} of {_minutes(target)}")
        flags = view.flags()
        rate = view.production_rate()
        status = Text()
        for output, live in sorted(view.outputs.items()):
            status.append(f"● {output} ", style="green" if live else "red")
        status.append(f"\nproduction {'PAUSED' if flags['paused'] else 'running'}",
                      style="bold yellow" if flags["paused"] else "")  # fmt: skip
        status.append(f" · making {rate:.2f}× real time" if rate is not None else " · rate not measured yet")
        if view.pipeline is not None and view.pipeline.render_busy_fraction is not None:
            status.append(f" · render stage busy {view.pipeline.render_busy_fraction:.0%}")
        if flags["manual_approval"]:
            waiting = len(view.awaiting)
            status.append(f"\nmanual approval: {waiting} segment(s) waiting for you (2, then a or x)",
                          style="bold magenta" if waiting else "magenta")  # fmt: skip
        if view.player_url:
            status.append(f"\n{view.player_url}", style="dim")
        self.main.query_one("#status", Static).update(status)
        self._draw_thumbnail(view.thumbnail())

    def _draw_thumbnail(self, path: Path | None) -> None:
        """One picture widget, made with the first picture and given each next one (never remounted)."""
        if path == self._thumbnail:
            return
        self._thumbnail = path
        box = self.main.query_one("#thumb-box", Vertical)
        placeholder = self.main.query_one("#thumb-empty", Static)
        pictures = box.query("#thumb")
        if path is None:
            placeholder.display = True
            for picture in pictures:
                picture.display = False
            return
        placeholder.display = False
        if pictures:
            picture = pictures.first()
            picture.image = path  # type: ignore[attr-defined]
            picture.display = True
            return
        box.mount(HalfcellImage(path, id="thumb"))

    def _draw_recent(self, new: list[LoggedEvent]) -> None:
        table = self.main.query_one("#recent", DataTable)
        for logged in new:
            table.add_row(*self._event_cells(logged), key=str(logged.id))
        while table.row_count > 200:
            table.remove_row(table.coordinate_to_cell_key((0, 0)).row_key)
        if new:
            table.move_cursor(row=table.row_count - 1, animate=False)

    def _event_cells(self, logged: LoggedEvent) -> tuple[Any, ...]:
        event = logged.event
        summary = Text(event.summary())
        if isinstance(event, ev.VerdictGiven):
            summary.stylize("green" if event.passed else "yellow")
        elif isinstance(event, ev.CommandRejected | ev.ShotDropped | ev.SegmentSkipped | ev.OutputLost):
            summary.stylize("red")
        return _clock(logged.ts), event.agent, event.shot or ev.where(event), summary

    def _draw_rundown(self) -> None:
        rows = self.view.rundown_rows()
        if rows == self._rundown_rows:
            return
        self._rundown_rows = rows
        table = self.main.query_one("#rundown-table", DataTable)
        cursor = table.cursor_row
        table.clear()
        for row in rows:
            table.add_row(
                row.label, Text(row.title, style="dim" if row.shot_id else ""), _styled(row.state), row.attempts,
                row.verdict, f"{row.seconds:.0f}", key=row.key,
            )  # fmt: skip
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1), animate=False)

    def _draw_log(self, new: list[LoggedEvent]) -> None:
        table = self.main.query_one("#log-table", DataTable)
        for logged in new:
            if self.log_filter.keeps(logged.event):
                table.add_row(*self._event_cells(logged), key=str(logged.id))
        if table.row_count > LOG_HISTORY:  # a station that runs for a week: the table keeps the latest, as the view
            self._rebuild_log()
        agents = self.view.agents()
        select = self.main.query_one("#filter-agent", Select)
        if len(agents) != self._log_shown:
            self._log_shown = len(agents)
            value = select.value
            select.set_options([(agent, agent) for agent in agents])
            if value in agents:
                select.value = value

    def _rebuild_log(self) -> None:
        table = self.main.query_one("#log-table", DataTable)
        table.clear()
        for logged in self.view.filtered_log(self.log_filter):
            table.add_row(*self._event_cells(logged), key=str(logged.id))

    def _draw_commands(self) -> None:
        table = self.main.query_one("#commands-table", DataTable)
        commands = self.view.commands()
        drawn = [(command.id, command.status) for command in commands]
        if drawn == self._commands_drawn:
            return
        self._commands_drawn = drawn
        table.clear()
        for command in reversed(commands):
            asked = " ".join(f"{key}={value}" for key, value in command.args.items())
            style = {"applied": "green", "rejected": "red", "pending": "dim"}.get(command.status, "")
            table.add_row(str(command.id), command.kind, asked, Text(command.status, style=style), command.outcome,
                          key=str(command.id))  # fmt: skip

    # --- log filters and details --------------------------------------------------------------------------------

    @on(Select.Changed)
    @on(Input.Changed, "#filter-episode")
    def filters_changed(self) -> None:
        agent = self.main.query_one("#filter-agent", Select).value
        verdict = self.main.query_one("#filter-verdict", Select).value
        episode = self.main.query_one("#filter-episode", Input).value.strip()
        self.log_filter = LogFilter(
            agent=agent if isinstance(agent, str) else "",
            episode=int(episode) if episode.isdigit() else None,
            verdict=verdict if isinstance(verdict, str) else "",
        )
        self._rebuild_log()

    @on(DataTable.RowSelected, "#log-table, #recent")
    def event_opened(self, message: DataTable.RowSelected) -> None:
        key = message.row_key.value
        logged = next((item for item in self.view.log if str(item.id) == key), None)
        if logged is not None:
            self.push_screen(EventScreen(logged))

    @on(DataTable.RowSelected, "#rundown-table")
    def rundown_opened(self, message: DataTable.RowSelected) -> None:
        """A shot opens its latest verdict (with the contact sheet); a segment its latest event."""
        key = message.row_key.value or ""
        for logged in reversed(self.view.log):
            event = logged.event
            if (event.shot == key and isinstance(event, ev.VerdictGiven)) or getattr(event, "segment_id", None) == key:
                self.push_screen(EventScreen(logged))
                return
        self.notify(f"nothing recorded for {key} yet", timeout=4)

    # --- steering -----------------------------------------------------------------------------------------------

    def send(self, kind: str, /, **args: Any) -> int:
        command_id = self.view.send(kind, **args)
        self.sent.append(command_id)
        described = " ".join(f"{value}" for value in args.values())
        self.notify(f"command {command_id}: {kind} {described}".strip(), title="sent", timeout=4)
        self._draw_commands()
        return command_id

    def action_direct(self) -> None:
        def direct(note: str | None) -> None:
            if note:
                self.send("steer", note=note)

        self.push_screen(
            PromptScreen(
                "A direction for the showrunner",
                "e.g. next episode: lemon pancakes, more slapstick",
                "Plain words: a topic, a tone, a trait (`Pepito wears a red scarf`). Enter sends it.",
            ),  # fmt: skip
            direct,
        )

    def action_pin_trait(self) -> None:
        def pin(text: str | None) -> None:
            if not text:
                return
            name, _, trait = text.partition(":")
            if not trait.strip():
                self.notify("write it as NAME: TRAIT, e.g. `Pepito: wears a red scarf`", severity="warning")
                return
            kind = self.view.canon_names().get(name.strip().casefold(), "character")
            self.send("pin", kind=kind, name=name.strip(), trait=trait.strip())

        self.push_screen(PromptScreen("Pin a trait", "NAME: TRAIT, e.g. Pepito: wears a red scarf"), pin)

    def _selected_segment(self, *, or_on_air: bool) -> str | None:
        tabs = self.main.query_one("#tabs", TabbedContent)
        if tabs.active == "rundown":
            table = self.main.query_one("#rundown-table", DataTable)
            if table.row_count:
                index = table.cursor_row
                if 0 <= index < len(self._rundown_rows):
                    return self._rundown_rows[index].segment_id
        if or_on_air and self.view.on_air is not None and self.view.on_air.segment_id:
            return self.view.on_air.segment_id
        self.notify("select a segment in the Rundown tab (2) first", severity="warning", timeout=5)
        return None

    def action_reprompt(self) -> None:
        tabs = self.main.query_one("#tabs", TabbedContent)
        table = self.main.query_one("#rundown-table", DataTable)
        index = table.cursor_row
        row = self._rundown_rows[index] if tabs.active == "rundown" and 0 <= index < len(self._rundown_rows) else None
        if row is None or not row.shot_id:
            self.notify("select a shot of a made segment in the Rundown tab (2) first", severity="warning", timeout=5)
            return
        segment_id, shot_id = row.segment_id, row.shot_id

        def reprompt(prompt: str | None) -> None:
            if prompt:
                self.send("reprompt", segment_id=segment_id, shot_id=shot_id, prompt=prompt)

        self.push_screen(RepromptScreen(shot_id, self.view.shots[shot_id].prompt), reprompt)

    def action_approve(self) -> None:
        if segment_id := self._selected_segment(or_on_air=False):
            self.send("approve", segment_id=segment_id)

    def action_reject(self) -> None:
        if segment_id := self._selected_segment(or_on_air=True):
            self.send("reject", segment_id=segment_id)

    def action_drop(self) -> None:
        if segment_id := self._selected_segment(or_on_air=False):
            self.send("drop", segment_id=segment_id)

    def action_skip(self) -> None:
        self.send("skip")

    def action_pause(self) -> None:
        self.send("resume" if self.view.flags()["paused"] else "pause")

    def action_hold(self) -> None:
        self.send("release" if self.view.flags()["hold"] else "hold")

    def action_approval(self) -> None:
        self.send("approval", mode="auto" if self.view.flags()["manual_approval"] else "manual")

    def action_show_tab(self, tab: str) -> None:
        self.main.query_one("#tabs", TabbedContent).active = tab
        main_table = {
            "onair": "#recent",
            "rundown": "#rundown-table",
            "log": "#log-table",
            "commands": "#commands-table",
        }
        self.main.query_one(main_table[tab], DataTable).focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        if self.attached:
            self.exit("detach")
            return

        def chosen(choice: str | None) -> None:
            if choice in ("stop", "detach"):
                self.exit(choice)

        self.push_screen(QuitScreen(), chosen)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.action in ACTION_HELP and binding.action != "quit":
                yield SystemCommand(binding.description, ACTION_HELP[binding.action],
                                    lambda action=binding.action: self.run_action(action))  # fmt: skip
