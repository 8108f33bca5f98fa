"""The broadcast layer end to end with real ffmpeg: conform, playout to HLS and RTMP, the web player."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from studio import events as ev
from studio.broadcast import commands
from studio.broadcast.filler import ensure_filler_card
from studio.broadcast.playout import Idle, PlayoutSupervisor, QueuedSegment
from studio.broadcast.web import PlayerServer, check_rtmp_reachable
from studio.errors import BroadcastError, ConfigError
from studio.tools.media import ffmpeg_exe, probe, run_ffmpeg
from tests.conftest import RtmpServer, require_system_tool

WIDTH, HEIGHT, FPS = 320, 180, 24
MAX_GAP_S = 0.1


@dataclass(frozen=True)
class Media:
    media_dir: Path
    segment_a: Path  # 3.0 s from two shots of different size and fps, music shorter than the segment
    segment_b: Path  # 2.5 s from one shot shorter than the segment, music longer than the segment


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    root = tmp_path_factory.mktemp("broadcast")
    shot_1, shot_2 = root / "shot-1.mp4", root / "it's shot 2.mkv"
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


def packet_times(ffprobe: str, path: Path) -> dict[str, list[tuple[float, float, float]]]:
    """(pts, dts, duration) of every packet per codec type, read back with ffprobe."""
    completed = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", "packet=codec_type,pts_time,dts_time,duration_time",
         "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    streams: dict[str, list[tuple[float, float, float]]] = {}
    for line in completed.stdout.splitlines():
        fields = line.split(",")
        if len(fields) < 4 or "N/A" in fields[:4]:
            continue
        streams.setdefault(fields[0], []).append((float(fields[1]), float(fields[2]), float(fields[3])))
    return streams


def assert_continuous(streams: dict[str, list[tuple[float, float, float]]], seconds: float) -> None:
    assert set(streams) == {"video", "audio"}
    for kind, packets in streams.items():
        backward = [(a[1], b[1]) for a, b in zip(packets, packets[1:], strict=False) if b[1] < a[1]]
        assert not backward, f"{kind} DTS went backwards at {backward[:3]}"
        starts = sorted(p[0] for p in packets)
        gaps = [(b - a, a) for a, b in zip(starts, starts[1:], strict=False) if b - a > MAX_GAP_S]
        assert not gaps, f"{kind} has gaps (seconds, at) {gaps[:3]}"
        span = max(p[0] + p[2] for p in packets) - starts[0]
        assert span == pytest.approx(seconds, abs=0.1), f"{kind} lasts {span:.3f} s, expected {seconds:.3f}"


class Recorder:
    """A scripted playout queue that records what the supervisor did with each item, and its events."""

    def __init__(self, queue: list[QueuedSegment], idle: Idle | None = None) -> None:
        self.queue = list(queue)
        self.idle = idle or Idle("idle")
        self.events: list[ev.Event] = []
        self.started: list[str] = []
        self.aired: list[str] = []
        self.skipped: list[tuple[str, str, int | None]] = []
        self.seen = threading.Condition()

    def next_item(self) -> QueuedSegment | Idle:
        return self.queue.pop(0) if self.queue else self.idle

    def started_item(self, segment: QueuedSegment) -> None:
        self._note(ev.SegmentOnAir(show="t", segment_id=segment.segment_id, seconds=segment.seconds))
        self.started.append(segment.segment_id)

    def aired_item(self, segment: QueuedSegment) -> None:
        self.aired.append(segment.segment_id)
        self._note(ev.SegmentAired(show="t", segment_id=segment.segment_id, seconds=segment.seconds))

    def skipped_item(self, segment: QueuedSegment, reason: str, command_id: int | None) -> None:
        self.skipped.append((segment.segment_id, reason, command_id))
        self._note(ev.SegmentSkipped(show="t", segment_id=segment.segment_id, reason=reason, command_id=command_id))

    def emit(self, event: ev.Event) -> None:
        self._note(event)

    def _note(self, event: ev.Event) -> None:
        with self.seen:
            self.events.append(event)
            self.seen.notify_all()

    def of(self, cls: type[ev.Event]) -> list[Any]:
        return [event for event in self.events if isinstance(event, cls)]

    def types(self) -> list[str]:
        return [event.type for event in self.events]

    def wait_for(self, predicate: Any, timeout: float = 60.0) -> None:
        """Wait for an event the test needs; the ceiling is generous, as a loaded machine is slow."""
        with self.seen:
            assert self.seen.wait_for(lambda: predicate(self.events), timeout), f"events so far: {self.types()}"


class QueueAdapter:
    """The supervisor's view of a Recorder (its `PlayoutQueue`)."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def next_item(self) -> QueuedSegment | Idle:
        return self.recorder.next_item()

    def started(self, segment: QueuedSegment) -> None:
        self.recorder.started_item(segment)

    def aired(self, segment: QueuedSegment) -> None:
        self.recorder.aired_item(segment)

    def skipped(self, segment: QueuedSegment, reason: str, command_id: int | None) -> None:
        self.recorder.skipped_item(segment, reason, command_id)


def make_supervisor(tmp_path: Path, media: Media, recorder: Recorder, **options: Any) -> PlayoutSupervisor:
    return PlayoutSupervisor(
        show="t", hls_dir=tmp_path / "hls", media_dir=media.media_dir, width=WIDTH, height=HEIGHT, fps=FPS,
        queue=QueueAdapter(recorder), emit=recorder.emit, **options,
    )  # fmt: skip


def ffmpeg_children() -> list[int]:
    """ffmpeg processes (running or unreaped) whose parent is this test process."""
    found = []
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = stat_path.read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if parent == os.getpid() and name.startswith("ffmpeg"):
            found.append(int(stat_path.parent.name))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- conform ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "seconds"), [("segment_a", 3.0), ("segment_b", 2.5)])
def test_conformed_segment_is_in_the_house_format(media: Media, name: str, seconds: float) -> None:
    info = probe(getattr(media, name))
    assert (info.width, info.height, info.fps, info.video_frames) == (WIDTH, HEIGHT, FPS, round(seconds * FPS))
    assert (info.video_codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.audio_codec, info.audio_rate, info.audio_channels) == ("aac", 48000, 2)
    assert info.video_seconds == pytest.approx(seconds, abs=0.1)
    assert info.audio_seconds == pytest.approx(seconds, abs=0.1)


def test_episode_concat_stream_copies_segments_with_awkward_names(media: Media, tmp_path: Path, ffprobe: str) -> None:
    awkward = tmp_path / 'it\'s a "segment" #2.mp4'
    awkward.write_bytes(media.segment_b.read_bytes())
    list_path, episode_path = tmp_path / "episode.ffconcat", tmp_path / "episode.mp4"
    commands.write_ffconcat([media.segment_a, awkward, media.segment_a], list_path)
    run_ffmpeg(["-y", *commands.concat_episode_argv(list_path, episode_path)])
    info = probe(episode_path)
    assert info.video_frames == round(8.5 * FPS)
    assert info.audio_seconds == pytest.approx(8.5, abs=0.1)
    assert_continuous(packet_times(ffprobe, episode_path), 8.5)


# --- playout ---------------------------------------------------------------------------------------------------


def test_playout_as_fast_as_possible_skips_missing_and_broken_files_without_filler(
    media: Media, tmp_path: Path, ffprobe: str
) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video" * 100)
    truncated = tmp_path / "truncated.mp4"  # its header (faststart) is whole, so it opens and probes
    truncated.write_bytes(media.segment_a.read_bytes()[: media.segment_a.stat().st_size // 2])
    recorder = Recorder([
        QueuedSegment("ep1-s1", media.segment_a, 3.0),
        QueuedSegment("ep1-s2", tmp_path / "never-rendered.mp4", 4.0),
        QueuedSegment("ep1-s3", garbage, 2.2),
        QueuedSegment("ep1-s3b", truncated, 3.0),
        QueuedSegment("ep1-s4", media.segment_b, 2.5),
    ])  # fmt: skip
    supervisor = make_supervisor(tmp_path, media, recorder, realtime=False, hls_list_size=50)
    supervisor.finish()
    supervisor.start()
    assert supervisor.wait(120), "playout did not end after finish()"

    assert recorder.aired == ["ep1-s1", "ep1-s4"]
    skipped = [(segment_id, command) for segment_id, _, command in recorder.skipped]
    assert skipped == [("ep1-s2", None), ("ep1-s3", None), ("ep1-s3b", None)]
    assert "missing" in recorder.skipped[0][1] and "unreadable" in recorder.skipped[1][1]
    assert recorder.skipped[2][1].startswith("file is incomplete or damaged")
    assert recorder.started == ["ep1-s1", "ep1-s4"], "a file that cannot air is never put on air"
    assert recorder.of(ev.EncoderRestarted) == [] and recorder.of(ev.FillerStarted) == []
    assert recorder.types()[-1] == "PlayoutEnded"
    # the broken items air nothing, not filler of their length: the episode goes straight on
    assert supervisor.aired_seconds == pytest.approx(3.0 + 2.5)
    assert not supervisor.running and ffmpeg_children() == []
    playlist = (tmp_path / "hls" / "index.m3u8").read_text()
    assert playlist.rstrip().endswith("#EXT-X-ENDLIST") and "#EXT-X-DISCONTINUITY" not in playlist
    assert_continuous(packet_times(ffprobe, tmp_path / "hls" / "index.m3u8"), 5.5)


def test_a_restarted_station_continues_its_playlist_behind_a_discontinuity(media: Media, tmp_path: Path) -> None:
    for run in range(2):
        recorder = Recorder([QueuedSegment(f"run{run}", media.segment_b, 2.5)])
        supervisor = make_supervisor(tmp_path, media, recorder, realtime=False, hls_list_size=50)
        supervisor.finish()
        supervisor.start()
        assert supervisor.wait(30)
        assert recorder.aired == [f"run{run}"]
    playlist = (tmp_path / "hls" / "index.m3u8").read_text()
    segments = [line for line in playlist.splitlines() if line.endswith(".ts")]
    assert segments == [f"seg_{index:05d}.ts" for index in range(len(segments))]
    second_run = playlist.index("#EXT-X-DISCONTINUITY")
    assert playlist.index("seg_00000.ts") < second_run < playlist.index(segments[-1])
    assert playlist.count("#EXT-X-DISCONTINUITY") == 1 and playlist.count("#EXT-X-ENDLIST") == 1
    assert playlist.rstrip().endswith("#EXT-X-ENDLIST")


def test_realtime_playout_pushes_rtmp_and_airs_filler_while_idle(media: Media, tmp_path: Path, ffprobe: str) -> None:
    port = free_port()
    received_path = tmp_path / "received.flv"
    receiver = subprocess.Popen(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-listen", "1", "-timeout", "20",
         "-i", f"rtmp://127.0.0.1:{port}/live/x", "-c", "copy", "-y", str(received_path)],
        stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_until_listening(port)
        recorder = Recorder([QueuedSegment("ep1-s1", media.segment_b, 2.5)])
        supervisor = make_supervisor(
            tmp_path, media, recorder, realtime=True, rtmp_url=f"rtmp://127.0.0.1:{port}/live/x", hls_list_size=50
        )
        cpu_before = _children_cpu_seconds()
        started = time.monotonic()
        supervisor.start()
        recorder.wait_for(lambda events: any(isinstance(e, ev.FillerStarted) and e.reason == "idle" for e in events))
        supervisor.finish()
        assert supervisor.wait(20)
        elapsed = time.monotonic() - started
        cpu_per_air_second = (_children_cpu_seconds() - cpu_before) / supervisor.aired_seconds
        _, receiver_errors = receiver.communicate(timeout=20)
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()

    aired = supervisor.aired_seconds
    assert aired == pytest.approx(2.5 + 2.0 * round((aired - 2.5) / 2.0))
    assert aired >= 4.5
    assert elapsed >= aired - 1.0, f"{aired:.1f} s aired in {elapsed:.1f} s: not paced at real time"
    assert recorder.aired == ["ep1-s1"]
    [filler] = recorder.of(ev.FillerAired)
    assert filler.reason == "idle" and filler.seconds == pytest.approx(aired - 2.5)
    assert receiver.returncode == 0, receiver_errors.decode(errors="replace")
    flv = probe(received_path)
    assert (flv.width, flv.height, flv.video_codec, flv.audio_codec) == (WIDTH, HEIGHT, "h264", "aac")
    assert_continuous(packet_times(ffprobe, received_path), aired)
    assert_continuous(packet_times(ffprobe, tmp_path / "hls" / "index.m3u8"), aired)
    # Stream copy: ~0.1 CPU-s per on-air second here (ffmpeg start-ups, the receiver), against 0.30 for the seed's
    # re-encode; 0.2 leaves room for a noisy machine and still fails a playout that re-encodes.
    assert cpu_per_air_second < 0.2, f"{cpu_per_air_second:.3f} CPU-s per on-air second"
    print(f"\nrealtime playout: {aired:.2f} s aired in {elapsed:.2f} s, {cpu_per_air_second:.4f} CPU-s per on-air s")


def test_encoder_death_restarts_behind_a_discontinuity_and_stop_leaves_no_ffmpeg(media: Media, tmp_path: Path) -> None:
    recorder = Recorder([QueuedSegment(f"ep1-s{index}", media.segment_a, 3.0) for index in range(1, 5)])
    supervisor = make_supervisor(tmp_path, media, recorder, realtime=True, hls_list_size=50)
    assert not supervisor.running
    supervisor.start()
    playlist_path = tmp_path / "hls" / "index.m3u8"
    try:
        wait_for_file_text(playlist_path, "seg_00000.ts")
        first_encoder = supervisor.encoder_pid
        assert first_encoder is not None
        os.kill(first_encoder, signal.SIGKILL)
        recorder.wait_for(lambda events: any(isinstance(e, ev.EncoderRestarted) for e in events))
        wait_for_file_text(playlist_path, "seg_00001.ts")  # written by the new encoder
        assert supervisor.encoder_pid not in {None, first_encoder}
        assert supervisor.running
    finally:
        supervisor.stop()
    assert not supervisor.running
    assert ffmpeg_children() == []
    # at least this restart (a loaded machine may see the muxer notice late); the stream went on after it
    assert supervisor.encoder_restarts >= 1
    restarted = recorder.of(ev.EncoderRestarted)[0]
    assert "exited (-9)" in restarted.reason
    playlist = playlist_path.read_text()
    assert playlist.index("seg_00000.ts") < playlist.index("#EXT-X-DISCONTINUITY"), playlist
    assert playlist.rstrip().endswith("#EXT-X-ENDLIST")


def test_skip_cuts_the_segment_on_air_and_the_next_one_airs_at_once(media: Media, tmp_path: Path, ffprobe: str) -> None:
    long_segment, list_path = tmp_path / "long.mp4", tmp_path / "long.ffconcat"
    commands.write_ffconcat([media.segment_a] * 5, list_path)
    run_ffmpeg(["-y", *commands.concat_episode_argv(list_path, long_segment)])
    recorder = Recorder([
        QueuedSegment("ep1-s1", long_segment, 15.0),
        QueuedSegment("ep1-s2", media.segment_b, 2.5),
    ])  # fmt: skip
    supervisor = make_supervisor(tmp_path, media, recorder, realtime=True, hls_list_size=50)
    assert supervisor.skip(command_id=1) is None, "nothing on air yet"
    supervisor.start()
    try:
        wait_for_file_text(tmp_path / "hls" / "index.m3u8", "seg_00000.ts")  # 2 s of the 15 s on air
        assert supervisor.skip(reason="skipped by a person (command 7)", command_id=7) == "ep1-s1"
        recorder.wait_for(
            lambda events: any(isinstance(e, ev.SegmentAired) and e.segment_id == "ep1-s2" for e in events)
        )
        recorder.wait_for(lambda events: any(isinstance(e, ev.FillerStarted) for e in events))
        assert supervisor.skip(command_id=8) is None, "the filler card is not a segment to skip"
        supervisor.finish()
        assert supervisor.wait(60)
    finally:
        supervisor.stop()
    assert recorder.skipped == [("ep1-s1", "skipped by a person (command 7)", 7)]
    assert recorder.aired == ["ep1-s2"]
    assert [e.reason for e in recorder.of(ev.EncoderRestarted)] == ["ep1-s1 was cut short by a skip"]
    playlist = tmp_path / "hls" / "index.m3u8"
    assert "#EXT-X-DISCONTINUITY" in playlist.read_text()
    decoded = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(playlist), "-f", "null", "-"], capture_output=True, text=True
    )
    assert decoded.returncode == 0, decoded.stderr
    assert ffmpeg_children() == []


def test_a_skip_asked_for_while_a_segment_is_made_ready_cuts_it(media: Media, tmp_path: Path) -> None:
    """Between choosing a segment and feeding it the supervisor probes the file; a skip asked for then cuts that
    segment before any of it goes out (it used to wait for a segment that had already gone, then answer 'nothing
    to skip')."""
    recorder = Recorder([QueuedSegment("ep1-s1", media.segment_a, 3.0), QueuedSegment("ep1-s2", media.segment_b, 2.5)])
    supervisor = make_supervisor(tmp_path, media, recorder, realtime=True)
    answers: list[str | None] = []
    check = supervisor._check_segment  # noqa: SLF001 - the moment under test

    def skip_while_checked(segment: QueuedSegment) -> Any:
        if segment.segment_id == "ep1-s1":
            asking = threading.Thread(target=lambda: answers.append(supervisor.skip(command_id=3)))
            asking.start()
            deadline = time.monotonic() + 60
            while supervisor._skip is None and asking.is_alive() and time.monotonic() < deadline:  # noqa: SLF001
                time.sleep(0.01)  # the request is registered while the segment is checked
        return check(segment)

    supervisor._check_segment = skip_while_checked  # type: ignore[method-assign]  # noqa: SLF001
    supervisor.start()
    try:
        recorder.wait_for(lambda events: any(isinstance(e, ev.SegmentAired) for e in events))
    finally:
        supervisor.stop()
    assert answers == ["ep1-s1"]
    assert recorder.skipped == [("ep1-s1", "skipped by a person", 3)]
    assert recorder.started == ["ep1-s2"], "none of the skipped segment went on air"
    assert recorder.aired == ["ep1-s2"]


def wait_for_file_text(path: Path, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}")


def wait_until_listening(port: int, timeout: float = 60.0) -> None:
    """Wait for a LISTEN socket on `port` without connecting (a one-shot receiver takes the first connection)."""
    deadline = time.monotonic() + timeout
    wanted = f":{port:04X} "
    while time.monotonic() < deadline:
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            if any(wanted in line.split()[1] + " " and line.split()[3] == "0A" for line in lines):
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- web player ------------------------------------------------------------------------------------------------


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_player_server_serves_page_and_hls_and_refuses_traversal(tmp_path: Path) -> None:
    hls_dir = tmp_path / "hls"
    hls_dir.mkdir()
    (hls_dir / "index.m3u8").write_text("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg_00000.ts\n")
    (hls_dir / "seg_00000.ts").write_bytes(b"\x47" * 188)
    (tmp_path / "secret.m3u8").write_text("secret")
    server = PlayerServer(hls_dir, port=0, title="Night <Kitchen>")
    server.start()
    try:
        base = server.url.rstrip("/")
        status, headers, body = fetch(server.url)
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        page = body.decode()
        assert "Night &lt;Kitchen&gt;" in page and "/hls/index.m3u8" in page and "<video" in page
        assert "http" not in page.split("<script>")[1].replace("location.origin", "")  # no CDN, no external JS

        status, headers, body = fetch(base + "/hls/index.m3u8")
        assert status == 200 and body.startswith(b"#EXTM3U")
        assert headers["Content-Type"] == "application/vnd.apple.mpegurl"
        assert "no-cache" in headers["Cache-Control"]
        status, headers, body = fetch(base + "/hls/seg_00000.ts")
        assert (status, headers["Content-Type"], len(body)) == (200, "video/mp2t", 188)

        for path in ("/hls/../secret.m3u8", "/hls/%2e%2e/secret.m3u8", "/hls/..%2fsecret.m3u8",
                     "/hls/%2e%2e%2fsecret.m3u8", "/hls/", "/hls/missing.ts", "/secret.m3u8", "/etc/passwd"):  # fmt: skip
            assert fetch(base + path)[0] == 404, path
    finally:
        server.stop()


def test_player_server_names_the_port_when_it_is_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"port {port} .*already in use.*--port"):
            PlayerServer(tmp_path, port=port).start()


def test_check_rtmp_reachable(rtmp_server: RtmpServer) -> None:
    with pytest.raises(BroadcastError, match="not an RTMP URL"):
        check_rtmp_reachable("http://127.0.0.1/live/x")
    port = free_port()
    with pytest.raises(BroadcastError, match=rf"cannot reach the RTMP server at 127.0.0.1:{port}"):
        check_rtmp_reachable(f"rtmp://127.0.0.1:{port}/live/x", timeout=1.0)
    with socket.socket() as listening:  # takes TCP connections, never answers the handshake
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        with pytest.raises(BroadcastError, match="accepts connections but does not answer as an RTMP server"):
            check_rtmp_reachable(f"rtmp://127.0.0.1:{listening.getsockname()[1]}/live/x", timeout=1.0)
    check_rtmp_reachable(rtmp_server.url("streamkey-5678"))
    with pytest.raises(BroadcastError) as refused:
        check_rtmp_reachable("ftp://127.0.0.1/live/streamkey-5678")
    assert "streamkey-5678" not in str(refused.value)


def test_losing_the_rtmp_server_keeps_hls_on_air(media: Media, tmp_path: Path) -> None:
    port = free_port()
    receiver = subprocess.Popen(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-listen", "1", "-timeout", "20",
         "-i", f"rtmp://127.0.0.1:{port}/live/streamkey-1234", "-c", "copy", "-f", "null", "-"],
        stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    supervisor: PlayoutSupervisor | None = None
    try:
        wait_until_listening(port)
        recorder = Recorder([QueuedSegment(f"ep1-s{index}", media.segment_a, 3.0) for index in range(1, 3)])
        supervisor = make_supervisor(
            tmp_path,
            media,
            recorder,
            realtime=True,
            rtmp_url=f"rtmp://127.0.0.1:{port}/live/streamkey-1234",
            hls_list_size=50,
        )
        supervisor.start()
        wait_for_file_text(tmp_path / "hls" / "index.m3u8", "seg_00000.ts")
        receiver.kill()
        receiver.wait()
        recorder.wait_for(lambda events: any(isinstance(e, ev.OutputLost) for e in events))
        wait_for_file_text(tmp_path / "hls" / "index.m3u8", "seg_00001.ts")
        supervisor.finish()
        assert supervisor.wait(30)
    finally:
        if supervisor is not None:
            supervisor.stop()
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()
    assert recorder.aired == ["ep1-s1", "ep1-s2"]
    assert supervisor.encoder_restarts >= 1
    [lost] = recorder.of(ev.OutputLost)
    assert (lost.output, lost.url) == ("rtmp", f"rtmp://127.0.0.1:{port}/live/****")
    assert not any("streamkey-1234" in json.dumps(event.to_dict()) for event in recorder.events)
    assert ffmpeg_children() == []


def test_headless_chromium_plays_the_channel(media: Media, tmp_path: Path) -> None:
    chromium = require_system_tool("chromium")
    import websockets.sync.client as websockets_sync

    recorder = Recorder([QueuedSegment(f"ep1-s{index}", media.segment_a, 3.0) for index in range(1, 4)])
    supervisor = make_supervisor(tmp_path, media, recorder, realtime=True)
    server = PlayerServer(tmp_path / "hls", port=0, title="Smoke")
    debug_port = free_port()
    server.start()
    supervisor.start()
    browser = subprocess.Popen(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required",
         f"--remote-debugging-port={debug_port}", f"--user-data-dir={tmp_path / 'chromium'}", server.url],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    expression = (
        "JSON.stringify([document.getElementById('player').currentTime, document.getElementById('status').textContent])"
    )
    played, status = 0.0, ""
    try:
        page = wait_for_page(debug_port)
        with websockets_sync.connect(page, max_size=None) as devtools:
            deadline = time.monotonic() + 120  # a generous ceiling: the loop ends as soon as 2 s have played
            while played < 2.0 and time.monotonic() < deadline:
                devtools.send(json.dumps({"id": 1, "method": "Runtime.evaluate",
                                          "params": {"expression": expression, "returnByValue": True}}))  # fmt: skip
                value = json.loads(devtools.recv(timeout=10))["result"]["result"].get("value")
                if value is not None:  # None while the page is still loading
                    played, status = json.loads(value)
                time.sleep(0.5)
    finally:
        browser.kill()
        browser.wait()
        supervisor.stop()
        server.stop()
    assert played >= 2.0, f"the player reached {played:.1f} s; status: {status!r}"
    assert status.startswith("on air")


def wait_for_page(debug_port: int, timeout: float = 120.0) -> str:
    """DevTools websocket address of the first page Chromium opened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{debug_port}/json", timeout=2) as response:
                targets = json.load(response)
            return next(target["webSocketDebuggerUrl"] for target in targets if target["type"] == "page")
        except (OSError, StopIteration, ValueError):
            time.sleep(0.2)
    raise AssertionError("Chromium did not open its DevTools port")
