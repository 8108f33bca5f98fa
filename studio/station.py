"""The station store (SQLite, WAL): the event log, the rundown and playout queue, commands, station state.

It is the station's only bus. Everything that happened is an event (`studio.events`); `record()` appends it and
applies what it means to the rundown, the episodes, the commands and the station state in the same transaction,
so the tables can never disagree with the log. An event is kept once: a second `record()` of the same `event_id`
(a checkpoint replayed after a crash) changes nothing.

Rundown statuses: `planned` → `approved` → `on_air` → `aired`, or one of `dropped` (production could not make it),
`held` (made, but the on-air safety gate failed it: it waits for a person and playout goes on without it),
`skipped` (playout could not air it, or a person skipped it), `rejected` and `removed` (by a person). Only
`approved` and `on_air` segments count as buffered; only `planned`, `approved` and `on_air` are still queued.

Commands: a person (CLI, TUI) adds one; the running station answers it once with `CommandReceived` and then
`CommandApplied` or `CommandRejected`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from studio import events as ev
from studio.canon import CanonEntry
from studio.errors import ConfigError

log = logging.getLogger(__name__)

SegmentStatus = Literal["planned", "approved", "on_air", "aired", "skipped", "dropped", "held", "rejected", "removed"]
QUEUED_STATUSES: tuple[str, ...] = ("planned", "approved", "on_air")
BUFFERED_STATUSES: tuple[str, ...] = ("approved", "on_air")
CommandKind = Literal[
    "steer",
    "skip",
    "hold",
    "release",
    "pause",
    "resume",
    "approve",
    "reject",
    "drop",
    "reprompt",
    "pin",
    "forget",
    "search",
    "rebuild",
    "approval",
]
COMMAND_KINDS: tuple[str, ...] = typing.get_args(CommandKind)
CommandStatus = Literal["pending", "received", "applied", "rejected"]

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    ts REAL NOT NULL,
    show TEXT NOT NULL,
    type TEXT NOT NULL,
    agent TEXT NOT NULL,
    episode INTEGER,
    segment INTEGER,
    shot TEXT,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_show ON events (show, id);
CREATE INDEX IF NOT EXISTS events_type ON events (type, id);
CREATE TABLE IF NOT EXISTS episodes (
    show TEXT NOT NULL,
    number INTEGER NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    path TEXT,
    planned_seconds REAL NOT NULL DEFAULT 0,
    topic TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL,
    PRIMARY KEY (show, number)
);
CREATE INDEX IF NOT EXISTS episodes_topic ON episodes (show, lower(trim(topic)), number);
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
    planned_seconds REAL NOT NULL DEFAULT 0,
    note TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL,
    aired_at REAL
);
CREATE INDEX IF NOT EXISTS rundown_status ON rundown (status, position);
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    show TEXT NOT NULL,
    kind TEXT NOT NULL,
    args TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'pending',
    outcome TEXT NOT NULL DEFAULT '',
    acked_at REAL
);
CREATE INDEX IF NOT EXISTS commands_status ON commands (status, id);
CREATE TABLE IF NOT EXISTS lessons (
    show TEXT NOT NULL,
    word TEXT NOT NULL,
    reason TEXT NOT NULL,
    ts REAL NOT NULL,
    PRIMARY KEY (show, word)
);
CREATE TABLE IF NOT EXISTS canon (
    show TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    palette TEXT NOT NULL,
    traits TEXT NOT NULL DEFAULT '[]',
    position INTEGER NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (show, kind, name)
);
CREATE TABLE IF NOT EXISTS state (
    show TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (show, key)
);
"""


@dataclass(frozen=True)
class LoggedEvent:
    """An event as the store holds it: its row id (the log's order) and when it was recorded."""

    id: int
    ts: float
    event: ev.Event


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
    """On-air length once approved (0 before)."""
    planned_seconds: float
    note: str
    aired_at: float | None = None


@dataclass(frozen=True)
class Command:
    id: int
    ts: float
    show: str
    kind: CommandKind
    args: dict[str, Any]
    status: CommandStatus
    outcome: str
    """What applying it did, or why it was rejected."""
    acked_at: float | None


class Station:
    """Thread-safe access to `station.sqlite`. Several processes may open it: one station writes events, the
    CLI and front-ends add commands and read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._listeners: list[Callable[[list[LoggedEvent]], None]] = []
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, timeout=30.0, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as error:
            raise ConfigError(
                f"{path} is not a usable station store ({error}): move it away to start a new station there"
            ) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def _execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, tuple(params))

    # --- schema -----------------------------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"{self.path} was written by a newer studio (store version {version}); upgrade studio to read it"
                )
            columns = {row["name"] for row in self._db.execute("PRAGMA table_info(events)")}
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if columns and "payload" not in columns:
                    _upgrade_from_v1(self._db)
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                rundown_columns = {row["name"] for row in self._db.execute("PRAGMA table_info(rundown)")}
                if "planned_seconds" not in rundown_columns:
                    self._db.execute("ALTER TABLE rundown ADD COLUMN planned_seconds REAL NOT NULL DEFAULT 0")
                episode_columns = {row["name"] for row in self._db.execute("PRAGMA table_info(episodes)")}
                if "topic" not in episode_columns:
                    self._db.execute("ALTER TABLE episodes ADD COLUMN topic TEXT NOT NULL DEFAULT ''")
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # --- the event log ----------------------------------------------------------------------------------------

    def record(self, event: ev.Event) -> int | None:
        """Append `event` and apply it, in one transaction. Returns its row id, or None if it was already there."""
        return self.record_many([event])[0]

    def subscribe(self, listener: Callable[[list[LoggedEvent]], None]) -> None:
        """Call `listener` with the events this connection records, once each is committed (in the recording thread;
        an exception in it is logged, never raised to the recorder)."""
        self._listeners.append(listener)

    def record_many(self, events: Iterable[ev.Event]) -> list[int | None]:
        ids: list[int | None] = []
        recorded: list[LoggedEvent] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for event in events:
                    cursor = self._db.execute(
                        "INSERT INTO events (event_id, ts, show, type, agent, episode, segment, shot, payload)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
                        (
                            event.event_id, event.at, event.show, event.type, event.agent, event.episode,
                            event.segment, event.shot, json.dumps(event.to_dict(), default=str),
                        ),
                    )  # fmt: skip
                    if cursor.rowcount == 0:
                        ids.append(None)
                        continue
                    ids.append(int(cursor.lastrowid or 0))
                    recorded.append(LoggedEvent(ids[-1] or 0, event.at, event))
                    _apply(self._db, event)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        for listener in self._listeners if recorded else ():
            try:
                listener(recorded)
            except Exception:  # noqa: BLE001 - a listener (the memory index) never fails the record
                log.exception("a listener of the station store failed")
        return ids

    def events(
        self,
        *,
        show: str | None = None,
        after_id: int = 0,
        limit: int | None = None,
        last: int | None = None,
        types: Iterable[str] | None = None,
        agent: str | None = None,
        episode: int | None = None,
        since: float | None = None,
        until: float | None = None,
        verdict: bool | None = None,
        failed_check: str | None = None,
    ) -> list[LoggedEvent]:
        """Events after `after_id`, oldest first; `last` keeps only the newest N (still oldest first). `since` and
        `until` bound when they were recorded; `verdict` keeps the critic's verdicts that passed (True) or failed
        (False), `failed_check` those that failed that check."""
        where, params = _where(show=show, agent=agent, episode=episode, type=types)
        where.insert(0, "id > ?")
        params.insert(0, after_id)
        for condition, value in (
            ("ts >= ?", since),
            ("ts <= ?", until),
            ("type = 'VerdictGiven' AND json_extract(payload, '$.passed') = ?", None if verdict is None else int(verdict)),
            ("type = 'VerdictGiven' AND EXISTS (SELECT 1 FROM json_each(payload, '$.failures') f"
             f" WHERE {_CHECK_NAME} = ?)", failed_check),
        ):  # fmt: skip
            if value is not None:
                where.append(condition)
                params.append(value)
        order = "DESC" if last is not None else "ASC"
        sql = f"SELECT id, ts, payload FROM events WHERE {' AND '.join(where)} ORDER BY id {order}"
        count = last if last is not None else limit
        if count is not None:
            sql += " LIMIT ?"
            params.append(count)
        rows = self._query(sql, params)
        if last is not None:
            rows = rows[::-1]
        return [LoggedEvent(row["id"], row["ts"], ev.event_from_dict(json.loads(row["payload"]))) for row in rows]

    def has_event(self, event_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM events WHERE event_id = ?", (event_id,)))

    def last_event_id(self) -> int:
        rows = self._query("SELECT COALESCE(MAX(id), 0) AS last FROM events")
        return int(rows[0]["last"])

    # --- episodes and rundown ---------------------------------------------------------------------------------

    def latest_episode_on(self, show: str, topic: str, before: int) -> dict[str, Any] | None:
        """The newest episode before number `before` on `topic` (any case), if any."""
        rows = self._query(
            "SELECT * FROM episodes WHERE show = ? AND number < ? AND lower(trim(topic)) = lower(trim(?))"
            " ORDER BY number DESC LIMIT 1",
            (show, before, topic),
        )
        return dict(rows[0]) if rows else None

    def episodes(self, show: str) -> list[dict[str, Any]]:
        return [dict(row) for row in self._query("SELECT * FROM episodes WHERE show = ? ORDER BY number", (show,))]

    def rundown(self, show: str | None = None, *, episode: int | None = None) -> list[RundownEntry]:
        where, params = _where(show=show, episode=episode)
        sql = "SELECT * FROM rundown" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY position"
        return [_entry(row) for row in self._query(sql, params)]

    def rundown_tail(self, show: str, *, done: Iterable[str], keep_done: int) -> list[RundownEntry]:
        """The show's rundown less all but the last `keep_done` entries whose status is in `done` (aired,
        skipped…): what a front-end shows of a channel that has run for weeks, read without the thousands of rows
        it would hide."""
        statuses = sorted(done)
        marks = ",".join("?" * len(statuses))
        if keep_done <= 0:
            sql = f"SELECT * FROM rundown WHERE show = ? AND status NOT IN ({marks}) ORDER BY position"
            return [_entry(row) for row in self._query(sql, (show, *statuses))]
        sql = (
            f"SELECT * FROM rundown WHERE show = ? AND (status NOT IN ({marks}) OR position >= COALESCE("
            f"(SELECT position FROM rundown WHERE show = ? AND status IN ({marks}) ORDER BY position DESC"
            " LIMIT 1 OFFSET ?), 0)) ORDER BY position"
        )
        return [_entry(row) for row in self._query(sql, (show, *statuses, show, *statuses, keep_done - 1))]

    def segment(self, segment_id: str) -> RundownEntry | None:
        rows = self._query("SELECT * FROM rundown WHERE segment_id = ?", (segment_id,))
        return _entry(rows[0]) if rows else None

    def queue(self, show: str | None = None) -> list[RundownEntry]:
        """Segments that can still air (planned, approved, on air), in airing order."""
        where, params = _where(status=QUEUED_STATUSES, show=show)
        return [
            _entry(row)
            for row in self._query(f"SELECT * FROM rundown WHERE {' AND '.join(where)} ORDER BY position", params)
        ]

    def last_aired(self, show: str | None = None) -> RundownEntry | None:
        sql = "SELECT * FROM rundown WHERE status = 'aired'" + (" AND show = ?" if show else "")
        rows = self._query(sql + " ORDER BY aired_at DESC, position DESC LIMIT 1", (show,) if show else ())
        return _entry(rows[0]) if rows else None

    def awaiting_review(self, show: str) -> list[str]:
        """Segments made and waiting for a person (manual approval), in rundown order."""
        rows = self._query(
            "SELECT DISTINCT r.segment_id, r.position FROM rundown r JOIN events e ON e.type = 'SegmentAwaitingReview'"
            " AND e.show = r.show AND json_extract(e.payload, '$.segment_id') = r.segment_id"
            " WHERE r.show = ? AND r.status = 'planned' ORDER BY r.position",
            (show,),
        )
        return [row["segment_id"] for row in rows]

    def buffered_seconds(self, show: str | None = None) -> float:
        """Approved seconds that can still air: what the showrunner keeps full."""
        where, params = _where(status=BUFFERED_STATUSES, show=show)
        sql = f"SELECT COALESCE(SUM(seconds), 0) AS total FROM rundown WHERE {' AND '.join(where)}"
        return float(self._query(sql, params)[0]["total"])

    # --- figures for health and metrics (one query each, however long the log) ------------------------------------

    def event_counts(self, show: str) -> dict[str, int]:
        """How many events of each type the show has recorded, ever."""
        rows = self._query("SELECT type, COUNT(*) AS n FROM events WHERE show = ? GROUP BY type", (show,))
        return {row["type"]: int(row["n"]) for row in rows}

    def critic_failures(
        self, show: str, *, episode: int | None = None, since: float | None = None, until: float | None = None
    ) -> dict[str, int]:
        """How many times each check failed a clip, ever or in one episode or time range (a verdict that fails two
        checks counts for both)."""
        where, params = _where(**{"e.show": show, "e.episode": episode})
        for condition, value in (("e.ts >= ?", since), ("e.ts <= ?", until)):
            if value is not None:
                where.append(condition)
                params.append(value)
        rows = self._query(
            f"SELECT {_CHECK_NAME} AS check_name, COUNT(*) AS n FROM events e, json_each(e.payload, '$.failures') f"
            f" WHERE e.type = 'VerdictGiven' AND {' AND '.join(where)} GROUP BY check_name",
            params,
        )
        return {row["check_name"]: int(row["n"]) for row in rows}

    def total_seconds(self, show: str, type_name: str, *, since: float = 0.0) -> float:
        """The sum of the `seconds` of a show's events of one type (filler aired, segments approved) since `since`."""
        rows = self._query(
            "SELECT COALESCE(SUM(json_extract(payload, '$.seconds')), 0) AS total FROM events"
            " WHERE show = ? AND type = ? AND ts >= ?",
            (show, type_name, since),
        )
        return float(rows[0]["total"])

    def requeue_interrupted(self, show: str | None = None) -> list[str]:
        """Segments left `on_air` by a station that stopped mid-segment go back to `approved` (they air again from
        their start: a viewer saw only part of them). Returns their ids."""
        sql = "SELECT segment_id FROM rundown WHERE status = 'on_air'" + (" AND show = ?" if show else "")
        ids = [row["segment_id"] for row in self._query(sql, (show,) if show else ())]
        for segment_id in ids:
            self._execute(
                "UPDATE rundown SET status = 'approved', updated = ? WHERE segment_id = ? AND status = 'on_air'",
                (time.time(), segment_id),
            )
        return ids

    # --- commands ---------------------------------------------------------------------------------------------

    def add_command(self, show: str, kind: str, args: Mapping[str, Any] | None = None) -> int:
        """Queue a command for the station running `show` (or the next one to start). Returns its id."""
        if kind not in COMMAND_KINDS:
            raise ValueError(f"unknown command {kind!r}; one of {', '.join(COMMAND_KINDS)}")
        cursor = self._execute(
            "INSERT INTO commands (ts, show, kind, args) VALUES (?, ?, ?, ?)",
            (time.time(), show, kind, json.dumps(dict(args or {}))),
        )
        return int(cursor.lastrowid or 0)

    def commands(
        self, *, show: str | None = None, statuses: Iterable[str] | None = None, kind: str | None = None
    ) -> list[Command]:
        where, params = _where(show=show, status=statuses, kind=kind)
        sql = "SELECT * FROM commands" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id"
        return [_command(row) for row in self._query(sql, params)]

    def command(self, command_id: int) -> Command | None:
        rows = self._query("SELECT * FROM commands WHERE id = ?", (command_id,))
        return _command(rows[0]) if rows else None

    # --- station state and lessons ----------------------------------------------------------------------------

    def recipe(self, segment_id: str) -> dict[str, Any]:
        """What a made segment is made of now (`SegmentApproved.recipe`, or that of its latest `SegmentRemade`);
        empty for a segment not made yet, or made before studio kept it."""
        rows = self._query(
            "SELECT json_extract(payload, '$.recipe') AS recipe FROM events WHERE type IN ('SegmentRemade',"
            " 'SegmentApproved', 'SegmentAwaitingReview', 'SegmentHeld') AND json_extract(payload, '$.segment_id') = ?"
            " ORDER BY type = 'SegmentRemade' DESC, id DESC LIMIT 1",
            (segment_id,),
        )
        return json.loads(rows[0]["recipe"]) if rows and rows[0]["recipe"] else {}

    def remaking(self, show: str) -> set[str]:
        """Segments a person re-prompted whose new version is not made yet: they wait, and do not air as they were."""
        rows = self._query(
            "SELECT json_extract(args, '$.segment_id') AS segment_id FROM commands WHERE show = ? AND kind = 'reprompt'"
            " AND status IN ('pending', 'received')",
            (show,),
        )
        return {row["segment_id"] for row in rows if row["segment_id"]}

    def flag(self, show: str, key: str) -> bool:
        rows = self._query("SELECT value FROM state WHERE show = ? AND key = ?", (show, key))
        return bool(rows) and rows[0]["value"] == "1"

    def mark(self, show: str, key: str) -> int:
        """A counter kept in the station state (how far a reader of the log has got)."""
        rows = self._query("SELECT value FROM state WHERE show = ? AND key = ?", (show, key))
        return int(rows[0]["value"]) if rows and rows[0]["value"].isdigit() else 0

    def set_mark(self, show: str, key: str, value: int) -> None:
        self._execute(
            "INSERT INTO state (show, key, value, updated) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (show, key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
            (show, key, str(value), time.time()),
        )

    def canon(self, show: str) -> list[CanonEntry]:
        """The show's canonical characters, places and props as recorded (`CanonChanged`), in the order first seen."""
        rows = self._query("SELECT * FROM canon WHERE show = ? ORDER BY position", (show,))
        return [
            CanonEntry(
                row["kind"],
                row["name"],
                row["description"],
                tuple(json.loads(row["palette"])),
                tuple(json.loads(row["traits"])),
            )  # fmt: skip
            for row in rows
        ]

    def lessons(self, show: str) -> list[str]:
        return [row["word"] for row in self._query("SELECT word FROM lessons WHERE show = ? ORDER BY ts", (show,))]

    def shows(self) -> list[str]:
        rows = self._query("SELECT show FROM rundown UNION SELECT show FROM episodes UNION SELECT show FROM state")
        return sorted(row["show"] for row in rows)


# A verdict's failure reads "direction (Pepito left: opposite …)": the check's name is what stands before " (".
_CHECK_NAME = "substr(f.value, 1, instr(f.value || ' (', ' (') - 1)"


def _where(**filters: Any) -> tuple[list[str], list[Any]]:
    """SQL conditions and their parameters for the filters that are set: a value is `column = ?`, an iterable
    (not a string) is `column IN (…)`."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in filters.items():
        if value is None:
            continue
        if isinstance(value, str | int):
            where.append(f"{column} = ?")
            params.append(value)
        else:
            values = list(value)
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            params += values
    return where, params


# --- what each event means for the tables ---------------------------------------------------------------------


def _apply(db: sqlite3.Connection, event: ev.Event) -> None:
    now = event.at
    match event:
        case ev.EpisodePlanned():
            db.execute(
                "INSERT INTO episodes (show, number, title, status, planned_seconds, topic, updated) VALUES (?, ?, ?,"
                " 'planned', ?, ?, ?) ON CONFLICT (show, number) DO UPDATE SET title = excluded.title, status = 'planned',"
                " planned_seconds = excluded.planned_seconds, topic = excluded.topic, updated = excluded.updated",
                (event.show, event.episode, event.title, event.planned_seconds, event.topic, now),
            )
            for index, planned in enumerate(event.segments):
                db.execute(
                    "INSERT INTO rundown (segment_id, show, episode, segment_index, title, format, status,"
                    " planned_seconds, updated) VALUES (?, ?, ?, ?, ?, ?, 'planned', ?, ?)"
                    " ON CONFLICT (segment_id) DO NOTHING",
                    (planned.segment_id, event.show, event.episode, index, planned.title, planned.format,
                     planned.seconds, now),
                )  # fmt: skip
        case ev.SegmentApproved():
            note = f"dropped shots: {', '.join(event.dropped_shots)}" if event.dropped_shots else ""
            db.execute(
                "UPDATE rundown SET status = 'approved', path = ?, seconds = ?, note = ?, updated = ?"
                " WHERE segment_id = ? AND status IN ('planned', 'held')",
                (event.path, event.seconds, note, now, event.segment_id),
            )
        case ev.SegmentHeld():
            db.execute(
                "UPDATE rundown SET status = 'held', path = ?, seconds = ?, note = ?, updated = ?"
                " WHERE segment_id = ? AND status IN ('planned', 'held')",
                (event.path, event.seconds, "held by the safety gate: " + "; ".join(event.reasons), now,
                 event.segment_id),
            )  # fmt: skip
        case ev.SegmentDropped():
            _set_status(db, event.segment_id, "dropped", ("planned",), event.reason, now)
        case ev.SegmentRemade():
            db.execute(
                "UPDATE rundown SET path = COALESCE(path, ?), note = ?, updated = ? WHERE segment_id = ?",
                (event.path, f"{event.shot} re-prompted (command {event.command_id})", now, event.segment_id),
            )
        case ev.EpisodeAssembled():
            db.execute(
                "UPDATE episodes SET status = 'done', path = ?, updated = ? WHERE show = ? AND number = ?",
                (event.path, now, event.show, event.episode),
            )
        case ev.EpisodeEmpty():
            db.execute(
                "UPDATE episodes SET status = 'empty', updated = ? WHERE show = ? AND number = ?",
                (now, event.show, event.episode),
            )
        case ev.SegmentOnAir(repeat=False):
            _set_status(db, event.segment_id, "on_air", ("approved",), None, now)
        case ev.SegmentAired(repeat=False):
            db.execute(
                "UPDATE rundown SET status = 'aired', aired_at = ?, updated = ? WHERE segment_id = ?"
                " AND status IN ('approved', 'on_air')",
                (now, now, event.segment_id),
            )
        case ev.SegmentSkipped():
            _set_status(db, event.segment_id, "skipped", ("planned", "approved", "on_air"), event.reason, now)
        case ev.SegmentRejected():
            _set_status(db, event.segment_id, "rejected", ("planned", "approved", "on_air", "held"), event.reason, now)
        case ev.SegmentRemoved():
            _set_status(db, event.segment_id, "removed", ("planned", "approved", "held"), event.reason, now)
        case ev.SegmentReinstated():
            db.execute(
                "UPDATE rundown SET status = CASE WHEN path IS NULL THEN 'planned' ELSE 'approved' END, note = '',"
                " updated = ? WHERE segment_id = ? AND status IN ('rejected', 'removed')",
                (now, event.segment_id),
            )
        case ev.ApprovalModeChanged():
            db.execute(
                "INSERT INTO state (show, key, value, updated) VALUES (?, 'manual_approval', ?, ?)"
                " ON CONFLICT (show, key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                (event.show, "1" if event.manual else "0", now),
            )
        case ev.CanonChanged():
            db.execute(
                "INSERT INTO canon (show, kind, name, description, palette, traits, position, updated) VALUES"
                " (?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM canon), ?)"
                " ON CONFLICT (show, kind, name) DO UPDATE SET description = excluded.description,"
                " palette = excluded.palette, traits = excluded.traits, updated = excluded.updated",
                (event.show, event.kind, event.name, event.description, json.dumps(list(event.palette)),
                 json.dumps(list(event.traits)), now),
            )  # fmt: skip
        case ev.MemoryForgotten(kind="lesson"):
            db.execute("DELETE FROM lessons WHERE show = ? AND word = ?", (event.show, event.key.casefold()))
        case ev.LessonLearned():
            db.execute(
                "INSERT INTO lessons (show, word, reason, ts) VALUES (?, ?, ?, ?) ON CONFLICT (show, word) DO NOTHING",
                (event.show, event.word.casefold(), event.reason, now),
            )
        case ev.CommandReceived():
            db.execute(
                "UPDATE commands SET status = 'received' WHERE id = ? AND status = 'pending'", (event.command_id,)
            )
        case ev.CommandApplied():
            db.execute(
                "UPDATE commands SET status = 'applied', outcome = ?, acked_at = ? WHERE id = ?"
                " AND status IN ('pending', 'received')",
                (event.effect, now, event.command_id),
            )
            flag = {
                "pause": ("paused", "1"),
                "resume": ("paused", "0"),
                "hold": ("hold", "1"),
                "release": ("hold", "0"),
            }
            if event.kind in flag:
                key, value = flag[event.kind]
                db.execute(
                    "INSERT INTO state (show, key, value, updated) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (show, key) DO UPDATE SET value = excluded.value, updated = excluded.updated",
                    (event.show, key, value, now),
                )
        case ev.CommandRejected():
            db.execute(
                "UPDATE commands SET status = 'rejected', outcome = ?, acked_at = ? WHERE id = ?"
                " AND status IN ('pending', 'received')",
                (event.reason, now, event.command_id),
            )
        case _:
            pass


def _set_status(
    db: sqlite3.Connection, segment_id: str, status: str, allowed_from: tuple[str, ...], note: str | None, now: float
) -> None:
    db.execute(
        f"UPDATE rundown SET status = ?, note = COALESCE(?, note), updated = ? WHERE segment_id = ?"
        f" AND status IN ({','.join('?' * len(allowed_from))})",
        (status, note, now, segment_id, *allowed_from),
    )


def _upgrade_from_v1(db: sqlite3.Connection) -> None:
    """A store written by studio 0.1: free-form events become `LegacyEvent`s, steering notes become commands."""
    old_events = db.execute("SELECT * FROM events ORDER BY id").fetchall()
    db.execute("ALTER TABLE events RENAME TO events_v1")
    db.execute(_SCHEMA.split(";")[0])
    for row in old_events:
        legacy = ev.LegacyEvent(
            show=row["show"], episode=row["episode"], segment=row["segment"], shot=row["shot"], backend=row["backend"],
            duration_ms=row["duration_ms"], at=row["ts"], event_id=f"v1-{row['id']}", old_agent=row["agent"],
            kind=row["kind"], text=row["summary"], output=json.loads(row["output"] or "{}"),
        )  # fmt: skip
        db.execute(
            "INSERT INTO events (event_id, ts, show, type, agent, episode, segment, shot, payload)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (legacy.event_id, legacy.at, legacy.show, legacy.type, legacy.agent, legacy.episode, legacy.segment,
             legacy.shot, json.dumps(legacy.to_dict(), default=str)),
        )  # fmt: skip
    db.execute("DROP TABLE events_v1")
    command_columns = {row["name"] for row in db.execute("PRAGMA table_info(commands)")}
    if "text" in command_columns:
        old_commands = db.execute("SELECT * FROM commands ORDER BY id").fetchall()
        db.execute("DROP TABLE commands")
        db.execute(next(part for part in _SCHEMA.split(";") if "TABLE IF NOT EXISTS commands" in part))
        for row in old_commands:
            done = row["consumed_at"] is not None
            db.execute(
                "INSERT INTO commands (id, ts, show, kind, args, status, outcome, acked_at) VALUES (?, ?, ?, 'steer',"
                " ?, ?, ?, ?)",
                (row["id"], row["ts"], row["show"], json.dumps({"note": row["text"]}),
                 "applied" if done else "pending", "used by studio 0.1" if done else "", row["consumed_at"]),
            )  # fmt: skip


def _entry(row: sqlite3.Row) -> RundownEntry:
    return RundownEntry(
        position=row["position"], segment_id=row["segment_id"], show=row["show"], episode=row["episode"],
        segment_index=row["segment_index"], title=row["title"], format=row["format"], status=row["status"],
        path=Path(row["path"]) if row["path"] else None, seconds=row["seconds"],
        planned_seconds=row["planned_seconds"], note=row["note"], aired_at=row["aired_at"],
    )  # fmt: skip


def _command(row: sqlite3.Row) -> Command:
    return Command(
        id=row["id"], ts=row["ts"], show=row["show"], kind=row["kind"], args=json.loads(row["args"]),
        status=row["status"], outcome=row["outcome"], acked_at=row["acked_at"],
    )  # fmt: skip
