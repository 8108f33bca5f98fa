"""What a viewer of a fresh channel sees: the share of airtime on filler, and whether any of it falls inside an
episode, measured on a real `studio run` in one run.

    python benchmarks/airtime.py [--show shows/cooking.yaml] [--minutes 10] [--busy 0]

`--busy N` keeps N CPU-burning processes running beside the station (a machine busy with other work). The station
runs with the embedded defaults and real-time playout; afterwards its store is read: every `SegmentAired` and
`FillerAired` event, and where each filler run fell (before the first episode, between episodes, inside one).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio import events as ev
from studio.station import Station


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
        station_process = subprocess.Popen(
            [sys.executable, "-m", "studio.cli", "run", args.show, "--headless", "--port", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
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
            time.sleep(1.0)
        station_process.send_signal(signal.SIGTERM)
        station_process.wait(300)
        for burner in burners:
            burner.terminate()

        store = Station(station_path)
        events = [logged.event for logged in store.events()]
        store.close()

    segments = [e for e in events if isinstance(e, ev.SegmentAired)]
    fillers = [e for e in events if isinstance(e, ev.FillerAired)]
    show_seconds = sum(e.seconds for e in segments)
    filler_seconds = sum(e.seconds for e in fillers)
    inside = sum(e.seconds for e in fillers if e.inside_episode)
    first_segment = next((i for i, e in enumerate(events) if isinstance(e, ev.SegmentAired)), len(events))
    before_first = sum(e.seconds for e in events[:first_segment] if isinstance(e, ev.FillerAired))
    episodes = sorted({e.episode for e in segments if e.episode is not None})
    total = show_seconds + filler_seconds
    print(f"show: {args.show}, {args.minutes:g} min, {args.busy} CPU burner(s) beside it, {os.cpu_count()} cores")
    print(f"on air: {total:.1f} s = {show_seconds:.1f} s of show ({len(segments)} segments, {len(episodes)} episodes)"
          f" + {filler_seconds:.1f} s of filler")  # fmt: skip
    share = filler_seconds / total if total else 0.0
    print(f"filler share of airtime: {share:.3f}  (before the first episode {before_first:.1f} s, "
          f"between episodes {filler_seconds - before_first - inside:.1f} s, inside episodes {inside:.1f} s)")  # fmt: skip
    print(f"filler inside an episode: {inside:.1f} s ({'none' if inside == 0 else 'FAIL'})")
    return 0 if inside == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
