"""What a viewer of a fresh channel sees: the share of airtime on filler, whether any of it falls inside an
episode, and how many seconds of the stream were dark (black or silent), measured on a real `studio run` in one run.

    python benchmarks/airtime.py [--show shows/cooking.yaml] [--minutes 10] [--busy 0]

`--busy N` keeps N CPU-burning processes running beside the station (a machine busy with other work). The station
runs with the embedded defaults and real-time playout; a second ffmpeg records its HLS output from the web player,
as a viewer's player reads it. Afterwards the store is read (every `SegmentAired` and `FillerAired` event, and where
each filler run fell: before the first episode, between episodes, inside one), and the recording is measured with
ffmpeg's blackdetect (at least 0.5 s with 98 % of pixels below 10 % luma) and silencedetect (at least 0.5 s under
-50 dB).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio import events as ev
from studio.station import Station
from studio.tools.media import ffmpeg_exe, probe


def burn(stop_at: float) -> None:
    while time.time() < stop_at:
        sum(i * i for i in range(10_000))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show", default=str(Path(__file__).resolve().parents[1] / "shows" / "cooking.yaml"))
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--busy", type=int, default=0, help="CPU-burning processes beside the station")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "station"
        env = dict(os.environ, STUDIO_DATA_DIR=str(data_dir))
        burners = [
            multiprocessing.Process(target=burn, args=(time.time() + args.minutes * 60 + 120,), daemon=True)
            for _ in range(args.busy)
        ]
        for burner in burners:
            burner.start()
        port = free_port()
        station_process = subprocess.Popen(
            [sys.executable, "-m", "studio.cli", "run", args.show, "--headless", "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        recording = Path(scratch) / "on-air.ts"
        recorder: subprocess.Popen[bytes] | None = None
        # Airtime counts from the moment the channel is on air (the station's start), as a viewer would.
        station_path = data_dir / "station.sqlite"
        while not station_path.exists():
            time.sleep(0.1)
        deadline = None
        while deadline is None:
            store = Station(station_path)
            started = store.events(types=["StationStarted"], limit=1)
            store.close()
            if started:
                deadline = started[0].ts + args.minutes * 60
            time.sleep(0.2)
        while time.time() < deadline and station_process.poll() is None:
            if recorder is None and (data_dir / "hls" / "index.m3u8").exists():
                recorder = subprocess.Popen(
                    [ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", f"http://127.0.0.1:{port}/hls/index.m3u8",
                     "-map", "0", "-c", "copy", "-f", "mpegts", str(recording)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            time.sleep(1.0)
        station_process.send_signal(signal.SIGTERM)
        station_process.wait(300)
        for burner in burners:
            burner.terminate()
        if recorder is not None:
            try:
                recorder.wait(60)  # the playlist ends with the station: the reader ends by itself
            except subprocess.TimeoutExpired:
                recorder.send_signal(signal.SIGINT)
                recorder.wait(30)
        dark = dark_seconds(recording) if recording.exists() else None

        store = Station(station_path)
        events = [logged.event for logged in store.events()]
        store.close()

    aired = [e for e in events if isinstance(e, ev.SegmentAired)]
    segments = [e for e in aired if not e.rerun]
    reruns = [e for e in aired if e.rerun]
    fillers = [e for e in events if isinstance(e, ev.FillerAired)]
    show_seconds = sum(e.seconds for e in segments)
    filler_seconds = sum(e.seconds for e in fillers)
    inside = sum(e.seconds for e in fillers if e.inside_episode)
    first_segment = next((i for i, e in enumerate(events) if isinstance(e, ev.SegmentAired)), len(events))
    before_first = sum(e.seconds for e in events[:first_segment] if isinstance(e, ev.FillerAired))
    episodes = sorted({e.episode for e in segments if e.episode is not None})
    rerun_seconds = sum(e.seconds for e in reruns)
    total = show_seconds + rerun_seconds + filler_seconds
    print(f"show: {args.show}, {args.minutes:g} min, {args.busy} CPU burner(s) beside it, {os.cpu_count()} cores")
    print(f"on air: {total:.1f} s = {show_seconds:.1f} s of show ({len(segments)} segments, {len(episodes)} episodes)"
          f" + {rerun_seconds:.1f} s of reruns ({len(reruns)}) + {filler_seconds:.1f} s of filler")  # fmt: skip
    share = filler_seconds / total if total else 0.0
    print(f"filler share of airtime: {share:.3f}  (before the first episode {before_first:.1f} s, "
          f"between episodes {filler_seconds - before_first - inside:.1f} s, inside episodes {inside:.1f} s)")  # fmt: skip
    print(f"filler inside an episode: {inside:.1f} s ({'none' if inside == 0 else 'FAIL'})")
    started = next((e for e in events if isinstance(e, ev.StationStarted)), None)
    by_kind: dict[str, float] = {}
    for filler in fillers:
        by_kind[filler.what] = by_kind.get(filler.what, 0.0) + filler.seconds
    kinds = ", ".join(f"{kind} {seconds:.1f} s" for kind, seconds in by_kind.items())
    print(f"what the filler was: {kinds or 'none'} (the station's filler: {started.filler if started else '?'})")
    if dark is None:
        print("dark on the output: not measured (the HLS recording did not start)")
        return 1
    recorded, black, silent = dark
    print(f"dark on the output: {black:.1f} s black, {silent:.1f} s silent, in {recorded:.1f} s recorded from the"
          " web player's HLS")  # fmt: skip
    return 0 if inside == 0 and black == 0 and silent == 0 else 1


def dark_seconds(recording: Path) -> tuple[float, float, float]:
    """(seconds recorded, seconds black, seconds silent) in a recording, by ffmpeg's detectors."""
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(recording),
         "-vf", "blackdetect=d=0.5:pix_th=0.10:pic_th=0.98", "-af", "silencedetect=n=-50dB:d=0.5", "-f", "null", "-"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    black = sum(float(value) for value in re.findall(r"black_duration:\s*([\d.]+)", result.stderr))
    silent = sum(float(value) for value in re.findall(r"silence_duration:\s*([\d.]+)", result.stderr))
    recorded = probe(recording).video_seconds
    return recorded, black, silent


def free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return int(probe_socket.getsockname()[1])


if __name__ == "__main__":
    raise SystemExit(main())
