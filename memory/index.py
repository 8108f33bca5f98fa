"""The memory's index: a Chroma collection per show, over texts the station store already holds.

The index only finds things; it owns nothing. Every document comes from an event in the station store
(`documents_for`), so a lost or corrupt index is rebuilt from the store (`studio memory rebuild`). Embeddings are
computed here (`MiniLM`) and handed to Chroma, so the collection carries no embedding-function config of its own.

Chroma's `PersistentClient` is not safe across processes: one process (the running station, or the CLI while no
station runs, holding the station lock) opens it. `memory_chroma_url` uses Chroma's own server instead.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio import events as ev
from studio.errors import MemoryStoreError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from studio.memory.embedder import MiniLM

log = logging.getLogger(__name__)

DOCUMENT_KINDS = ("premise", "fact", "prompt", "lesson", "character", "place", "prop")


@dataclass(frozen=True)
class Document:
    id: str
    kind: str
    text: str
    episode: int | None = None


def documents_for(event: ev.Event) -> list[Document]:
    """What the memory remembers of one event (nothing for most)."""
    base = event.event_id
    match event:
        case ev.EpisodePlanned():
            return [Document(f"{base}-premise", "premise", premise_text(event), event.episode)]
        case ev.SegmentWritten():
            return [
                Document(
                    f"{base}-fact-{index}", "fact", f"episode {event.episode}, {event.title}: {beat}", event.episode
                )
                for index, beat in enumerate(event.beats)
            ]
        case ev.ShotsDesigned():
            return [
                Document(f"{base}-prompt-{shot.shot_id}", "prompt", shot.prompt, event.episode) for shot in event.shots
            ]
        case ev.LessonLearned():
            return [Document(lesson_id(event.word), "lesson", f"{event.word}: {event.reason}", event.episode)]
        case ev.CanonChanged():
            return [Document(f"canon-{event.kind}-{event.name.casefold()}", event.kind, event.description)]
    return []


def premise_text(plan: ev.EpisodePlanned) -> str:
    return f"{plan.topic}: {plan.title}. {plan.logline}"


def lesson_id(word: str) -> str:
    return f"lesson-{word.casefold()}"


def collection_name(show: str) -> str:
    """Chroma names: 3-63 characters of [a-zA-Z0-9._-], starting and ending with a letter or digit."""
    name = re.sub(r"[^a-zA-Z0-9._-]", "-", f"studio-{show}")[:63].strip("-._")
    return name if len(name) >= 3 else f"{name}-memory"


EXHAUSTIVE_MAX = 20_000
"""At most this many filtered entries are searched exhaustively when the approximate search comes back short."""


class MemoryIndex:
    """One show's Chroma collection, embedded with MiniLM; the station store's `memory_indexed` mark says how far
    into the event log it has read."""

    def __init__(self, path: Path, show: str, embedder: MiniLM, *, url: str | None = None) -> None:
        self.path = path
        self.show = show
        self.embedder = embedder
        self.url = url
        self._client: Any = None
        self._collection: Any = None

    def open(self) -> None:
        """Open (or create) the collection; a `MemoryStoreError` says what to do when it cannot."""
        try:
            import chromadb
            from chromadb.config import Settings as ChromaSettings
        except ImportError:
            raise MemoryStoreError(
                "the memory needs chromadb: pip install chromadb (it is part of studio's install)"
            ) from None
        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
        try:
            if self.url:
                from urllib.parse import urlsplit

                parts = urlsplit(self.url)
                self._client = chromadb.HttpClient(
                    host=parts.hostname or "127.0.0.1", port=parts.port or 8000, ssl=parts.scheme == "https",
                    settings=settings,
                )  # fmt: skip
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(self.path), settings=settings)
            self._collection = self._client.get_or_create_collection(
                collection_name(self.show), configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
            )
            self._collection.count()
        except MemoryStoreError:
            raise
        except Exception as error:  # noqa: BLE001 - chromadb raises many kinds; all mean the same to a person
            self._forget_client()
            where = self.url or str(self.path)
            raise MemoryStoreError(
                f"the memory index at {where} cannot be opened ({type(error).__name__}: {str(error)[:200]}): run"
                " `studio memory rebuild` (it is rebuilt from the station store; nothing approved is lost)"
            ) from None

    @property
    def collection(self) -> Any:
        if self._collection is None:
            self.open()
        return self._collection

    def upsert(self, documents: Sequence[Document]) -> None:
        if not documents:
            return
        vectors = self.embedder([doc.text for doc in documents])
        self.collection.upsert(
            ids=[doc.id for doc in documents],
            documents=[doc.text for doc in documents],
            embeddings=[vector.tolist() for vector in vectors],
            metadatas=[
                {"kind": doc.kind, "episode": doc.episode if doc.episode is not None else -1} for doc in documents
            ],
        )

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            self.collection.delete(ids=ids)

    def query(
        self, text: str, *, kinds: Sequence[str] | None = None, k: int = 5, before_episode: int | None = None
    ) -> list[ev.MemoryMatch]:
        """The `k` documents most like `text` (cosine similarity, 1 = the same meaning)."""
        conditions: list[dict[str, Any]] = []
        if kinds:
            conditions.append({"kind": {"$in": list(kinds)}})
        if before_episode is not None:
            conditions.append({"episode": {"$lt": before_episode}})
        where = None if not conditions else conditions[0] if len(conditions) == 1 else {"$and": conditions}
        count = self.collection.count()
        if count == 0:
            return []
        vector = self.embedder([text])[0].tolist()
        result = self.collection.query(
            query_embeddings=[vector],
            n_results=min(k, count),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        found = list(zip(result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True))
        if where is not None and len(found) < min(k, count):
            # A filter that keeps few of many entries can come back short from the approximate (HNSW) search:
            # then the entries it keeps are searched exhaustively.
            found = self._exhaustive(vector, where, k) or found
        matches = []
        for document, metadata, distance in found:
            episode = int(metadata.get("episode", -1))
            matches.append(
                ev.MemoryMatch(
                    kind=str(metadata.get("kind", "")),
                    text=document,
                    similarity=round(1.0 - float(distance), 4),
                    episode=episode if episode >= 0 else None,
                )  # fmt: skip
            )
        return matches

    def _exhaustive(self, vector: list[float], where: dict[str, Any], k: int) -> list[tuple[str, Any, float]]:
        import numpy as np

        kept = self.collection.get(where=where, include=["documents", "metadatas", "embeddings"], limit=EXHAUSTIVE_MAX)
        if not kept["ids"]:
            return []
        embeddings = np.asarray(kept["embeddings"], dtype=np.float32)
        query = np.asarray(vector, dtype=np.float32)
        norms = np.linalg.norm(embeddings, axis=1) * max(float(np.linalg.norm(query)), 1e-12)
        distances = 1.0 - embeddings @ query / np.maximum(norms, 1e-12)
        order = np.argsort(distances)[:k]
        return [(kept["documents"][i], kept["metadatas"][i], float(distances[i])) for i in order]

    def _forget_client(self) -> None:
        """Chroma keeps one client per directory for the life of the process; one that failed on a broken directory
        would be handed out again after the directory is replaced, so it is dropped."""
        self._client = self._collection = None
        try:
            from chromadb.api.shared_system_client import SharedSystemClient

            system = SharedSystemClient._identifier_to_system.pop(str(self.path), None)  # noqa: SLF001
            SharedSystemClient._identifier_to_refcount.pop(str(self.path), None)  # noqa: SLF001
            if system is not None:
                system.stop()
        except Exception:  # noqa: BLE001 - a newer chromadb may keep its cache elsewhere; then nothing is cached
            log.debug("could not drop chromadb's cached client", exc_info=True)

    def count(self) -> int:
        return int(self.collection.count())

    def reset(self) -> None:
        """Drop the collection (a rebuild follows). A directory Chroma cannot open at all is moved aside."""
        if self._client is not None:
            try:
                self._client.delete_collection(collection_name(self.show))
                self._collection = None
                return
            except Exception:  # noqa: BLE001 - fall through to moving the directory aside
                log.warning("could not drop the collection; moving the index directory aside")
        self._forget_client()
        if not self.url and self.path.exists():
            aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
            shutil.move(str(self.path), aside)
            log.warning("moved the unreadable memory index to %s", aside)
