"""A soak with fault injection: a real `studio run` makes and airs N segments in accelerated time while renders
crash, clip files are corrupted, the LLM endpoint times out or answers invalid JSON, the playout muxer is killed,
and the whole station is SIGKILLed three times and started again.

    python benchmarks/soak.py [--segments 500] [--seed 11] [--faults "render_error=0.05,..."] [--keep DIR]

How each fault gets in:

- render faults (`render_error`, `corrupt_clip`, `render_latency`): the station's own `STUDIO_FAULTS` setting wraps
  its video backend (`studio.faults`), which also fakes render time (accelerated: the shot is drawn straight at the
  house size, the critic leaves out OCR);
- `llm_timeout`, `llm_bad_json`: the station's director is the real LLM path (ChatOpenAI through
  `OPENAI_BASE_URL`) talking to `ScriptedEndpoint`, a local OpenAI-compatible server that answers with the offline
  director's decisions, except when it sleeps past the client's timeout (also through its one retry) or sends
  content that is not JSON;
- `encoder_kill`: the playout muxer (the ffmpeg writing this station's HLS) is SIGKILLed at random moments;
- `sigkill`: `studio run` is SIGKILLed three times at random moments and started again.

Every fault injected is a line in `faults.jsonl` in the data dir. Afterwards the store is read (what was made and
aired, and each fault as the station's log tells it) and the HLS output, kept whole (`STUDIO_HLS_LIST_SIZE=0`), is
measured for black and silence with benchmarks/airtime.py's detectors (at least 0.5 s with 98 % of pixels below
10 % luma; at least 0.5 s under -50 dB). No segment is dark on purpose: the critic rejects black frames and every
segment and the ident carry music, so every dark second counts against the channel. Exit status 0 when nothing
approved was lost or aired twice and nothing on air was dark. `--measure DIR` measures a run kept with `--keep`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.airtime import dark_seconds  # noqa: E402
from benchmarks.soak_endpoint import ScriptedEndpoint  # noqa: E402
from studio import events as ev  # noqa: E402
from studio.faults import FAULT_LOG_NAME, INJECTED_MARK, FaultLog, FaultPlan, read_fault_log  # noqa: E402
from studio.render import SHORT_SHOT  # noqa: E402
from studio.show import load_show  # noqa: E402
from studio.state import slug  # noqa: E402
from studio.station import Station  # noqa: E402
from studio.tools.media import run_ffmpeg  # noqa: E402

SOAK_SHOW = REPO / "tests" / "data" / "shows" / "soak.yaml"
DEFAULT_FAULTS = (
    "render_error=0.05,corrupt_clip=0.04,render_latency=0.05,llm_timeout=0.04,llm_bad_json=0.05,"
    "latency_s=0.05,slow_s=1.5"
)
SIGKILLS = 3
LLM_TIMEOUT_S = 1.0
# The muxer is killed every this many seconds, give or take (uniformly drawn between the two).
ENCODER_KILL_EVERY_S = (20.0, 60.0)
ENCODER_ANSWER_S = 30.0  # the most a muxer kill is given to show in the log before the soak may SIGKILL the station
# What a killed `studio run` needs before it is killed again: to have started and made something.
MIN_RUN_S = 8.0


# --- the station process ----------------------------------------------------------------------------------------------


def station_env(data_dir: Path, faults: str, endpoint_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STUDIO_", "OPENAI_"))}
    env.update(
        STUDIO_DATA_DIR=str(data_dir), STUDIO_FAULTS=faults, STUDIO_PLAYOUT_REALTIME="false",
        STUDIO_FILLER_SECONDS="1", STUDIO_HLS_LIST_SIZE="0", STUDIO_MAX_REPAIRS="2",
        OPENAI_BASE_URL=endpoint_url, OPENAI_API_KEY="soak", STUDIO_LLM_MODEL="soak-scripted",
        STUDIO_LLM_TIMEOUT_S=str(LLM_TIMEOUT_S), PYTHONPATH=str(REPO),
    )  # fmt: skip
    return env


def start_station(show_path: Path, env: dict[str, str], log_path: Path, *extra: str) -> subprocess.Popen[bytes]:
    """`studio run SHOW --headless --port 0 EXTRA...` in `env`, its output appended to `log_path`."""
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "studio.cli", "run", str(show_path), "--headless", "--port", "0", *extra],
            stdout=log_file, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip


def wait_until_started(station_path: Path, after: int, process: subprocess.Popen[bytes], timeout: float = 300) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if station_path.exists():
            found = read_store(station_path, lambda s: s.events(after_id=after, types=["StationStarted"]))
            if found:
                return int(found[0].id)
        if process.poll() is not None:
            raise RuntimeError(f"the station exited ({process.returncode}) before it started")
        time.sleep(0.2)
    raise RuntimeError("the station did not start")


def read_store(station_path: Path, read: Any) -> Any:
    store = Station(station_path)
    try:
        return read(store)
    finally:
        store.close()


def count_events(station_path: Path, kind: str) -> int:
    return len(read_store(station_path, lambda s: s.events(types=[kind])))


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def muxer_pids(hls_dir: Path) -> list[int]:
    """The ffmpeg processes writing HLS into `hls_dir` (the playout muxer), by their argv."""
    marker = str(hls_dir.absolute()).encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and b"ffmpeg" in Path(argv[0].decode(errors="replace")).name.encode() and b"hls" in argv:
            if any(marker in arg for arg in argv):
                pids.append(int(entry.name))
    return pids


class EncoderKiller:
    """Kills the playout muxer now and then, on its own thread."""

    def __init__(self, hls_dir: Path, station_path: Path, rng: random.Random, faults: FaultLog, enabled: bool) -> None:
        self.hls_dir, self.station_path, self.rng, self.faults = hls_dir, station_path, rng, faults
        self.enabled = enabled
        self.stop = threading.Event()
        self.answering = threading.Lock()
        """Held from a kill until the station logs the muxer's restart: the soak's SIGKILL of the whole station
        waits for it (a SIGKILL a moment after a muxer kill left that kill in no log, and the soak failed)."""
        self.thread = threading.Thread(target=self.run, name="encoder-killer", daemon=True)
        self.kills = 0

    def run(self) -> None:
        while self.enabled and not self.stop.wait(self.rng.uniform(*ENCODER_KILL_EVERY_S)):
            # The moment has come: the muxer is killed as soon as there is one (the station may be starting again
            # after a SIGKILL, with no muxer yet; skipping the moment left a short soak with no kill at all).
            self._kill_when_muxing(self.stop.is_set)

    def ensure_one(self, timeout_s: float = ENCODER_ANSWER_S) -> None:
        """Kill the muxer now if no kill was injected yet (a short soak can end before the first drawn moment):
        every fault kind is met in every run. Call after `stop` is set (the killer's thread then kills no more)."""
        if not self.enabled or self.kills:
            return
        self.thread.join()
        deadline = time.monotonic() + timeout_s
        self._kill_when_muxing(lambda: time.monotonic() > deadline)

    def _kill_when_muxing(self, give_up: Callable[[], bool]) -> None:
        while not give_up():
            with self.answering:
                restarts = count_events(self.station_path, "EncoderRestarted")
                if self._kill_muxers():
                    self._wait_for_restart(restarts)
                    return
            time.sleep(0.25)

    def _wait_for_restart(self, restarts: int, timeout_s: float = ENCODER_ANSWER_S) -> None:
        """Until the station logs one more muxer restart than `restarts` (or `timeout_s` passes: then the soak's
        count of kills seen in the log says so)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if count_events(self.station_path, "EncoderRestarted") > restarts:
                return
            time.sleep(0.2)  # not stop.wait: ensure_one waits here after stop is set

    def _kill_muxers(self) -> bool:
        """SIGKILL every muxer running now; whether one was."""
        killed = False
        for pid in muxer_pids(self.hls_dir):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                self.faults.record("encoder_kill", pid=pid)
                self.kills += 1
                killed = True
        return killed


# --- the run ------------------------------------------------------------------------------------------------------------


@dataclass
class SoakResult:
    segments: int
    seed: int
    faults: str
    wall_s: float = 0.0
    approved: int = 0
    aired: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    queued: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    aired_twice: list[str] = field(default_factory=list)
    aired_unapproved: list[str] = field(default_factory=list)
    dropped: int = 0
    filler_s: float = 0.0
    show_s: float = 0.0
    recorded_s: float = 0.0
    black_s: float | None = None
    silent_s: float | None = None
    injected: Counter[str] = field(default_factory=Counter)
    seen: Counter[str] = field(default_factory=Counter)
    rss_start_kib: int | None = None
    rss_end_kib: int | None = None
    rss_before_kills: list[tuple[int, int | None]] = field(default_factory=list)
    """(segments approved, RSS in KiB) of each station just before it was SIGKILLed."""
    starts: int = 0
    production_failures: int = 0
    playout_failures: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.lost and not self.aired_twice and not self.aired_unapproved
            and self.black_s == 0 and self.silent_s == 0
        )  # fmt: skip

    def lines(self) -> list[str]:
        def mib(kib: int | None) -> str:
            return f"{kib / 1024:.1f} MiB" if kib is not None else "?"

        kinds = ("render_error", "corrupt_clip", "render_latency", "llm_timeout", "llm_bad_json", "encoder_kill",
                 "sigkill")  # fmt: skip
        dark = (
            f"{self.black_s:.1f} s black, {self.silent_s:.1f} s silent in {self.recorded_s:.1f} s of HLS output"
            if self.black_s is not None else "not measured (no HLS output)"
        )  # fmt: skip
        return [
            f"soak: {self.segments} segments asked, seed {self.seed}, {os.cpu_count()} cores, wall {self.wall_s:.0f} s"
            f" ({self.starts} station starts)",
            f"faults: {self.faults}",
            f"segments produced (approved): {self.approved}; aired: {self.aired}; skipped on air with a reason:"
            f" {len(self.skipped)}; still queued: {len(self.queued)}; dropped in production: {self.dropped}",
            f"approved lost: {len(self.lost)}{' ' + str(self.lost[:10]) if self.lost else ''};"
            f" aired twice: {len(self.aired_twice)}{' ' + str(self.aired_twice[:10]) if self.aired_twice else ''};"
            f" aired unapproved: {len(self.aired_unapproved)}",
            "faults by type (injected / seen in the station's log): "
            + ", ".join(f"{kind} {self.injected[kind]}/{self.seen[kind]}" for kind in kinds),
            f"on air: {self.show_s:.1f} s of show + {self.filler_s:.1f} s of filler",
            f"dark on the output: {dark}",
            f"production failures (episode retried): {self.production_failures}; playout failures:"
            f" {self.playout_failures}",
            f"RSS of the station: {mib(self.rss_start_kib)} at its first start, {mib(self.rss_end_kib)} before the"
            " last stop"
            + "".join(f"; {mib(kib)} before the SIGKILL at {made} approved" for made, kib in self.rss_before_kills),
            *(f"note: {note}" for note in self.notes),
            f"result: {'OK' if self.ok else 'FAIL'}",
        ]


def run_soak(
    segments: int,
    work_dir: Path,
    *,
    seed: int = 11,
    faults: str = DEFAULT_FAULTS,
    sigkills: int = SIGKILLS,
    kill_encoder: bool = True,
    show_path: Path = SOAK_SHOW,
    timeout_s: float = 4 * 3600,
) -> SoakResult:
    """Run the soak in `work_dir` (the station's data dir is `work_dir/station`) until `segments` are approved."""
    started = time.monotonic()
    full_faults = f"{faults},seed={seed}"
    plan = FaultPlan.parse(full_faults)
    rng = random.Random(seed)
    data_dir = work_dir / "station"
    data_dir.mkdir(parents=True, exist_ok=True)
    station_path = data_dir / "station.sqlite"
    fault_log = FaultLog(data_dir / FAULT_LOG_NAME)
    show = load_show(show_path)
    endpoint = ScriptedEndpoint(show, plan, fault_log, client_timeout_s=LLM_TIMEOUT_S)
    env = station_env(data_dir, full_faults, endpoint.url)
    log_path = work_dir / "station.log"
    killer = EncoderKiller(data_dir / "hls", station_path, rng, fault_log, kill_encoder)
    result = SoakResult(segments, seed, full_faults)
    # SIGKILLs fall when this many segments have been approved, then after a random moment more.
    kill_at = sorted(rng.sample(range(max(2, segments // 10), max(3, segments * 9 // 10)), sigkills))
    process = start_station(show_path, env, log_path)
    last_id = 0
    deadline = time.monotonic() + timeout_s
    try:
        last_id = wait_until_started(station_path, last_id, process)
        result.starts = 1
        time.sleep(1.0)
        result.rss_start_kib = rss_kib(process.pid)
        (work_dir / "rss.json").write_text(json.dumps({"start": result.rss_start_kib}))
        killer.thread.start()
        for threshold in kill_at:
            while count_events(station_path, "SegmentApproved") < threshold:
                if process.poll() is not None:
                    raise RuntimeError(f"the station exited by itself ({process.returncode}); see {log_path}")
                if time.monotonic() > deadline:
                    raise RuntimeError("the soak ran out of time")
                time.sleep(0.5)
            time.sleep(rng.uniform(0.0, 3.0))
            with killer.answering:  # not while the station is answering a muxer kill
                result.rss_before_kills.append((count_events(station_path, "SegmentApproved"), rss_kib(process.pid)))
                process.send_signal(signal.SIGKILL)
                process.wait(30)
            fault_log.record("sigkill", pid=process.pid, approved=threshold)
            last_id = read_store(station_path, lambda s: s.last_event_id())
            process = start_station(show_path, env, log_path)
            last_id = wait_until_started(station_path, last_id, process)
            result.starts += 1
        while count_events(station_path, "SegmentApproved") < segments:
            if process.poll() is not None:
                raise RuntimeError(f"the station exited by itself ({process.returncode}); see {log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError("the soak ran out of time")
            time.sleep(0.5)
        # Enough made: production pauses, playout airs what can air (whole episodes), then the station stops.
        killer.stop.set()
        killer.ensure_one()
        read_store(station_path, lambda store: store.add_command(slug(show.title), "pause", {}))
        quiet_since, aired = time.monotonic(), -1
        while time.monotonic() - quiet_since < 15 and time.monotonic() < deadline:
            now_aired = count_events(station_path, "SegmentAired")
            if now_aired != aired:
                aired, quiet_since = now_aired, time.monotonic()
            time.sleep(1.0)
        result.rss_end_kib = rss_kib(process.pid)
        (work_dir / "rss.json").write_text(json.dumps({"start": result.rss_start_kib, "end": result.rss_end_kib}))
        process.send_signal(signal.SIGTERM)
        process.wait(300)
    finally:
        killer.stop.set()
        if process.poll() is None:
            process.kill()
            process.wait(30)
        endpoint.close()
    result.wall_s = time.monotonic() - started
    measure_store(result, station_path)
    result.injected = Counter(str(entry["fault"]) for entry in read_fault_log(data_dir))
    measure_output(result, data_dir / "hls", work_dir)
    return result


def measure_kept(work_dir: Path, segments: int, seed: int, faults: str) -> SoakResult:
    """The figures of a run kept in `work_dir`, from its store, fault log and HLS output (RSS as the run saved it)."""
    result = SoakResult(segments, seed, f"{faults},seed={seed}")
    data_dir = work_dir / "station"
    measure_store(result, data_dir / "station.sqlite")
    result.injected = Counter(str(entry["fault"]) for entry in read_fault_log(data_dir))
    with contextlib.suppress(OSError, ValueError):
        saved = json.loads((work_dir / "rss.json").read_text())
        result.rss_start_kib, result.rss_end_kib = saved.get("start"), saved.get("end")
    result.notes.append("measured afterwards from the kept run (wall time not known)")
    measure_output(result, data_dir / "hls", work_dir)
    return result


def measure_store(result: SoakResult, station_path: Path) -> None:
    """Fill in what the store says: made, aired, skipped, queued, lost, aired twice, filler, faults seen."""
    store = Station(station_path)
    try:
        logged = list(store.events())
        rundown = {entry.segment_id: entry for entry in store.rundown()}
    finally:
        store.close()
    events = [item.event for item in logged]
    approved = [e.segment_id for e in events if isinstance(e, ev.SegmentApproved)]
    first_airings = Counter(
        e.segment_id for e in events
        if isinstance(e, ev.SegmentAired) and not e.repeat and not getattr(e, "rerun", False)
    )  # fmt: skip
    skipped = {e.segment_id: e.reason for e in events if isinstance(e, ev.SegmentSkipped)}
    result.approved = len(set(approved))
    result.aired = len(first_airings)
    result.aired_twice = sorted(segment for segment, count in first_airings.items() if count > 1)
    result.aired_unapproved = sorted(set(first_airings) - set(approved))
    result.skipped = {segment: reason for segment, reason in skipped.items() if segment not in first_airings}
    result.queued = sorted(
        segment for segment in set(approved) - set(first_airings) - set(skipped)
        if segment in rundown and rundown[segment].status in ("approved", "on_air")
    )  # fmt: skip
    accounted = set(first_airings) | set(result.skipped) | set(result.queued)
    removed = {s for s, entry in rundown.items() if entry.status in ("rejected", "removed")}
    result.lost = sorted(set(approved) - accounted - removed)
    result.dropped = sum(isinstance(e, ev.SegmentDropped) for e in events)
    result.filler_s = sum(e.seconds for e in events if isinstance(e, ev.FillerAired))
    result.show_s = sum(e.seconds for e in events if isinstance(e, ev.SegmentAired))
    result.production_failures = sum(isinstance(e, ev.ProductionFailed) for e in events)
    result.playout_failures = sum(isinstance(e, ev.PlayoutFailed) for e in events)
    plan = FaultPlan.parse(result.faults)
    seen = result.seen
    for event in events:
        if isinstance(event, ev.RenderFailed) and INJECTED_MARK in event.error:
            seen["render_error"] += 1
        elif isinstance(event, ev.RenderFailed) and SHORT_SHOT in event.error:
            seen["corrupt_clip"] += 1  # a shot file cut short: the render checks what it wrote before keeping it
        elif isinstance(event, ev.VerdictGiven) and not event.passed and "render failed" not in event.repair_note:
            if any(f.startswith("duration (") and "frames at" in f for f in event.failures):
                seen["corrupt_clip"] += 1  # a clip cut short: the critic counts its frames
        elif isinstance(event, ev.ClipRendered) and not event.reused and event.duration_ms >= plan.slow_s * 1000:
            seen["render_latency"] += 1
        elif isinstance(event, ev.EncoderRestarted) and "muxer exited (-9)" in event.reason:
            seen["encoder_kill"] += 1
        if "fallback from" in event.backend:
            seen["llm_timeout" if "Timeout" in event.backend else "llm_bad_json"] += 1
    starts = [item for item in logged if isinstance(item.event, ev.StationStarted)]
    result.starts = result.starts or len(starts)
    # A start not preceded by a StationStopped follows a station that died without stopping: a SIGKILL.
    for item in starts[1:]:
        previous = [e for e in logged if e.id < item.id and isinstance(e.event, (ev.StationStopped, ev.StationStarted))]
        if previous and isinstance(previous[-1].event, ev.StationStarted):
            seen["sigkill"] += 1


def measure_output(result: SoakResult, hls_dir: Path, work_dir: Path) -> None:
    """Join every HLS segment the playlist lists, in order, and measure black and silence on it."""
    playlist = hls_dir / "index.m3u8"
    if not playlist.exists():
        return
    names = [line.strip() for line in playlist.read_text().splitlines() if line.strip() and not line.startswith("#")]
    files = [hls_dir / name for name in names if (hls_dir / name).exists()]
    if len(files) < len(names):
        result.notes.append(f"{len(names) - len(files)} of {len(names)} HLS segments listed are missing on disk")
    concat_list = work_dir / "output.ffconcat"
    concat_list.write_text("ffconcat version 1.0\n" + "".join(f"file '{path}'\n" for path in files))
    recording = work_dir / "output.ts"
    run_ffmpeg(["-y", "-f", "concat", "-safe", "0", "-i", str(concat_list), "-map", "0", "-c", "copy",
                "-f", "mpegts", str(recording)])  # fmt: skip
    result.recorded_s, result.black_s, result.silent_s = dark_seconds(recording)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=500)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--faults", default=DEFAULT_FAULTS)
    parser.add_argument("--show", type=Path, default=SOAK_SHOW)
    parser.add_argument("--keep", type=Path, help="run in this directory and keep it (default: a temporary one)")
    parser.add_argument(
        "--measure", type=Path, metavar="DIR", help="only measure the run kept in DIR (one cut short, for instance)"
    )
    args = parser.parse_args()
    logging.getLogger("studio.faults").setLevel(logging.ERROR)  # each fault is in faults.jsonl; the figures say
    if args.measure is not None:
        result = measure_kept(args.measure, args.segments, args.seed, args.faults)
        print("\n".join(result.lines()))
        return 0 if result.ok else 1
    with contextlib.ExitStack() as stack:
        work_dir = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="soak-")))
        work_dir.mkdir(parents=True, exist_ok=True)
        result = run_soak(args.segments, work_dir, seed=args.seed, faults=args.faults, show_path=args.show)
    print("\n".join(result.lines()))
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
