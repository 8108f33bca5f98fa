"""Broadcast loudness: every segment and ident is brought to the channel's loudness when it is conformed, so shows,
music and filler air at one level. Measured with ffmpeg's EBU R128 meter on the files that air."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from studio import events as ev
from studio.broadcast import commands
from studio.broadcast.ident import ensure_ident
from studio.broadcast.playout import Idle, PlayoutSupervisor, QueuedSegment
from studio.show import load_show
from studio.tools.base import MusicRequest
from studio.tools.media import ffmpeg_exe, measure_loudness, run_ffmpeg, write_video
from studio.tools.registry import build_toolkit
from tests.conftest import RtmpServer
from tests.integration.test_playout import QueueAdapter, Recorder
from tests.integration.test_playout_faults import read_back
from tests.integration.test_runtime import settings_for

SHOWS = sorted((Path(__file__).parents[2] / "shows").glob("*.yaml"))


def ebur128(path: Path, *, start: float = 0.0, length: float | None = None) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBFS) of a file's audio (from `start`, for `length` seconds), as the
    EBU R128 meter reads them."""
    window = ["-ss", f"{start:g}", *(["-t", f"{length:g}"] if length else [])]
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostats", *window, "-i", str(path), "-vn", "-af", "ebur128=peak=true",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    integrated = re.findall(r"I:\s+(-?[\d.]+) LUFS", result.stderr)
    peak = re.findall(r"Peak:\s+(-?[\d.]+) dBFS", result.stderr)
    assert integrated and peak, result.stderr[-800:]
    return float(integrated[-1]), float(peak[-1])


@pytest.mark.parametrize("target", [-23.0, -16.0], ids=["ebu-r128", "streaming"])
def test_every_shows_music_is_conformed_to_the_channel_loudness(tmp_path: Path, target: float) -> None:
    toolkit = build_toolkit(settings_for(tmp_path / "data", device="cpu"))
    picture = tmp_path / "picture.mkv"
    write_video([np.full((64, 96, 3), 90, np.uint8)] * 8, 8, picture, width=96, height=64)
    readings = {}
    for show_path in SHOWS:
        show = load_show(show_path)
        music = toolkit.music.generate(MusicRequest(prompt=show.music.mood, seconds=8.0, seed=5),
                                       tmp_path / f"{show_path.stem}.wav")  # fmt: skip
        before, _ = ebur128(music.path)
        loudness = measure_loudness(music.path, target_lufs=target, true_peak_dbtp=-1.0)
        assert loudness is not None
        conformed = tmp_path / f"{show_path.stem}.mp4"
        run_ffmpeg(["-y", *commands.conform_segment_argv(
            [picture], music.path, conformed, width=96, height=64, fps=8, seconds=8.0, loudness=loudness)])  # fmt: skip
        readings[show_path.stem] = (before, *ebur128(conformed))
    print(f"\nloudness, target {target} LUFS (before → after, true peak):",
          {name: f"{b:.1f} → {i:.1f} LUFS, {p:.1f} dBFS" for name, (b, i, p) in readings.items()})  # fmt: skip
    for name, (_, integrated, peak) in readings.items():
        assert abs(integrated - target) <= 1.0, (name, integrated)
        assert peak <= -1.0 + 0.5, (name, peak)  # the meter's true peak after AAC, within half a dB of the ceiling


def test_silence_stays_silence(tmp_path: Path) -> None:
    silent = tmp_path / "silent.wav"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", "3", str(silent)])
    assert measure_loudness(silent, target_lufs=-23.0, true_peak_dbtp=-1.0) is None


def test_the_ident_airs_at_the_channel_loudness(tmp_path: Path) -> None:
    show = load_show(SHOWS[0])
    toolkit = build_toolkit(settings_for(tmp_path / "data", device="cpu"))
    ident = ensure_ident(tmp_path, show, toolkit, width=96, height=64, fps=8, seconds=6.0, loudness_lufs=-16.0)
    integrated, _ = ebur128(ident)
    assert abs(integrated + 16.0) <= 1.0, integrated


def test_every_show_airs_at_the_channel_loudness_on_hls_and_rtmp(tmp_path: Path, rtmp_server: RtmpServer) -> None:
    """What viewers hear: each show's segment and the ident aired one after another through the real muxer, measured
    on the HLS it wrote (per show) and on the RTMP stream read back from a real server (across the joins)."""
    width, height, fps, seconds = 192, 108, 24, 8.0
    toolkit = build_toolkit(settings_for(tmp_path / "data", device="cpu"))
    picture = tmp_path / "picture.mkv"
    write_video([np.full((height, width, 3), 90, np.uint8)] * int(seconds * fps), fps, picture, width=width,
                height=height)  # fmt: skip
    queued = []
    for index, show_path in enumerate(SHOWS):
        show = load_show(show_path)
        music = toolkit.music.generate(MusicRequest(prompt=show.music.mood, seconds=seconds, seed=5),
                                       tmp_path / f"{show_path.stem}.wav")  # fmt: skip
        loudness = measure_loudness(music.path, target_lufs=-23.0, true_peak_dbtp=-1.0)
        segment = tmp_path / f"{show_path.stem}.mp4"
        run_ffmpeg(["-y", *commands.conform_segment_argv(
            [picture], music.path, segment, width=width, height=height, fps=fps, seconds=seconds, loudness=loudness,
        )])  # fmt: skip
        queued.append(QueuedSegment(show_path.stem, segment, seconds, episode=index + 1))
    ident = ensure_ident(tmp_path / "media", load_show(SHOWS[0]), toolkit, width=width, height=height, fps=fps,
                         seconds=4.0)  # fmt: skip
    recorder = Recorder(queued, Idle("between programmes"))
    url = rtmp_server.url("loudness-key")
    supervisor = PlayoutSupervisor(
        show="t", hls_dir=tmp_path / "hls", media_dir=tmp_path / "media", width=width, height=height, fps=fps,
        queue=QueueAdapter(recorder), emit=recorder.emit, realtime=True, rtmp_url=url, hls_list_size=100,
        filler_path=ident,
    )  # fmt: skip
    supervisor.start()
    try:
        recorder.wait_for(lambda events: any(isinstance(e, ev.SegmentOnAir) for e in events))
        read_back(url, 14.0, tmp_path / "rtmp.flv")  # from inside the first show's segment, across joins
        recorder.wait_for(lambda events: sum(isinstance(e, ev.SegmentAired) for e in events) == len(queued), 120)
        recorder.wait_for(lambda events: any(isinstance(e, ev.FillerStarted) for e in events))
    finally:
        supervisor.stop()
    hls = tmp_path / "hls" / commands.HLS_PLAYLIST_NAME
    readings = {
        item.segment_id: ebur128(hls, start=index * seconds + 0.5, length=seconds - 1.0)
        for index, item in enumerate(queued)
    }
    rtmp, _ = ebur128(tmp_path / "rtmp.flv")
    print(f"\naired loudness (HLS per show, LUFS): { {name: round(i, 1) for name, (i, _) in readings.items()} },"
          f" RTMP read back over 14 s: {rtmp:.1f} LUFS")  # fmt: skip
    for name, (integrated, _) in readings.items():
        assert abs(integrated + 23.0) <= 1.0, (name, integrated)
    assert abs(rtmp + 23.0) <= 1.0, rtmp
