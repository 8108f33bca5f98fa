"""FILM frame interpolation (Reda et al., ECCV 2022) from a TorchScript export.

The PyTorch port (dajes/frame-interpolation-pytorch) ships the model as TorchScript: `model(x0, x1, dt)` takes
two RGB frames in [0, 1] shaped (1, 3, H, W) with H and W multiples of 64 and `dt` shaped (1, 1), and returns the
frame at time `dt` between them. FILM is trained for the midpoint, so in-between frames come from recursive
bisection (dt = 0.5 between already-made frames); other target times snap to the nearest bisection point
(`timing="nearest"`, default) or are asked of the model directly (`timing="linear"`).

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
from studio.tools.device import cuda_present, missing_extra_reason, resolve_device, torch_dtype, vram_guard
from studio.tools.media import read_video, write_video

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np
    import torch

    from studio.config import Settings

log = logging.getLogger(__name__)

PAD_MULTIPLE = 64
MAX_BISECTION_DEPTH = 6
"""At most 63 in-between frames per pair; finer target times snap to a 1/64 grid."""
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


def bisection_depth(positions: list[Fraction], step: Fraction) -> int:
    """Smallest depth d whose 1/2^d grid holds every fractional position, capped one level finer than the output
    frame spacing `step` (in input frames): x3 snaps thirds to eighths instead of bisecting six levels deep."""
    limit = 1 if step >= 1 else min(MAX_BISECTION_DEPTH, math.ceil(math.log2(1 / step)) + 1)
    depth = 0
    for position in positions:
        fraction = position - math.floor(position)
        while depth < limit and (fraction * 2**depth).denominator != 1:
            depth += 1
    return depth


def snap(fraction: Fraction, depth: int) -> Fraction:
    """`fraction` in [0, 1] moved to the nearest point of the 1/2^depth grid."""
    steps = 2**depth
    return Fraction(round(fraction * steps), steps)


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
            return module.to(device=self.device, dtype=torch_dtype(self.device))

    def interpolate(self, clip: Clip, fps: float, output_path: Path) -> Clip:
        """Resample `clip` to `fps` with FILM in-between frames; the duration is unchanged."""
        if fps <= 0:
            raise ToolError(f"target fps must be positive, got {fps}")
        frames, _ = read_video(clip.path)
        positions = target_positions(len(frames), clip.fps, fps)
        step = frame_step(clip.fps, fps)
        written = write_video(
            self._frames_at(frames, positions, bisection_depth(positions, step)),
            fps,
            output_path,
            width=clip.width,
            height=clip.height,
        )
        return Clip(output_path, fps, written, clip.width, clip.height, self.name)

    def _frames_at(self, frames: np.ndarray, positions: list[Fraction], depth: int) -> Iterator[np.ndarray]:
        import torch

        model = self.model
        pair_index: int | None = None
        made: dict[Fraction, torch.Tensor] = {}
        with torch.inference_mode(), vram_guard(f"interpolating {frames.shape[2]}x{frames.shape[1]} frames", OOM_HINT):
            for position in positions:
                index = math.floor(position)
                fraction = position - index
                if self.options.timing == "nearest":
                    fraction = snap(fraction, depth)
                if fraction == 0 or index + 1 >= len(frames):
                    yield frames[min(index, len(frames) - 1)]
                    continue
                if fraction == 1:
                    yield frames[index + 1]
                    continue
                if pair_index != index:
                    pair_index = index
                    made = {
                        Fraction(0): self._to_tensor(frames[index]),
                        Fraction(1): self._to_tensor(frames[index + 1]),
                    }
                if self.options.timing == "linear":
                    middle = self._call(model, made[Fraction(0)], made[Fraction(1)], float(fraction))
                else:
                    middle = self._bisect(model, made, fraction)
                yield self._to_frame(middle, frames.shape[1], frames.shape[2])

    def _bisect(self, model: Any, made: dict[Fraction, torch.Tensor], target: Fraction) -> torch.Tensor:
        """The frame at `target` (a dyadic fraction) by halving intervals, reusing frames made for this pair."""
        low, high = Fraction(0), Fraction(1)
        while True:
            middle = (low + high) / 2
            if middle not in made:
                made[middle] = self._call(model, made[low], made[high], 0.5)
            if middle == target:
                return made[middle]
            low, high = (middle, high) if target > middle else (low, middle)

    def _call(self, model: Any, first: torch.Tensor, second: torch.Tensor, dt: float) -> torch.Tensor:
        timestep = first.new_full((1, 1), dt)
        result = model(first, second, timestep)
        if not hasattr(result, "shape") or tuple(result.shape) != tuple(first.shape):
            raise ToolError(f"FILM returned {getattr(result, 'shape', type(result))}, expected {tuple(first.shape)}")
        return result.clamp(0.0, 1.0)

    def _to_tensor(self, frame: np.ndarray) -> torch.Tensor:
        import torch
        import torch.nn.functional as functional

        height, width = frame.shape[:2]
        tensor = torch.from_numpy(frame.copy()).to(self.device).permute(2, 0, 1).unsqueeze(0)
        tensor = tensor.to(torch_dtype(self.device)) / 255.0
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
