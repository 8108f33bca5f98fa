"""The station store (SQLite, WAL): decision log, rundown, steering commands, playout position.

It is the single source of truth a TUI or `studio log` reads while the engine writes. Every write is its own
transaction, so a crash never leaves a half-recorded segment: a segment is `approved` only once its conformed file
exists, and `aired` only once playout has fed all of it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

SegmentStatus = Literal["planned", "approved", "aired", "dropped"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    show TEXT NOT NULL,
    episode INTEGER,
    segment INTEGER,
    shot TEXT,
    agent TEXT NOT NULL,
    kind TEXT NOT NULL,
    backend TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    output TEXT NOT NULL DEFAULT '{}',
    duration_ms REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_show ON events (show, id);
CREATE TABLE IF NOT EXISTS episodes (
    show TEXT NOT NULL,
    number INTEGER NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    path TEXT,
    planned_seconds REAL NOT NULL DEFAULT 0,
    updated REAL NOT NULL,
    PRIMARY KEY (show, number)
);
CREATE TABLE IF NOT EXISTS rundown (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    segment_id TEXT NOT NULL UNIQUE,
    show TEXT NOT NULL,
    episode INTEGER NOT NULL,
    segment_index INTEGER NOT NULL,
    title TEXT NOT NULL,
    format TEXT NOT NULL,
    status TEXT NOT NULL,
    path TEXT,
    seconds REAL NOT NULL DEFAULT 0,
    note TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL,
    aired_at REAL
);
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    show TEXT NOT NULL,
    text TEXT NOT NULL,
    consumed_at REAL
);
CREATE TABLE IF NOT EXISTS lessons (
    show TEXT NOT NULL,
    word TEXT NOT NULL,
    reason TEXT NOT NULL,
    ts REAL NOT NULL,
    PRIMARY KEY (show, word)
);
"""


@dataclass(frozen=True)
class Event:
    id: int
    ts: float
    show: str
    episode: int | None
    segment: int | None
    shot: str | None
    agent: str
    kind: str
    backend: str
    summary: str
    output: dict[str, Any]
    duration_ms: float


@dataclass(frozen=True)
class RundownEntry:
    position: int
    segment_id: str
    show: str
    episode: int
    segment_index: int
    title: str
    format: str
    status: SegmentStatus
    path: Path | None
    seconds: float
    note: str


class Station:
    """Thread-safe access to `station.sqlite` in the data dir."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30.0, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, params)

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # --- decision log ---------------------------------------------------------------------------------------------

    def log(
        self,
        *,
        show: str,
        agent: str,
        kind: str,
        summary: str = "",
        output: dict[str, Any] | None = None,
        backend: str = "",
        episode: int | None = None,
        segment: int | None = None,
        shot: str | None = None,
        duration_ms: float = 0.0,
    ) -> int:
        cursor = self._execute(
            "INSERT INTO events (ts, show, episode, segment, shot, agent, kind, backend, summary, output, duration_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                time.time(), show, episode, segment, shot, agent, kind, backend, summary,
                json.dumps(output or {}, default=str), duration_ms,
            ),
        )  # fmt: skip
        return int(cursor.lastrowid or 0)

    def events(self, *, show: str | None = None, after_id: int = 0, limit: int | None = None) -> list[Event]:
        sql = "SELECT * FROM events WHERE id > ?"
        params: list[Any] = [after_id]
        if show is not None:
            sql += " AND show = ?"
            params.append(show)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [
            Event(
                id=row["id"],
                ts=row["ts"],
                show=row["show"],
                episode=row["episode"],
                segment=row["segment"],
                shot=row["shot"],
                agent=row["agent"],
                kind=row["kind"],
                backend=row["backend"],
                summary=row["summary"],
                output=json.loads(row["output"]),
                duration_ms=row["duration_ms"],
            )  # fmt: skip
            for row in self._query(sql, tuple(params))
        ]

    # --- episodes and rundown -------------------------------------------------------------------------------------

    def set_episode(
        self, show: str, number: int, *, title: str, status: str, path: Path | None = None, planned_seconds: float = 0
    ) -> None:
        self._execute(
            "INSERT INTO episodes (show, number, title, status, path, planned_seconds, updated)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (show, number) DO UPDATE SET title = excluded.title,"
            " status = excluded.status, path = COALESCE(excluded.path, episodes.path),"
            " planned_seconds = excluded.planned_seconds, updated = excluded.updated",
            (show, number, title, status, str(path) if path else None, planned_seconds, time.time()),
        )

    def episodes(self, show: str) -> list[dict[str, Any]]:
        return [dict(row) for row in self._query("SELECT * FROM episodes WHERE show = ? ORDER BY number", (show,))]

    def plan_segment(
        self, *, segment_id: str, show: str, episode: int, segment_index: int, title: str, format: str
    ) -> None:
        """Add a segment to the rundown as planned (idempotent: a resumed episode does not duplicate it)."""
        self._execute(
            "INSERT INTO rundown (segment_id, show, episode, segment_index, title, format, status, updated)"
            " VALUES (?, ?, ?, ?, ?, ?, 'planned', ?) ON CONFLICT (segment_id) DO NOTHING",
            (segment_id, show, episode, segment_index, title, format, time.time()),
        )

    def approve_segment(self, segment_id: str, path: Path, seconds: float, note: str = "") -> None:
        self._execute(
            "UPDATE rundown SET status = 'approved', path = ?, seconds = ?, note = ?, updated = ?"
            " WHERE segment_id = ? AND status = 'planned'",
            (str(path), seconds, note, time.time(), segment_id),
        )

    def drop_segment(self, segment_id: str, note: str) -> None:
        self._execute(
            "UPDATE rundown SET status = 'dropped', note = ?, updated = ? WHERE segment_id = ? AND status = 'planned'",
            (note, time.time(), segment_id),
        )

    def mark_aired(self, segment_id: str) -> None:
        self._execute(
            "UPDATE rundown SET status = 'aired', aired_at = ?, updated = ? WHERE segment_id = ? AND status = 'approved'",
            (time.time(), time.time(), segment_id),
        )

    def rundown(self, show: str | None = None) -> list[RundownEntry]:
        sql = "SELECT * FROM rundown" + (" WHERE show = ?" if show else "") + " ORDER BY position"
        return [_entry(row) for row in self._query(sql, (show,) if show else ())]

    def next_to_air(self, after_position: int = 0) -> RundownEntry | None:
        """The earliest approved segment not yet aired, in rundown order."""
        rows = self._query(
            "SELECT * FROM rundown WHERE status = 'approved' AND position > ? ORDER BY position LIMIT 1",
            (after_position,),
        )
        return _entry(rows[0]) if rows else None

    def buffered_seconds(self) -> float:
        """Approved seconds not yet aired: what the showrunner keeps full."""
        rows = self._query("SELECT COALESCE(SUM(seconds), 0) AS total FROM rundown WHERE status = 'approved'")
        return float(rows[0]["total"])

    # --- steering and lessons -------------------------------------------------------------------------------------

    def add_command(self, show: str, text: str) -> int:
        cursor = self._execute("INSERT INTO commands (ts, show, text) VALUES (?, ?, ?)", (time.time(), show, text))
        return int(cursor.lastrowid or 0)

    def take_commands(self, show: str) -> list[str]:
        """Steering commands not yet consumed, oldest first; marks them consumed."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, text FROM commands WHERE show = ? AND consumed_at IS NULL ORDER BY id", (show,)
            ).fetchall()
            if rows:
                self._db.execute(
                    f"UPDATE commands SET consumed_at = ? WHERE id IN ({','.join('?' * len(rows))})",
                    (time.time(), *[row["id"] for row in rows]),
                )
        return [row["text"] for row in rows]

    def add_lesson(self, show: str, word: str, reason: str) -> None:
        self._execute(
            "INSERT INTO lessons (show, word, reason, ts) VALUES (?, ?, ?, ?) ON CONFLICT (show, word) DO NOTHING",
            (show, word.casefold(), reason, time.time()),
        )

    def lessons(self, show: str) -> list[str]:
        return [row["word"] for row in self._query("SELECT word FROM lessons WHERE show = ? ORDER BY ts", (show,))]


def _entry(row: sqlite3.Row) -> RundownEntry:
    return RundownEntry(
        position=row["position"], segment_id=row["segment_id"], show=row["show"], episode=row["episode"],
        segment_index=row["segment_index"], title=row["title"], format=row["format"], status=row["status"],
        path=Path(row["path"]) if row["path"] else None, seconds=row["seconds"], note=row["note"],
    )  # fmt: skip
