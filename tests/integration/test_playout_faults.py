"""Playout faults end to end with real ffmpeg: the RTMP server lost and restored (a real nginx-rtmp), a server that
accepts TCP but refuses the stream, and a feeder that hangs. Each test airs at real time for 20-60 s."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from studio import events as ev
from studio.broadcast import commands
from studio.broadcast.filler import ensure_filler_card
from studio.broadcast.playout import QueuedSegment
from studio.tools.media import ffmpeg_exe, run_ffmpeg
from tests.conftest import RTMP_MODULE, require_system_tool
from tests.integration.test_playout import (
    FPS,
    HEIGHT,
    MAX_GAP_S,
    WIDTH,
    Media,
    Recorder,
    ffmpeg_children,
    free_port,
    make_supervisor,
    packet_times,
    wait_for_file_text,
)

KEY = "key-abc123"
READ_SECONDS = 6.0
# A viewer that joins mid-GOP gets its first video at the next keyframe (GOP 2 s): at least 3.5 s of video, longer
# than any item (3.0 and 2.5 s), so every read-back spans at least one join.
READ_AT_LEAST = READ_SECONDS - 2.5


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    """The same house-format segments as tests/integration/test_playout.py makes (3.0 s and 2.5 s)."""
    root = tmp_path_factory.mktemp("faults")
    shot_1, shot_2 = root / "shot-1.mp4", root / "shot-2.mkv"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "1.5", "-c:v", "libx264",
                "-pix_fmt", "yuv420p", str(shot_1)])  # fmt: skip
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-t", "1.6", "-c:v", "ffv1", str(shot_2)])
    short_music, long_music = root / "short.wav", root / "long.wav"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "1.0", "-ac", "1",
                str(short_music)])  # fmt: skip
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000", "-t", "4.0", "-ac", "2",
                str(long_music)])  # fmt: skip
    segment_a, segment_b = root / "segment-a.mp4", root / "segment-b.mp4"
    run_ffmpeg(["-y", *commands.conform_segment_argv(
        [shot_1, shot_2], short_music, segment_a, width=WIDTH, height=HEIGHT, fps=FPS, seconds=3.0)])  # fmt: skip
    run_ffmpeg(["-y", *commands.conform_segment_argv(
        [shot_2], long_music, segment_b, width=WIDTH, height=HEIGHT, fps=FPS, seconds=2.5)])  # fmt: skip
    media_dir = root / "media"
    ensure_filler_card(media_dir, width=WIDTH, height=HEIGHT, fps=FPS, seconds=2.0)
    return Media(media_dir, segment_a, segment_b)


@pytest.fixture
def ffprobe() -> str:
    return require_system_tool("ffprobe")


def segments(media: Media, count: int) -> list[QueuedSegment]:
    """`count` segments, 3.0 and 2.5 s in turn: more than a test airs, so filler never comes into it."""
    return [
        QueuedSegment(f"ep1-s{index}", media.segment_a, 3.0) if index % 2 else
        QueuedSegment(f"ep1-s{index}", media.segment_b, 2.5)
        for index in range(1, count + 1)
    ]  # fmt: skip


# --- a real RTMP server that a test can take away and bring back -----------------------------------------------


class NginxRtmp:
    """nginx with the RTMP module on loopback, configured as tests/conftest.py's `rtmp_server`, that can be stopped
    and started again on the same port."""

    def __init__(self, nginx: str, root: Path) -> None:
        self.nginx = nginx
        self.root = root
        self.port, http_port = free_port(), free_port()
        self.process: subprocess.Popen[bytes] | None = None
        for name in ("b", "p", "f", "u", "s"):
            (root / name).mkdir(parents=True, exist_ok=True)
        self.conf = root / "nginx.conf"
        self.conf.write_text(
            f"load_module {RTMP_MODULE};\n"
            f"daemon off; pid {root}/nginx.pid; error_log {root}/error.log;\n"
            "events { worker_connections 64; }\n"
            f"rtmp {{ server {{ listen 127.0.0.1:{self.port}; application live {{ live on; record off; }} }} }}\n"
            f"http {{ access_log off; client_body_temp_path {root}/b; proxy_temp_path {root}/p;"
            f" fastcgi_temp_path {root}/f; uwsgi_temp_path {root}/u; scgi_temp_path {root}/s;"
            f" server {{ listen 127.0.0.1:{http_port}; }} }}\n"
        )

    def url(self, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live/{key}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        assert not self.running
        self.process = subprocess.Popen(
            [self.nginx, "-c", str(self.conf), "-p", str(self.root)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while not _accepts(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                errors = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                self.stop()
                log = (self.root / "error.log").read_text(errors="replace")
                pytest.fail(f"nginx-rtmp did not start on port {self.port}: {errors} {log}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop nginx (SIGTERM, the master ends its workers) and wait until the port refuses connections."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
        deadline = time.monotonic() + 10
        while _accepts(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def nginx_rtmp(tmp_path: Path) -> Iterator[NginxRtmp]:
    nginx = require_system_tool("nginx")
    if not RTMP_MODULE.exists():
        message = f"{RTMP_MODULE} is missing (Debian's libnginx-mod-rtmp)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = NginxRtmp(nginx, tmp_path / "nginx")
    server.start()
    try:
        yield server
    finally:
        server.stop()


class TcpPeer:
    """Something at the RTMP address that takes TCP connections and is no RTMP server: it closes each connection at
    once (`closes`) or holds it and never sends a byte (`silent`)."""

    def __init__(self, mode: str) -> None:
        assert mode in {"closes", "silent"}
        self.mode = mode
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"tcp-peer-{mode}", daemon=True)
        self._thread.start()

    def url(self, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live/{key}"

    def _serve(self) -> None:
        while not self._closing.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            if self.mode == "closes":
                connection.close()
            else:
                self._held.append(connection)

    def close(self) -> None:
        self._closing.set()
        self._thread.join(5)
        self._listener.close()
        for connection in self._held:
            connection.close()


# --- reading back and measuring --------------------------------------------------------------------------------


def read_back(url: str, seconds: float, path: Path) -> None:
    """Play `seconds` of the live stream from the RTMP server into `path` (FLV, stream copy), as a viewer would."""
    completed = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", url, "-t", f"{seconds:g}",
         "-c", "copy", "-y", str(path)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=seconds + 90,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr


def assert_continuous_read(ffprobe: str, path: Path, at_least: float) -> float:
    """What was read back has audio and video whose DTS never go back nor jump by more than MAX_GAP_S; returns the
    seconds it spans (the shorter of the two streams), which must be at least `at_least`.

    DTS, not PTS as `assert_continuous` uses: `-t` cuts the read by DTS, so its last frames miss B-frames in PTS
    order, a hole that is the reader's, not the stream's."""
    streams = packet_times(ffprobe, path)
    assert set(streams) == {"video", "audio"}, f"{path.name} holds {sorted(streams)}"
    spans = []
    for kind, packets in streams.items():
        steps = [(round(b[1] - a[1], 3), a[1]) for a, b in zip(packets, packets[1:], strict=False)]
        backward = [step for step in steps if step[0] < 0]
        assert not backward, f"{path.name}: {kind} DTS went backwards (seconds, at) {backward[:3]}"
        gaps = [step for step in steps if step[0] > MAX_GAP_S]
        assert not gaps, f"{path.name}: {kind} has gaps (seconds, at) {gaps[:3]}"
        spans.append(max(p[0] + p[2] for p in packets) - min(p[0] for p in packets))
    assert min(spans) >= at_least, f"{path.name} spans {spans} s, expected at least {at_least} s"
    return min(spans)


def hls_segment_numbers(playlist: Path) -> list[int]:
    """Numbers of the segments the live playlist lists now (the muxer replaces it whole: temp_file)."""
    try:
        text = playlist.read_text()
    except FileNotFoundError:
        return []
    prefix = commands.HLS_SEGMENT_PATTERN.split("%")[0]
    return [
        int(line[len(prefix) : -3]) for line in text.splitlines() if line.startswith(prefix) and line.endswith(".ts")
    ]


def wait_for_hls_segment(playlist: Path, number: int, timeout: float = 120.0) -> None:
    """Wait until the playlist lists segment `number` (or a later one): HLS is being written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if max(hls_segment_numbers(playlist), default=-1) >= number:
            return
        time.sleep(0.1)
    raise AssertionError(f"segment {number} never appeared in {playlist}: {hls_segment_numbers(playlist)}")


def assert_playlist_decodes(playlist: Path) -> int:
    """The playlist decodes with `ffmpeg -v error` without a single message, one stretch between discontinuities
    (one muxer's output) at a time; returns how many stretches there are.

    Each muxer's timestamps start again near zero behind `#EXT-X-DISCONTINUITY`, which players honour and ffmpeg's
    HLS reader ignores: read whole, a stretch shorter than its 10 s jump threshold reads as DTS going backwards."""
    stretches: list[list[str]] = [[]]
    for line in playlist.read_text().splitlines():
        if line == "#EXT-X-DISCONTINUITY" and stretches[-1]:
            stretches.append([])
        elif line.startswith("#EXTINF") or (line and not line.startswith("#")):
            stretches[-1].append(line)
    assert stretches[-1], f"{playlist} lists no segment"
    for index, stretch in enumerate(stretches):
        part = playlist.with_name(f"stretch-{index}.m3u8")
        part.write_text(
            "\n".join(["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:3", *stretch, "#EXT-X-ENDLIST", ""])
        )
        decoded = subprocess.run(
            [ffmpeg_exe(), "-v", "error", "-i", str(part), "-f", "null", "-"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert decoded.returncode == 0 and decoded.stderr.strip() == "", f"stretch {index}: {decoded.stderr}"
    return len(stretches)


def assert_key_never_shown(recorder: Recorder) -> None:
    leaks = [event.type for event in recorder.events if KEY in json.dumps(event.to_dict())]
    assert not leaks, f"the stream key is in {leaks}"


def first(recorder: Recorder, cls: type[ev.Event]) -> Any:
    found = recorder.of(cls)
    assert found, f"no {cls.__name__} in {recorder.types()}"
    return found[0]


def has(cls: type[ev.Event], **fields: object) -> Any:
    """A `Recorder.wait_for` predicate: an event of `cls` with these field values."""
    return lambda events: any(
        isinstance(e, cls) and all(getattr(e, name) == value for name, value in fields.items()) for e in events
    )


# --- the tests -------------------------------------------------------------------------------------------------


def test_rtmp_server_lost_and_restored_keeps_hls_and_resumes_the_stream(
    media: Media, tmp_path: Path, nginx_rtmp: NginxRtmp, ffprobe: str
) -> None:
    url = nginx_rtmp.url(KEY)
    masked = f"rtmp://127.0.0.1:{nginx_rtmp.port}/live/****"
    recorder = Recorder(segments(media, 40))
    supervisor = make_supervisor(
        tmp_path, media, recorder, realtime=True, rtmp_url=url, rtmp_retry_s=2.0, hls_list_size=100
    )
    playlist = tmp_path / "hls" / "index.m3u8"
    before_path, after_path = tmp_path / "before.flv", tmp_path / "after.flv"
    supervisor.start()
    try:
        wait_for_file_text(playlist, "seg_00000.ts", timeout=90)
        read_back(url, READ_SECONDS, before_path)

        nginx_rtmp.stop()
        recorder.wait_for(has(ev.OutputLost, output="rtmp"), timeout=90)
        lost_at = max(hls_segment_numbers(playlist), default=-1)
        wait_for_hls_segment(playlist, lost_at + 2)  # HLS goes on with no RTMP server anywhere
        assert recorder.of(ev.OutputRestored) == [], "restored while the server was down"
        assert supervisor.running

        nginx_rtmp.start()
        recorder.wait_for(has(ev.OutputRestored, output="rtmp"), timeout=90)
        read_back(url, READ_SECONDS, after_path)
        assert supervisor.running
    finally:
        supervisor.stop()
        nginx_rtmp.stop()
    assert not nginx_rtmp.running
    assert ffmpeg_children() == []

    read_before = assert_continuous_read(ffprobe, before_path, READ_AT_LEAST)
    read_after = assert_continuous_read(ffprobe, after_path, READ_AT_LEAST)
    lost, restored = first(recorder, ev.OutputLost), first(recorder, ev.OutputRestored)
    assert (lost.url, restored.url) == (masked, masked)
    assert recorder.events.index(lost) < recorder.events.index(restored)
    assert "muxer exited" in first(recorder, ev.EncoderRestarted).reason  # it lost its server and was replaced
    assert_key_never_shown(recorder)
    # the first muxer, the one on HLS only, the one that found the server again: each behind a discontinuity
    stretches = assert_playlist_decodes(playlist)
    assert stretches >= 3, stretches
    print(
        f"\nRTMP lost and restored: read back {read_before:.2f} s before and {read_after:.2f} s after,"
        f" {supervisor.encoder_restarts} muxer restart(s), {supervisor.aired_seconds:.1f} s aired,"
        f" HLS segments {lost_at} at the loss -> {max(hls_segment_numbers(playlist))} at the end"
        f" in {stretches} stretches"
    )


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["closes", "silent"])
def test_a_server_that_accepts_tcp_but_refuses_the_stream_keeps_hls_on_air_without_a_restart_loop(
    media: Media, tmp_path: Path, mode: str
) -> None:
    peer = TcpPeer(mode)
    recorder = Recorder(segments(media, 40))
    # RTMP is looked for again every 2 s: each time the peer takes the connection and not the stream
    supervisor = make_supervisor(
        tmp_path, media, recorder, realtime=True, rtmp_url=peer.url(KEY), rtmp_retry_s=2.0, watchdog_margin_s=2.0,
        hls_list_size=100,
    )  # fmt: skip
    playlist = tmp_path / "hls" / "index.m3u8"
    supervisor.start()
    try:
        recorder.wait_for(has(ev.OutputLost, output="rtmp"), timeout=90)
        lost_at = max(hls_segment_numbers(playlist), default=-1)
        accepted_at_loss = peer.accepted
        wait_for_hls_segment(playlist, lost_at + 10)  # 20-30 s of HLS: a dozen retry periods
        assert supervisor.running
    finally:
        supervisor.stop()
        peer.close()
    assert ffmpeg_children() == []

    restarts = recorder.of(ev.EncoderRestarted)
    assert 1 <= len(restarts) <= 3, [restart.reason for restart in restarts]
    assert recorder.of(ev.OutputRestored) == [], "a server that never took the stream was taken for restored"
    assert peer.accepted > accepted_at_loss, "the server was not looked for again while the channel aired"
    assert first(recorder, ev.OutputLost).url == f"rtmp://127.0.0.1:{peer.port}/live/****"
    if mode == "silent":  # the first muxer hung on the handshake: the watchdog found it
        assert recorder.of(ev.FeederTimedOut)
    assert_key_never_shown(recorder)
    assert_playlist_decodes(playlist)
    numbers = hls_segment_numbers(playlist)
    assert numbers == list(range(numbers[0], numbers[-1] + 1)), numbers
    print(
        f"\nTCP peer that {mode}: {len(restarts)} muxer restart(s), {peer.accepted} connections taken,"
        f" HLS segments {lost_at} at the loss -> {numbers[-1]} at the end, {supervisor.aired_seconds:.1f} s aired"
    )


def test_a_hung_feeder_is_cut_by_its_watchdog_and_the_channel_goes_on(media: Media, tmp_path: Path) -> None:
    # A stalled RTMP peer: it takes the connection and completes nothing, so the muxer's FLV output blocks, the
    # muxer stops reading its input and the feeder writing into it hangs.
    peer = TcpPeer("silent")
    queue = segments(media, 12)
    recorder = Recorder(queue)
    supervisor = make_supervisor(
        tmp_path, media, recorder, realtime=True, rtmp_url=peer.url(KEY), watchdog_margin_s=2.0, hls_list_size=100
    )
    playlist = tmp_path / "hls" / "index.m3u8"
    supervisor.start()
    first_muxer = supervisor.encoder_pid
    try:
        recorder.wait_for(lambda events: any(isinstance(e, ev.FeederTimedOut) for e in events), timeout=90)
        hung = first(recorder, ev.FeederTimedOut).item
        ids = [segment.segment_id for segment in queue]
        after_hung = ids[ids.index(hung) + 1]
        recorder.wait_for(has(ev.SegmentAired, segment_id=after_hung), timeout=90)
        wait_for_hls_segment(playlist, 2)  # written by the muxer that replaced the hung one
        assert supervisor.running
        assert supervisor.encoder_pid not in {None, first_muxer}
    finally:
        supervisor.stop()
        peer.close()
    assert ffmpeg_children() == []

    timed_out = first(recorder, ev.FeederTimedOut)
    assert timed_out.seconds in {3.0, 2.5}
    restarted = first(recorder, ev.EncoderRestarted)
    assert restarted.reason == f"a feeder for {hung} hung"
    lost = first(recorder, ev.OutputLost)
    assert lost.url == f"rtmp://127.0.0.1:{peer.port}/live/****"
    assert recorder.events.index(timed_out) < recorder.events.index(lost) < recorder.events.index(restarted)
    assert recorder.of(ev.OutputRestored) == [], "the stalled peer was taken for a working server"
    assert hung not in recorder.aired and after_hung in recorder.aired
    assert_key_never_shown(recorder)
    assert_playlist_decodes(playlist)
    print(
        f"\nhung feeder: {hung} timed out, {supervisor.encoder_restarts} muxer restart(s), then aired"
        f" {recorder.aired[recorder.aired.index(after_hung) :]}"
    )


@pytest.mark.slow
def test_a_muxer_that_stops_reading_mid_stream_is_replaced_and_rtmp_comes_back(
    media: Media, tmp_path: Path, nginx_rtmp: NginxRtmp, ffprobe: str
) -> None:
    # The muxer freezes mid-stream (SIGSTOP: as if blocked on a stalled output) while the RTMP server is fine: the
    # watchdog cuts the feeder, RTMP is dropped on suspicion and found again at the next retry.
    url = nginx_rtmp.url(KEY)
    recorder = Recorder(segments(media, 40))
    supervisor = make_supervisor(
        tmp_path, media, recorder, realtime=True, rtmp_url=url, rtmp_retry_s=2.0, watchdog_margin_s=2.0,
        hls_list_size=100,
    )  # fmt: skip
    playlist = tmp_path / "hls" / "index.m3u8"
    after_path = tmp_path / "after.flv"
    supervisor.start()
    try:
        wait_for_hls_segment(playlist, 1, timeout=90)
        frozen = supervisor.encoder_pid
        assert frozen is not None
        os.kill(frozen, signal.SIGSTOP)
        recorder.wait_for(lambda events: any(isinstance(e, ev.FeederTimedOut) for e in events), timeout=90)
        recorder.wait_for(has(ev.OutputRestored, output="rtmp"), timeout=90)
        read_back(url, READ_SECONDS, after_path)
        assert supervisor.running
        assert supervisor.encoder_pid not in {None, frozen}
    finally:
        supervisor.stop()
        nginx_rtmp.stop()
    assert not nginx_rtmp.running
    assert ffmpeg_children() == []

    hung = first(recorder, ev.FeederTimedOut).item
    assert first(recorder, ev.EncoderRestarted).reason == f"a feeder for {hung} hung"
    lost, restored = first(recorder, ev.OutputLost), first(recorder, ev.OutputRestored)
    assert recorder.events.index(lost) < recorder.events.index(restored)
    read_after = assert_continuous_read(ffprobe, after_path, READ_AT_LEAST)
    assert_key_never_shown(recorder)
    stretches = assert_playlist_decodes(playlist)
    assert stretches >= 2, stretches  # the frozen muxer's, then its replacement's
    print(f"\nfrozen muxer: {hung} timed out, RTMP back, read back {read_after:.2f} s, HLS in {stretches} stretches")
