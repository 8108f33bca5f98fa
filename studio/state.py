"""The graph's state (what is checkpointed: plans and file paths, never media) and its runtime context."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, TypeVar

from studio import events as ev
from studio.agents.llm import Director
from studio.config import Settings
from studio.errors import StudioError
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
    segment_scale: float
    """Each segment lasts its format's seconds times this (the showrunner's strategy); absent: 1."""
    max_repairs: int | None
    """Repairs a failing shot gets in this episode (the showrunner's strategy); absent or None: the settings'."""
    approved_segments: list[str]
    awaiting: dict[str, Any] | None
    """Manual approval: the `SegmentApproved` (as a dict) of the segment made and waiting for a person."""
    episode_path: str
    events: list[dict[str, Any]]
    """What the last node decided, as `studio.events` dicts: production records them once, from the update
    stream or, after a crash, from this checkpointed copy (deduplicated by event id)."""


E = TypeVar("E", bound=ev.Event)


def emitted(*events: ev.Event) -> list[dict[str, Any]]:
    """Events as a node returns them in its update (`{"events": emitted(...)}`)."""
    return [event.to_dict() for event in events]


class ProductionStopped(StudioError):
    """Raised inside a node when the station stops mid-step: the step is abandoned, its checkpoint keeps
    everything before it, and saved renders are reused when it runs again."""


class SegmentCancelled(StudioError):
    """Raised inside a segment's job when a person dropped or rejected the segment before it was made: its work
    in flight (queued renders included) is abandoned and nothing more is made for it."""


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
    notify: Callable[[ev.Event], None] = lambda event: None
    """Records a progress event (not a decision) as it happens: `RenderStarted`."""
    gate: Callable[[], None] = lambda: None
    """Called before each expensive step inside a node: blocks while production is paused, raises
    `ProductionStopped` when the station is stopping."""
    rate: Callable[[], float | None] = lambda: None
    """Production's measured rate (on-air seconds approved per wall second), None until measured: the showrunner's
    buffer watch reads it."""
    vision: Any = None
    """Optional multimodal chat model for callers outside the critic (the critic's own vision check is one of
    `toolkit.checks`, registered by `STUDIO_VISION_MODEL`)."""
    memory: Any = None
    """The show's `studio.memory.ShowMemory` (canon, premises, continuity, lessons). Left out, one over the station
    store without a similarity index."""
    render_stage: Any = None
    """The `studio.pipeline.RenderStage` production runs (the thread that owns the GPU); None: nodes render on
    their own thread."""
    render_farm: Any = None
    """The `studio.ray_render.RenderFarm` whose workers are the render stage's slots (`--ray`); None: shots render
    on this machine's toolkit."""
    show_key: str = field(init=False)

    def __post_init__(self) -> None:
        self.show_key = slug(self.show.title)
        if self.memory is None:
            from studio.memory import ShowMemory

            self.memory = ShowMemory(self.station, self.show, self.show_key)

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

    def segment_path(self, episode: int, segment_id: str) -> Path:
        """Where a made segment's house-format file lives."""
        return self.episode_dir(episode) / "segments" / f"{segment_id}.mp4"

    def invalidated(self, segment_id: str) -> str:
        """Why the segment's planned work is no longer wanted (a person dropped or rejected it before it was
        made), or "" while it is."""
        entry = self.station.segment(segment_id)
        if entry is not None and entry.status in ("removed", "rejected"):
            return f"{segment_id} was {entry.status} by a person before it was made"
        return ""

    def event(self, cls: type[E], **fields: Any) -> E:
        """An event of this show."""
        return cls(show=self.show_key, **fields)

    def critique(self, clip_path: str, shot: Shot) -> tuple[Verdict, str, dict[str, str]]:
        """The verdict, who gave it, and its evidence pictures beside the clip (`contact_sheet`, `thumbnail`),
        which front-ends show; a picture that cannot be written is left out, never fails the verdict. With a render
        farm on a Ray cluster (`--ray`) the clip is judged on one of the cluster's CPUs; if that fails, here."""
        from studio.critic.judge import judge_clip

        who = "measured checks: " + ", ".join(check.name for check in self.toolkit.checks)
        clip = Path(clip_path)
        farm = self.render_farm
        if farm is not None:
            judged = farm.critique(clip, shot)
            if judged is not None:
                verdict, evidence = judged
                return verdict, f"{who} (on the Ray cluster)", evidence
        verdict, evidence = judge_clip(clip, shot, self.toolkit.checks, drawn=self.toolkit.drawn_frames(clip))
        return verdict, who, evidence

    def lessons_from(self, verdict: Verdict) -> list[str]:
        from studio.critic.repair import lessons_from

        return lessons_from(verdict)
