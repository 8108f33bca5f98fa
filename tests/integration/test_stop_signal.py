"""A Ctrl-C in the station's terminal reaches the station, not the tools it is running.

The terminal sends SIGINT to its whole foreground process group. The station answers by stopping at the next step
boundary, the step in progress finishing first; an ffmpeg it runs for that step must not get the signal too, or
the step fails on the spot (post then drops the segment for good: "post failed: ffmpeg failed (255)"). Found by
the fault-injection soak (tests/integration/test_soak_faults.py), whose first runs were stopped by `timeout`, which
signals its whole process group as a terminal does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO

TOOL_USER = """
import signal, threading, numpy as np
from pathlib import Path
from studio.tools.media import read_video, run_ffmpeg, write_video
stop = threading.Event()
signal.signal(signal.SIGINT, lambda *_: stop.set())  # as the station does: stop after the step in progress
outcome = []
def step():
    try:
        clip = Path({clip!r})
        write_video(iter([np.zeros((64, 64, 3), np.uint8)] * 4), 8, clip, width=64, height=64)
        run_ffmpeg(["-re", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=25", "-t", "2.5", "-f", "null", "-"])
        outcome.append(f"ok, {{len(read_video(clip)[0])}} frames read back")
    except Exception as error:
        outcome.append(f"failed: {{error}}")
worker = threading.Thread(target=step)
worker.start()
print("running", flush=True)
worker.join()
print(outcome[0], "| stop asked:", stop.is_set(), flush=True)
"""


def test_sigint_to_the_process_group_lets_the_running_ffmpeg_finish(tmp_path: Path) -> None:
    station_like = subprocess.Popen(
        [sys.executable, "-c", TOOL_USER.format(clip=str(tmp_path / "clip.mkv"))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )  # fmt: skip
    assert station_like.stdout is not None
    assert station_like.stdout.readline().strip() == "running"
    time.sleep(1.0)  # ffmpeg is under way (it takes 2.5 s)
    os.killpg(station_like.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    out, err = station_like.communicate(timeout=60)
    assert out.strip() == "ok, 4 frames read back | stop asked: True", err
