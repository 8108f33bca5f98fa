"""Retention: media/ stays under its disk budget, and the LangGraph checkpointer keeps only what a resume needs.

What may be deleted from media/, in this order, once it holds more than `media_budget_gb` (and then down to
`LOW_WATER` of it):

1. shot renders of segments already made: the takes a made segment is not made of (rejected attempts), and every
   take of a segment that aired, was skipped or was dropped; oldest episode first;
2. the conformed segment files and episode files of episodes that have aired through, beyond the
   `rerun_keep_episodes` most recent ones (kept whole for reruns), oldest first.

Never deleted: anything in an episode still being made (its thread resumes and reuses saved renders), a segment
that may still air (planned, approved, on air, waiting for review, being made again, or rejected and removed: a
person can put those back) and the takes it is made of, the segment that aired last (a hold repeats it),
thumbnails and contact sheets, the ident, and any file this module does not recognise by name. Only files found by
walking media/ (symlinks neither followed nor deleted) are candidates: a path the store records is used to
classify, never to delete, so nothing outside media/ can be touched.

The rules hold whatever the station is doing, so a pass is safe while a station runs (`studio prune` as well as
the runtime's own passes). Directory listings are cached by mtime, so a pass over an unchanged media/ stats
directories only.

The checkpointer is pruned by `studio.checkpoint_retention`; `Retention` runs both passes for the runtime.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from studio import events as ev
from studio.checkpoint_retention import checkpoints_pruned_event, prune_checkpoints
from studio.station import QUEUED_STATUSES

if TYPE_CHECKING:
    from collections.abc import Callable

    from studio.config import Settings
    from studio.station import LoggedEvent, RundownEntry, Station

log = logging.getLogger(__name__)

# Over budget, a pass frees down to this fraction of it: one pass now and then, not one per segment aired.
LOW_WATER = 0.9

FileKind = Literal["take", "segment", "episode", "other"]
# Never matched by a partial (`.x.partial.mp4`), a staged remake (`x.remade.mp4`) or a picture (`x.thumb.png`).
_TAKE = re.compile(r"^e(?P<episode>\d{4,})-s(?P<segment>\d{2,})-sh\d+_a\d+_[0-9a-f]+\.mp4$")
_SEGMENT = re.compile(r"^(?P<segment_id>.+-e(?P<episode>\d{4,})-s\d{2,})\.mp4$")
_EPISODE = re.compile(r"^episode-(?P<episode>\d{4,})\.mp4$")
_EPISODE_DIR = re.compile(r"^e(?P<episode>\d{4,})$")
KEEP_STATUSES = ("planned", "approved", "on_air", "held", "rejected", "removed")
"""A segment in one of these may still air: its file and the takes it is made of are kept."""


@dataclass(frozen=True)
class MediaFile:
    path: Path
    size: int
    kind: FileKind = "other"
    show: str = ""
    episode: int = 0
    segment_id: str = ""
    """For a take, the segment it was rendered for; for a segment file, its id."""


def media_file(root: Path, path: Path, size: int) -> MediaFile:
    """What a file under media/ is, by where it lies and its name: `<show>/e0003/shots/e0003-s02-sh01_a1_….mp4` is
    a take, `<show>/e0003/segments/<show>-e0003-s02.mp4` a segment, `<show>/e0003/episode-0003.mp4` an episode."""
    parts = path.relative_to(root).parts
    if len(parts) < 3 or not (folder := _EPISODE_DIR.match(parts[1])):
        return MediaFile(path, size)
    show, episode, name = parts[0], int(folder["episode"]), parts[-1]
    if len(parts) == 3 and (match := _EPISODE.match(name)) and int(match["episode"]) == episode:
        return MediaFile(path, size, "episode", show, episode)
    if len(parts) == 4 and parts[2] == "shots" and (match := _TAKE.match(name)) and int(match["episode"]) == episode:
        segment_id = f"{show}-e{episode:04d}-s{int(match['segment']):02d}"
        return MediaFile(path, size, "take", show, episode, segment_id)
    if len(parts) == 4 and parts[2] == "segments" and (match := _SEGMENT.match(name)):
        if match["segment_id"].startswith(f"{show}-") and int(match["episode"]) == episode:
            return MediaFile(path, size, "segment", show, episode, match["segment_id"])
    return MediaFile(path, size)


class MediaIndex:
    """The files under media/ and their sizes. A directory is listed (and its files classified) again only when its
    mtime changed (files appear by rename and go by unlink, which both change it); a file growing in place (the
    encoder log) is counted at the size it had when its directory was last listed."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._listings: dict[Path, tuple[int, list[MediaFile], list[Path]]] = {}

    def files(self) -> list[MediaFile]:
        found: list[MediaFile] = []
        seen: set[Path] = set()
        folders = [self.root]
        while folders:
            folder = folders.pop()
            try:
                info = os.stat(folder, follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISDIR(info.st_mode):
                continue
            seen.add(folder)
            listing = self._listings.get(folder)
            if listing is None or listing[0] != info.st_mtime_ns:
                listing = (info.st_mtime_ns, *self._list(folder))
                self._listings[folder] = listing
            found += listing[1]
            folders += listing[2]
        for gone in set(self._listings) - seen:
            del self._listings[gone]
        return found

    def _list(self, folder: Path) -> tuple[list[MediaFile], list[Path]]:
        files: list[MediaFile] = []
        folders: list[Path] = []
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    try:
                        if entry.is_symlink():
                            continue
                        if entry.is_dir(follow_symlinks=False):
                            folders.append(folder / entry.name)
                        elif entry.is_file(follow_symlinks=False):
                            size = entry.stat(follow_symlinks=False).st_size
                            files.append(media_file(self.root, folder / entry.name, size))
                    except OSError:
                        continue  # gone while listing
        except OSError:
            pass
        return files, folders


# --- what to delete ------------------------------------------------------------------------------------------------


@dataclass
class PrunePlan:
    total_bytes: int
    budget_bytes: int | None
    delete: list[MediaFile] = field(default_factory=list)
    kept_for_reruns: list[str] = field(default_factory=list)
    """Episode folders (`show/e0003`) kept for reruns (worked out only when over budget)."""

    @property
    def bytes_to_free(self) -> int:
        return sum(item.size for item in self.delete)


def budget_bytes(settings: Settings) -> int | None:
    gigabytes = settings.media_budget_gb
    return int(gigabytes * 1e9) if gigabytes else None


def plan_prune(
    station: Station, files: list[MediaFile], *, budget: int | None, keep_episodes: int, low_water: float = LOW_WATER
) -> PrunePlan:
    """What to delete, in order, by the rules in the module's docstring: nothing while `files` are within `budget`
    bytes (then the store is not even read); over it, down to `low_water` of it."""
    total = sum(item.size for item in files)
    plan = PrunePlan(total, budget)
    if budget is None or total <= budget:
        return plan
    shows = sorted({item.show for item in files if item.kind != "other"})
    takes: list[tuple[tuple[float, int], MediaFile]] = []
    aired_files: list[tuple[tuple[float, int], MediaFile]] = []
    for show in shows:
        episodes = _Episodes(station, show)
        plan.kept_for_reruns += [f"{show}/e{number:04d}" for number in episodes.rerun_set(keep_episodes)]
        for item in files:
            if item.show != show or item.kind == "other" or episodes.in_production(item.episode):
                continue
            order = episodes.order(item.episode)
            if item.kind == "take" and episodes.take_is_spare(item):
                takes.append((order, item))
            elif item.kind in ("segment", "episode") and episodes.file_is_spare(item, keep_episodes):
                aired_files.append((order, item))
    # Oldest first; an episode's file before its segments (reruns air segments).
    ranked = sorted(takes, key=lambda pair: (pair[0], str(pair[1].path)))
    ranked += sorted(aired_files, key=lambda pair: (pair[0], pair[1].kind != "episode", str(pair[1].path)))
    left, target = total, int(budget * low_water)
    for _, item in ranked:
        if left <= target:
            break
        plan.delete.append(item)
        left -= item.size
    return plan


class _Episodes:
    """One show's rundown and episodes as retention reads them."""

    def __init__(self, station: Station, show: str) -> None:
        self.station = station
        self.rows = {row["number"]: row for row in station.episodes(show)}
        self.entries: dict[int, list[RundownEntry]] = {}
        for entry in station.rundown(show):
            self.entries.setdefault(entry.episode, []).append(entry)
        self.segments = {entry.segment_id: entry for entries in self.entries.values() for entry in entries}
        self.busy = station.remaking(show) | set(station.awaiting_review(show))
        last = station.last_aired(show)
        self.last_aired = last.segment_id if last is not None else ""
        self._recipes: dict[str, set[str]] = {}
        self._rerun_sets: dict[int, list[int]] = {}

    def in_production(self, episode: int) -> bool:
        """Being made (or not known to the store yet): its thread may resume and reuse any saved render."""
        row = self.rows.get(episode)
        return row is None or row["status"] == "planned"

    def aired_through(self, episode: int) -> bool:
        """Finished, and nothing in it can air any more (except what a person rejected or removed)."""
        entries = self.entries.get(episode, [])
        return not self.in_production(episode) and not any(e.status in QUEUED_STATUSES for e in entries)

    def aired_at(self, episode: int) -> float | None:
        return max((e.aired_at for e in self.entries.get(episode, []) if e.aired_at is not None), default=None)

    def order(self, episode: int) -> tuple[float, int]:
        """Oldest first: when it last aired, else (not aired through) after everything aired, by number."""
        aired = self.aired_at(episode)
        return (aired if aired is not None and self.aired_through(episode) else float("inf"), episode)

    def rerun_set(self, keep: int) -> list[int]:
        """The `keep` episodes that aired through most recently."""
        if keep not in self._rerun_sets:
            aired = [(at, n) for n in self.rows if self.aired_through(n) and (at := self.aired_at(n)) is not None]
            self._rerun_sets[keep] = sorted(n for _, n in sorted(aired, reverse=True)[:keep])
        return self._rerun_sets[keep]

    def take_is_spare(self, take: MediaFile) -> bool:
        entry = self.segments.get(take.segment_id)
        if entry is None or entry.status == "planned" or entry.segment_id in self.busy:
            return False
        if entry.status not in KEEP_STATUSES:
            return True  # aired, skipped, dropped: it will not be made again
        made_of = self._made_of(entry.segment_id)
        return bool(made_of) and take.path.name not in made_of

    def file_is_spare(self, item: MediaFile, keep: int) -> bool:
        if not self.aired_through(item.episode) or item.episode in self.rerun_set(keep):
            return False
        if item.kind == "episode":
            return True
        entry = self.segments.get(item.segment_id)
        return (
            entry is not None
            and entry.status in ("aired", "skipped")
            and entry.segment_id not in (self.last_aired, *self.busy)
        )

    def _made_of(self, segment_id: str) -> set[str]:
        """The names of the takes a made segment is made of now (compared by name: the data dir may have moved)."""
        if segment_id not in self._recipes:
            shots = self.station.recipe(segment_id).get("shots") or []
            self._recipes[segment_id] = {Path(str(item.get("clip", ""))).name for item in shots}
        return self._recipes[segment_id]


# --- passes --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneResult:
    plan: PrunePlan
    deleted: list[MediaFile]
    bytes_freed: int
    kept_bytes: int


def delete_planned(index: MediaIndex, plan: PrunePlan) -> PruneResult:
    """Delete what `plan` says, each file checked again to be a regular file inside media/."""
    deleted: list[MediaFile] = []
    for item in plan.delete:
        try:
            if item.path.is_symlink() or not item.path.resolve().is_relative_to(index.root):
                continue
            item.path.unlink()
        except FileNotFoundError:
            continue
        except OSError as error:
            log.warning("could not prune %s: %s", item.path, error)
            continue
        deleted.append(item)
    freed = sum(item.size for item in deleted)
    return PruneResult(plan, deleted, freed, plan.total_bytes - freed)


def media_pruned_event(show: str, index: MediaIndex, result: PruneResult, *, dry_run: bool) -> ev.MediaPruned:
    plan = result.plan
    budget = plan.budget_bytes or 0
    reason = f"media/ held {ev.size(plan.total_bytes)}, over its {ev.size(budget)} budget"
    if result.kept_bytes > budget:
        reason += "; still over it: everything left may still air, is kept for reruns, or is never pruned"
    return ev.MediaPruned(
        show=show, files=tuple(str(item.path.relative_to(index.root)) for item in result.deleted),
        bytes_freed=result.bytes_freed, reason=reason, kept_bytes=result.kept_bytes, budget_bytes=budget,
        kept_for_reruns=tuple(plan.kept_for_reruns), dry_run=dry_run,
    )  # fmt: skip


def prune_media(
    station: Station,
    index: MediaIndex,
    *,
    budget: int | None,
    keep_episodes: int,
    dry_run: bool = False,
    low_water: float = LOW_WATER,
) -> PruneResult:
    plan = plan_prune(station, index.files(), budget=budget, keep_episodes=keep_episodes, low_water=low_water)
    if dry_run:
        return PruneResult(plan, list(plan.delete), plan.bytes_to_free, plan.total_bytes - plan.bytes_to_free)
    return delete_planned(index, plan)


class Retention:
    """The runtime's pruning passes, on their own thread: after each segment airs (a listener on the store wakes
    it) and every `retention_interval_s`. Never on the playout thread; a failing pass is logged and the next one
    tries again."""

    def __init__(self, settings: Settings, station: Station, show: str, record: Callable[[ev.Event], None]) -> None:
        self.settings = settings
        self.station = station
        self.show = show
        self.record = record
        self.index = MediaIndex(settings.data_dir / "media")
        self._over = False
        self._checkpoints_pruned_at = time.monotonic()

    @staticmethod
    def calls_for_a_pass(logged: list[LoggedEvent]) -> bool:
        """Whether events just recorded call for a pass: a segment aired."""
        return any(isinstance(item.event, ev.SegmentAired) for item in logged)

    def run_pass(self) -> None:
        """Prune media now, and the checkpointer when `retention_interval_s` has passed since it last was."""
        budget = budget_bytes(self.settings)
        result = prune_media(self.station, self.index, budget=budget, keep_episodes=self.settings.rerun_keep_episodes)
        over = budget is not None and result.kept_bytes > budget
        # A pass that cannot get under budget says so when that begins, not after every segment.
        if result.deleted or (over and not self._over):
            event = media_pruned_event(self.show, self.index, result, dry_run=False)
            log.log(logging.WARNING if over else logging.INFO, "%s", event.summary())
            self.record(event)
        self._over = over
        if time.monotonic() - self._checkpoints_pruned_at < self.settings.retention_interval_s:
            return
        self._checkpoints_pruned_at = time.monotonic()
        checkpoints = prune_checkpoints(self.settings.data_dir / "checkpoints.sqlite", self.station)
        if checkpoints.threads or checkpoints.checkpoints_deleted or checkpoints.writes_deleted or checkpoints.vacuumed:
            event = checkpoints_pruned_event(self.show, checkpoints)
            log.info("%s", event.summary())
            self.record(event)
