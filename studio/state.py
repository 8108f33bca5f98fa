"""The graph's state (what is checkpointed: plans and file paths, never media) and its runtime context."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from studio.agents.llm import Director
from studio.config import Settings
from studio.plan import EpisodePlan, SegmentScript, Shot, Verdict
from studio.show import Show
from studio.station import Station
from studio.tools.base import Toolkit


class EpisodeState(TypedDict, total=False):
    episode_number: int
    steering: list[str]
    plan: EpisodePlan
    segment_index: int
    script: SegmentScript
    shots: list[Shot]
    pending: list[str]
    """Shot ids rendered and judged in this pass."""
    clips: dict[str, str]
    """Shot id → path of its latest render."""
    render_errors: dict[str, str]
    verdicts: dict[str, Verdict]
    approved_segments: list[str]
    episode_path: str


def slug(text: str) -> str:
    """A path-safe name from any title: lowercase ASCII letters, digits and single dashes."""
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9]+", "-", text.lower())).strip("-")[:48] or "show"


@dataclass
class StudioContext:
    """What every node gets from the LangGraph runtime."""

    show: Show
    settings: Settings
    toolkit: Toolkit
    director: Director
    station: Station
    seed: int
    progress: Callable[[str], None] = lambda message: None
    vision: Any = None
    """Optional multimodal chat model for the vision critic."""
    show_key: str = field(init=False)

    def __post_init__(self) -> None:
        self.show_key = slug(self.show.title)

    @property
    def media_dir(self) -> Path:
        return self.settings.data_dir / "media" / self.show_key

    @property
    def work_dir(self) -> Path:
        path = self.settings.data_dir / "work" / self.show_key
        path.mkdir(parents=True, exist_ok=True)
        return path

    def episode_dir(self, episode: int) -> Path:
        return self.media_dir / f"e{episode:04d}"

    def segment_id(self, episode: int, index: int) -> str:
        return f"{self.show_key}-e{episode:04d}-s{index + 1:02d}"

    def record(self, agent: str, kind: str, **fields: Any) -> None:
        """Log a decision to the station store and tell the progress display."""
        self.station.log(show=self.show_key, agent=agent, kind=kind, **fields)
        self.progress(f"{agent}: {fields.get('summary', kind)}")

    def critique(self, clip_path: str, shot: Shot) -> tuple[Verdict, str]:
        from studio.critique import judge
        from studio.tools.media import read_video

        frames, fps = read_video(Path(clip_path), width=576, height=320)
        verdict = judge(frames, fps, shot, self.toolkit.checks)
        return verdict, "measured checks: " + ", ".join(check.name for check in self.toolkit.checks)

    def lessons_from(self, verdict: Verdict) -> list[str]:
        from studio.critique import lessons_from

        return lessons_from(verdict)
