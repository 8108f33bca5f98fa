"""Runs a station: production keeps the playout buffer full while the broadcaster airs approved segments.

One LangGraph thread per episode with a SQLite checkpointer beside the station store: a run that is stopped or
crashes mid-episode resumes that episode where it stopped, and playout resumes at the first segment not yet aired.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import ConfigError
from studio.graph import build_graph
from studio.state import StudioContext
from studio.station import Station

if TYPE_CHECKING:
    from studio.config import Settings


CHECKPOINT_TYPES = [
    ("studio.plan", name)
    for name in (
        "EpisodePlan", "SegmentOutline", "SegmentScript", "Beat", "ShotDesign", "ShotList", "Shot", "MotionSpec",
        "CameraMove", "SubjectMotion", "CheckResult", "Repair", "Verdict",
    )
]  # fmt: skip


def ensure_data_dir(data_dir: Path) -> None:
    """Create the data dir and prove it is writable, or say what to do."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        raise ConfigError(
            f"data dir {data_dir} is not writable ({error.strerror or error}): pass --data-dir DIR or set STUDIO_DATA_DIR"
        ) from None


def open_station(settings: Settings) -> Station:
    ensure_data_dir(settings.data_dir)
    return Station(settings.data_dir / "station.sqlite")


@dataclass
class Production:
    """Makes episodes one after another through the graph, pausing while the buffer is full."""

    context: StudioContext
    """The show, settings, tools, writer and station every node gets; production reads the same ones."""
    stop_event: threading.Event = field(default_factory=threading.Event)
    finished_episodes: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        connection = sqlite3.connect(self.context.settings.data_dir / "checkpoints.sqlite", check_same_thread=False)
        from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
        from langgraph.checkpoint.sqlite import SqliteSaver

        # Only our own plan types may be revived from a checkpoint.
        serde = JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES)
        self.checkpointer = SqliteSaver(connection, serde=serde)
        self.graph = build_graph(self.checkpointer)

    def _thread_id(self, number: int) -> str:
        return f"{self.context.show_key}-seed{self.context.seed}-e{number:04d}"

    def next_episode_number(self) -> int:
        episodes = self.context.station.episodes(self.context.show_key)
        unfinished = [e["number"] for e in episodes if e["status"] == "planned"]
        if unfinished:
            return min(unfinished)
        return max((e["number"] for e in episodes), default=0) + 1

    def wait_for_buffer_room(self) -> None:
        """The showrunner's buffer watch: no new episode while enough approved material is queued."""
        announced = False
        while (
            not self.stop_event.is_set()
            and self.context.station.buffered_seconds() >= self.context.settings.buffer_target_s
        ):
            if not announced:
                self.context.progress(
                    f"showrunner: buffer full ({self.context.station.buffered_seconds():.0f} s ≥"
                    f" {self.context.settings.buffer_target_s:.0f} s ahead of the playhead); waiting"
                )
                announced = True
            self.stop_event.wait(1.0)

    def make_episode(self, number: int) -> Path | None:
        """Run (or resume) one episode's graph. Returns the episode file, or None if stopped or empty."""
        config: dict[str, Any] = {"configurable": {"thread_id": self._thread_id(number)}}
        snapshot = self.graph.get_state(config)
        resuming = bool(snapshot.next)
        graph_input = None if resuming else {"episode_number": number, "approved_segments": []}
        if resuming:
            self.context.progress(f"showrunner: resuming episode {number} at {', '.join(snapshot.next)}")
        for _ in self.graph.stream(graph_input, config, context=self.context, stream_mode="updates", durability="sync"):
            if self.stop_event.is_set():
                return None  # the checkpoint keeps everything done so far
        final = self.graph.get_state(config).values
        self.checkpointer.delete_thread(self._thread_id(number))
        episode_path = final.get("episode_path") or ""
        return Path(episode_path) if episode_path else None

    def run(self, episodes: int | None) -> list[Path]:
        made = 0
        while not self.stop_event.is_set() and (episodes is None or made < episodes):
            self.wait_for_buffer_room()
            if self.stop_event.is_set():
                break
            number = self.next_episode_number()
            started = time.perf_counter()
            path = self.make_episode(number)
            if self.stop_event.is_set():
                break
            made += 1
            if path is not None:
                self.finished_episodes.append(path)
                self.context.progress(f"episode {number} finished in {time.perf_counter() - started:.0f} s: {path}")
        return self.finished_episodes
