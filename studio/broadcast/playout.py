"""Playout: air approved segments 24/7 through one long-lived muxer, never going dark.

One encoder/muxer process (`commands.playout_encoder_argv`) lives as long as the channel: MPEG-TS on its stdin,
stream copy, live HLS and optionally FLV over RTMP. Each item (segment or filler card) gets its own short feeder
process that writes the item, stream-copied, into the encoder's stdin with its timestamps shifted to the
channel's running position — so the muxer sees one continuous timeline and never restarts between items.

- Nothing ready and not finishing: the filler card airs, and the queue is asked again after it.
- A missing, unreadable or off-format segment file: filler cards of about its length air instead, and
  `on_event("segment_replaced", …)` says why. The channel never crashes on an item.
- The encoder dies (or a feeder hangs past its watchdog): a new encoder continues the same playlist behind
  `#EXT-X-DISCONTINUITY` and the interrupted item airs again from its start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from studio.broadcast import commands
from studio.broadcast.filler import ensure_filler_card
from studio.broadcast.web import check_rtmp_reachable
from studio.errors import BroadcastError, ToolError
from studio.tools.media import ffmpeg_exe, probe

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

# Added to every feeder's offset: MPEG-TS timestamps are never negative, and the muxer would shift an item that
# starts below zero (B-frame DTS, AAC priming) by a different amount than the others.
FEED_LEAD_S = 10.0
# A feeder may run this much longer than its item before it is killed (startup, pipe back-pressure).
WATCHDOG_MARGIN_S = 10.0
# Encoder restarts closer together than this back off, so a muxer that cannot start does not spin.
RESTART_BACKOFF_S = 2.0
# While RTMP is dropped, how often to look for the server again (an RTMP change restarts the muxer).
RTMP_RETRY_S = 30.0
# A muxer with RTMP that dies sooner than this after starting is taken to have failed on RTMP (a server that
# accepts TCP but refuses the stream would otherwise take HLS down with it in a restart loop).
RTMP_EARLY_DEATH_S = 10.0
FFMPEG_LOG_ARGS = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "error"]


@dataclass(frozen=True)
class QueuedSegment:
    """An approved, conformed segment waiting for air."""

    segment_id: str
    path: Path
    seconds: float


@dataclass(frozen=True)
class _Item:
    """What one feeder airs: a file of exactly `seconds` (whole frames) and the segment it stands for, if any."""

    path: Path
    seconds: float
    label: str


class PlayoutSupervisor:
    """Airs `next_segment()` after `next_segment()` as one continuous HLS (and RTMP) stream, on its own thread.

    `on_aired(segment)` is called once a segment has been fully fed to the muxer; `on_event(kind, detail)` reports
    `segment_started`, `filler_started`, `segment_replaced`, `segment_failed`, `feeder_timeout`,
    `encoder_restarted`, `rtmp_lost`, `rtmp_restored` and `playout_ended`. Callbacks run on the playout thread;
    an exception in one is logged and the channel carries on.
    """

    def __init__(
        self,
        *,
        hls_dir: Path,
        media_dir: Path,
        width: int,
        height: int,
        fps: int,
        next_segment: Callable[[], QueuedSegment | None],
        on_aired: Callable[[QueuedSegment], None],
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
        rtmp_url: str | None = None,
        realtime: bool = True,
        filler_seconds: float = 2.0,
        hls_list_size: int = 6,
    ) -> None:
        self.hls_dir = hls_dir
        self.media_dir = media_dir
        self.width, self.height, self.fps = width, height, fps
        self.rtmp_url = rtmp_url
        self.realtime = realtime
        self.filler_seconds = filler_seconds
        self.hls_list_size = hls_list_size
        self._next_segment = next_segment
        self._on_aired = on_aired
        self._on_event = on_event
        self._stop_requested = threading.Event()
        self._finish_requested = threading.Event()
        self._process_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._encoder: subprocess.Popen[bytes] | None = None
        self._feeder: subprocess.Popen[bytes] | None = None
        self._encoder_log: IO[bytes] | None = None
        self._filler: _Item | None = None
        self._position_s = 0.0
        self._encoder_restarts = 0
        self._last_encoder_start = 0.0
        self._rtmp_active = rtmp_url is not None
        self._rtmp_checked_at = 0.0
        self._on_air: str | None = None

    # --- public -----------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Make the filler card, start the muxer and the playout thread. Raises `BroadcastError` if it cannot."""
        if self._thread is not None:
            raise BroadcastError("this playout supervisor was already started")
        try:
            self.hls_dir.mkdir(parents=True, exist_ok=True)
            probe_path = self.hls_dir / f".write-test-{os.getpid()}"
            probe_path.write_bytes(b"")
            probe_path.unlink()
            log_dir = self.media_dir / "playout"
            log_dir.mkdir(parents=True, exist_ok=True)
            self._encoder_log = open(log_dir / "encoder.log", "wb")  # noqa: SIM115 - lives as long as the channel
        except OSError as error:
            raise BroadcastError(f"cannot write HLS to {self.hls_dir}: {error.strerror or error}") from None
        try:
            card_path = ensure_filler_card(
                self.media_dir, width=self.width, height=self.height, fps=self.fps, seconds=self.filler_seconds
            )
            self._filler = _Item(card_path, commands.house_frames(self.filler_seconds, self.fps) / self.fps, "filler")
            with self._process_lock:
                self._encoder = self._spawn_encoder()
        except BroadcastError:
            self._encoder_log.close()
            raise
        self._thread = threading.Thread(target=self._run, name="playout", daemon=True)
        self._thread.start()

    def finish(self) -> None:
        """No more segments will come: when the queue runs dry, end the stream cleanly (HLS gets its end)."""
        self._finish_requested.set()

    def stop(self, timeout: float = 15.0) -> None:
        """End the broadcast now; returns once every ffmpeg process it started has exited."""
        self._stop_requested.set()
        with self._process_lock:
            _terminate(self._feeder)
        if self._thread is not None:
            self._thread.join(timeout)
        with self._process_lock:  # the thread normally does this; here for a thread that did not get there
            _terminate(self._feeder)
            _terminate(self._encoder)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the playout thread to end; True when it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        """Whether the playout thread is airing (started and not yet ended)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def aired_seconds(self) -> float:
        """Seconds fed to the muxer so far, segments and filler alike (the channel's running position)."""
        return self._position_s

    @property
    def on_air(self) -> str | None:
        """The segment id (or "filler") being fed right now."""
        return self._on_air

    @property
    def encoder_restarts(self) -> int:
        """How many times the muxer had to be started again."""
        return self._encoder_restarts

    @property
    def encoder_pid(self) -> int | None:
        """Process id of the current muxer, if one runs."""
        encoder = self._encoder
        return encoder.pid if encoder is not None and encoder.poll() is None else None

    @property
    def playlist_path(self) -> Path:
        """The live HLS playlist."""
        return self.hls_dir / commands.HLS_PLAYLIST_NAME

    # --- the playout thread -----------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop_requested.is_set():
                segment = self._ask_next_segment()
                if segment is None:
                    if self._finish_requested.is_set():
                        break
                    self._air_filler(1, reason="idle")
                    if not self.realtime:  # waiting for production: no point airing cards faster than real time
                        self._stop_requested.wait(self._filler_item.seconds)
                    continue
                self._air_segment(segment)
        except Exception as error:  # noqa: BLE001 - the thread must always release its processes
            logger.exception("playout thread failed")
            self._emit("playout_failed", error=str(error))
        finally:
            self._on_air = None
            graceful = not self._stop_requested.is_set()
            self._close_encoder()
            _end_playlist(self.playlist_path)
            if self._encoder_log is not None:
                self._encoder_log.close()
            self._emit("playout_ended", aired_seconds=round(self._position_s, 3), finished=graceful)

    @property
    def _filler_item(self) -> _Item:
        assert self._filler is not None, "start() makes the filler card"
        return self._filler

    def _ask_next_segment(self) -> QueuedSegment | None:
        try:
            return self._next_segment()
        except Exception as error:  # noqa: BLE001 - a failing queue airs filler, it does not end the channel
            logger.exception("next_segment failed")
            self._emit("queue_failed", error=str(error))
            return None

    def _air_segment(self, segment: QueuedSegment) -> None:
        item, problem = self._check_segment(segment)
        if item is None:
            cards = max(1, round(segment.seconds / self._filler_item.seconds))
            self._emit("segment_replaced", segment_id=segment.segment_id, reason=problem, seconds=segment.seconds)
            self._air_filler(cards, reason=f"replacing {segment.segment_id}")
            return
        self._emit("segment_started", segment_id=segment.segment_id, seconds=item.seconds, at=self._position_s)
        if self._feed(item):
            try:
                self._on_aired(segment)
            except Exception:  # noqa: BLE001
                logger.exception("on_aired failed for %s", segment.segment_id)

    def _air_filler(self, cards: int, *, reason: str) -> None:
        self._emit("filler_started", seconds=cards * self._filler_item.seconds, reason=reason, at=self._position_s)
        for _ in range(cards):
            if self._stop_requested.is_set() or not self._feed(self._filler_item):
                return

    def _check_segment(self, segment: QueuedSegment) -> tuple[_Item | None, str]:
        """The item to air for `segment`, or None and why it cannot air (it would break the stream copy)."""
        path = Path(segment.path)
        if not path.is_file():
            return None, f"file is missing: {path}"
        try:
            info = probe(path)
        except ToolError as error:
            return None, f"file is unreadable: {error}"
        expected = (self.width, self.height, "h264", "yuv420p", "aac", commands.AUDIO_RATE, 2)
        found = (info.width, info.height, info.video_codec, info.pix_fmt, info.audio_codec, info.audio_rate,
                 info.audio_channels)  # fmt: skip
        if found != expected or abs(info.fps - self.fps) > 0.01 or info.video_frames == 0:
            return None, f"not in the house format: {found} at {info.fps:g} fps, expected {expected} at {self.fps}"
        return _Item(path, info.video_frames / self.fps, segment.segment_id), ""

    def _feed(self, item: _Item) -> bool:
        """Feed one item into the muxer. True once all of it went in; the position advances either way."""
        for attempt in range(2):
            if self._stop_requested.is_set():
                return False
            self._maybe_restore_rtmp()
            encoder = self._ensure_encoder()
            if encoder is None:
                return False
            self._on_air = item.label
            outcome, stderr_tail = self._run_feeder(item, encoder)
            if outcome == "fed":
                self._position_s += item.seconds
                return True
            if outcome == "stopped" or self._stop_requested.is_set():
                return False
            if outcome == "timeout":
                self._emit("feeder_timeout", item=item.label, seconds=item.seconds)
                # a muxer that stops reading is most likely blocked on a stalled RTMP connection
                self._restart_encoder(f"a feeder for {item.label} hung", suspect_rtmp=True)
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                encoder.wait(0.5)  # a feeder sees EPIPE a moment before its dying muxer can be reaped
            if encoder.poll() is not None:
                self._restart_encoder(f"the muxer exited ({encoder.returncode}) while airing {item.label}")
                if attempt == 0:
                    continue  # the interrupted item airs again from its start, behind a discontinuity
            self._emit("segment_failed", item=item.label, error=stderr_tail)
            break
        self._position_s += item.seconds
        return False

    def _run_feeder(self, item: _Item, encoder: subprocess.Popen[bytes]) -> tuple[str, str]:
        argv = [ffmpeg_exe(), *FFMPEG_LOG_ARGS, *commands.feed_item_argv(item.path, FEED_LEAD_S + self._position_s)]
        with tempfile.TemporaryFile() as stderr_file:
            with self._process_lock:
                if self._stop_requested.is_set():
                    return "stopped", ""
                feeder = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=encoder.stdin, stderr=stderr_file, start_new_session=True
                )
                self._feeder = feeder
            deadline = time.monotonic() + item.seconds + WATCHDOG_MARGIN_S
            outcome = ""
            while not outcome:
                try:
                    outcome = "fed" if feeder.wait(timeout=0.1) == 0 else "failed"
                except subprocess.TimeoutExpired:
                    if self._stop_requested.is_set():
                        outcome = "stopped"
                    elif time.monotonic() > deadline:
                        outcome = "timeout"
            with self._process_lock:
                _terminate(feeder)
                self._feeder = None
            stderr_file.seek(0)
            tail = " | ".join(stderr_file.read().decode("utf-8", "replace").strip().splitlines()[-3:])
        return outcome, tail

    # --- the muxer --------------------------------------------------------------------------------------------

    def _spawn_encoder(self) -> subprocess.Popen[bytes]:
        rtmp_url = self.rtmp_url if self._rtmp_active else None
        argv = [
            ffmpeg_exe(), *FFMPEG_LOG_ARGS,
            *commands.playout_encoder_argv(
                self.hls_dir, realtime=self.realtime, continue_playlist=self.playlist_path.exists(),
                rtmp_url=rtmp_url, hls_list_size=self.hls_list_size,
            ),
        ]  # fmt: skip
        self._last_encoder_start = time.monotonic()
        try:
            return subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._encoder_log,
                start_new_session=True,
            )  # fmt: skip
        except OSError as error:
            raise BroadcastError(f"cannot start the playout muxer ({argv[0]}): {error}") from None

    def _ensure_encoder(self) -> subprocess.Popen[bytes] | None:
        encoder = self._encoder
        if encoder is not None and encoder.poll() is None:
            return encoder
        code = encoder.returncode if encoder is not None else None
        return self._restart_encoder(f"the muxer exited ({code})")

    def _restart_encoder(self, reason: str, *, suspect_rtmp: bool = False) -> subprocess.Popen[bytes] | None:
        with self._process_lock:
            _terminate(self._encoder)
        since_last = time.monotonic() - self._last_encoder_start
        if since_last < RESTART_BACKOFF_S and self._stop_requested.wait(RESTART_BACKOFF_S - since_last):
            return None
        suspect_rtmp = suspect_rtmp or since_last < RTMP_EARLY_DEATH_S
        if self._rtmp_active and self.rtmp_url and (suspect_rtmp or not _reachable(self.rtmp_url)):
            self._rtmp_active = False
            self._rtmp_checked_at = time.monotonic()
            self._emit("rtmp_lost", url=self.rtmp_url, note="continuing with HLS only; retrying periodically")
        with self._process_lock:
            if self._stop_requested.is_set():
                return None
            self._encoder = self._spawn_encoder()
        self._encoder_restarts += 1
        self._emit("encoder_restarted", reason=reason, log=self._encoder_log_tail(), restarts=self._encoder_restarts)
        return self._encoder

    def _maybe_restore_rtmp(self) -> None:
        if self._rtmp_active or not self.rtmp_url or time.monotonic() - self._rtmp_checked_at < RTMP_RETRY_S:
            return
        self._rtmp_checked_at = time.monotonic()
        if _reachable(self.rtmp_url):
            self._rtmp_active = True
            self._close_encoder()
            with self._process_lock:
                if self._stop_requested.is_set():
                    return
                self._encoder = self._spawn_encoder()
            self._emit("rtmp_restored", url=self.rtmp_url)

    def _close_encoder(self, drain_timeout: float = 30.0) -> None:
        """End the muxer: EOF on stdin lets it write out what it holds (at real time when realtime) and end.

        A `stop()` meanwhile cuts the drain short with SIGINT, on which ffmpeg still finalises its outputs.
        """
        encoder = self._encoder
        if encoder is None:
            return
        if encoder.stdin is not None:
            with contextlib.suppress(OSError):
                encoder.stdin.close()
        deadline = time.monotonic() + drain_timeout
        interrupted = False
        while encoder.poll() is None and time.monotonic() < deadline:
            if self._stop_requested.is_set() and not interrupted:
                with contextlib.suppress(ProcessLookupError):
                    encoder.send_signal(signal.SIGINT)
                interrupted = True
                deadline = min(deadline, time.monotonic() + 5.0)
            time.sleep(0.05)
        with self._process_lock:
            _terminate(encoder)

    def _encoder_log_tail(self) -> str:
        log_path = self.media_dir / "playout" / "encoder.log"
        try:
            with open(log_path, "rb") as handle:
                handle.seek(max(0, log_path.stat().st_size - 2000))
                lines = handle.read().decode("utf-8", "replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-3:])

    def _emit(self, kind: str, **detail: Any) -> None:
        logger.debug("playout %s %s", kind, detail)
        if self._on_event is None:
            return
        try:
            self._on_event(kind, detail)
        except Exception:  # noqa: BLE001
            logger.exception("on_event failed for %s", kind)


def _terminate(process: subprocess.Popen[bytes] | None, grace: float = 3.0) -> None:
    """Make sure `process` has exited and been reaped: SIGTERM, then SIGKILL after `grace` seconds."""
    if process is None:
        return
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()


def _end_playlist(playlist_path: Path) -> None:
    """Mark the HLS playlist as ended (the muxer runs with `omit_endlist`)."""
    try:
        text = playlist_path.read_text(encoding="utf-8")
    except OSError:
        return
    if "#EXT-X-ENDLIST" in text:
        return
    partial_path = playlist_path.with_name(playlist_path.name + ".end.tmp")
    try:
        partial_path.write_text(text.rstrip("\n") + "\n#EXT-X-ENDLIST\n", encoding="utf-8")
        os.replace(partial_path, playlist_path)
    except OSError:
        logger.warning("could not end the playlist %s", playlist_path)


def _reachable(rtmp_url: str) -> bool:
    try:
        check_rtmp_reachable(rtmp_url, timeout=2.0)
    except BroadcastError:
        return False
    return True
