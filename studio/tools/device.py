"""Device and dtype for the model backends: `--device auto|cuda|cpu`, seeded generators, out-of-memory errors.

Nothing here imports torch at module import time. `cuda_present()` answers without importing torch so that
`availability()` stays cheap; `resolve_device()` asks torch itself once a backend is really about to run.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import logging
import os
import shutil
import sys
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from studio.errors import BackendUnavailable, ToolError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import torch

log = logging.getLogger(__name__)

Device = Literal["cuda", "cpu"]

GPU_EXTRA = "pip install 'studio[gpu]'"
"""The install line named in every "missing extra" reason."""

TORCH_HINT = "install a torch build for this machine first (see README: GPU backends)"


def missing_packages(*names: str) -> list[str]:
    """Import names among `names` that are not installed (checked with find_spec: nothing is imported)."""
    return [name for name in names if importlib.util.find_spec(name) is None]


def missing_extra_reason(*names: str) -> str | None:
    """A "missing extra" reason naming the install line, or None when every package in `names` is installed."""
    missing = missing_packages(*names)
    if not missing:
        return None
    if missing == ["torch"]:
        return f"missing torch: {TORCH_HINT}, then {GPU_EXTRA}"
    return f"missing extra: {GPU_EXTRA} (not installed: {', '.join(missing)})"


def cuda_present() -> bool:
    """Whether a CUDA device is likely usable, without importing torch unless it is already imported.

    A CPU build of torch (`+cpu` in its version), no NVIDIA driver, or `CUDA_VISIBLE_DEVICES=""` all mean no.
    """
    if "torch" in sys.modules:
        return bool(sys.modules["torch"].cuda.is_available())
    if importlib.util.find_spec("torch") is None:
        return False
    try:
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return False
    if "+cpu" in version or os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    driver_files = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0")
    return any(Path(path).exists() for path in driver_files) or shutil.which("nvidia-smi") is not None


def resolve_device(preference: str) -> Device:
    """`auto` → CUDA when torch sees a device, else CPU. `cuda` without a device is an error, not a fallback."""
    import torch

    if preference == "cpu":
        return "cpu"
    available = torch.cuda.is_available()
    if preference == "cuda" and not available:
        raise BackendUnavailable(
            f"device=cuda was asked for but torch {torch.__version__} sees no CUDA device; use --device auto or cpu"
        )
    if preference not in ("auto", "cuda"):
        raise BackendUnavailable(f"unknown device {preference!r}: use auto, cuda or cpu")
    return "cuda" if available else "cpu"


def torch_dtype(device: str) -> torch.dtype:
    """float16 on CUDA (as the model cards run them), float32 on CPU (many CPU kernels lack half precision)."""
    import torch

    return torch.float16 if device == "cuda" else torch.float32


def seeded_generator(device: str, seed: int) -> torch.Generator:
    """A generator on `device` seeded for one shot, so a shot re-renders identically with the same seed."""
    import torch

    return torch.Generator(device=device).manual_seed(seed & 0xFFFF_FFFF_FFFF_FFFF)


def pretrained_dtype_kwargs(library: Literal["diffusers", "transformers"], dtype: torch.dtype) -> dict[str, Any]:
    """`dtype=` where the installed library takes it, else the older `torch_dtype=` (deprecated in new releases)."""
    from packaging.version import Version

    first_with_dtype = {"diffusers": Version("0.36.0"), "transformers": Version("4.56.0")}[library]
    try:
        installed = Version(importlib.metadata.version(library))
    except importlib.metadata.PackageNotFoundError:
        return {"torch_dtype": dtype}
    return {"dtype": dtype} if installed >= first_with_dtype else {"torch_dtype": dtype}


def is_out_of_memory(error: BaseException) -> bool:
    """True for torch's OutOfMemoryError and the RuntimeErrors older releases and cuDNN raise instead."""
    oom_type = getattr(sys.modules.get("torch"), "OutOfMemoryError", None)
    if oom_type is not None and isinstance(error, oom_type):
        return True
    message = str(error).lower()
    return isinstance(error, RuntimeError) and ("out of memory" in message or "cudnn_status_alloc_failed" in message)


def vram_summary() -> str:
    """` (3.1 GB free of 8.0 GB)` on CUDA, empty elsewhere."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return ""
    try:
        free, total = torch.cuda.mem_get_info()
    except RuntimeError:
        return ""
    return f" ({free / 1e9:.1f} GB free of {total / 1e9:.1f} GB)"


@contextlib.contextmanager
def vram_guard(doing: str, hint: str) -> Iterator[None]:
    """Turn running out of GPU memory while `doing` into a `ToolError` that says how much was free and what to try."""
    try:
        yield
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        summary = vram_summary()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise ToolError(f"out of GPU memory while {doing}{summary}: {hint}") from error


def peak_vram_bytes() -> int:
    """Peak memory allocated by torch on the current CUDA device since the last reset (0 without CUDA)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return 0
    return int(torch.cuda.max_memory_allocated())


def free_vram_bytes() -> int | None:
    """Free memory on the current CUDA device, or None without CUDA (nothing to make room on)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    try:
        return int(torch.cuda.mem_get_info()[0])
    except RuntimeError:
        return None


class GpuResident(Protocol):
    """A backend whose model can leave the GPU while another stage needs the memory."""

    name: str

    def offload(self) -> bool:
        """Move the model to the CPU; True when it freed GPU memory (it was on the GPU)."""
        ...


_RESIDENTS: weakref.WeakValueDictionary[int, GpuResident] = weakref.WeakValueDictionary()
_LAST_USED: dict[int, float] = {}


def register_resident(backend: GpuResident) -> None:
    """Note that `backend` holds a model on the GPU now (and was just used)."""
    _RESIDENTS[id(backend)] = backend
    _LAST_USED[id(backend)] = time.monotonic()


def make_room(need_bytes: int, *, keep: object | None = None, doing: str = "") -> list[str]:
    """Move idle models off the GPU, least recently used first, until `need_bytes` are free; returns the names of
    those moved. Nothing moves when there is no CUDA or enough is free already."""
    free = free_vram_bytes()
    moved: list[str] = []
    if free is None or free >= need_bytes:
        return moved
    for key in sorted(list(_RESIDENTS.keys()), key=lambda key: _LAST_USED.get(key, 0.0)):
        backend = _RESIDENTS.get(key)
        if backend is None or backend is keep:
            continue
        if backend.offload():
            moved.append(backend.name)
            log.info("moved %s off the GPU to make room for %s", backend.name, doing or "another stage")
        _RESIDENTS.pop(key, None)
        torch = sys.modules.get("torch")
        if torch is not None:
            torch.cuda.empty_cache()
        free = free_vram_bytes()
        if free is None or free >= need_bytes:
            break
    return moved


def require_finite(values: Any, what: str) -> None:
    """Raise a `ToolError` when a model's output holds NaN or infinity (fp16 overflow, a broken checkpoint), which
    would otherwise be clipped into black frames or silence without a word."""
    import numpy as np

    array = np.asarray(values)
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        bad = int(array.size - np.isfinite(array).sum())
        raise ToolError(f"{what} produced {bad} non-finite values of {array.size} (NaN or inf): refusing to write it")
