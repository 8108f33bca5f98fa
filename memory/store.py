"""`ShowMemory`: what a show remembers — its canon, what aired, what happened, the prompts used, the lessons.

Everything it holds comes from events in the station store, which stays the one canonical record: the canon is
the `canon` table (projected from `CanonChanged` events), premises, continuity facts, prompts and lessons are the
events themselves. The Chroma index (`MemoryIndex`) makes them findable by meaning; without it (tests, or an
index that could not open) the memory still answers everything but similarity from the store.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING

from studio import events as ev
from studio.canon import Canon, CanonEntry, canon_from_show, with_trait
from studio.memory.index import MemoryIndex, documents_for, lesson_id

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from studio.show import Show
    from studio.station import LoggedEvent, Station

log = logging.getLogger(__name__)

INDEXED_MARK = "memory_indexed"


@dataclass(frozen=True)
class PremiseCheck:
    """How close a proposed premise is to the nearest one already planned."""

    nearest: str = ""
    similarity: float = 0.0
    episode: int | None = None

    def too_close(self, threshold: float) -> bool:
        return self.similarity >= threshold


class ShowMemory:
    """One show's memory over the station store, with an optional Chroma index."""

    def __init__(self, station: Station, show: Show | None, show_key: str, index: MemoryIndex | None = None) -> None:
        """`show` None: a memory read from the store alone (`studio memory` while no station runs)."""
        self.station = station
        self.show = show
        self.show_key = show_key
        self.index = index
        self._lock = threading.Lock()

    # --- the canon ----------------------------------------------------------------------------------------

    def canon(self) -> Canon:
        """The show's entries now: the show file's, as the store has recorded and changed them."""
        stored = {(entry.kind, entry.name.casefold()): entry for entry in self.station.canon(self.show_key)}
        from_show = canon_from_show(self.show) if self.show is not None else Canon([])
        entries = [stored.pop((entry.kind, entry.name.casefold()), entry) for entry in from_show.entries()]
        return Canon([*entries, *stored.values()], self.show.formats if self.show is not None else ())

    def seed_canon(self) -> list[ev.CanonChanged]:
        """Canon changes the show file brings (new entries, edited descriptions), for the station to record at start.
        Traits pinned earlier stay pinned on top of the edited entry."""
        if self.show is None:
            return []
        stored = {(entry.kind, entry.name.casefold()): entry for entry in self.station.canon(self.show_key)}
        changes = []
        for from_file in canon_from_show(self.show).entries():
            before = stored.get((from_file.kind, from_file.name.casefold()))
            now = reduce(with_trait, before.traits if before else (), from_file)
            if before is not None and (before.description, before.palette) == (now.description, now.palette):
                continue
            changes.append(
                self._changed(
                    now,
                    reason="from the show file" if before is None else "the show file changed",
                    previous=before.description if before else "",
                )  # fmt: skip
            )
        return changes

    def pin(
        self, kind: str, name: str, trait: str, *, command_id: int | None = None, by: str = "a person"
    ) -> ev.CanonChanged:
        """The change pinning `trait` on an entry (raises KeyError naming the known entries when there is none)."""
        entry = self.canon().entry(kind, name)  # type: ignore[arg-type]
        reason = f"pinned by {by}" + (f" (command {command_id})" if command_id is not None else "")
        return self._changed(with_trait(entry, trait), reason=reason, previous=entry.description, command_id=command_id)

    def unpin(
        self, kind: str, name: str, trait: str | None = None, *, command_id: int | None = None
    ) -> ev.CanonChanged:
        """The change taking a pinned trait off (the last one when `trait` is None), back towards the show file."""
        entry = self.canon().entry(kind, name)  # type: ignore[arg-type]
        if not entry.traits:
            raise KeyError(f"{entry.kind} {entry.name} has no pinned trait")
        if trait is None:
            kept = entry.traits[:-1]
        else:
            if trait.strip().rstrip(".") not in entry.traits:
                raise KeyError(f"{entry.name} has no trait {trait!r} (pinned: {'; '.join(entry.traits)})")
            kept = tuple(t for t in entry.traits if t != trait.strip().rstrip("."))
        base = (
            canon_from_show(self.show).get(entry.kind, entry.name) if self.show is not None else None
        ) or CanonEntry(entry.kind, entry.name, entry.description, entry.palette)
        now = reduce(with_trait, kept, base)
        return self._changed(
            now, reason="a pinned trait was forgotten", previous=entry.description, command_id=command_id
        )

    def _changed(
        self, entry: CanonEntry, *, reason: str, previous: str, command_id: int | None = None
    ) -> ev.CanonChanged:
        return ev.CanonChanged(
            show=self.show_key, kind=entry.kind, name=entry.name, description=entry.description, palette=entry.palette,
            traits=entry.traits, previous_description=previous, reason=reason, command_id=command_id,
        )  # fmt: skip

    # --- what aired, what happened --------------------------------------------------------------------------

    def aired_topics(self, before_episode: int | None = None) -> list[str]:
        """The topics of the show's episodes so far (planned ones included: they will air), oldest first."""
        return [row["topic"] for row in self._episodes(before_episode) if row["topic"]]

    def _episodes(self, before_episode: int | None) -> list[dict[str, object]]:
        rows = self.station.episodes(self.show_key)
        return [row for row in rows if before_episode is None or int(row["number"]) < before_episode]  # type: ignore[call-overload]

    def check_premise(self, topic: str, plan_text: str, before_episode: int) -> PremiseCheck:
        """The nearest earlier premise: one with the same topic is the same premise (similarity 1); otherwise the
        nearest by meaning when the index is there."""
        same = self.station.latest_episode_on(self.show_key, topic, before_episode)
        if same is not None:
            return PremiseCheck(f"{same['topic']}: {same['title']}", 1.0, int(same["number"]))
        if self.index is None:
            return PremiseCheck()
        try:
            matches = self.index.query(plan_text, kinds=["premise"], k=1, before_episode=before_episode)
        except Exception:  # noqa: BLE001 - similarity is an aid: a failing index never stops production
            log.exception("the memory index failed; premises are compared by topic only")
            return PremiseCheck()
        return PremiseCheck(matches[0].text, matches[0].similarity, matches[0].episode) if matches else PremiseCheck()

    def previously(self, characters: Sequence[str], before_episode: int, limit: int = 3) -> list[str]:
        """What these characters did in earlier episodes, newest first: the screenwriter's "previously on"."""
        wanted = {name.casefold() for name in characters}
        found: list[str] = []
        for logged in reversed(self.station.events(show=self.show_key, types=["SegmentWritten"])):
            written = logged.event
            assert isinstance(written, ev.SegmentWritten)
            if written.episode is None or written.episode >= before_episode:
                continue
            for beat in written.script.get("beats", []):
                on_screen = {str(name).casefold() for name in beat.get("characters", [])}
                if wanted & on_screen:
                    found.append(f"episode {written.episode}: {beat.get('description', '')}")
                    break
            if len(found) >= limit:
                break
        return found

    def lessons(self) -> list[str]:
        return self.station.lessons(self.show_key)

    # --- the index ------------------------------------------------------------------------------------------

    def search(self, query: str, *, kinds: Sequence[str] | None = None, k: int = 10) -> list[ev.MemoryMatch]:
        if self.index is None:
            raise RuntimeError("searching needs the memory index")
        return self.index.query(query, kinds=kinds, k=k)

    def ingest(self, logged: Iterable[LoggedEvent]) -> None:
        """Index what these events add to the memory (they are already in the store)."""
        if self.index is None:
            return
        with self._lock:
            last = 0
            documents = []
            forgotten = []
            for item in logged:
                last = max(last, item.id)
                if item.event.show != self.show_key:
                    continue
                documents += documents_for(item.event)
                if isinstance(item.event, ev.MemoryForgotten) and item.event.kind == "lesson":
                    forgotten.append(lesson_id(item.event.key))
            self.index.upsert(documents)
            self.index.delete(forgotten)
            if last:
                self.station.set_mark(
                    self.show_key, INDEXED_MARK, max(last, self.station.mark(self.show_key, INDEXED_MARK))
                )

    def catch_up(self) -> int:
        """Index every event recorded since the index last read the store (a station that stopped, a pin given
        while none ran). Returns how many events were read."""
        if self.index is None:
            return 0
        after = self.station.mark(self.show_key, INDEXED_MARK)
        total = 0
        while True:
            batch = self.station.events(show=self.show_key, after_id=after, limit=500)
            if not batch:
                return total
            self.ingest(batch)
            total += len(batch)
            after = batch[-1].id

    def rebuild(self) -> ev.MemoryRebuilt:
        """Drop the index and read the whole store again."""
        if self.index is None:
            raise RuntimeError("rebuilding needs the memory index")
        self.index.reset()
        self.index.open()
        self.station.set_mark(self.show_key, INDEXED_MARK, 0)
        self.catch_up()
        return ev.MemoryRebuilt(show=self.show_key, entries=self.index.count(), reason="asked for")
