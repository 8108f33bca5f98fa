"""Memory over a one-hour channel run on the embedded default, accelerated: is the resident memory flat?

    python benchmarks/channel_hour.py [--hours 1.0] [--show shows/cooking.yaml] [--every 5] [--keep DIR]

Runs the real `studio run SHOW --headless` (offline director, procedural renderer, synthesiser, the critic with
every check, the safety gate, HLS playout) with playout faster than real time (`STUDIO_PLAYOUT_REALTIME=false`:
the channel airs as fast as production makes it, so an hour of channel takes what production needs to make an
hour of show). Samples the station process's resident memory (VmRSS, and its ffmpeg children's) every `--every`
seconds until `--hours` of show have aired, then stops it with SIGTERM. Prints the samples by aired minute, the
peak, the memory after warm-up (the first tenth of the airtime) against the end, and the growth per aired hour
fitted over everything after warm-up.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def main() -> int:
    from studio.show import load_show
    from studio.state import slug
    from studio.station import Station

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=1.0, help="hours of show to air")
    parser.add_argument("--show", type=Path, default=REPO / "shows" / "cooking.yaml")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--keep", type=Path, help="data dir to keep (default: a temporary one)")
    args = parser.parse_args()
    target = args.hours * 3600
    show_key = slug(load_show(args.show).title)
    scratch = tempfile.TemporaryDirectory()
    data_dir = args.keep or Path(scratch.name) / "data"
    env = {**os.environ, "STUDIO_PLAYOUT_REALTIME": "false", "STUDIO_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "studio.cli", "run", str(args.show), "--headless", "--port", "0"]
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples: list[tuple[float, float, float, float]] = []  # wall s, aired s, station MiB, with children MiB
    station = None
    try:
        while process.poll() is None:
            time.sleep(args.every)
            if station is None and (data_dir / "station.sqlite").exists():
                station = Station(data_dir / "station.sqlite")
            aired = station.total_seconds(show_key, "SegmentAired") if station is not None else 0.0
            own = _kib(process.pid, "VmRSS") / 1024
            total = own + sum(_kib(child, "VmRSS") for child in _children(process.pid)) / 1024
            samples.append((time.monotonic() - started, aired, own, total))
            if len(samples) % 12 == 1:
                print(f"  {samples[-1][0]:7.0f} s wall, {aired / 60:6.1f} min aired: station {own:6.1f} MiB,"
                      f" with ffmpeg {total:6.1f} MiB", flush=True)  # fmt: skip
            if aired >= target:
                break
        peak = _kib(process.pid, "VmHWM") / 1024
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(120)
            except subprocess.TimeoutExpired:
                process.kill()
    if process.returncode not in (0, -signal.SIGTERM, 143) or not samples or samples[-1][1] < target:
        sys.stderr.write(process.stderr.read().decode(errors="replace")[-3000:] if process.stderr else "")
        print(
            f"the station ended early (exit {process.returncode}) after {samples[-1][1] if samples else 0:.0f} s aired"
        )
        return 1
    wall, aired = samples[-1][0], samples[-1][1]
    warm = [s for s in samples if s[1] >= target / 10]
    first, last = warm[0], warm[-1]
    xs = [s[1] / 3600 for s in warm]
    ys = [s[2] for s in warm]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0
    print(f"{aired / 3600:.2f} h of show aired in {wall / 60:.1f} min wall ({aired / wall:.2f}x real time)")
    print(f"station RSS: after warm-up ({first[1] / 60:.0f} min aired) {first[2]:.0f} MiB, at the end {last[2]:.0f}"
          f" MiB (x{last[2] / first[2]:.3f}), peak (VmHWM) {peak:.0f} MiB; fitted growth after warm-up"
          f" {slope:+.1f} MiB per aired hour; with ffmpeg children at the end {last[3]:.0f} MiB")  # fmt: skip
    if station is not None:
        station.close()
    scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
