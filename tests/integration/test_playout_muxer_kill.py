"""A muxer killed just after a segment was reported aired: the segment is in the output all the same. (Found by
the soak.)

A feeder finishes, and the segment is recorded as aired (`SegmentAired`: all of it went to the muxer), once the
segment is in the muxer's stdin pipe; at real time the muxer takes it out of the pipe over the next seconds, and
writes it out only when the HLS segment it falls in is closed. A muxer that dies in between takes it along, so
playout reads what each muxer has written out from its playlist and airs again, behind the new muxer's
discontinuity, what the dead one had not. The store's invariant "no approved segment lost" cannot see this; these
tests read the output.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.soak import muxer_pids
from studio import events as ev
from studio.broadcast import commands
from studio.broadcast.playout import PlayoutSupervisor, QueuedSegment
from studio.tools.media import probe, run_ffmpeg
from tests.integration.test_playout import FPS, HEIGHT, WIDTH, Media, QueueAdapter, Recorder, media  # noqa: F401


def output_video_seconds(hls_dir: Path, work_dir: Path) -> float:
    """Seconds of video on the HLS output: every segment the playlist lists, joined in order and probed."""
    names = [line for line in (hls_dir / "index.m3u8").read_text().splitlines() if line and line[0] != "#"]
    listing, joined = work_dir / "output.ffconcat", work_dir / "output.ts"
    commands.write_ffconcat([hls_dir / name for name in names], listing)
    run_ffmpeg(["-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(joined)])
    return probe(joined).video_seconds


class KillTheMuxerAfter(QueueAdapter):
    def __init__(self, recorder: Recorder, hls_dir: Path, segment_id: str) -> None:
        super().__init__(recorder)
        self.hls_dir = hls_dir
        self.segment_id = segment_id
        self.killed: list[int] = []

    def aired(self, segment: QueuedSegment) -> None:
        super().aired(segment)
        if segment.segment_id == self.segment_id and not self.killed:
            self.killed = muxer_pids(self.hls_dir)
            for pid in self.killed:
                os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("segments", "kill_after"),
    [(3, 1), (4, 3)],
    ids=["before-the-first-muxer-wrote-a-playlist", "while-the-playlist-is-continued"],
)
def test_a_segment_aired_before_the_muxer_died_is_in_the_output(
    media: Media,  # noqa: F811
    tmp_path: Path,
    segments: int,
    kill_after: int,
) -> None:
    hls_dir = tmp_path / "hls"
    ids = [f"ep1-s{index}" for index in range(1, segments + 1)]
    recorder = Recorder([QueuedSegment(segment_id, media.segment_a, 3.0) for segment_id in ids])
    queue = KillTheMuxerAfter(recorder, hls_dir, ids[kill_after - 1])
    supervisor = PlayoutSupervisor(
        show="t", hls_dir=hls_dir, media_dir=media.media_dir, width=WIDTH, height=HEIGHT, fps=FPS, queue=queue,
        emit=recorder.emit, realtime=True, hls_list_size=0,
    )  # fmt: skip
    supervisor.start()
    supervisor.finish()
    assert supervisor.wait(120)
    assert queue.killed and recorder.aired == ids
    # The muxer was killed inside the callback, before the next feeder started: the HLS segment that holds the end
    # of the segment just aired cannot have been closed, so that segment airs again (and the next one, if its
    # feeder started before the dead muxer was noticed).
    (restart,) = recorder.of(ev.EncoderRestarted)
    assert ids[kill_after - 1] in restart.replaying, restart
    assert set(restart.replaying) <= set(ids[: kill_after + 1])
    assert list(restart.replaying) == sorted(restart.replaying), "in airing order"
    output_seconds = output_video_seconds(hls_dir, tmp_path)
    assert output_seconds >= segments * 3.0 - 0.1, "aired, but not on the output"
    # What airs again is what the dead muxer held: at most the segments it had taken in since it was last written out.
    assert output_seconds <= (segments + len(restart.replaying)) * 3.0 + 0.1


STATION_THAT_DIES = """
import os, signal, sys
from pathlib import Path
from studio.broadcast.playout import Idle, PlayoutSupervisor, QueuedSegment

hls_dir, media_dir, segment = (Path(arg) for arg in sys.argv[1:4])
width, height, fps = (int(arg) for arg in sys.argv[4:7])

class DieWhenTheFirstAired:
    items = [QueuedSegment("ep1-s1", segment, 3.0), QueuedSegment("ep1-s2", segment, 3.0)]
    def next_item(self):
        return self.items.pop(0) if self.items else Idle("idle")
    def started(self, segment):
        pass
    def aired(self, segment):
        os.kill(os.getpid(), signal.SIGKILL)  # the station dies the moment the store would say "aired"
    def skipped(self, segment, reason, command_id):
        pass

supervisor = PlayoutSupervisor(show="t", hls_dir=hls_dir, media_dir=media_dir, width=width, height=height, fps=fps,
                               queue=DieWhenTheFirstAired(), realtime=True, hls_list_size=0)
supervisor.start()
supervisor.wait(120)
"""


@pytest.mark.slow
def test_a_station_killed_just_after_a_segment_aired_leaves_it_to_its_muxer_to_write_out(
    media: Media,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A SIGKILLed station's muxer lives on in its own session with the segment the store counts as aired in its
    pipe; the next station to start must let it write that out before it takes over the playlist."""
    hls_dir, media_dir = tmp_path / "hls", tmp_path / "media"
    shutil.copytree(media.media_dir, media_dir)
    argv = [str(arg) for arg in (hls_dir, media_dir, media.segment_a, WIDTH, HEIGHT, FPS)]
    died = subprocess.run([sys.executable, "-c", STATION_THAT_DIES, *argv], timeout=120, check=False)
    assert died.returncode == -signal.SIGKILL
    assert muxer_pids(hls_dir), "the dead station's muxer lives on"
    recorder = Recorder([])
    supervisor = PlayoutSupervisor(
        show="t", hls_dir=hls_dir, media_dir=media_dir, width=WIDTH, height=HEIGHT, fps=FPS,
        queue=QueueAdapter(recorder), emit=recorder.emit, realtime=True, hls_list_size=0,
    )  # fmt: skip
    supervisor.finish()  # before it starts: it airs nothing (not even the ident), so the output is the dead one's
    supervisor.start()
    assert supervisor.wait(60)
    assert muxer_pids(hls_dir) == []
    assert (hls_dir / "index.m3u8").exists(), "aired, but nothing of it reached the output"
    assert output_video_seconds(hls_dir, tmp_path) >= 3.0 - 0.1, "aired, but not on the output"
