"""FILM frame interpolation (Reda et al., ECCV 2022) from a TorchScript export.

The PyTorch port (dajes/frame-interpolation-pytorch) ships the model as TorchScript: `model(x0, x1, dt)` takes
two RGB frames in [0, 1] shaped (1, 3, H, W) with H and W multiples of 64 and `dt` shaped (1, 1), and returns the
frame at time `dt` between them. As in the reference inference (`inference.py` of the port, after Google's
`interpolate_recursively`), each in-between frame is made from the two already-made frames around it, taking first
the target whose split is nearest the middle, with its exact `dt` (`timing="nearest"`, default): x2 and x4 are
recursive bisection, and 8 -> 24 fps makes 1/3 (dt 1/3) then 2/3 (dt 1/2 between 1/3 and 1), two calls per pair at
the right times. `timing="linear"` asks every frame of the two input frames directly.

FILM runs in float32 on every device: its warp grid loses about a quarter pixel in float16.

The model is loaded from `film_model_path` when set, else from the HF cache (`studio models pull film`).
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from studio import models
from studio.errors import BackendUnavailable, ToolError
from studio.tools.base import Clip
from studio.tools.device import cuda_present, missing_extra_reason, resolve_device, vram_guard
from studio.tools.media import read_video, write_video

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np
    import torch

    from studio.config import Settings

log = logging.getLogger(__name__)

PAD_MULTIPLE = 64
OOM_HINT = "interpolate at a lower resolution (before the upscale) or free the GPU for this stage"


@dataclass(frozen=True)
class FilmOptions:
    model_path: Path | None = None
    """A TorchScript file (film_net_fp32.pt). None: the file from the HF cache."""
    timing: Literal["nearest", "linear"] = "nearest"

    @classmethod
    def from_settings(cls, settings: Settings) -> FilmOptions:
        path = settings.film_model_path
        return cls(model_path=Path(path) if path else None, timing=settings.film_timing)


def frame_step(fps_in: float, fps_out: float) -> Fraction:
    """Distance between output frames in input frames (1/3 for 8 -> 24 fps), exact for NTSC rates."""
    return Fraction(fps_in).limit_denominator(1001) / Fraction(fps_out).limit_denominator(1001)


def target_positions(num_frames: int, fps_in: float, fps_out: float) -> list[Fraction]:
    """Source positions (in input frame units) of each output frame when resampling to `fps_out`.

    The output lasts as long as the input (`num_frames / fps_in` seconds). Positions past the last input frame
    hold the last frame, as a player would.
    """
    ratio = frame_step(fps_in, fps_out)
    count = max(1, round(num_frames * fps_out / fps_in))
    last = Fraction(num_frames - 1)
    return [min(index * ratio, last) for index in range(count)]


def _around(made: list[Fraction], target: Fraction) -> tuple[Fraction, Fraction]:
    """The made times just before and after `target`."""
    return max(point for point in made if point < target), min(point for point in made if point > target)


def split_order(targets: list[Fraction]) -> list[tuple[Fraction, Fraction, Fraction]]:
    """`(start, end, target)` for each target time in (0, 1), in the order the reference inference makes them:
    among the targets left, the one whose split of the made interval around it is nearest the middle."""
    made = [Fraction(0), Fraction(1)]
    remaining = sorted(set(targets))
    order = []
    while remaining:
        splits = [(abs((t - start) / (end - start) - Fraction(1, 2)), t, start, end)
                  for t in remaining for start, end in [_around(made, t)]]  # fmt: skip
        _, target, start, end = min(splits)
        order.append((start, end, target))
        remaining.remove(target)
        made = sorted([*made, target])
    return order


class FilmInterpolator:
    """Interpolator backed by a TorchScript FILM model (kept loaded between shots)."""

    name = "film"

    def __init__(self, settings: Settings, *, model: Any | None = None, options: FilmOptions | None = None) -> None:
        self.settings = settings
        self.options = options or FilmOptions.from_settings(settings)
        self._device: str | None = None
        self._model = model

    @classmethod
    def availability(cls, settings: Settings) -> tuple[bool, str]:
        """Cheap: torch by find_spec, CUDA without importing torch, the weights file by its path or HF cache entry."""
        missing = missing_extra_reason("torch")
        if missing:
            return False, missing
        device = settings.device
        if device != "cpu" and not cuda_present():
            return False, "no CUDA (set device=cpu to run FILM on the CPU, slowly)"
        options = FilmOptions.from_settings(settings)
        if options.model_path is not None:
            if not options.model_path.is_file():
                return False, f"film_model_path {options.model_path} does not exist"
            where = str(options.model_path)
        elif models.is_cached("film"):
            where = f"{models.MODELS['film'].repo_id} in HF cache"
        else:
            return False, "weights not in HF cache (run `studio models pull film`)"
        return True, f"{'CPU' if device == 'cpu' else 'CUDA'}, {where}"

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = resolve_device(getattr(self.settings, "device", "auto"))
        return self._device

    def model_file(self) -> Path:
        """The TorchScript file this backend loads."""
        if self.options.model_path is not None:
            if not self.options.model_path.is_file():
                raise BackendUnavailable(f"film_model_path {self.options.model_path} does not exist")
            return self.options.model_path
        snapshot = models.cached_snapshot("film")
        if snapshot is None:
            raise BackendUnavailable("FILM weights not in HF cache (run `studio models pull film`)")
        return snapshot / models.MODELS["film"].required[0]

    @property
    def model(self) -> Any:
        """The loaded TorchScript module, on this backend's device and dtype."""
        if self._model is None:
            self._model = self._load(self.model_file())
        return self._model

    def _load(self, path: Path) -> Any:
        import torch

        log.info("loading FILM from %s (%s)", path, self.device)
        try:
            with warnings.catch_warnings():
                # TorchScript is deprecated in torch 2.10+, but it is the format FILM's PyTorch port ships.
                warnings.simplefilter("ignore", DeprecationWarning)
                module = torch.jit.load(str(path), map_location="cpu")
        except Exception as error:  # a truncated or non-TorchScript file raises RuntimeError or ValueError
            raise ToolError(
                f"cannot load FILM TorchScript from {path}: {type(error).__name__}: {str(error)[:200]} "
                "(is it a TorchScript export? re-run `studio models pull film`)"
            ) from error
        module.eval()
        with vram_guard("moving FILM to the GPU", OOM_HINT):
            return module.to(device=self.device, dtype=torch.float32)

    def interpolate(self, clip: Clip, fps: float, output_path: Path) -> Clip:
        """Resample `clip` to `fps` with FILM in-between frames; the duration is unchanged."""
        if fps <= 0:
            raise ToolError(f"target fps must be positive, got {fps}")
        frames, _ = read_video(clip.path)
        positions = target_positions(len(frames), clip.fps, fps)
        written = write_video(
            self._frames_at(frames, positions), fps, output_path, width=clip.width, height=clip.height
        )
        return Clip(output_path, fps, written, clip.width, clip.height, self.name)

    def _frames_at(self, frames: np.ndarray, positions: list[Fraction]) -> Iterator[np.ndarray]:
        import torch

        model = self.model
        wanted: dict[int, list[Fraction]] = {}
        for position in positions:
            index, fraction = math.floor(position), position - math.floor(position)
            if fraction and index + 1 < len(frames):
                wanted.setdefault(index, []).append(fraction)
        pair_index: int | None = None
        made: dict[Fraction, torch.Tensor] = {}
        with torch.inference_mode(), vram_guard(f"interpolating {frames.shape[2]}x{frames.shape[1]} frames", OOM_HINT):
            for position in positions:
                index = math.floor(position)
                fraction = position - index
                if fraction == 0 or index + 1 >= len(frames):
                    yield frames[min(index, len(frames) - 1)]
                    continue
                if pair_index != index:
                    pair_index = index
                    made = self._pair(model, frames[index], frames[index + 1], wanted[index])
                yield self._to_frame(made[fraction], frames.shape[1], frames.shape[2])

    def _pair(
        self, model: Any, first: np.ndarray, second: np.ndarray, targets: list[Fraction]
    ) -> dict[Fraction, torch.Tensor]:
        """The frames at `targets` between two input frames, one model call each."""
        made = {Fraction(0): self._to_tensor(first), Fraction(1): self._to_tensor(second)}
        if self.options.timing == "linear":
            for target in targets:
                made[target] = self._call(model, made[Fraction(0)], made[Fraction(1)], float(target))
            return made
        for start, end, target in split_order(targets):
            made[target] = self._call(model, made[start], made[end], float((target - start) / (end - start)))
        return made

    def _call(self, model: Any, first: torch.Tensor, second: torch.Tensor, dt: float) -> torch.Tensor:
        timestep = first.new_full((1, 1), dt)
        result = model(first, second, timestep)
        if not hasattr(result, "shape") or tuple(result.shape) != tuple(first.shape):
            raise ToolError(f"FILM returned {getattr(result, 'shape', type(result))}, expected {tuple(first.shape)}")
        if not bool(result.isfinite().all()):
            raise ToolError("FILM produced non-finite values (NaN or inf): refusing to write the frame")
        return result.clamp(0.0, 1.0)

    def _to_tensor(self, frame: np.ndarray) -> torch.Tensor:
        import torch
        import torch.nn.functional as functional

        height, width = frame.shape[:2]
        tensor = torch.from_numpy(frame.copy()).to(self.device).permute(2, 0, 1).unsqueeze(0)
        tensor = tensor.to(torch.float32) / 255.0
        pad_bottom = -height % PAD_MULTIPLE
        pad_right = -width % PAD_MULTIPLE
        if pad_bottom or pad_right:
            tensor = functional.pad(tensor, (0, pad_right, 0, pad_bottom), mode="replicate")
        return tensor

    @staticmethod
    def _to_frame(tensor: torch.Tensor, height: int, width: int) -> np.ndarray:
        import numpy as np

        cropped = tensor[0, :, :height, :width].permute(1, 2, 0).float().cpu().numpy()
        return np.ascontiguousarray((cropped * 255.0).round().astype(np.uint8))
