"""Playout: air approved segments 24/7 through one long-lived muxer, never going dark.

One encoder/muxer process (`commands.playout_encoder_argv`) lives as long as the channel: MPEG-TS on its stdin,
stream copy, live HLS and optionally FLV over RTMP. Each item (segment or filler card) gets its own short feeder
process that writes the item, stream-copied, into the encoder's stdin with its timestamps shifted to the
channel's running position — so the muxer sees one continuous timeline and never restarts between items.

The queue (`PlayoutQueue`, the station store's rundown in production) says what airs next, or why nothing can
(`Idle`): the filler card airs meanwhile, one card at a time, and the queue is asked again after each.

- A missing, unreadable or off-format segment file is skipped (`queue.skipped` with the reason) and the next item
  airs straight away: the channel never crashes on an item, and a broken file never airs filler in its place.
- `skip()` cuts the segment on air: its feeder is killed and the muxer restarted behind a discontinuity (a cut
  stream cannot be continued under stream copy without a timestamp jump the muxer would wait out).
- The encoder dies (or a feeder hangs past its watchdog): a new encoder continues the same playlist behind
  `#EXT-X-DISCONTINUITY` and the interrupted item airs again from its start. So do the segments before it that had
  gone into the dead muxer's pipe but that it had not yet written out: a muxer reading at real time holds seconds
  of the channel, and it writes an HLS segment only once it is closed. What each muxer has written out is read
  from the playlist it keeps (`_WrittenOut`).

Everything it does is reported as `studio.events` through `emit`; RTMP URLs in them have their key masked.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from studio import events as ev
from studio.broadcast import commands
from studio.broadcast.filler import ensure_filler_card
from studio.broadcast.web import check_rtmp_reachable
from studio.errors import BroadcastError, ToolError
from studio.secrets import mask_url, redact
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
# A playlist longer than this (one that keeps every segment) is read from its end, where new segments are listed.
PLAYLIST_TAIL_BYTES = 65536
_SEGMENT_NUMBER = re.compile(r"(\d+)\.ts$")
# A skip lets the muxer write out what it holds (segments before the cut) for at most this long.
SKIP_DRAIN_S = 15.0
# A station starting after one that died gives the muxer left behind this long to write out what it held.
ORPHAN_DRAIN_S = 10.0
# A segment fed this much channel time before the muxer's latest is taken as written out even when its playlist
# does not show it (a muxer reading at real time holds seconds, not minutes): what is tracked stays bounded.
WRITTEN_OUT_HORIZON_S = 60.0
FFMPEG_LOG_ARGS = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "error"]


@dataclass(frozen=True)
class QueuedSegment:
    """An approved, conformed segment waiting for air."""

    segment_id: str
    path: Path
    seconds: float
    episode: int | None = None
    repeat: bool = False
    """Aired again on purpose (playout on hold, or a rerun), not for the first time."""
    rerun: bool = False
    """Aired again as a rerun chosen to fill a gap between episodes."""


@dataclass(frozen=True)
class Idle:
    """Nothing can air now, and why: the filler card airs meanwhile."""

    reason: str
    inside_episode: bool = False
    """The wait interrupts an episode already on air."""
    filler: Path | None = None
    """A house-format file to air meanwhile instead of the ident (a "coming up" card)."""
    what: str = "ident"
    """What airs meanwhile, in words: ident, or coming-up card."""


class PlayoutQueue(Protocol):
    """What airs next, and what happened to it. Called on the playout thread only."""

    def next_item(self) -> QueuedSegment | Idle: ...

    def started(self, segment: QueuedSegment) -> None:
        """`segment` is being fed to the muxer now."""

    def aired(self, segment: QueuedSegment) -> None:
        """All of `segment` went to the muxer."""

    def skipped(self, segment: QueuedSegment, reason: str, command_id: int | None) -> None:
        """`segment` could not air, or was cut by a person (`command_id`)."""


@dataclass(frozen=True)
class _Item:
    """What one feeder airs: a file of exactly `seconds` (whole frames) and the segment it stands for, if any."""

    path: Path
    seconds: float
    label: str
    segment: QueuedSegment | None = None


@dataclass(eq=False)
class _Feed:
    """One item on its way out: being fed, or fed into the current muxer and not yet seen written out."""

    item: _Item
    attempts: int = 0
    end: float = float("inf")
    """Where the item ends on the current muxer's output, in seconds from its start; inf until it is fed whole."""
    outcome: str = ""
    """What feeding it came to (`_feed`'s outcomes); empty until then."""


class _WrittenOut:
    """How many seconds of the channel the current muxer has written out: the durations of the segments it added
    to the HLS playlist (a segment is listed once it is closed and on disk). Read again only when the playlist
    changed."""

    def __init__(self, playlist: Path) -> None:
        self.playlist = playlist
        self.seconds = 0.0
        self._last_sequence = -1
        self._stamp: tuple[int, int, int] | None = None

    def restart(self) -> None:
        """A new muxer: count from the segments listed now (a muxer continuing the playlist numbers on)."""
        self.seconds = 0.0
        self._stamp = None
        try:
            size = self.playlist.stat().st_size
        except OSError:
            size = 0
        self._last_sequence = max((sequence for sequence, _ in self._listed(size, reach_back=False)), default=-1)

    def update(self) -> float:
        """Read the playlist if it changed; the seconds written out so far."""
        try:
            stat = self.playlist.stat()
        except OSError:
            return self.seconds
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if stamp == self._stamp:
            return self.seconds
        self._stamp = stamp
        for sequence, seconds in self._listed(stat.st_size):
            if sequence > self._last_sequence:
                self.seconds += seconds
                self._last_sequence = sequence
        return self.seconds

    def _listed(self, size: int, *, reach_back: bool = True) -> list[tuple[int, float]]:
        """The entries of a playlist of `size` bytes: read from its end when it is long and that says enough."""
        entries = self._tail_entries(reach_back=reach_back) if size > PLAYLIST_TAIL_BYTES else None
        return entries if entries is not None else self._entries()

    def _entries(self) -> list[tuple[int, float]]:
        """(media sequence number, duration) of each segment listed."""
        try:
            lines = self.playlist.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
        entries: list[tuple[int, float]] = []
        sequence, seconds = 0, 0.0
        for line in lines:
            if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
                with contextlib.suppress(ValueError):
                    sequence = int(line.partition(":")[2])
            elif line.startswith("#EXTINF:"):
                seconds = _extinf_seconds(line)
            elif line and not line.startswith("#"):
                entries.append((sequence, seconds))
                sequence, seconds = sequence + 1, 0.0
        return entries

    def _tail_entries(self, *, reach_back: bool = True) -> list[tuple[int, float]] | None:
        """The entries at the end of a long playlist (one that keeps every segment: `hls_list_size` 0), numbered
        by their segment names (ffmpeg names a segment by its sequence number); None when that cannot be read with
        certainty (a name without its number, or a tail that does not reach back to what was counted last)."""
        try:
            with open(self.playlist, "rb") as handle:
                handle.seek(-PLAYLIST_TAIL_BYTES, os.SEEK_END)
                lines = handle.read().decode("utf-8", "replace").splitlines()[1:]  # the first may be cut
        except OSError:
            return None
        entries: list[tuple[int, float]] = []
        seconds: float | None = None
        for line in lines:
            if line.startswith("#EXTINF:"):
                seconds = _extinf_seconds(line)
            elif line and not line.startswith("#") and seconds is not None:
                match = _SEGMENT_NUMBER.search(line)
                if match is None:
                    return None
                entries.append((int(match.group(1)), seconds))
                seconds = None
        if not entries or (reach_back and entries[0][0] > self._last_sequence + 1):
            return None
        return entries


def _extinf_seconds(line: str) -> float:
    try:
        return float(line.partition(":")[2].split(",")[0])
    except ValueError:
        return 0.0


@dataclass
class _SkipRequest:
    reason: str
    command_id: int | None
    target: QueuedSegment
    """The segment being aired when the skip was asked for (checked, fed, or between the two)."""
    done: threading.Event = field(default_factory=threading.Event)
    segment_id: str | None = None
    """Set once the segment was cut."""


@dataclass
class _FillerRun:
    reason: str
    inside_episode: bool
    what: str = "ident"
    seconds: float = 0.0


class PlayoutSupervisor:
    """Airs what `queue.next_item()` gives, item after item, as one continuous HLS (and RTMP) stream, on its own
    thread. Events go to `emit` (for the show `show`); an exception in a callback is logged and the channel goes on.
    """

    def __init__(
        self,
        *,
        show: str,
        hls_dir: Path,
        media_dir: Path,
        width: int,
        height: int,
        fps: int,
        queue: PlayoutQueue,
        emit: Callable[[ev.Event], None] | None = None,
        rtmp_url: str | None = None,
        realtime: bool = True,
        filler_seconds: float = 2.0,
        filler_path: Path | None = None,
        hls_list_size: int = 6,
        rtmp_retry_s: float = RTMP_RETRY_S,
        watchdog_margin_s: float = WATCHDOG_MARGIN_S,
    ) -> None:
        self.show = show
        self.rtmp_retry_s = rtmp_retry_s
        """While RTMP is dropped, how often to look for the server again."""
        self.watchdog_margin_s = watchdog_margin_s
        """How much longer than its item a feeder may run before it is taken to have hung."""
        self.hls_dir = hls_dir
        self.media_dir = media_dir
        self.width, self.height, self.fps = width, height, fps
        self.rtmp_url = rtmp_url
        self.realtime = realtime
        self.filler_seconds = filler_seconds
        self.filler_path = filler_path
        """A house-format file to air when nothing else can (the show's ident); None: the plain card."""
        self.hls_list_size = hls_list_size
        self._queue = queue
        self._emit_event = emit
        self._stop_requested = threading.Event()
        self._finish_requested = threading.Event()
        self._process_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._encoder: subprocess.Popen[bytes] | None = None
        self._feeder: subprocess.Popen[bytes] | None = None
        self._encoder_log: IO[bytes] | None = None
        self._filler: _Item | None = None
        self._filler_run: _FillerRun | None = None
        self._fillers: dict[Path, _Item] = {}
        self._position_s = 0.0
        self._encoder_restarts = 0
        self._last_encoder_start = 0.0
        self._encoder_start_position = 0.0
        self._rtmp_active = rtmp_url is not None
        self._rtmp_checked_at = 0.0
        self._on_air: _Item | None = None
        self._airing: QueuedSegment | None = None
        """The segment `_air_segment` is busy with, from its check until its outcome is recorded."""
        self._skip_lock = threading.Lock()
        self._skip: _SkipRequest | None = None
        self._written = _WrittenOut(self.playlist_path)
        self._unwritten: list[_Feed] = []
        """Segments fed into the current muxer and not yet seen written out (then one it died under), in order."""
        self._replaying: tuple[str, ...] = ()
        """What the latest muxer to start airs again for the one before it."""
        self._backlog: list[_Feed] = []
        """What airs before anything new: what a muxer that died had not written out, then the item asked for."""

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
        _end_orphans([self.hls_dir.absolute(), self.media_dir.absolute()])
        try:
            if self.filler_path is not None:
                self._filler = _Item(self.filler_path, _house_seconds(self.filler_path, self.fps), "filler")
            else:
                card_path = ensure_filler_card(
                    self.media_dir, width=self.width, height=self.height, fps=self.fps, seconds=self.filler_seconds
                )
                seconds = commands.house_frames(self.filler_seconds, self.fps) / self.fps
                self._filler = _Item(card_path, seconds, "filler")
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

    def skip(
        self, *, reason: str = "skipped by a person", command_id: int | None = None, timeout: float = 30.0
    ) -> str | None:
        """Cut the segment on air and go on with the next item. Returns the id of the segment that was cut, or
        None when no segment is on air (filler or nothing), it had all gone to the muxer before the cut, or the cut
        did not happen within `timeout`."""
        with self._skip_lock:
            segment = self._airing
            if segment is None or not self.running:
                return None
            request = _SkipRequest(reason, command_id, segment)
            self._skip = request
        request.done.wait(timeout)
        return request.segment_id

    @property
    def running(self) -> bool:
        """Whether the playout thread is airing (started and not yet ended)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def aired_seconds(self) -> float:
        """Seconds fed to the muxer so far, segments and filler alike (the channel's running position)."""
        return self._position_s

    @property
    def queue(self) -> PlayoutQueue:
        """The queue this playout asks what airs next."""
        return self._queue

    @property
    def airing_segment(self) -> str | None:
        """The id of the segment being aired now (checked or fed), None while the filler card airs or between items."""
        segment = self._airing
        return segment.segment_id if segment is not None else None

    @property
    def on_air(self) -> str | None:
        """The segment id (or "filler") being fed right now."""
        item = self._on_air
        return item.label if item is not None else None

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
                item = self._ask_queue()
                if isinstance(item, Idle) or item.rerun:
                    # Production is over: nothing more will become ready, so no gap is left to fill.
                    if self._finish_requested.is_set():
                        break
                if isinstance(item, Idle):
                    self._air_filler(item)
                    if not self.realtime:  # waiting for production: no point airing cards faster than real time
                        self._stop_requested.wait(self._filler_item.seconds)
                    continue
                self._end_filler_run()
                self._air_segment(item)
        except Exception as error:  # noqa: BLE001 - the thread must always release its processes
            logger.exception("playout thread failed")
            self._emit(ev.PlayoutFailed, error=str(error))
        finally:
            self._end_filler_run()
            self._on_air = None
            self._answer_skip(None)
            graceful = not self._stop_requested.is_set()
            self._close_encoder()
            _end_playlist(self.playlist_path)
            if self._encoder_log is not None:
                self._encoder_log.close()
            self._emit(ev.PlayoutEnded, aired_seconds=round(self._position_s, 3), finished=graceful)

    @property
    def _filler_item(self) -> _Item:
        assert self._filler is not None, "start() makes the filler card"
        return self._filler

    def _ask_queue(self) -> QueuedSegment | Idle:
        try:
            return self._queue.next_item()
        except Exception as error:  # noqa: BLE001 - a failing queue airs filler, it does not end the channel
            logger.exception("the playout queue failed")
            return Idle(f"the playout queue failed: {error}")

    def _call(self, name: str, *args: object) -> None:
        try:
            getattr(self._queue, name)(*args)
        except Exception:  # noqa: BLE001
            logger.exception("playout queue %s failed", name)

    def _air_segment(self, segment: QueuedSegment) -> None:
        # A skip asked for while the segment is checked (a probe can take a while) cuts it as soon as it is fed.
        self._airing = segment
        try:
            item, problem = self._check_segment(segment)
            if item is None:
                self._call("skipped", segment, problem, None)
                return
            if self._skip is not None and self._skip.target is segment:
                outcome = "skipped"  # asked for while it was checked: none of it goes out
            else:
                self._call("started", segment)
                outcome = self._feed(item)
            if outcome == "fed":
                self._call("aired", segment)
            elif outcome == "skipped":
                request = self._skip
                self._call(
                    "skipped", segment, request.reason if request else "skipped",
                    request.command_id if request else None,
                )  # fmt: skip
                self._answer_skip(segment.segment_id)
        finally:
            with self._skip_lock:
                self._airing = None
            self._answer_skip(None)  # a skip still waiting came too late: all of it had gone to the muxer

    def _answer_skip(self, segment_id: str | None) -> None:
        with self._skip_lock:
            request, self._skip = self._skip, None
        if request is not None:
            request.segment_id = segment_id
            request.done.set()

    def _air_filler(self, idle: Idle) -> None:
        item = self._filler_for(idle)
        what = idle.what if item is not self._filler_item else "ident"
        run = self._filler_run
        if run is not None and (run.inside_episode, run.what) != (idle.inside_episode, what):
            self._end_filler_run()
            run = None
        if run is None:
            run = self._filler_run = _FillerRun(idle.reason, idle.inside_episode, what)
            self._emit(ev.FillerStarted, reason=idle.reason, inside_episode=idle.inside_episode, what=what)
        self._answer_skip(None)  # a skip asked for while the filler airs has nothing to cut
        if not self._stop_requested.is_set() and self._feed(item) == "fed":
            run.seconds += item.seconds

    def _filler_for(self, idle: Idle) -> _Item:
        """The item for the filler `idle` names (probed once per file), the ident when it names none or its file
        cannot air."""
        if idle.filler is None:
            return self._filler_item
        item = self._fillers.get(idle.filler)
        if item is None:
            try:
                item = _Item(idle.filler, _house_seconds(idle.filler, self.fps), "filler")
            except BroadcastError as error:
                logger.warning("%s; the ident airs instead", error)
                return self._filler_item
            self._fillers[idle.filler] = item
        return item

    def _end_filler_run(self) -> None:
        run, self._filler_run = self._filler_run, None
        if run is not None and run.seconds > 0:
            self._emit(
                ev.FillerAired, seconds=round(run.seconds, 3), reason=run.reason, inside_episode=run.inside_episode,
                what=run.what,
            )  # fmt: skip

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
        # A truncated file keeps its header (faststart) and probes fine: count what is really there.
        expected_frames = commands.house_frames(segment.seconds, self.fps)
        if segment.seconds > 0 and (
            abs(info.video_frames - expected_frames) > 1 or info.audio_seconds < segment.seconds - 0.1
        ):
            return None, (
                f"file is incomplete or damaged: {info.video_frames} of {expected_frames} video frames,"
                f" {info.audio_seconds:.2f} of {segment.seconds:.2f} s of audio"
            )
        return _Item(path, info.video_frames / self.fps, segment.segment_id, segment), ""

    def _feed(self, item: _Item) -> str:
        """Feed one item into the muxer: `fed` once all of it went in, else `skipped`, `failed` or `stopped`.

        What a muxer that died had taken in but not written out airs again first, in order, and an item the muxer
        died under airs again from its start (each item twice at most). The channel's position advances by the
        item's length whatever happened (the muxer restarted if it was cut)."""
        wanted = _Feed(item)
        self._backlog.append(wanted)
        while not wanted.outcome:
            if self._stop_requested.is_set():
                return "stopped"
            self._maybe_restore_rtmp()
            encoder = self._ensure_encoder()
            if encoder is None:
                return "stopped"
            self._feed_once(self._backlog.pop(0), encoder)
        return wanted.outcome

    def _feed_once(self, feed: _Feed, encoder: subprocess.Popen[bytes]) -> None:
        """Run one feeder for `feed`; sets its outcome, or puts it back (through `_unwritten`) when the muxer died."""
        item = feed.item
        feed.attempts += 1
        feed.end = float("inf")
        self._on_air = item
        result, stderr_tail = self._run_feeder(item, encoder)
        if result == "fed":
            self._position_s += item.seconds
            feed.end = self._position_s - self._encoder_start_position
            feed.outcome = "fed"
            if item.segment is not None:  # a filler card lost in a dead muxer is not worth airing again
                self._unwritten.append(feed)
                self._note_written()
            return
        if result == "stopped" or self._stop_requested.is_set():
            feed.outcome = "stopped"
            return
        if result == "skipped":
            # The muxer writes out what it holds before it goes (the segments before the cut must not be lost).
            self._restart_encoder(f"{item.label} was cut short by a skip", drain=True)
            feed.outcome = "skipped"
        elif result == "timeout":
            self._emit(ev.FeederTimedOut, item=item.label, seconds=item.seconds)
            # a muxer that stops reading is most likely blocked on a stalled RTMP connection
            self._restart_encoder(f"a feeder for {item.label} hung", suspect_rtmp=True)
            feed.outcome = "failed"
        else:
            with contextlib.suppress(subprocess.TimeoutExpired):
                encoder.wait(0.5)  # a feeder sees EPIPE a moment before its dying muxer can be reaped
            if encoder.poll() is not None:
                again = feed.attempts < 2
                if again:
                    self._unwritten.append(feed)  # airs again from its start, behind a discontinuity
                self._restart_encoder(f"the muxer exited ({encoder.returncode}) while airing {item.label}")
                if again:
                    return
            self._emit(ev.ItemFailed, item=item.label, error=self._redact(stderr_tail))
            feed.outcome = "failed"
        self._position_s += item.seconds

    def _note_written(self) -> None:
        """Forget what the muxer has written out (read from its playlist), and what went in long enough ago."""
        if not self._unwritten:
            return
        written = self._written.update() + 0.5 / self.fps
        horizon = self._position_s - self._encoder_start_position - WRITTEN_OUT_HORIZON_S
        self._unwritten = [feed for feed in self._unwritten if feed.end > written and feed.end > horizon]

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
            # A muxer reading at real time has not taken all of an item in before about when its end is due on air,
            # which can be seconds later than `item.seconds` after the feeder started (a new muxer takes its first
            # items in at once, and the next feeder waits on it): the margin counts from then.
            due = time.monotonic() + item.seconds
            if self.realtime:
                on_this_muxer = self._position_s + item.seconds - self._encoder_start_position
                due = max(due, self._last_encoder_start + on_this_muxer)
            deadline = due + self.watchdog_margin_s
            outcome = ""
            while not outcome:
                try:
                    outcome = "fed" if feeder.wait(timeout=0.1) == 0 else "failed"
                except subprocess.TimeoutExpired:
                    self._note_written()
                    if self._stop_requested.is_set():
                        outcome = "stopped"
                    elif self._skip is not None and item.segment is not None and self._skip.target is item.segment:
                        outcome = "skipped"
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
        self._encoder_start_position = self._position_s
        self._written.restart()
        try:
            return subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._encoder_log,
                start_new_session=True,
            )  # fmt: skip
        except OSError as error:
            raise BroadcastError(f"cannot start the playout muxer ({argv[0]}): {error}") from None

    def _requeue_unwritten(self) -> None:
        """The muxer is gone: what it took in and did not write out airs again before anything new (an item it
        lost twice is given up)."""
        self._note_written()
        again = [feed for feed in self._unwritten if feed.attempts < 2]
        for feed in self._unwritten:
            if feed.attempts >= 2:
                self._emit(ev.ItemFailed, item=feed.item.label, error="two muxers died before writing it out")
        self._unwritten = []
        self._backlog[:0] = again
        self._replaying = tuple(feed.item.label for feed in again)
        if again:
            logger.warning("airing again what the muxer had not written out: %s", ", ".join(self._replaying))

    def _ensure_encoder(self) -> subprocess.Popen[bytes] | None:
        encoder = self._encoder
        if encoder is not None and encoder.poll() is None:
            return encoder
        code = encoder.returncode if encoder is not None else None
        return self._restart_encoder(f"the muxer exited ({code})")

    def _restart_encoder(
        self, reason: str, *, suspect_rtmp: bool = False, drain: bool = False
    ) -> subprocess.Popen[bytes] | None:
        """Start a new muxer in place of the current one, which is ended first: at once, or (`drain`) once it has
        written out what it holds."""
        if drain:
            self._close_encoder(drain_timeout=SKIP_DRAIN_S)
        else:
            with self._process_lock:
                _terminate(self._encoder)
        self._requeue_unwritten()
        since_last = time.monotonic() - self._last_encoder_start
        if since_last < RESTART_BACKOFF_S and self._stop_requested.wait(RESTART_BACKOFF_S - since_last):
            return None
        suspect_rtmp = suspect_rtmp or since_last < RTMP_EARLY_DEATH_S
        if self._rtmp_active and self.rtmp_url and (suspect_rtmp or not _reachable(self.rtmp_url)):
            self._rtmp_active = False
            self._rtmp_checked_at = time.monotonic()
            self._emit(
                ev.OutputLost, output="rtmp", url=mask_url(self.rtmp_url),
                note="continuing with HLS only; retrying periodically",
            )  # fmt: skip
        with self._process_lock:
            if self._stop_requested.is_set():
                return None
            self._encoder = self._spawn_encoder()
        self._encoder_restarts += 1
        self._emit(
            ev.EncoderRestarted, reason=reason, log_tail=self._redact(self._encoder_log_tail()),
            restarts=self._encoder_restarts, replaying=self._replaying,
        )  # fmt: skip
        return self._encoder

    def _maybe_restore_rtmp(self) -> None:
        if self._rtmp_active or not self.rtmp_url or time.monotonic() - self._rtmp_checked_at < self.rtmp_retry_s:
            return
        self._rtmp_checked_at = time.monotonic()
        if _reachable(self.rtmp_url):
            self._rtmp_active = True
            self._close_encoder()
            self._requeue_unwritten()
            with self._process_lock:
                if self._stop_requested.is_set():
                    return
                self._encoder = self._spawn_encoder()
            self._emit(ev.OutputRestored, output="rtmp", url=mask_url(self.rtmp_url))

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
        self._note_written()
        if encoder.returncode == 0 and not interrupted:
            self._unwritten.clear()  # it read its input to the end and wrote everything out

    def _encoder_log_tail(self) -> str:
        log_path = self.media_dir / "playout" / "encoder.log"
        try:
            with open(log_path, "rb") as handle:
                handle.seek(max(0, log_path.stat().st_size - 2000))
                lines = handle.read().decode("utf-8", "replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-3:])

    def _redact(self, text: str) -> str:
        return redact(text, [self.rtmp_url])

    def _emit(self, cls: type[ev.Event], **fields: object) -> None:
        logger.debug("playout %s %s", cls.__name__, fields)
        if self._emit_event is None:
            return
        try:
            self._emit_event(cls(show=self.show, **fields))  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001
            logger.exception("emitting %s failed", cls.__name__)


def _house_seconds(path: Path, fps: int) -> float:
    """How long a house-format file airs (whole frames), or `BroadcastError` when it cannot be read."""
    try:
        info = probe(path)
    except ToolError as error:
        raise BroadcastError(f"cannot air {path}: {error}") from None
    if info.video_frames <= 0:
        raise BroadcastError(f"cannot air {path}: it has no video frames")
    return info.video_frames / fps


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


def _end_orphans(our_paths: list[Path], drain_s: float = ORPHAN_DRAIN_S) -> None:
    """End the ffmpeg processes a station that died (SIGKILL, power cut) left feeding or muxing into these paths.

    They run in their own sessions (so a Ctrl-C reaches the station, which ends them cleanly) and so outlive a
    station that is killed; a muxer left behind would keep rewriting the playlist the new one writes. Feeders are
    killed at once (the segment they fed is on air in the store, so it airs again from its start); a muxer is given
    `drain_s` to write out what it holds, which the store already counts as aired, and end by
    itself (its input ends with its feeder), then killed. Linux only (/proc); elsewhere nothing is done and orphans
    end by themselves once their input runs out."""
    proc = Path("/proc")
    if not proc.is_dir():
        return
    markers = [str(path).encode() for path in our_paths]
    muxers: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv or b"ffmpeg" not in Path(argv[0].decode(errors="replace")).name.encode():
            continue
        if not any(marker in arg for arg in argv for marker in markers):
            continue
        if b"pipe:0" in argv:
            muxers.append(int(entry.name))
        else:
            _kill_orphan(int(entry.name))
    deadline = time.monotonic() + drain_s
    while any(_alive(pid) for pid in muxers) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in muxers:
        if _alive(pid):
            _kill_orphan(pid)
        else:
            logger.warning("the muxer %s left behind by a station that stopped abruptly wrote out what it held", pid)


def _kill_orphan(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
        logger.warning("ended ffmpeg %s left behind by a station that stopped abruptly", pid)


def _alive(pid: int) -> bool:
    """Whether process `pid` runs (an exited one its parent has not reaped yet counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


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


def _reachable(rtmp_url: str, timeout: float = 2.0) -> bool:
    """Whether the RTMP server at `rtmp_url` answers as one (see `check_rtmp_reachable`). An open TCP connection is
    not enough: a server that accepts it and then closes it, or never answers, would be taken for restored at every
    retry and take the muxer down with it (or hang it until the feeder watchdog)."""
    try:
        check_rtmp_reachable(rtmp_url, timeout=timeout)
    except BroadcastError:
        return False
    return True
