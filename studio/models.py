"""Model weights the GPU backends use: where they live on the Hugging Face Hub, what is in the local HF cache.

Nothing is downloaded at import or at run time. `pull()` (`studio models pull …`) is the only code that fetches
weights; the backends load with `local_files_only=True` and report "weights not in HF cache" when absent.
The cache is huggingface_hub's own (`HF_HOME` / `HF_HUB_CACHE`), shared with every other HF tool on the machine.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from studio.errors import BackendUnavailable, StudioError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".ckpt")


@dataclass(frozen=True)
class ModelSpec:
    """One downloadable model: a Hub repository and the files of it the backend needs."""

    name: str
    """What `studio models pull NAME` calls it."""
    repo_id: str
    description: str
    allow_patterns: tuple[str, ...]
    """Files fetched by `pull` (fnmatch patterns on repo paths). Other formats (Flax, ONNX, webui) are skipped."""
    required: tuple[str, ...]
    """Glob patterns that must all match inside the cached snapshot for the model to count as present."""
    approx_gb: float
    """Download size, for the message before pulling."""


_DIFFUSERS_PIPELINE_FILES = (
    "model_index.json",
    "scheduler/*",
    "text_encoder/*",
    "tokenizer/*",
    "unet/*",
    "vae/*",
)
_DIFFUSERS_REQUIRED = (
    "model_index.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.*",
    "vae/diffusion_pytorch_model.*",
    "text_encoder/config.json",
    "tokenizer/*",
)
_TRANSFORMERS_FILES = ("*.json", "*.safetensors", "*.bin", "spiece.model", "*.txt")
_MUSICGEN_REQUIRED = ("config.json", "preprocessor_config.json", "model*.safetensors|pytorch_model*.bin")

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "zeroscope",
            "cerspense/zeroscope_v2_576w",
            "Zeroscope v2 576w text-to-video, first pass at 576x320",
            _DIFFUSERS_PIPELINE_FILES,
            _DIFFUSERS_REQUIRED,
            3.4,
        ),
        ModelSpec(
            "xl",
            "cerspense/zeroscope_v2_XL",
            "Zeroscope v2 XL video-to-video upscaler to 1024x576 (same prompt as the first pass)",
            _DIFFUSERS_PIPELINE_FILES,
            _DIFFUSERS_REQUIRED,
            3.4,
        ),
        ModelSpec(
            "film",
            "nguu/film-pytorch",
            "FILM frame interpolation, TorchScript export of Google's Style model (dajes/frame-interpolation-pytorch)",
            ("film_net_fp32.pt",),
            ("film_net_fp32.pt",),
            0.14,
        ),
        ModelSpec(
            "musicgen",
            "facebook/musicgen-small",
            "MusicGen small (300M) text-to-music, 32 kHz mono",
            _TRANSFORMERS_FILES,
            _MUSICGEN_REQUIRED,
            2.4,
        ),
        ModelSpec(
            "musicgen-medium",
            "facebook/musicgen-medium",
            "MusicGen medium (1.5B) text-to-music, 32 kHz mono",
            _TRANSFORMERS_FILES,
            _MUSICGEN_REQUIRED,
            8.0,
        ),
        ModelSpec(
            "musicgen-large",
            "facebook/musicgen-large",
            "MusicGen large (3.3B) text-to-music, 32 kHz mono",
            _TRANSFORMERS_FILES,
            _MUSICGEN_REQUIRED,
            13.0,
        ),
        ModelSpec(
            "musicgen-melody",
            "facebook/musicgen-melody",
            "MusicGen melody (1.5B) text-to-music (needs torchaudio)",
            _TRANSFORMERS_FILES,
            _MUSICGEN_REQUIRED,
            6.5,
        ),
    )
}

DEFAULT_PULL = ("zeroscope", "xl", "film", "musicgen")
"""What `studio models pull all` fetches."""


@dataclass(frozen=True)
class CachedModel:
    """One row of `studio models list`."""

    name: str
    repo_id: str
    present: bool
    """Every required file is in the cached snapshot."""
    size_bytes: int
    """Bytes on disk for this repository in the HF cache (0 when absent)."""
    snapshot: Path | None
    description: str

    @property
    def size_text(self) -> str:
        return _human_size(self.size_bytes)


def expand_names(names: Iterable[str]) -> list[str]:
    """Model names with `all` expanded; an unknown name is an error that lists the known ones."""
    expanded: list[str] = []
    for name in names:
        for item in DEFAULT_PULL if name == "all" else (name,):
            if item not in MODELS:
                raise StudioError(f"unknown model {item!r}: choose from {', '.join([*MODELS, 'all'])}")
            if item not in expanded:
                expanded.append(item)
    return expanded


def cached_snapshot(name: str, cache_dir: Path | None = None) -> Path | None:
    """The snapshot directory of `name` in the HF cache when every required file is there, else None. Cheap."""
    if importlib.util.find_spec("huggingface_hub") is None:
        return None
    from huggingface_hub import try_to_load_from_cache

    spec = MODELS[name]
    anchor = next(p for p in spec.required if not any(ch in p for ch in "*?[|"))
    found = try_to_load_from_cache(spec.repo_id, anchor, cache_dir=cache_dir)
    if not isinstance(found, str):
        return None
    snapshot = Path(found).parents[len(Path(anchor).parts) - 1]
    return snapshot if snapshot_complete(snapshot, spec.required) else None


def snapshot_complete(directory: Path, required: Sequence[str]) -> bool:
    """Every pattern in `required` (`a|b` means either) matches an existing file under `directory`."""
    for pattern in required:
        alternatives = pattern.split("|")
        if not any(path.is_file() for alternative in alternatives for path in directory.glob(alternative)):
            return False
    return True


def is_cached(name: str, cache_dir: Path | None = None) -> bool:
    """Whether the weights of `name` are complete in the HF cache (no network, no weights read)."""
    return cached_snapshot(name, cache_dir) is not None


def list_models(cache_dir: Path | None = None) -> list[CachedModel]:
    """Every known model with whether it is in the HF cache and how much disk it takes."""
    _require_hub()
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    sizes: dict[str, int] = {}
    try:
        info = scan_cache_dir(cache_dir)
    except CacheNotFound:
        info = None
    if info is not None:
        sizes = {repo.repo_id: repo.size_on_disk for repo in info.repos if repo.repo_type == "model"}
    rows: list[CachedModel] = []
    for name, spec in MODELS.items():
        snapshot = cached_snapshot(name, cache_dir)
        rows.append(
            CachedModel(
                name=name,
                repo_id=spec.repo_id,
                present=snapshot is not None,
                size_bytes=sizes.get(spec.repo_id, 0),
                snapshot=snapshot,
                description=spec.description,
            )
        )
    return rows


def select_files(repo_files: Iterable[str], allow_patterns: Sequence[str]) -> list[str]:
    """The repo files to fetch: those matching `allow_patterns`, keeping one weight format per folder.

    Repositories often carry the same weights twice (`.bin` and `.safetensors`, or an `.fp16.` variant); we take
    safetensors when a folder has them and skip half-precision variants when a full one exists.
    """
    allowed = [path for path in repo_files if any(fnmatch.fnmatch(path, pattern) for pattern in allow_patterns)]
    folders_with_safetensors = {
        posixpath.dirname(path) for path in allowed if path.endswith(".safetensors") and ".fp16." not in path
    }
    selected: list[str] = []
    for path in allowed:
        folder = posixpath.dirname(path)
        is_weight = path.endswith(WEIGHT_SUFFIXES)
        if is_weight and ".fp16." in path:
            full = path.replace(".fp16.", ".")
            if full in allowed:
                continue
        if is_weight and not path.endswith(".safetensors") and folder in folders_with_safetensors:
            continue
        selected.append(path)
    return sorted(selected)


def pull(
    names: Iterable[str],
    progress: Callable[[str], None] | None = None,
    *,
    cache_dir: Path | None = None,
    token: str | None = None,
) -> list[Path]:
    """Download `names` (or `all`) into the HF cache with huggingface_hub. Returns the snapshot directories.

    Only called when the user asks (`studio models pull`). Files already cached are not fetched again.
    """
    _require_hub()
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    say = progress or (lambda message: None)
    snapshots: list[Path] = []
    for name in expand_names(names):
        spec = MODELS[name]
        say(f"{name}: {spec.repo_id} (~{spec.approx_gb:g} GB) …")
        try:
            repo_files = HfApi(token=token).list_repo_files(spec.repo_id)
            wanted = select_files(repo_files, spec.allow_patterns)
            if not wanted:
                raise BackendUnavailable(f"{spec.repo_id} has none of the files studio needs ({spec.allow_patterns})")
            path = snapshot_download(spec.repo_id, allow_patterns=wanted, cache_dir=cache_dir, token=token)
        except (HfHubHTTPError, OSError, *_http_client_errors()) as error:
            raise BackendUnavailable(
                f"could not download {spec.repo_id}: {error} (check the network, then run `studio models pull {name}`"
                " again)"
            ) from error
        snapshot = Path(path)
        if not snapshot_complete(snapshot, spec.required):
            raise BackendUnavailable(f"{spec.repo_id} downloaded but incomplete: expected {', '.join(spec.required)}")
        say(f"{name}: ready in {snapshot}")
        snapshots.append(snapshot)
    return snapshots


def _http_client_errors() -> tuple[type[BaseException], ...]:
    """Connection errors of the HTTP client huggingface_hub uses: `requests`' are OSErrors, but httpx's (hub 1.x)
    and httpx2's (hub 2.x) are not, so "no network" would otherwise escape as a traceback."""
    errors: list[type[BaseException]] = []
    for module_name in ("httpx", "httpx2"):
        if importlib.util.find_spec(module_name) is not None:
            errors.append(importlib.import_module(module_name).HTTPError)
    return tuple(errors)


def _require_hub() -> None:
    if importlib.util.find_spec("huggingface_hub") is None:
        raise BackendUnavailable("missing extra: pip install 'studio[gpu]' (huggingface_hub manages the model cache)")


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover - unreachable
