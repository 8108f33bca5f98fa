"""Fault injection for soak tests and dry runs: `STUDIO_FAULTS="render_error=0.05,corrupt_clip=0.03,seed=7"`.

The station wraps its video backend in `FaultyVideoGenerator` when the setting is given. Each render then may,
by a seeded draw over the very request (the same request meets the same fault, a repaired one draws again):

- `render_error`: raise, as a backend that crashes mid-shot does (the render node records `RenderFailed`);
- `corrupt_clip`: truncate the clip file after it was written, as a full disk or a crashed writer leaves it;
- `render_latency`: take `slow_s` seconds instead of `latency_s` (a render that stalls).

With `ensure_by=N`, a station fault whose rate is above 0 and that `faults.jsonl` does not hold yet fires on the
Nth render of a process (and on each render after, until it has fired once): a soak short enough that the draws
might miss a fault still meets every one.

With `accelerated=1` (the default) renders are faked in accelerated time: the embedded renderer draws the shot
straight at the house size and frame rate (no upscale, no interpolation), the render takes `latency_s`, and the
critic leaves out OCR. Shots must then fit one generated clip (at most 3 s).

Faults outside the station are named in the same setting so one line describes a soak: `llm_timeout` and
`llm_bad_json` are served by a scripted chat endpoint, `encoder_kill` and `sigkill` are done to the processes by
the soak's harness (benchmarks/soak.py); the station itself only parses them.

Every fault injected is logged and appended as one JSON line to `faults.jsonl` in the data dir (it survives a
SIGKILL), so a soak can compare what was injected with what the station's log says happened.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from studio.errors import ConfigError, ToolError

if TYPE_CHECKING:
    from studio.show import Channel
    from studio.tools.base import Clip, Toolkit, VideoGenerator, VideoRequest

log = logging.getLogger(__name__)

STATION_FAULTS = ("render_error", "corrupt_clip", "render_latency")
"""Faults the station injects into its own renders."""
OUTSIDE_FAULTS = ("llm_timeout", "llm_bad_json", "encoder_kill", "sigkill")
"""Faults a soak's harness injects from outside (the chat endpoint, the processes)."""
FAULT_KINDS = STATION_FAULTS + OUTSIDE_FAULTS
OPTIONS = ("seed", "latency_s", "slow_s", "accelerated", "ensure_by")
FAULT_LOG_NAME = "faults.jsonl"
INJECTED_MARK = "injected fault"
"""Part of the text of every error a fault raises, so the log tells an injected fault from a real one."""


@dataclass(frozen=True)
class FaultPlan:
    """Which faults to inject and how often (a probability per render, per chat call, ...)."""

    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    latency_s: float = 0.05
    """How long a faked render takes (accelerated time)."""
    slow_s: float = 2.0
    """How long a render hit by `render_latency` takes."""
    accelerated: bool = True
    ensure_by: int = 0
    """The render of a process by which every station fault with a rate has fired once (0: left to the draws)."""

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """`name=value` pairs separated by commas; a name that is neither a fault nor an option is a `ConfigError`."""
        rates: dict[str, float] = {}
        options: dict[str, float] = {}
        for part in (piece.strip() for piece in text.split(",")):
            if not part:
                continue
            name, sep, value = part.partition("=")
            name = name.strip()
            if not sep or name not in (*FAULT_KINDS, *OPTIONS):
                raise ConfigError(
                    f"STUDIO_FAULTS: {part!r} is not name=value with a name among {', '.join(FAULT_KINDS + OPTIONS)}"
                )
            try:
                number = float(value)
            except ValueError:
                raise ConfigError(f"STUDIO_FAULTS: {name}={value!r} is not a number") from None
            if name in FAULT_KINDS:
                if not 0.0 <= number <= 1.0:
                    raise ConfigError(f"STUDIO_FAULTS: {name}={value} is not a probability between 0 and 1")
                rates[name] = number
            else:
                options[name] = number
        return cls(
            rates=rates,
            seed=int(options.get("seed", 0)),
            latency_s=options.get("latency_s", 0.05),
            slow_s=options.get("slow_s", 2.0),
            accelerated=bool(options.get("accelerated", 1)),
            ensure_by=int(options.get("ensure_by", 0)),
        )

    def rate(self, kind: str) -> float:
        return self.rates.get(kind, 0.0)

    def draw(self, kind: str, *key: object) -> bool:
        """Whether fault `kind` hits the thing named by `key` (the same key always draws the same)."""
        rate = self.rate(kind)
        return rate > 0 and random.Random("|".join(map(str, (self.seed, kind, *key)))).random() < rate


class FaultLog:
    """Appends one JSON line per injected fault to `faults.jsonl` (flushed at once: a SIGKILL keeps it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, kind: str, **facts: object) -> None:
        log.warning("%s: %s %s", INJECTED_MARK, kind, facts)
        line = json.dumps({"ts": time.time(), "pid": os.getpid(), "fault": kind, **facts}, default=str)
        try:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        except OSError:
            log.exception("could not write %s", self.path)


def read_fault_log(data_dir: Path) -> list[dict[str, object]]:
    """Every fault recorded in a data dir's `faults.jsonl`, oldest first (a line cut by a kill is left out)."""
    entries: list[dict[str, object]] = []
    try:
        lines = (data_dir / FAULT_LOG_NAME).read_text(encoding="utf-8").splitlines()
    except OSError:
        return entries
    for line in lines:
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


class FaultyVideoGenerator:
    """A video backend that wraps the selected one and injects the plan's render faults."""

    def __init__(self, inner: VideoGenerator, plan: FaultPlan, faults: FaultLog, channel: Channel) -> None:
        self.inner = inner
        self.plan = plan
        self.faults = faults
        self.channel = channel
        self.name = f"faulty:{inner.name}"
        self.renders = 0
        """Renders this process has started."""

    def _hits(self, kind: str, key: tuple[object, ...]) -> bool:
        """The seeded draw, or `ensure_by`: the fault has not fired yet and its render has come."""
        if self.plan.draw(kind, *key):
            return True
        if not self.plan.ensure_by or self.plan.rate(kind) <= 0 or self.renders < self.plan.ensure_by:
            return False
        return not any(entry.get("fault") == kind for entry in read_fault_log(self.faults.path.parent))

    def generate(self, request: VideoRequest, output_path: Path) -> Clip:
        key = (request.shot_id, request.seed, request.prompt)
        self.renders += 1
        if self._hits("render_error", key):
            self.faults.record("render_error", shot=request.shot_id)
            raise ToolError(f"{INJECTED_MARK}: render_error: the video backend crashed on {request.shot_id}")
        slow = self._hits("render_latency", key)
        if slow:
            self.faults.record("render_latency", shot=request.shot_id, seconds=self.plan.slow_s)
        if self.plan.accelerated:
            seconds = request.num_frames / request.fps
            request = replace(
                request, width=self.channel.width, height=self.channel.height, fps=float(self.channel.fps),
                num_frames=max(1, round(seconds * self.channel.fps)),
            )  # fmt: skip
            time.sleep(self.plan.slow_s if slow else self.plan.latency_s)
        elif slow:
            time.sleep(self.plan.slow_s)
        clip = self.inner.generate(request, output_path)
        if self._hits("corrupt_clip", key):
            size = output_path.stat().st_size
            with open(output_path, "r+b") as handle:
                handle.truncate(size // 3)
            self.faults.record("corrupt_clip", shot=request.shot_id, path=str(output_path), kept_bytes=size // 3)
        return replace(clip, backend=self.name)


def with_faults(toolkit: Toolkit, fault_spec: str, data_dir: Path, channel: Channel) -> Toolkit:
    """`toolkit` with its video backend wrapped to inject the faults of `fault_spec` (`STUDIO_FAULTS`); in
    accelerated time the critic also leaves out OCR."""
    plan = FaultPlan.parse(fault_spec)
    video = FaultyVideoGenerator(toolkit.video, plan, FaultLog(data_dir / FAULT_LOG_NAME), channel)
    checks = [check for check in toolkit.checks if check.name != "text"] if plan.accelerated else toolkit.checks
    log.warning("fault injection on: %s", fault_spec)
    return replace(toolkit, video=video, checks=checks)
