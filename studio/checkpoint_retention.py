"""Checkpoint retention: the LangGraph SQLite checkpointer keeps only what a resume needs.

Production deletes an episode's thread when it finishes; a pass also deletes the threads of episodes the store says
are finished (left behind by a crash at the wrong moment, or by a changed seed), keeps only the latest
`KEEP_CHECKPOINTS` checkpoints of every other thread with the writes pending on them (all a resume reads: the
graph's channels hold whole values, none is a delta over earlier checkpoints), and vacuums the database when most
of it is free pages. Everything but the vacuum is one transaction, so production's own writes (another
connection) see the tables before or after it.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from studio import events as ev

if TYPE_CHECKING:
    from pathlib import Path

    from studio.station import Station

KEEP_CHECKPOINTS = 3
# Production deletes a finished episode's thread itself, right after its last step; the pass leaves it that long.
FINISHED_THREAD_GRACE_S = 300.0
# VACUUM rewrites the whole file (blocking production's checkpoint writes meanwhile): only when it pays.
VACUUM_FREE_FRACTION = 0.5
VACUUM_MIN_BYTES = 1 << 20
_THREAD = re.compile(r"^(?P<show>.+)-seed-?\d+-e(?P<episode>\d{4,})(?:-s\d{2,})?$")
"""`Production._thread_id`: `<show>-seed<seed>-e0003` plans episode 3; `…-e0003-s02` makes its second segment."""


@dataclass(frozen=True)
class CheckpointPrune:
    threads: list[str]
    checkpoints_deleted: int
    writes_deleted: int
    bytes_before: int
    bytes_after: int
    vacuumed: bool


def prune_checkpoints(
    path: Path,
    station: Station,
    *,
    keep: int = KEEP_CHECKPOINTS,
    grace_s: float = FINISHED_THREAD_GRACE_S,
    dry_run: bool = False,
) -> CheckpointPrune:
    """Delete finished episodes' threads and all but the latest `keep` checkpoints of the others (with the writes of
    the checkpoints deleted), in one transaction; vacuum when most of the file is free."""
    if not path.exists():
        return CheckpointPrune([], 0, 0, 0, 0, False)
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"checkpoints", "writes"} <= tables:
            return CheckpointPrune([], 0, 0, 0, 0, False)
        before = _db_bytes(db)
        db.execute("BEGIN IMMEDIATE")
        try:
            threads = [row[0] for row in db.execute("SELECT DISTINCT thread_id FROM checkpoints")]
            finished = [thread for thread in threads if _finished(station, thread, grace_s)]
            counts = [0, 0]
            for thread in finished:
                for slot, table in enumerate(("checkpoints", "writes")):
                    counts[slot] += db.execute(f"DELETE FROM {table} WHERE thread_id = ?", (thread,)).rowcount
            counts[0] += db.execute(
                "DELETE FROM checkpoints WHERE checkpoint_id NOT IN (SELECT latest.checkpoint_id FROM checkpoints latest"
                " WHERE latest.thread_id = checkpoints.thread_id AND latest.checkpoint_ns = checkpoints.checkpoint_ns"
                " ORDER BY latest.checkpoint_id DESC LIMIT ?)",
                (keep,),
            ).rowcount
            counts[1] += db.execute(
                "DELETE FROM writes WHERE NOT EXISTS (SELECT 1 FROM checkpoints c WHERE c.thread_id = writes.thread_id"
                " AND c.checkpoint_ns = writes.checkpoint_ns AND c.checkpoint_id = writes.checkpoint_id)"
            ).rowcount
            db.execute("ROLLBACK" if dry_run else "COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        vacuumed = False
        if not dry_run:
            pages, free, page_size = (db.execute(f"PRAGMA {name}").fetchone()[0]
                                      for name in ("page_count", "freelist_count", "page_size"))  # fmt: skip
            if pages * page_size >= VACUUM_MIN_BYTES and free >= pages * VACUUM_FREE_FRACTION:
                db.execute("VACUUM")
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                vacuumed = True
        return CheckpointPrune(finished, counts[0], counts[1], before, _db_bytes(db), vacuumed)
    finally:
        db.close()


def _db_bytes(db: sqlite3.Connection) -> int:
    pages, page_size = db.execute("PRAGMA page_count").fetchone()[0], db.execute("PRAGMA page_size").fetchone()[0]
    return int(pages * page_size)


def _finished(station: Station, thread_id: str, grace_s: float) -> bool:
    """Whether the store says the thread's episode is finished (assembled or empty) at least `grace_s` ago."""
    match = _THREAD.match(thread_id)
    if match is None:
        return False
    number = int(match["episode"])
    row = next((row for row in station.episodes(match["show"]) if row["number"] == number), None)
    return row is not None and row["status"] != "planned" and row["updated"] <= time.time() - grace_s


def checkpoints_pruned_event(show: str, result: CheckpointPrune) -> ev.CheckpointsPruned:
    return ev.CheckpointsPruned(
        show=show, threads=tuple(result.threads), checkpoints_deleted=result.checkpoints_deleted,
        writes_deleted=result.writes_deleted, bytes_before=result.bytes_before, bytes_after=result.bytes_after,
        vacuumed=result.vacuumed,
    )  # fmt: skip
