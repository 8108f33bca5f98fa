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

EXAMPLES = """\
examples:
  studio run shows/cooking.yaml                     make episodes and stream them until Ctrl-C
  studio run shows/cooking.yaml --episodes 1 --headless
  studio validate shows/*.yaml                      check show files (every problem, with file and line)
  studio log --follow                               watch the agents' decisions as they happen
  studio steer "topic: saffron paella"              a note for the showrunner's next episode
  studio doctor                                     which backend each tool will use, and why
  studio critique clip.mp4 --prompt "the camera pans from left to right over a red fox" --json
"""


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    # Soft wrap: long log lines stay whole when piped or copied; the terminal wraps them.
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    from studio.config import load_settings

    try:
        return load_settings(data_dir=getattr(args, "data_dir", None), **extra)
    except Exception as error:  # pydantic ValidationError from STUDIO_* variables
        raise ConfigError(f"invalid settings: {error}".splitlines()[0] + " (check your STUDIO_* variables)") from None


# --- run -------------------------------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from studio.agents.llm import make_director
    from studio.broadcast.playout import PlayoutSupervisor, QueuedSegment
    from studio.broadcast.web import PlayerServer, check_rtmp_reachable
    from studio.production import Production, open_station
    from studio.show import load_show
    from studio.state import StudioContext
    from studio.tools.registry import build_toolkit

    show = load_show(args.show)
    settings = _settings(args, port=args.port, bind=args.bind, rtmp_url=args.rtmp, device=args.device)
    seed = show.channel.seed if args.seed is None else args.seed
    console = _console()
    interactive = console.is_terminal and not args.headless

    def say(message: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        if interactive:
            console.print(f"[dim]{stamp}[/dim] {escape(message)}", highlight=False)
        else:
            print(f"{stamp} {message}", flush=True)

    station = open_station(settings)
    if settings.rtmp_url:
        check_rtmp_reachable(settings.rtmp_url)
    toolkit = build_toolkit(settings)
    director = make_director(settings)
    say(f"{show.title}: seed {seed}, writer {director.backend}, data dir {settings.data_dir}")
    for status in toolkit.statuses:
        if status.selected:
            say(f"  {status.kind:<12} {status.name} ({status.reason})")

    context = StudioContext(
        show=show, settings=settings, toolkit=toolkit, director=director, station=station, seed=seed, progress=say
    )
    production = Production(context)
    played_position = 0
    playout_lock = threading.Lock()

    def next_segment() -> QueuedSegment | None:
        nonlocal played_position
        with playout_lock:
            entry = station.next_to_air(played_position)
            if entry is None or entry.path is None:
                return None
            played_position = entry.position
            return QueuedSegment(segment_id=entry.segment_id, path=entry.path, seconds=entry.seconds)

    def on_aired(segment: QueuedSegment) -> None:
        station.mark_aired(segment.segment_id)
        station.log(show=context.show_key, agent="broadcast", kind="aired", shot=None, summary=segment.segment_id)

    def on_event(kind: str, detail: dict[str, Any]) -> None:
        station.log(show=context.show_key, agent="broadcast", kind=kind, summary=json.dumps(detail, default=str)[:500])
        if kind not in {"segment_started", "filler_started"}:
            say(f"broadcast: {kind} {detail}")

    hls_dir = settings.data_dir / "hls"
    server = PlayerServer(hls_dir, bind=settings.bind, port=settings.port, title=show.title)
    server.start()
    supervisor = PlayoutSupervisor(
        hls_dir=hls_dir, media_dir=settings.data_dir / "media", width=show.channel.width, height=show.channel.height,
        fps=show.channel.fps, next_segment=next_segment, on_aired=on_aired, on_event=on_event,
        rtmp_url=settings.rtmp_url, realtime=settings.playout_realtime, filler_seconds=settings.filler_seconds,
    )  # fmt: skip
    supervisor.start()
    say(f"on air: {server.url}  (HLS in {hls_dir}{', pushing to ' + settings.rtmp_url if settings.rtmp_url else ''})")

    stop = production.stop_event

    def on_signal(signum: int, frame: object) -> None:
        say("stopping: finishing the current step; everything approved is kept")
        stop.set()

    previous_handlers = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    interrupted = False
    episodes: list[Path] = []
    try:
        episodes = production.run(args.episodes)
        if not stop.is_set():
            say("production finished; airing what is still queued (Ctrl-C to stop now)")
            supervisor.finish()
            while not stop.is_set() and not supervisor.wait(0.5):
                pass
        interrupted = stop.is_set()
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
        supervisor.stop()
        server.stop()
        station.close()
    for path in episodes:
        say(f"episode file: {path}")
    say(f"decision log: studio log --data-dir {settings.data_dir}")
    return 130 if interrupted and args.episodes is not None and len(episodes) < args.episodes else 0


# --- validate ----------------------------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    from studio.errors import ShowFileError
    from studio.show import load_show

    console = _console()
    failed = 0
    for path in args.files:
        try:
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


# --- log ---------------------------------------------------------------------------------------------------------


def cmd_log(args: argparse.Namespace) -> int:
    from studio.station import Station

    settings = _settings(args)
    path = settings.data_dir / "station.sqlite"
    if not path.exists():
        raise ConfigError(f"no station in {settings.data_dir}: run `studio run SHOW` first or pass --data-dir")
    station = Station(path)
    console = _console()
    last = 0
    try:
        while True:
            new_events = station.events(show=args.show, after_id=last)
            if new_events:
                last = new_events[-1].id
            events = [e for e in new_events if not args.agent or e.agent == args.agent]
            if args.limit and not args.follow:
                events = events[-args.limit :]
            for event in events:
                if args.json:
                    print(json.dumps(event.__dict__, default=str), flush=True)
                else:
                    _print_event(console, event, verbose=args.verbose)
            if not args.follow:
                return 0
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        station.close()


_AGENT_STYLE = {
    "showrunner": "bold magenta", "screenwriter": "cyan", "cinematographer": "blue", "render": "dim",
    "critic": "yellow", "post": "green", "broadcast": "dim green",
}  # fmt: skip


def _print_event(console: Console, event: Any, *, verbose: bool) -> None:
    from rich.text import Text

    stamp = datetime.fromtimestamp(event.ts).strftime("%Y-%m-%d %H:%M:%S")
    where = "".join(
        part for part in (
            f" e{event.episode}" if event.episode is not None else "",
            f" s{event.segment + 1}" if event.segment is not None else "",
            f" {event.shot}" if event.shot else "",
        )
    )  # fmt: skip
    line = Text()
    line.append(f"{stamp} ", style="dim")
    line.append(f"{event.agent:<15}", style=_AGENT_STYLE.get(event.agent, ""))
    line.append(f" {event.kind:<18}{where} ", style="dim")
    line.append(event.summary)
    if event.backend:
        line.append(f"  [{event.backend}]", style="dim italic")
    if event.duration_ms >= 1:
        line.append(f" {event.duration_ms / 1000:.1f}s", style="dim")
    console.print(line)
    if verbose and event.output:
        console.print_json(json.dumps(event.output, default=str))


# --- steer -------------------------------------------------------------------------------------------------------


def cmd_steer(args: argparse.Namespace) -> int:
    from studio.station import Station

    settings = _settings(args)
    path = settings.data_dir / "station.sqlite"
    if not path.exists():
        raise ConfigError(f"no station in {settings.data_dir}: run `studio run SHOW` first or pass --data-dir")
    station = Station(path)
    try:
        shows = sorted({entry.show for entry in station.rundown()})
        show = args.show or (shows[0] if len(shows) == 1 else None)
        if show is None:
            raise ConfigError(f"this station has several shows ({', '.join(shows) or 'none yet'}): pass --show")
        station.add_command(show, args.note)
    finally:
        station.close()
    print(f"noted for {show}: the showrunner reads it when it plans the next episode")
    return 0


# --- doctor ------------------------------------------------------------------------------------------------------


def cmd_doctor(args: argparse.Namespace) -> int:
    from rich.table import Table

    from studio.agents.llm import llm_configured
    from studio.tools.media import ffmpeg_exe
    from studio.tools.registry import backend_statuses

    settings = _settings(args, device=args.device)
    console = _console()
    table = Table(title="studio doctor: which backend each tool uses", show_lines=False)
    for column in ("tool", "backend", "status", "why"):
        table.add_column(column)
    for status in backend_statuses(settings):
        mark = "[green]selected[/green]" if status.selected else ("available" if status.available else "[red]no[/red]")
        table.add_row(status.kind, status.name, mark, status.reason)
    writer = (
        f"OpenAI-compatible {settings.llm_model} at {settings.openai_base_url or 'api.openai.com'}"
        if llm_configured(settings)
        else "offline director (set OPENAI_API_KEY and/or OPENAI_BASE_URL to use an LLM)"
    )
    table.add_row("writer", "llm" if llm_configured(settings) else "offline", "[green]selected[/green]", writer)
    console.print(table)
    console.print(f"ffmpeg: {ffmpeg_exe()}", markup=False)
    console.print(f"data dir: {settings.data_dir}", markup=False)
    return 0


# --- critique ----------------------------------------------------------------------------------------------------


def cmd_critique(args: argparse.Namespace) -> int:
    from studio.critique import critique_file, verdict_json
    from studio.plan import MotionSpec

    clip = Path(args.clip)
    if not clip.is_file():
        raise ConfigError(f"{clip}: no such video file")
    motion = None
    if args.motion:
        try:
            motion = MotionSpec.model_validate_json(args.motion)
        except ValueError as error:
            raise ConfigError(f"--motion is not a valid motion spec JSON: {str(error).splitlines()[0]}") from None
    verdict = critique_file(
        clip, args.prompt, motion, contact_sheet=Path(args.contact_sheet) if args.contact_sheet else None
    )
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
        "run", help="make a show and stream it",
        description="Plan, render, critique and broadcast episodes of SHOW. Approved segments stream as HLS to a "
        "local web player (and to --rtmp). Without --episodes it runs until Ctrl-C or SIGTERM; a stopped run "
        "resumes where it stopped, with nothing approved lost.",
    )  # fmt: skip
    run.add_argument("show", help="show file, e.g. shows/cooking.yaml")
    run.add_argument("--episodes", type=int, metavar="N", help="stop after N episodes (once they have aired)")
    run.add_argument("--headless", action="store_true", help="plain log lines, no interactive display")
    run.add_argument("--seed", type=int, help="override the show's seed (same seed, same episodes)")
    run.add_argument("--rtmp", metavar="URL", help="also push the channel as FLV to this RTMP URL")
    run.add_argument("--port", type=int, help="web player port (default 8090; 0 picks a free one)")
    run.add_argument("--bind", help="web player address (default 127.0.0.1)")
    run.add_argument("--device", choices=["auto", "cuda", "cpu"], help="device for model backends")
    data_dir_arg(run)
    run.set_defaults(func=cmd_run)

    validate = sub.add_parser("validate", help="check show files", description="Check show files; every problem is "
                              "reported as file:line: field: message. Unknown keys are errors.")  # fmt: skip
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.set_defaults(func=cmd_validate)

    log = sub.add_parser("log", help="read the decision log", description="Every agent decision, render, verdict and "
                         "playout event, oldest first.")  # fmt: skip
    log.add_argument("--json", action="store_true", help="one JSON object per line")
    log.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    log.add_argument("--show", help="only this show (its slug, e.g. kitchen-quest)")
    log.add_argument(
        "--agent", help="only this agent (showrunner, screenwriter, cinematographer, critic, render, post, broadcast)"
    )
    log.add_argument("--limit", type=int, help="only the last N events")
    log.add_argument("--verbose", "-v", action="store_true", help="print each decision's full output")
    data_dir_arg(log)
    log.set_defaults(func=cmd_log)

    steer = sub.add_parser(
        "steer", help="give the showrunner a note for the next episode",
        description="Queue a producer's note in the station store; the showrunner of the running station takes it "
        "when it plans the next episode. 'topic: X' sets the next topic; anything else is passed on as direction.",
    )  # fmt: skip
    steer.add_argument("note", help="e.g. 'topic: saffron paella' or 'more Pepito'")
    steer.add_argument("--show", help="show slug (needed only when the station runs several shows)")
    data_dir_arg(steer)
    steer.set_defaults(func=cmd_steer)

    doctor = sub.add_parser("doctor", help="which backends can run here, and why not")
    doctor.add_argument("--device", choices=["auto", "cuda", "cpu"])
    data_dir_arg(doctor)
    doctor.set_defaults(func=cmd_doctor)

    critique = sub.add_parser(
        "critique", help="run the critic on any video file",
        description="Check a clip for reversed or wrong-direction motion, leaked text, ignored colours, artifacts, "
        "frozen or black frames. Without --motion the intended motion is read from the prompt's words. Exit 0 when "
        "it passes, 1 when it fails.",
    )  # fmt: skip
    critique.add_argument("clip")
    critique.add_argument("--prompt", required=True, help="the prompt the clip was made from")
    critique.add_argument(
        "--motion", help='motion spec JSON, e.g. \'{"camera": {"kind": "pan", "direction": "right"}}\''
    )
    critique.add_argument("--json", action="store_true", help="print the verdict as JSON")
    critique.add_argument("--contact-sheet", metavar="PNG", help="write the evidence picture here")
    critique.set_defaults(func=cmd_critique)

    models_parser = sub.add_parser("models", help="list or download model weights (Hugging Face cache)")
    models_parser.add_argument("action", choices=["list", "pull"])
    models_parser.add_argument("names", nargs="*", help="zeroscope, xl, film, musicgen or all (for pull)")
    models_parser.set_defaults(func=cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if os.environ.get("STUDIO_DEBUG"):
        return int(args.func(args))
    try:
        return int(args.func(args))
    except StudioError as error:
        print(f"studio: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("studio: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
