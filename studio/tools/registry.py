"""Pick one backend per tool kind from settings and availability; import lazily; record why.

A backend is a class with a `name` class attribute, `__init__(self, settings)` and a classmethod
`availability(settings) -> (bool, reason)` that is cheap (no weights loaded, heavy imports only via find_spec).
For each kind the list below is in order of preference for `auto`: GPU backends first, the embedded one last.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from studio.errors import BackendUnavailable
from studio.tools.base import BackendStatus, Toolkit

if TYPE_CHECKING:
    from studio.config import Settings
    from studio.tools.base import Check

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackendSpec:
    kind: str
    name: str
    """The value of the kind's setting that selects it (`video_backend = "zeroscope"`)."""
    target: str
    """`module:Class`."""
    embedded: bool = False
    """Embedded CPU backends are always available and are the fallback for `auto`."""


BACKENDS: tuple[BackendSpec, ...] = (
    BackendSpec("video", "zeroscope", "studio.tools.video_zeroscope:ZeroscopeVideoGenerator"),
    BackendSpec("video", "procedural", "studio.tools.video_procedural:ProceduralVideoGenerator", embedded=True),
    BackendSpec("upscale", "zeroscope_xl", "studio.tools.video_zeroscope:ZeroscopeXLUpscaler"),
    BackendSpec("upscale", "ffmpeg", "studio.tools.interpolate_ffmpeg:FFmpegUpscaler", embedded=True),
    BackendSpec("extend", "streamingt2v", "studio.tools.extend_streamingt2v:StreamingT2VExtender"),
    BackendSpec("extend", "procedural", "studio.tools.video_procedural:ProceduralExtender", embedded=True),
    BackendSpec("interpolate", "film", "studio.tools.interpolate_film:FilmInterpolator"),
    BackendSpec("interpolate", "ffmpeg", "studio.tools.interpolate_ffmpeg:FFmpegInterpolator", embedded=True),
    BackendSpec("music", "musicgen", "studio.tools.music_musicgen:MusicgenGenerator"),
    BackendSpec("music", "audiocraft", "studio.tools.music_audiocraft:AudiocraftMusicGenerator"),
    BackendSpec("music", "synth", "studio.tools.music_synth:SynthMusicGenerator", embedded=True),
)

KIND_SETTING = {
    "video": "video_backend",
    "upscale": "upscale_backend",
    "extend": "extend_backend",
    "interpolate": "interpolate_backend",
    "music": "music_backend",
}


def _load(spec: BackendSpec) -> type[Any] | None:
    module_name, _, class_name = spec.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and error.name.startswith("studio."):
            return None  # backend not part of this build
        raise
    return getattr(module, class_name)


def backend_statuses(settings: Settings) -> list[BackendStatus]:
    """Every known backend with whether it can run here and why (for `studio doctor`)."""
    statuses: list[BackendStatus] = []
    for spec in BACKENDS:
        cls = _load(spec)
        if cls is None:
            statuses.append(BackendStatus(spec.kind, spec.name, False, "not implemented in this build"))
            continue
        available, reason = cls.availability(settings)
        statuses.append(BackendStatus(spec.kind, spec.name, available, reason))
    return _mark_selected(statuses, settings)


def _mark_selected(statuses: list[BackendStatus], settings: Settings) -> list[BackendStatus]:
    marked: list[BackendStatus] = []
    chosen: dict[str, str] = {}
    for status in statuses:
        wanted = getattr(settings, KIND_SETTING[status.kind])
        if status.kind in chosen or not status.available:
            continue
        if wanted in ("auto", status.name):
            chosen[status.kind] = status.name
    for status in statuses:
        selected = chosen.get(status.kind) == status.name
        marked.append(BackendStatus(status.kind, status.name, status.available, status.reason, selected))
    return marked


def build_toolkit(settings: Settings) -> Toolkit:
    """Instantiate the selected backend of each kind. An explicitly requested backend that cannot run is an error;
    under `auto` the embedded backend takes over and the reason is logged."""
    statuses = backend_statuses(settings)
    instances: dict[str, Any] = {}
    fallbacks: dict[str, Any] = {}
    for kind, setting in KIND_SETTING.items():
        wanted = getattr(settings, setting)
        if wanted != "auto":
            status = next(s for s in statuses if s.kind == kind and s.name == wanted)
            if not status.available:
                raise BackendUnavailable(f"{setting}={wanted} cannot run here: {status.reason}")
        selected = next((s for s in statuses if s.kind == kind and s.selected), None)
        if selected is None:  # pragma: no cover - embedded backends are always available
            raise BackendUnavailable(f"no {kind} backend can run here")
        for status in statuses:
            if status.kind == kind and not status.selected and wanted == "auto":
                log.info("%s: %s not used (%s)", kind, status.name, status.reason)
        spec = next(s for s in BACKENDS if s.kind == kind and s.name == selected.name)
        cls = _load(spec)
        assert cls is not None
        instances[kind] = cls(settings)
        log.info("%s backend: %s (%s)", kind, selected.name, selected.reason)
        if not spec.embedded:
            embedded = next(s for s in BACKENDS if s.kind == kind and s.embedded)
            fallbacks[kind] = _factory(embedded, settings)
    return Toolkit(
        video=instances["video"],
        upscaler=instances["upscale"],
        extender=instances["extend"],
        interpolator=instances["interpolate"],
        music=instances["music"],
        checks=critic_checks(settings),
        statuses=statuses,
        fallbacks=fallbacks,
    )


def critic_checks(settings: Settings) -> list[Check]:
    """The critic's checks: the measured ones, then the vision critic when `STUDIO_VISION_MODEL` names a model and an
    endpoint is configured (its chat model is built on the first clip it judges). Production and `studio critique`
    both judge with these."""
    from studio.tools.checks import default_checks
    from studio.vision import VisionCritic, vision_configured

    checks = default_checks()
    if vision_configured(settings):
        checks.append(VisionCritic.from_settings(settings))
        log.info("critic: vision check by %s", settings.vision_model)
    return checks


def _factory(spec: BackendSpec, settings: Settings) -> Any:
    def make() -> Any:
        cls = _load(spec)
        assert cls is not None, f"embedded backend {spec.target} is part of every build"
        return cls(settings)

    return make
