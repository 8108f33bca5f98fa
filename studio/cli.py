"""`studio`: run a channel, validate show files, read the decision log, check backends, critique clips."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio import __version__
from studio.errors import ConfigError, StudioError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console

    from studio.config import Settings
    from studio.runtime import StationRuntime
    from studio.station import LoggedEvent, Station

EXAMPLES = """\
examples:
  studio run shows/cooking.yaml                     make episodes and stream them until Ctrl-C
  studio run shows/cooking.yaml --episodes 1 --headless
  studio run channels/example.yaml                  several shows on one channel, by its programme grid
  studio epg channels/example.yaml --xmltv guide.xml  the programme guide as XMLTV
  studio validate shows/*.yaml                      check show files (every problem, with file and line)
  studio attach                                     open the TUI on the running station (q never stops it)
  studio log --follow                               watch the agents' decisions as they happen
  studio report 3 --html episode3.html              every decision of episode 3, with the critic's evidence
  studio status                                     on air, next, buffer, production rate, what failed
  studio steer "topic: saffron paella"              a note for the showrunner's next episode
  studio skip                                       cut what is on air (pause, resume, hold, release, reject …)
  studio doctor                                     which backend each tool will use, and why
  studio critique clip.mp4 --prompt "the camera pans from left to right over a red fox" --json
"""


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    # Soft wrap: long log lines stay whole when piped or copied; the terminal wraps them.
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    from pydantic import ValidationError

    from studio.config import load_settings

    try:
        return load_settings(data_dir=getattr(args, "data_dir", None), **extra)
    except ValidationError as error:
        raise ConfigError(settings_problems(error)) from None


def _validation_problems(error: Exception) -> str:
    """A pydantic ValidationError as `field: message; …` (other errors as their first line)."""
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return str(error).splitlines()[0]
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or '(the whole spec)'}: {item['msg']}" for item in errors()
    )


def settings_problems(error: Any) -> str:
    """A pydantic ValidationError of `Settings` as one line naming each variable: `STUDIO_PORT: …`."""
    problems = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"])
        variable = name.upper() if name.upper().startswith("OPENAI_") else f"STUDIO_{name.upper()}"
        given = item.get("input")
        shown = "" if isinstance(given, dict) or "key" in name else f" (got {given!r})"
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{variable}: {message}{shown}")
    return "invalid settings: " + "; ".join(problems) + " — fix these environment variables or flags"


# --- run -------------------------------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from studio.channel import is_channel_file
    from studio.show import load_show

    # The show file and settings first: a mistake in either is answered before the heavy imports.
    one_show = len(args.show) == 1 and not is_channel_file(args.show[0])
    programme = load_show(args.show[0]) if one_show else load_programme(args.show)
    title = programme.title if one_show else programme.name
    settings = _settings(
        args, port=args.port, bind=args.bind, rtmp_url=args.rtmp, device=args.device, ray_address=args.ray
    )

    from studio.progress import ProgressLines
    from studio.runtime import StationRuntime
    from studio.station import Station

    console = _console()
    runtime = StationRuntime(programme, settings, seed=args.seed, episodes=args.episodes)
    runtime.start()
    # The front-end reads the store on its own connection, as any other front-end does.
    front_station = Station(runtime.station.path)
    front = ProgressLines(
        front_station, runtime.start_event_id, console, styled=console.is_terminal and not args.headless
    )
    stop_asked = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop_asked.set()

    previous_handlers = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if _interactive(args):
            choice = _run_tui(runtime, title, stop_asked)
            if choice == "stop":
                stop_asked.set()
            else:
                front.say("the TUI is closed; the channel goes on (Ctrl-C stops it; `studio attach` opens the TUI)")
        while not stop_asked.is_set() and not runtime.wait(0.25):
            front.print_new()
            if stop_asked.is_set():
                front.say("stopping: finishing the current step; everything approved is kept")
                break
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
        front.print_new()
        runtime.stop("stopped by a signal" if stop_asked.is_set() else "done")
        front.print_new()
        front_station.close()
    for path in runtime.finished_episodes:
        front.say(f"episode file: {path}")
    front.say(f"decision log: studio log --data-dir {settings.data_dir}")
    made_all = args.episodes is None or len(runtime.finished_episodes) >= args.episodes
    return 130 if stop_asked.is_set() and not made_all else 0


def _interactive(args: argparse.Namespace) -> bool:
    """The TUI opens when both ends are a terminal that can draw it, unless --headless."""
    if args.headless or os.environ.get("TERM", "dumb") == "dumb":
        return False
    return sys.stdin.isatty() and sys.stdout.isatty()


def _run_tui(runtime: StationRuntime, title: str, stop_asked: threading.Event) -> str:
    """The TUI of the station this process runs: returns "stop" or "detach" (keep running without it)."""
    from studio.tui.app import StudioApp

    app = StudioApp(
        runtime.station.path, runtime.show_key, attached=False, title=title, is_done=lambda: runtime.wait(0),
        stop_requested=stop_asked.is_set,
    )  # fmt: skip
    return app.run() or "stop"


def cmd_attach(args: argparse.Namespace) -> int:
    from studio.lock import running_station_pid

    settings, station = _open_station(args)
    try:
        show = _command_show(station, args.show)
    finally:
        station.close()
    if not sys.stdout.isatty():
        raise ConfigError("studio attach opens a terminal UI: run it in a terminal (for a pipe, `studio log -f`)")
    from studio.tui.app import StudioApp

    if running_station_pid(settings.data_dir) is None:
        print(f"no station is running in {settings.data_dir}: commands you give wait until one starts", file=sys.stderr)
    StudioApp(settings.data_dir / "station.sqlite", show, attached=True).run()
    return 0


# --- validate ----------------------------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    from studio.channel import is_channel_file, load_channel
    from studio.errors import ShowFileError
    from studio.show import load_show

    console = _console()
    failed = 0
    for path in args.files:
        try:
            if is_channel_file(path):
                channel = load_channel(path)
                console.print(
                    f"{path}: ok — channel {channel.name!r}, {len(channel.shows)} shows, {len(channel.slots)} slots,"
                    f" {channel.zone.key}", markup=False,
                )  # fmt: skip
                continue
            show = load_show(path)
        except ShowFileError as error:
            failed += 1
            for problem in error.problems:
                print(problem, file=sys.stderr)
            continue
        segments = show.channel.episode_segments
        seconds = sum(show.formats[i % len(show.formats)].seconds for i in range(segments))
        console.print(
            f"{path}: ok — {show.title!r}, {len(show.characters)} characters, {len(show.places)} places, "
            f"{len(show.formats)} formats, episodes of {segments} segments ({seconds:g} s) at "
            f"{show.channel.width}x{show.channel.height} {show.channel.fps} fps",
            markup=False,
        )
    return 1 if failed else 0


# --- channels and the programme guide ----------------------------------------------------------------------------


def load_programme(paths: Sequence[str]) -> Any:
    """The `Channel` that `studio run` airs: a channel file, or show files (one all day; several in rotation)."""
    from studio.channel import channel_of_shows, is_channel_file, load_channel

    channels = [path for path in paths if is_channel_file(path)]
    if channels and len(paths) > 1:
        raise ConfigError(f"{channels[0]} is a channel file: give it alone (its show files are listed in it)")
    return load_channel(paths[0]) if channels else channel_of_shows(list(paths))


def cmd_epg(args: argparse.Namespace) -> int:
    import tempfile

    from studio.channel_epg import programme_guide, xmltv
    from studio.state import slug
    from studio.station import Station

    channel = load_programme(args.programme)
    settings = _settings(args)
    path = settings.data_dir / "station.sqlite"
    with tempfile.TemporaryDirectory(prefix="studio-epg-") as scratch:
        # A channel that never ran still has a grid: its guide lists the shows' titles and premises.
        station = Station(path if path.exists() else Path(scratch) / "station.sqlite")
        try:
            guide = programme_guide(channel, station, datetime.now().astimezone(), days=args.days)
        finally:
            station.close()
    outputs = [(args.json, json.dumps(guide, indent=2).encode() + b"\n"), (
        args.xmltv, xmltv(guide, channel_id=f"{slug(channel.name)}.studio", base_url=args.base_url or "")
    )]  # fmt: skip
    for target, body in outputs:
        if target == "-":
            sys.stdout.buffer.write(body)
        elif target:
            Path(target).write_bytes(body)
    if not args.json and not args.xmltv:
        console = _console()
        for programme in guide["programmes"]:
            episode = f" · episode {programme['episode']}: {programme['episode_title']}" if programme["episode"] else ""
            mark = "▶ " if programme["on_now"] else "  "
            console.print(f"{mark}{programme['start'][:16]} – {programme['stop'][11:16]}  {programme['title']}{episode}",
                          markup=False)  # fmt: skip
    return 0


# --- log ---------------------------------------------------------------------------------------------------------


def _open_station(args: argparse.Namespace) -> tuple[Settings, Station]:
    from studio.station import Station

    settings = _settings(args)
    path = settings.data_dir / "station.sqlite"
    if not path.exists():
        raise ConfigError(f"no station in {settings.data_dir}: run `studio run SHOW` first or pass --data-dir")
    return settings, Station(path)


def cmd_status(args: argparse.Namespace) -> int:
    """One screen: is it running, what is on air and next, the buffer, the production rate, outputs, what failed."""
    import dataclasses
    import json

    from studio.health import read_health
    from studio.lock import running_station_pid

    settings, station = _open_station(args)
    try:
        show = _command_show(station, getattr(args, "show", None))
        pid = running_station_pid(settings.data_dir)
        health = read_health(station, show, running=pid is not None)
    finally:
        station.close()
    if args.json:
        print(json.dumps({**dataclasses.asdict(health), "pid": pid}))
        return 0
    for label, text in status_lines(health, pid):
        print(f"{label:<9} {text}")
    return 0


def status_lines(health: Any, pid: int | None) -> list[tuple[str, str]]:
    """`studio status` as (label, text) lines."""
    from datetime import datetime

    def clock(at: float | None) -> str:
        return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S") if at else "never"

    def minutes(seconds: float) -> str:
        return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"

    counts = health.counts
    state = (
        f"running since {clock(health.started_at)} (pid {pid})"
        if pid
        else f"not running (last started {clock(health.started_at)})"
    )
    lines = [(health.title, f"({health.show}) {state} · writer {health.writer or '?'} · filler {health.filler or '?'}")]
    now = health.now
    if now is None:
        lines.append(("on air", "nothing" if pid else "off air"))
    elif now["kind"] == "ident":
        lines.append(("on air", f"the {now.get('what', 'ident')} since {clock(now['since'])[-8:]}: {now['reason']}"))
    else:
        lines.append(("on air", f"{now['title']} — episode {now['episode']} {now['episode_title']!r} ({now['segment_id']},"
                                f" since {clock(now['since'])[-8:]}){' — a rerun' if now.get('rerun') else ''}"))  # fmt: skip
    upcoming = " · ".join(f"{entry['title']} ({'ready' if entry['ready'] else 'being made'})" for entry in health.next)
    lines.append(("up next", upcoming or "nothing queued"))
    lines.append(("buffer", f"{minutes(health.buffered_seconds)} approved ahead of the playhead"
                            f" (target {minutes(health.buffer_target_s)})"))  # fmt: skip
    rate = (
        f"{health.production_rate:.2f}x real time over the last 15 min"
        if health.production_rate
        else "no segment approved lately"
    )
    if health.strategy:
        lines.append(("strategy", f"{health.strategy}: {health.strategy_reason}"))
    if health.pipeline is not None:
        measured = health.pipeline
        busy = (
            f"render stage busy {measured.render_busy_fraction:.0%}"
            if measured.render_busy_fraction is not None
            else "render stage not measured yet"
        )
        lines.append(("pipeline", f"{busy} ({measured.renders} renders, {measured.depth} segment(s) at once) · per"
                                  f" shot: {measured.describe_stages()}"))  # fmt: skip
    if health.render_workers:

        def worker_line(name: str, figures: dict[str, float]) -> str:
            lost = f", LOST {figures['lost']:.0f}x" if figures["lost"] else ""
            return (f"{name}: {figures['shots']:.0f} shots in 15 min ({figures['per_minute']:.1f}/min,"
                    f" {figures['render_s']:.1f} s each){lost}")  # fmt: skip

        workers = sorted(health.render_workers.items())
        lines.append(("workers", " · ".join(worker_line(name, figures) for name, figures in workers)))
    lines.append(("made", f"{rate} · production {'PAUSED' if health.paused else 'running'} · approval"
                          f" {'manual' if health.manual_approval else 'auto'}{' · playout ON HOLD' if health.hold else ''}"))  # fmt: skip
    outputs = ", ".join(
        f"{name} {'live' if live else 'LOST' if pid else 'off'}" for name, live in health.outputs.items()
    )
    lines.append(
        ("outputs", f"{outputs or 'none'}" + (f" · watch at {health.player_url}" if pid and health.player_url else ""))
    )
    failures = ", ".join(
        f"{check} {count}" for check, count in sorted(health.critic_failures.items(), key=lambda item: -item[1])
    )
    lines.append(("so far", f"{counts.get('SegmentApproved', 0)} segments approved, {counts.get('SegmentAired', 0)} aired,"
                            f" {counts.get('SegmentDropped', 0)} dropped, {counts.get('SegmentSkipped', 0)} skipped,"
                            f" {counts.get('SegmentHeld', 0)} held by the safety gate;"
                            f" {minutes(health.filler_seconds)} of filler; {counts.get('EncoderRestarted', 0)} encoder"
                            f" restarts; {counts.get('RenderFailed', 0)} failed renders"))  # fmt: skip
    lines.append(("critic", f"failures by check: {failures}" if failures else "no clip failed"))
    lines.append(
        ("commands", f"{health.commands_waiting} waiting for an answer" if health.commands_waiting else "none waiting")
    )
    return lines


def cmd_log(args: argparse.Namespace) -> int:
    from studio.events import AGENTS, EVENT_TYPES

    if args.type:
        unknown = sorted(set(args.type) - set(EVENT_TYPES))
        if unknown:
            raise ConfigError(f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}")
    if args.agent is not None and args.agent not in AGENTS:
        raise ConfigError(f"unknown agent {args.agent!r}; the log's agents are {', '.join(AGENTS)}")
    _, station = _open_station(args)
    if args.show is not None:
        try:
            _command_show(station, args.show)
        except ConfigError:
            station.close()
            raise
    console = _console()
    filters = {
        "show": args.show, "agent": args.agent, "types": args.type or None, "episode": args.episode,
        "since": _when(args.since, "--since"), "until": _when(args.until, "--until"), "failed_check": args.check,
        "verdict": None if args.verdict is None else args.verdict == "passed",
    }  # fmt: skip
    try:
        batch = station.events(**filters, last=args.limit) if args.limit else station.events(**filters)
        last = station.last_event_id() if not batch else max(batch[-1].id, 0)
        while True:
            for logged in batch:
                last = max(last, logged.id)
                if args.json:
                    print(json.dumps({"id": logged.id, **logged.event.to_dict()}, default=str), flush=True)
                else:
                    _print_event(console, logged, verbose=args.verbose)
            if not args.follow:
                return 0
            time.sleep(0.5)
            batch = station.events(**filters, after_id=last)
    except KeyboardInterrupt:
        return 0
    finally:
        station.close()


def cmd_report(args: argparse.Namespace) -> int:
    """One self-contained HTML file: every decision, the critic's evidence, failure rates, steering, what aired."""
    from studio.report import gather_report
    from studio.report_html import write_report

    since, until = _when(args.since, "--since"), _when(args.until, "--until")
    _, station = _open_station(args)
    try:
        show = _command_show(station, args.show)
        report = gather_report(station, show, episode=args.episode, since=since, until=until)
    finally:
        station.close()
    path = write_report(report, Path(args.html))
    size = path.stat().st_size
    print(f"report of {report.title} ({report.range_text}): {path} ({size / 1024:.0f} KiB)")
    return 0


def _when(text: str | None, flag: str) -> float | None:
    """A moment as `studio log` takes it: `30m`, `2h`, `1d` ago, or a local date and time (`2026-12-06 21:00`)."""
    from datetime import datetime

    if text is None:
        return None
    text = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[:-1].replace(".", "", 1).isdigit() and text[-1:] in units:
        return time.time() - float(text[:-1]) * units[text[-1]]
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ConfigError(
            f"{flag} {text!r}: give a time ago (30m, 2h, 1d) or a date and time (2026-12-06 21:00)"
        ) from None


_AGENT_STYLE = {
    "showrunner": "bold magenta", "screenwriter": "cyan", "cinematographer": "blue", "render": "dim",
    "critic": "yellow", "post": "green", "broadcast": "dim green", "command": "bold", "station": "bold",
}  # fmt: skip


def _print_event(console: Console, logged: LoggedEvent, *, verbose: bool) -> None:
    from rich.text import Text

    from studio.events import where

    event = logged.event
    stamp = datetime.fromtimestamp(logged.ts).strftime("%Y-%m-%d %H:%M:%S")
    line = Text()
    line.append(f"{stamp} ", style="dim")
    line.append(f"{event.agent:<15}", style=_AGENT_STYLE.get(event.agent, ""))
    line.append(f" {event.type:<18} {where(event)} ", style="dim")
    line.append(event.summary())
    if event.backend:
        line.append(f"  [{event.backend}]", style="dim italic")
    if event.duration_ms >= 1:
        line.append(f" {event.duration_ms / 1000:.1f}s", style="dim")
    console.print(line)
    if verbose:
        console.print_json(json.dumps(event.to_dict(), default=str))


# --- commands to a station -----------------------------------------------------------------------------------------


def _command_show(station: Station, wanted: str | None) -> str:
    shows = station.shows()
    if wanted:
        if shows and wanted not in shows:
            raise ConfigError(f"no show {wanted!r} in this station (it has {', '.join(shows)})")
        return wanted
    if len(shows) == 1:
        return shows[0]
    if not shows:
        raise ConfigError("no show has run in this station yet: start one with `studio run SHOW`, or pass --show SLUG")
    raise ConfigError(f"this station has several shows ({', '.join(shows)}): pass --show")


def _send_command(args: argparse.Namespace, kind: str, command_args: dict[str, Any] | None = None) -> int:
    """Queue a command; when a station is running, wait for its answer and print it."""
    from studio.lock import running_station_pid

    settings, station = _open_station(args)
    try:
        show = _command_show(station, getattr(args, "show", None))
        segment_id = (command_args or {}).get("segment_id")
        if segment_id is not None and station.segment(segment_id) is None:
            raise ConfigError(f"no segment {segment_id!r} in the rundown (segment ids look like {show}-e0001-s02)")
        command_id = station.add_command(show, kind, command_args)
        if running_station_pid(settings.data_dir) is None:
            print(f"command {command_id} ({kind}) queued for {show}: no station is running on {settings.data_dir};"
                  " it is applied when one starts")  # fmt: skip
            return 0
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            command = station.command(command_id)
            assert command is not None
            if command.status == "applied":
                print(f"command {command_id} ({kind}) applied: {command.outcome}")
                return 0
            if command.status == "rejected":
                print(f"command {command_id} ({kind}) rejected: {command.outcome}", file=sys.stderr)
                return 1
            reading = _note_reading(station, command_id) if kind == "steer" else None
            if command.status == "received" and reading is not None:
                print(f"command {command_id} received by the station of {show}, {reading.summary()}; the showrunner"
                      " follows it when it plans the next episode (`studio log --type CommandApplied` shows when)")  # fmt: skip
                return 0
            time.sleep(0.1)
        print(f"command {command_id} ({kind}) queued; the station has not answered within {args.wait:g} s"
              " (`studio log --follow` shows the answer)")  # fmt: skip
        return 0
    finally:
        station.close()


def _note_reading(station: Station, command_id: int) -> Any:
    from studio.events import NoteInterpreted

    for logged in station.events(types=["NoteInterpreted"]):
        if isinstance(logged.event, NoteInterpreted) and logged.event.command_id == command_id:
            return logged.event
    return None


def cmd_steer(args: argparse.Namespace) -> int:
    if not args.note.strip():
        raise ConfigError("the note is empty: say what the showrunner should do, e.g. 'topic: saffron paella'")
    return _send_command(args, "steer", {"note": args.note})


def cmd_station_command(args: argparse.Namespace) -> int:
    command_args: dict[str, Any] = {}
    if getattr(args, "segment", None):
        command_args["segment_id"] = args.segment
    if getattr(args, "reason", None):
        command_args["reason"] = args.reason
    return _send_command(args, args.command, command_args)


def cmd_reprompt(args: argparse.Namespace) -> int:
    prompt = " ".join(args.prompt.split())
    if not prompt:
        raise ConfigError("the prompt is empty: write what the shot should show")
    return _send_command(args, "reprompt", {"segment_id": args.segment, "shot_id": args.shot, "prompt": prompt})


def cmd_approval(args: argparse.Namespace) -> int:
    return _send_command(args, "approval", {"mode": args.mode})


# --- memory ------------------------------------------------------------------------------------------------------


def cmd_memory(args: argparse.Namespace) -> int:
    """The show's memory: read from the store directly; search and rebuild go through the running station (which
    owns the Chroma index) or, when none runs, open the index here under the station lock."""
    from studio.lock import running_station_pid

    if args.action in ("pin", "forget", "search") and not args.name:
        example = {"pin": "pin Pepito 'wears a red bandana'", "forget": "forget lesson imax", "search": "search 'soup'"}
        raise ConfigError(f"studio memory {args.action} needs more: e.g. studio memory {example[args.action]}")
    if args.action == "pin" and not args.trait:
        raise ConfigError(
            f"say the trait to pin on {args.name}: e.g. studio memory pin {args.name} 'wears a red bandana'"
        )
    if args.action in ("pin", "forget"):
        command_args: dict[str, Any] = {"kind": args.kind}
        if args.action == "pin":
            command_args |= {"name": args.name, "trait": args.trait}
        elif args.name == "lesson":
            if not args.trait:
                raise ConfigError("say which lesson: studio memory forget lesson WORD")
            command_args |= {"what": "lesson", "word": args.trait}
        else:
            command_args |= {"what": "trait", "name": args.name, "trait": args.trait}
        return _send_command(args, args.action, command_args)
    settings, station = _open_station(args)
    try:
        show = _command_show(station, args.show)
        if args.action in ("list", "export"):
            return _memory_report(station, show, export=args.action == "export", output=args.output)
        if running_station_pid(settings.data_dir) is not None:
            station.close()
            if args.action == "search":
                return _send_memory_search(args)
            return _send_command(args, "rebuild", {})
        return _memory_here(args, settings, station, show)
    finally:
        station.close()


def _memory_report(station: Station, show: str, *, export: bool, output: str | None) -> int:
    from studio.events import EpisodePlanned, LessonLearned, SegmentWritten, ShotsDesigned

    canon = station.canon(show)
    plans = [
        e.event for e in station.events(show=show, types=["EpisodePlanned"]) if isinstance(e.event, EpisodePlanned)
    ]
    facts = sum(
        len(e.event.beats)
        for e in station.events(show=show, types=["SegmentWritten"])
        if isinstance(e.event, SegmentWritten)
    )
    prompts = sum(
        len(e.event.shots)
        for e in station.events(show=show, types=["ShotsDesigned"])
        if isinstance(e.event, ShotsDesigned)
    )
    lessons = station.lessons(show)
    if export:
        payload = {
            "show": show,
            "canon": [
                {
                    "kind": c.kind,
                    "name": c.name,
                    "description": c.description,
                    "palette": list(c.palette),
                    "traits": list(c.traits),
                }
                for c in canon
            ],  # fmt: skip
            "premises": [
                {"episode": p.episode, "topic": p.topic, "title": p.title, "logline": p.logline, "novelty": p.novelty}
                for p in plans
            ],  # fmt: skip
            "lessons": [
                {"word": e.event.word, "reason": e.event.reason}
                for e in station.events(show=show, types=["LessonLearned"])
                if isinstance(e.event, LessonLearned) and e.event.word.casefold() in lessons
            ],
            "facts": facts,
            "prompts": prompts,
        }
        text = json.dumps(payload, indent=2)
        if output:
            Path(output).write_text(text + "\n", encoding="utf-8")
            print(f"memory of {show} written to {output}")
        else:
            print(text)
        return 0
    console = _console()
    console.print(f"[bold]memory of {show}[/bold]: the canon, as every prompt describes it")
    for entry in canon:
        pinned = f"  (pinned: {'; '.join(entry.traits)})" if entry.traits else ""
        console.print(f"  {entry.kind:<9} {entry.name}: {entry.description}  [{' '.join(entry.palette)}]{pinned}",
                      markup=False)  # fmt: skip
    console.print(f"{len(plans)} premises, {facts} continuity facts, {prompts} prompts, {len(lessons)} lessons"
                  f" ({', '.join(lessons) or 'none'})", markup=False)  # fmt: skip
    return 0


def _send_memory_search(args: argparse.Namespace) -> int:
    code = _send_command(args, "search", {"query": args.name, "k": args.k})
    if code != 0:
        return code
    from studio.events import MemorySearched

    _, station = _open_station(args)
    try:
        found = [e.event for e in station.events(types=["MemorySearched"]) if isinstance(e.event, MemorySearched)]
    finally:
        station.close()
    _print_matches(found[-1].matches if found else ())
    return 0


def _memory_here(args: argparse.Namespace, settings: Settings, station: Station, show: str) -> int:
    from studio.lock import StationLock
    from studio.memory import ShowMemory
    from studio.memory.embedder import MiniLM
    from studio.memory.index import MemoryIndex

    lock = StationLock(settings.data_dir)
    lock.acquire()  # no station may start while this process has the index open
    try:
        index = MemoryIndex(settings.data_dir / "memory", show, MiniLM(), url=settings.memory_chroma_url)
        memory = ShowMemory(station, None, show, index)
        if args.action == "rebuild":
            rebuilt = memory.rebuild()
            station.record(rebuilt)
            print(rebuilt.summary())
            return 0
        index.open()
        memory.catch_up()
        _print_matches(memory.search(args.name, k=args.k))
        return 0
    finally:
        lock.release()


def _print_matches(matches: Sequence[Any]) -> None:
    if not matches:
        print("nothing in the memory matches")
    for match in matches:
        episode = f" e{match.episode}" if match.episode is not None else ""
        print(f"{match.similarity:5.2f}  {match.kind:<9}{episode:>5}  {match.text}")


# --- doctor ------------------------------------------------------------------------------------------------------


def cmd_prune(args: argparse.Namespace) -> int:
    """Bring media/ under its budget and prune the checkpointer now, by the rules a running station follows (what
    may still air, thumbnails and the reruns' episodes are kept), so it is safe while a station runs."""
    from studio import checkpoint_retention, retention
    from studio.events import size
    from studio.lock import running_station_pid

    if args.budget_gb is not None and args.budget_gb < 0:
        raise ConfigError(f"--budget-gb {args.budget_gb:g} is negative: give a budget in GB, or 0 for unlimited")
    settings, station = _open_station(args)
    try:
        shows = station.shows()
        show = args.show or (shows[0] if len(shows) == 1 else "")
        budget = retention.budget_bytes(settings) if args.budget_gb is None else int(args.budget_gb * 1e9) or None
        index = retention.MediaIndex(settings.data_dir / "media")
        media = retention.prune_media(
            station, index, budget=budget, keep_episodes=settings.rerun_keep_episodes, dry_run=args.dry_run
        )
        # With no station running, no finished thread can be one production is about to delete itself.
        grace = (
            checkpoint_retention.FINISHED_THREAD_GRACE_S if running_station_pid(settings.data_dir) is not None else 0.0
        )
        checkpoints = checkpoint_retention.prune_checkpoints(
            settings.data_dir / "checkpoints.sqlite", station, grace_s=grace, dry_run=args.dry_run
        )
        verb = "would delete" if args.dry_run else "deleted"
        for item in media.deleted:
            print(f"{verb} {size(item.size):>9}  {item.path.relative_to(index.root)}")
        limit = f"a {size(budget)} budget" if budget is not None else "no budget (unlimited)"
        print(
            f"media: {size(media.plan.total_bytes)}, {limit}; {verb} {len(media.deleted)} file(s),"
            f" {size(media.bytes_freed)}; {size(media.kept_bytes)} left"
            + (f"; kept for reruns: {', '.join(media.plan.kept_for_reruns)}" if media.plan.kept_for_reruns else "")
        )
        print(
            f"checkpoints: {verb} {checkpoints.checkpoints_deleted} checkpoint(s), {checkpoints.writes_deleted}"
            f" write(s), {len(checkpoints.threads)} finished thread(s); {size(checkpoints.bytes_before)} →"
            f" {size(checkpoints.bytes_after)}{' (vacuumed)' if checkpoints.vacuumed else ''}"
        )
        if not args.dry_run:
            if media.deleted:
                station.record(retention.media_pruned_event(show, index, media, dry_run=False))
            if checkpoints.threads or checkpoints.checkpoints_deleted or checkpoints.writes_deleted:
                station.record(checkpoint_retention.checkpoints_pruned_event(show, checkpoints))
    finally:
        station.close()
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from studio.agents.llm import llm_configured
    from studio.tools.media import ffmpeg_exe
    from studio.tools.registry import KIND_SETTING, backend_statuses

    settings = _settings(args, device=args.device, ray_address=args.ray)
    console = _console()
    table = Table(title="studio doctor: which backend each tool uses", show_lines=False)
    for column in ("tool", "backend", "status", "why"):
        table.add_column(column)
    statuses = backend_statuses(settings)
    for status in statuses:
        mark = "[green]selected[/green]" if status.selected else ("available" if status.available else "[red]no[/red]")
        table.add_row(status.kind, status.name, mark, status.reason)
    from studio.secrets import mask_key, mask_url
    from studio.vision import vision_configured

    endpoint = mask_url(settings.openai_base_url) if settings.openai_base_url else "api.openai.com"
    writer = (
        f"OpenAI-compatible {settings.llm_model} at {endpoint} (key {mask_key(settings.openai_api_key)})"
        if llm_configured(settings)
        else "offline director (set OPENAI_API_KEY and/or OPENAI_BASE_URL to use an LLM)"
    )
    table.add_row("writer", "llm" if llm_configured(settings) else "offline", "[green]selected[/green]", writer)
    vision_url = settings.vision_base_url or settings.openai_base_url
    vision_key = settings.vision_api_key or settings.openai_api_key
    vision = vision_configured(settings)
    critic = (
        f"measured checks + {settings.vision_model} at {mask_url(vision_url) if vision_url else 'api.openai.com'} "
        f"(key {mask_key(vision_key)})"
        if vision
        else "measured checks (set STUDIO_VISION_MODEL and an endpoint to add a multimodal model's verdict)"
    )
    table.add_row("critic", "vision" if vision else "measured", "[green]selected[/green]", critic)
    console.print(table)
    console.print(f"ffmpeg: {ffmpeg_exe()}", markup=False)
    console.print(f"data dir: {settings.data_dir}", markup=False)
    cluster_refused = []
    if settings.ray_address:
        from studio.ray_render import cluster_summary, missing_resource

        resource = settings.ray_render_resource
        try:
            lines, units = cluster_summary(settings.ray_address, resource)
        except ConfigError as error:
            cluster_refused.append(str(error))
        else:
            for line in lines:
                console.print(line, markup=False)
            if not units:
                cluster_refused.append(missing_resource(settings.ray_address, resource))
    refused = cluster_refused + [
        f"{setting}={getattr(settings, setting)} cannot run here: {status.reason}"
        for status in statuses
        for kind, setting in KIND_SETTING.items()
        if status.kind == kind and status.name == getattr(settings, setting) and not status.available
    ]
    for problem in refused:
        console.print(f"[red]studio run will refuse: {escape(problem)}[/red] (unset the variable or fix what it needs)")
    return 1 if refused else 0


# --- critique ----------------------------------------------------------------------------------------------------


def _vision_model_named() -> bool:
    """Whether the environment names a vision model (`STUDIO_VISION_MODEL`, in any case, as the settings read it);
    the vision critic needs one (`studio.vision.vision_configured`)."""
    return any(name.upper() == "STUDIO_VISION_MODEL" and value for name, value in os.environ.items())


def cmd_critique(args: argparse.Namespace) -> int:
    from studio.critic.analysis import JUDGED_SIZE, ClipAnalysis

    clip = Path(args.clip)
    if not clip.is_file():
        raise ConfigError(f"{clip}: no such video file")
    # ffmpeg decodes the clip (and OCR reads its first frames) while the rest of the critic is imported and built.
    decoding = ClipAnalysis.start(clip, max_width=JUDGED_SIZE[0])

    from studio.critic.judge import critique_file
    from studio.critic.report import verdict_json
    from studio.plan import MotionSpec
    from studio.tools.checks import default_checks

    motion = None
    if args.motion:
        try:
            motion = MotionSpec.model_validate_json(args.motion)
        except ValueError as error:
            raise ConfigError(f"--motion is not a valid motion spec JSON: {_validation_problems(error)}") from None
    if _vision_model_named():
        from studio.tools.registry import critic_checks

        checks = critic_checks(_settings(args))
    else:
        # Without a vision model the critic is the measured checks alone: the settings (pydantic-settings, which
        # imports asyncio) are not loaded, 40-50 ms of a 1 s budget.
        checks = default_checks()
    verdict = critique_file(
        clip, args.prompt, motion, contact_sheet=Path(args.contact_sheet) if args.contact_sheet else None,
        checks=checks, decoding=decoding,
    )  # fmt: skip
    payload = verdict_json(verdict)
    if args.json:
        print(json.dumps(payload, indent=2, default=str))
    else:
        console = _console()
        console.print(f"[bold]{'PASS' if verdict.passed else 'FAIL'}[/bold] score {verdict.score:.2f}")
        for check in verdict.checks:
            mark = "[green]ok[/green]  " if check.passed else "[red]FAIL[/red]"
            console.print(f"  {mark} {check.check:<10} {check.detail}")
        if verdict.repair:
            console.print(f"  repair: {verdict.repair.action} — {verdict.repair.note}")
    return 0 if verdict.passed else 1


# --- models ------------------------------------------------------------------------------------------------------


def cmd_models(args: argparse.Namespace) -> int:
    from studio import models

    console = _console()
    if args.action == "list":
        from rich.table import Table

        table = Table(title="models in the Hugging Face cache")
        for column in ("name", "repo", "present", "size"):
            table.add_column(column)
        for row in models.list_models():
            table.add_row(
                row.name, row.repo_id, "yes" if row.present else "no", row.size_text if row.size_bytes else "-"
            )
        console.print(table)
        return 0
    names = args.names or ["all"]
    models.pull(names, progress=lambda message: console.print(message, markup=False))
    return 0


# --- parser ------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio",
        description="An AI TV studio: four agents plan, shoot, critique and broadcast a channel of generated shows.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_dir_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--data-dir", type=Path, help="station data directory (default: $STUDIO_DATA_DIR or ~/.local/share/studio)"
        )

    run = sub.add_parser(
        "run", help="make a show (or a channel of shows) and stream it",
        description="Plan, render, critique and broadcast episodes of SHOW. Approved segments stream as HLS to a "
        "local web player (and to --rtmp). Without --episodes it runs until Ctrl-C or SIGTERM; a stopped run "
        "resumes where it stopped, with nothing approved lost. Given a channel file (channels/example.yaml), "
        "its shows air by its programme grid, with bumpers between them; given several show files, they air in "
        "a simple rotation (an episode of each in turn, no grid).",
    )  # fmt: skip
    run.add_argument(
        "show", nargs="+", metavar="SHOW",
        help="show file (shows/cooking.yaml), a channel file (channels/example.yaml), or several show files",
    )  # fmt: skip
    run.add_argument(
        "--episodes", type=int, metavar="N",
        help="stop after N episodes (of each show, on a channel) once they have aired",
    )  # fmt: skip
    run.add_argument(
        "--headless",
        action="store_true",
        help="print progress lines instead of opening the TUI (it opens when run in a terminal)",
    )
    run.add_argument("--seed", type=int, help="override the show's seed (same seed, same episodes)")
    run.add_argument("--rtmp", metavar="URL", help="also push the channel as FLV to this RTMP URL")
    run.add_argument("--port", type=int, help="web player port (default 8090; 0 picks a free one)")
    run.add_argument("--bind", help="web player address (default 127.0.0.1)")
    run.add_argument("--device", choices=["auto", "cuda", "cpu"], help="device for model backends")
    run.add_argument(
        "--ray", metavar="ADDRESS",
        help="render on a Ray cluster: auto, HOST:PORT of its head, or ray://HOST:PORT (default $STUDIO_RAY_ADDRESS); "
        "one render worker per GPU (or per unit of $STUDIO_RAY_RENDER_RESOURCE), models loaded once; needs "
        "pip install 'studio[ray]'",
    )  # fmt: skip
    data_dir_arg(run)
    run.set_defaults(func=cmd_run)

    attach = sub.add_parser(
        "attach", help="open the TUI on a station that is running",
        description="Open the terminal UI on the station in --data-dir, which another `studio run` runs: the live "
        "rundown, the agents' decisions, steering. Several may be attached at once; quitting one (q) never stops "
        "the channel.",
    )  # fmt: skip
    attach.add_argument("--show", help="show slug (needed only when the station has several shows)")
    data_dir_arg(attach)
    attach.set_defaults(func=cmd_attach)

    epg = sub.add_parser(
        "epg", help="the programme guide of a channel (XMLTV, JSON)",
        description="The channel's grid for today and the next days, filled in from the agents' plans in the "
        "station store (episode numbers, titles, summaries, thumbnails): as XMLTV, as the web page's epg.json, or "
        "as lines. PROGRAMME is a channel file or show files, as for `studio run`.",
    )  # fmt: skip
    epg.add_argument("programme", nargs="+", help="channel file (channels/example.yaml) or show files")
    epg.add_argument("--xmltv", metavar="FILE", help="write the guide as XMLTV (- for stdout)")
    epg.add_argument("--json", metavar="FILE", help="write the guide as JSON, as /epg.json serves it (- for stdout)")
    epg.add_argument("--days", type=int, default=2, help="days from the start of today (default 2)")
    epg.add_argument("--base-url", help="the web player's address, for absolute picture links in XMLTV")
    data_dir_arg(epg)
    epg.set_defaults(func=cmd_epg)

    validate = sub.add_parser("validate", help="check show and channel files", description="Check show and "
                              "channel files; every problem is reported as file:line: field: message. Unknown keys "
                              "are errors.")  # fmt: skip
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.set_defaults(func=cmd_validate)

    log = sub.add_parser(
        "log", help="read the decision log",
        description="Every agent decision, render, verdict, playout event and command, oldest first. --json prints "
        "one event per line with its type and every field.",
    )  # fmt: skip
    log.add_argument("--json", action="store_true", help="one JSON object per event, with its type and all fields")
    log.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    log.add_argument("--show", help="only this show (its slug, e.g. kitchen-quest)")
    log.add_argument(
        "--agent", help="only this agent (showrunner, screenwriter, cinematographer, render, critic, post, broadcast, "
        "command, station)",
    )  # fmt: skip
    log.add_argument(
        "--type", action="append", metavar="TYPE", help="only events of this type (repeatable), e.g. VerdictGiven"
    )
    log.add_argument("--episode", type=int, help="only this episode")
    log.add_argument("--check", metavar="CHECK", help="only the critic's verdicts that failed this check (text,"
                     " direction, reversed, colour, artifacts, continuity, …)")  # fmt: skip
    log.add_argument("--verdict", choices=["passed", "failed"], help="only the critic's verdicts that passed or failed")
    log.add_argument(
        "--since", metavar="WHEN", help="only what happened since WHEN: 30m, 2h, 1d ago, or 2026-12-06 21:00"
    )
    log.add_argument("--until", metavar="WHEN", help="only what happened until WHEN (same forms)")
    log.add_argument("--limit", type=int, metavar="N", help="only the last N events (then new ones with --follow)")
    log.add_argument("--verbose", "-v", action="store_true", help="print each event's full fields")
    data_dir_arg(log)
    log.set_defaults(func=cmd_log)

    report = sub.add_parser(
        "report", help="write a self-contained HTML report of an episode or a time range",
        description="One HTML file (pictures inline, no script, nothing fetched): the station's backends and LLM "
        "writer, what aired and what was skipped and why, every agent decision per episode and segment (plan, beats,"
        " shot prompts and motion), each clip's verdict per check with its measured evidence, the repair asked for"
        " and the re-render, a contact sheet per clip, failure rates per check, and steering commands with their "
        "effects. Without EPISODE, --since or --until it covers the whole log.",
    )  # fmt: skip
    report.add_argument("episode", nargs="?", type=int, metavar="EPISODE", help="only this episode (its number)")
    report.add_argument(
        "--since", metavar="WHEN", help="only what happened since WHEN: 30m, 2h, 1d ago, or 2026-12-06 21:00"
    )
    report.add_argument("--until", metavar="WHEN", help="only what happened until WHEN (same forms)")
    report.add_argument("--html", required=True, metavar="FILE", help="write the report to this file")
    report.add_argument("--show", help="show slug (needed only when the station has several shows)")
    data_dir_arg(report)
    report.set_defaults(func=cmd_report)

    status = sub.add_parser(
        "status", help="one screen: on air, next, buffer, production rate, outputs, failures",
        description="The station's health, read from its store: whether it runs, what is on air and up next, the"
        " buffer, the production rate over the last 15 minutes, outputs, and what failed so far (the figures the"
        " metrics endpoint serves, STUDIO_METRICS_PORT).",
    )  # fmt: skip
    status.add_argument("--show", help="show slug (needed only when the station has several shows)")
    status.add_argument("--json", action="store_true", help="every figure as one JSON object")
    data_dir_arg(status)
    status.set_defaults(func=cmd_status)

    def command_parser(name: str, help_text: str, description: str, wait: float = 15.0) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=description + " When a station is running, waits "
                                 "for its answer (applied, or rejected and why); otherwise it is applied when one starts.")  # fmt: skip
        command.add_argument("--show", help="show slug (needed only when the station has several shows)")
        command.add_argument(
            "--wait", type=float, default=wait, metavar="S", help=f"seconds to wait for the answer ({wait:g})"
        )
        data_dir_arg(command)
        return command

    steer = command_parser(
        "steer", "give the showrunner a note for the next episode",
        "A producer's note the showrunner follows when it plans the next episode: 'topic: X' sets the topic; anything "
        "else is passed on as direction.",
    )  # fmt: skip
    steer.add_argument("note", help="e.g. 'topic: saffron paella' or 'more Pepito'")
    steer.set_defaults(func=cmd_steer)
    for name, help_text, description in (
        ("skip", "cut the segment on air", "Cut the segment on air; the next item airs at once."),
        ("pause", "pause production", "Pause production after the step in progress; playout goes on airing the queue."),
        ("resume", "resume production", "Resume a paused production."),
        (
            "hold",
            "repeat the segment on air",
            "Put playout on hold: the segment on air repeats until `studio release`.",
        ),
        ("release", "end a hold", "End a hold: playout moves on after the segment on air."),
    ):
        command_parser(name, help_text, description).set_defaults(func=cmd_station_command)
    for name, help_text, description in (
        (
            "reject",
            "reject a segment: it never airs",
            "Reject a planned or approved segment (cut from air if it is on).",
        ),
        (
            "approve",
            "approve a segment waiting for review, or a rejected one again",
            "Approve a segment waiting for a person (manual approval), or put a rejected or removed segment back in the"
            " queue.",
        ),
        ("drop", "take a queued segment out of the queue", "Remove a planned or approved segment from the queue."),
    ):
        command = command_parser(name, help_text, description)
        command.add_argument("segment", help="segment id, e.g. kitchen-quest-e0003-s02 (see `studio log`)")
        if name in ("reject", "drop"):
            command.add_argument("--reason", help="why, for the log")
        command.set_defaults(func=cmd_station_command)

    reprompt = command_parser(
        "reprompt", "rewrite a shot's prompt and make its segment again",
        "Rewrite the prompt of one shot of a made segment (approved and not aired yet, or waiting for review): the"
        " shot is rendered again from your words, the critic judges it (repairing it as usual), and the segment is"
        " made again around it before it airs; until then it waits in the queue. If the new shot fails, the segment"
        " airs as it was. Say every character and place in full and the motion explicitly, without camera or brand"
        " words, as the cinematographer does.",
        wait=600.0,
    )  # fmt: skip
    reprompt.add_argument("segment", help="segment id, e.g. kitchen-quest-e0003-s02 (see `studio log`)")
    reprompt.add_argument("shot", help="shot id, e.g. e0003-s02-sh01 (`studio log --type ShotsDesigned`)")
    reprompt.add_argument("prompt", help="the shot's new prompt")
    reprompt.set_defaults(func=cmd_reprompt)
    approval = command_parser(
        "approval", "manual or automatic approval of segments",
        "manual: every segment made from now on waits for a person (`studio approve|reject SEGMENT`, or the TUI) "
        "before it can air, and production waits with it; auto: segments the critic passes air without waiting "
        "(what waits is approved).",
    )  # fmt: skip
    approval.add_argument("mode", choices=["manual", "auto"])
    approval.set_defaults(func=cmd_approval)

    memory = sub.add_parser(
        "memory", help="the show's memory: canon, premises, continuity, lessons",
        description="list: the canon (every character, place and prop as prompts describe it) and what is remembered."
        " search QUERY: the nearest memories by meaning. pin NAME TRAIT: a trait in every later prompt (e.g. pin"
        " Pepito 'wears a red bandana'). forget lesson WORD | forget NAME [TRAIT]: take a lesson or a pinned trait"
        " back. export [--output FILE]: everything as JSON. rebuild: the Chroma index again from the station store."
        " While a station runs, search, pin, forget and rebuild go through it.",
    )  # fmt: skip
    memory.add_argument("action", choices=["list", "search", "pin", "forget", "export", "rebuild"])
    memory.add_argument("name", nargs="?", default="", help="the query (search), or the character, place or prop")
    memory.add_argument("trait", nargs="?", default=None, help="the trait to pin or forget, or the lesson's word")
    memory.add_argument("--kind", choices=["character", "place", "prop"], default="character")
    memory.add_argument("--k", type=int, default=10, help="how many matches search prints (10)")
    memory.add_argument("--output", metavar="FILE", help="export to this file instead of printing")
    memory.add_argument("--show", help="show slug (needed only when the station has several shows)")
    memory.add_argument("--wait", type=float, default=30.0, metavar="S", help="seconds to wait for a running station")
    data_dir_arg(memory)
    memory.set_defaults(func=cmd_memory)

    prune = sub.add_parser(
        "prune", help="free media/ down to its budget and prune old checkpoints",
        description="Delete what no longer airs until media/ is under STUDIO_MEDIA_BUDGET_GB: shot renders of made "
        "segments first, then aired episodes beyond the STUDIO_RERUN_KEEP_EPISODES most recent, oldest first; and "
        "checkpoints no resume needs. Never what may still air, thumbnails, contact sheets or the ident; safe while a "
        "station runs (it follows the same rules, and does the same by itself).",
    )  # fmt: skip
    prune.add_argument("--dry-run", action="store_true", help="print what would be deleted; delete nothing")
    prune.add_argument("--budget-gb", type=float, metavar="GB", help="this budget instead of STUDIO_MEDIA_BUDGET_GB")
    prune.add_argument("--show", help="show slug the log entry names (needed only when the station has several)")
    data_dir_arg(prune)
    prune.set_defaults(func=cmd_prune)

    doctor = sub.add_parser("doctor", help="which backends can run here, and why not")
    doctor.add_argument("--device", choices=["auto", "cuda", "cpu"])
    doctor.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="also show this Ray cluster's nodes and resources (default $STUDIO_RAY_ADDRESS)",
    )
    data_dir_arg(doctor)
    doctor.set_defaults(func=cmd_doctor)

    critique = sub.add_parser(
        "critique", help="run the critic on any video file",
        description="Check a clip for reversed or wrong-direction motion, leaked text, ignored colours, artifacts, "
        "frozen or black frames. Without --motion the intended motion is read from the prompt's words. With "
        "STUDIO_VISION_MODEL set, a multimodal model's verdict on sampled frames is added. Exit 0 when it passes, 1 when "
        "it fails.",
    )  # fmt: skip
    critique.add_argument("clip")
    critique.add_argument("--prompt", required=True, help="the prompt the clip was made from")
    critique.add_argument(
        "--motion", help='motion spec JSON, e.g. \'{"camera": {"kind": "pan", "direction": "right"}}\''
    )
    critique.add_argument("--json", action="store_true", help="print the verdict as JSON")
    critique.add_argument("--contact-sheet", metavar="PNG", help="write the evidence picture here")
    critique.set_defaults(func=cmd_critique, one_shot=True)

    models_parser = sub.add_parser("models", help="list or download model weights (Hugging Face cache)")
    models_parser.add_argument("action", choices=["list", "pull"])
    models_parser.add_argument("names", nargs="*", help="zeroscope, xl, film, musicgen or all (for pull)")
    models_parser.set_defaults(func=cmd_models)
    return parser


def main(argv: Sequence[str] | None = None, *, exit_when_done: bool = False) -> int:
    """Run the command `argv` names (the process's arguments without) and return its exit status.

    With `exit_when_done` (the `studio` command itself), a one-shot command (`studio critique`) ends the process as
    soon as its answer is out: it has nothing to clean up, and tearing down the interpreter (the OCR sessions,
    OpenCV, every module) costs it about 0.1 s of a 1 s run. Before it starts, the process is set up for one short
    job (`_one_shot_process`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    one_shot = exit_when_done and getattr(args, "one_shot", False)
    if one_shot:
        _one_shot_process()
    code = _run_command(args)
    if one_shot:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _one_shot_process() -> None:
    """Set up this process for one short job on a few cores (`studio critique`), before numpy or pydantic is
    imported; a person's own setting of each variable wins.

    - OpenBLAS starts no thread pool (`OPENBLAS_NUM_THREADS=1`): the critic's matrices are small, and the threads
      numpy's OpenBLAS starts on import spin for work that never comes: 60–90 ms of CPU.
    - pydantic does not look for plugins among the installed packages' entry points (`PYDANTIC_DISABLE_PLUGINS`).
    - Its threads share one malloc arena, and malloc keeps what is freed for reuse
      (`studio.malloc_arenas.keep_freed_memory`): arrays freed by one check or OCR reading are reused by the next
      rather than faulted in afresh, page by page, in another arena or another mapping (system time)."""
    from studio.malloc_arenas import keep_freed_memory, limit_malloc_arenas

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "1")
    limit_malloc_arenas(1)
    keep_freed_memory()


def _run_command(args: argparse.Namespace) -> int:
    if os.environ.get("STUDIO_DEBUG", "").strip().lower() not in ("", "0", "false", "no", "off"):
        return int(args.func(args))
    try:
        return int(args.func(args))
    except StudioError as error:
        print(f"studio: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("studio: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """The `studio` command."""
    raise SystemExit(main(exit_when_done=True))


if __name__ == "__main__":
    entry()
