"""Between episodes: what the channel airs while the next episode cannot start yet.

A viewer who tunes in between two episodes sees, in turn: a "coming up" card for the next episode (its number,
title and segment titles over the show's ident, with the ident's music), then a rerun of a segment that already
aired, then the card again, and so on until the episode can air through — the show's ident only when there is
nothing to rerun and no card yet. The channel's own graphics are the one text allowed on screen.

Cards are made on their own thread (a few seconds of drawing and encoding), never on playout's or production's:
until a card is ready the ident airs in its place. Reruns are chosen from aired segments whose file is still on
disk (retention may have pruned it), never from the episode that just aired, the least recently rerun first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from studio.broadcast import commands
from studio.broadcast.filler import is_house_file
from studio.broadcast.ident import TextLine, ident_frames, write_card
from studio.broadcast.playout import Idle, QueuedSegment
from studio.tools.media import run_ffmpeg

if TYPE_CHECKING:
    from collections.abc import Sequence
    from concurrent.futures import Future
    from pathlib import Path

    from studio.show import Show
    from studio.station import RundownEntry, Station

log = logging.getLogger(__name__)

CARD_VERSION = 1
"""Bumped when the card's look changes, so cached cards are made again."""
CARD_WHAT = "coming-up card"
MAX_SEGMENT_TITLES = 3


def card_lines(episode: int, title: str, segment_titles: Sequence[str]) -> list[TextLine]:
    """The words of a coming-up card: who comes next, its title, what is in it."""
    lines = [TextLine(f"COMING UP · EPISODE {episode}", 1 / 20, 235), TextLine(title, 1 / 11)]
    shown = [text for text in segment_titles if text][:MAX_SEGMENT_TITLES]
    lines += [TextLine(text, 1 / 28, 225) for text in shown]
    lines.append(TextLine("AI-generated", 1 / 32, 200))
    return lines


@dataclass
class Interstitials:
    """Fills the gaps between a show's episodes with coming-up cards and reruns (see the module's doc)."""

    station: Station
    show_key: str
    show: Show
    media_dir: Path
    ident: Path | None
    """The show's ident: its music is the cards' music (None: the ident could not be made, and no card is)."""
    width: int
    height: int
    fps: int
    card_seconds: float
    loudness_lufs: float = -23.0
    true_peak_dbtp: float = -1.0
    reruns: bool = True
    _worker: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="cards"))
    _making: dict[Path, Future[None]] = field(default_factory=dict)
    _card_due: bool = True
    """The next gap item is a card (at a gap's start and after each rerun)."""
    _last_rerun: dict[str, float] = field(default_factory=dict)
    """Segment id → position (in items aired since start) of its last rerun."""
    _dropped: set[str] = field(default_factory=set)
    _count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fill(self, idle: Idle, episode: int | None) -> QueuedSegment | Idle:
        """What airs in a gap before `episode` (None: not planned yet) instead of `idle`'s ident: its card, a
        rerun, or the ident after all."""
        card = self.card(episode) if episode is not None and self._card_due else None
        if card is not None:
            self._card_due = False
            return replace(idle, filler=card, what=CARD_WHAT)
        rerun = self.pick_rerun(episode) if self.reruns else None
        if rerun is not None:
            self._card_due = True
            return rerun
        return idle

    def aired(self, segment: QueuedSegment) -> None:
        """A segment aired: after a new one, the next gap starts with a card; a rerun is remembered."""
        self._count += 1
        if segment.rerun:
            self._last_rerun[segment.segment_id] = self._count
        else:
            self._card_due = True

    def dropped(self, segment: QueuedSegment) -> None:
        """A rerun could not air (file gone or damaged, or skipped): never chosen again in this run."""
        self._dropped.add(segment.segment_id)

    # --- reruns ------------------------------------------------------------------------------------------------

    def pick_rerun(self, upcoming: int | None) -> QueuedSegment | None:
        """The aired segment to rerun now, or None. Never one of the episode that aired last (the viewer just saw
        it) nor of `upcoming`; the least recently rerun first (never rerun before all), then the oldest."""
        aired = [
            entry for entry in self.station.rundown(self.show_key)
            if entry.status == "aired" and entry.path is not None and entry.seconds > 0
        ]  # fmt: skip
        if not aired:
            return None
        latest = max(aired, key=lambda entry: (entry.aired_at or 0.0, entry.position)).episode
        candidates = [
            entry for entry in aired
            if entry.episode not in (latest, upcoming) and entry.segment_id not in self._dropped
            and self._inside_media(entry)
        ]  # fmt: skip
        if not candidates:
            return None
        choice = min(candidates, key=lambda entry: (self._last_rerun.get(entry.segment_id, 0), entry.position))
        assert choice.path is not None
        return QueuedSegment(
            choice.segment_id, choice.path, choice.seconds, episode=choice.episode, repeat=True, rerun=True
        )

    def _inside_media(self, entry: RundownEntry) -> bool:
        assert entry.path is not None
        path = entry.path.resolve()
        return path.is_relative_to(self.media_dir.resolve()) and path.is_file()

    # --- cards -------------------------------------------------------------------------------------------------

    def card(self, episode: int) -> Path | None:
        """The coming-up card of `episode` if it is made; otherwise it is started on the cards' thread (the ident
        airs meanwhile) and None."""
        if self.ident is None:
            return None
        title = next((row["title"] for row in self.station.episodes(self.show_key) if row["number"] == episode), "")
        if not title:
            return None
        segment_titles = [entry.title for entry in self.station.rundown(self.show_key, episode=episode)]
        lines = card_lines(episode, title, segment_titles)
        path = self.card_path(lines)
        frames = commands.house_frames(self.card_seconds, self.fps)
        with self._lock:
            making = self._making.get(path)
            if making is None:
                if is_house_file(path, width=self.width, height=self.height, fps=self.fps, frames=frames):
                    return path
                self._making[path] = self._worker.submit(self._make_card, path, lines, frames)
                return None
            if not making.done():
                return None
            del self._making[path]
        if making.exception() is not None:
            log.warning("the coming-up card of episode %s could not be made: %s", episode, making.exception())
            return None
        return path

    def card_path(self, lines: Sequence[TextLine]) -> Path:
        ident = self.ident.name if self.ident is not None else ""
        look = json.dumps([CARD_VERSION, [line.text for line in lines], ident, self.card_seconds])
        digest = hashlib.sha256(look.encode()).hexdigest()[:12]
        return self.media_dir / "cards" / f"coming-up_{self.width}x{self.height}_{self.fps}fps_{digest}.mp4"

    def _make_card(self, path: Path, lines: Sequence[TextLine], frames: int) -> None:
        seconds = frames / self.fps

        def music(music_path: Path) -> None:  # the ident's music, looped to the card's length
            run_ffmpeg(["-y", "-stream_loop", "-1", "-i", str(self.ident), "-t", f"{seconds:.3f}", "-vn",
                        "-ac", "2", "-ar", str(commands.AUDIO_RATE), str(music_path)])  # fmt: skip

        pictures = ident_frames(self.show, width=self.width, height=self.height, frames=frames, lines=lines)
        write_card(
            path, pictures, music, width=self.width, height=self.height, fps=self.fps,
            loudness_lufs=self.loudness_lufs, true_peak_dbtp=self.true_peak_dbtp,
        )  # fmt: skip

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)
