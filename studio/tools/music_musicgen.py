"""MusicGen through transformers: a score of exactly the requested length, 48 kHz stereo.

`MusicgenForConditionalGeneration` (facebook/musicgen-small, -medium, -large) and
`MusicgenMelodyForConditionalGeneration` (facebook/musicgen-melody, needs torchaudio) generate ~50 audio frames per
second at 32 kHz and were trained on 30 s windows. Longer scores are made in chunks: each new chunk is generated
with the tail of the music so far as its audio prompt (continuation), and the seam is crossfaded over the part the
model re-synthesises from that prompt. The melody model cannot continue audio (its audio input is a chroma
condition), so its chunks are generated independently and joined with a crossfade.

audiocraft (Meta's own MusicGen library) pins torch 2.1 and cannot share this environment; see the README.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio import models
from studio.errors import ToolError
from studio.tools.base import AudioTrack
from studio.tools.device import (
    cuda_present,
    make_room,
    missing_extra_reason,
    pretrained_dtype_kwargs,
    register_resident,
    require_finite,
    resolve_device,
    torch_dtype,
    vram_guard,
)
from studio.tools.media import write_wav

if TYPE_CHECKING:
    import numpy as np

    from studio.config import Settings
    from studio.tools.base import MusicRequest

log = logging.getLogger(__name__)

REQUIRED_PACKAGES = ("torch", "transformers", "scipy")
SIZES = {"small": "musicgen", "medium": "musicgen-medium", "large": "musicgen-large", "melody": "musicgen-melody"}
"""`musicgen_model` setting → key in `studio.models.MODELS`."""
OOM_HINT = "use musicgen_model=small, or shorten musicgen_chunk_s"
VRAM_NEED = 4_000_000_000
"""Free GPU memory wanted before MusicGen (medium, fp16: 1.5B parameters) moves back onto the GPU."""


@dataclass(frozen=True)
class MusicgenOptions:
    model_id: str
    """Hub repository id (looked up in the HF cache only) or a local directory saved with `save_pretrained`."""
    model_name: str
    """Key in `studio.models.MODELS`, for "run `studio models pull NAME`"."""
    guidance: float = 3.0
    """Classifier-free guidance, as the model card uses."""
    chunk_seconds: float = 30.0
    """Longest single generation, prompt included (the models' training window)."""
    context_seconds: float = 10.0
    """Tail of the music so far fed back as the audio prompt of the next chunk."""
    crossfade_seconds: float = 0.25

    @classmethod
    def from_settings(cls, settings: Settings) -> MusicgenOptions:
        size = str(settings.musicgen_model)
        if size not in SIZES:
            raise ToolError(f"musicgen_model must be one of {', '.join(SIZES)}, got {size!r}")
        model_name = SIZES[size]
        return cls(
            model_id=models.MODELS[model_name].repo_id,
            model_name=model_name,
            guidance=float(settings.musicgen_guidance),
            chunk_seconds=float(settings.musicgen_chunk_s),
            context_seconds=float(settings.musicgen_context_s),
        )


def describe(request: MusicRequest) -> str:
    """The text prompt for one score: the screenwriter's mood words, tempo and key when given."""
    parts = [request.prompt.strip() or "instrumental background music"]
    if request.tempo_bpm:
        parts.append(f"{request.tempo_bpm:.0f} bpm")
    if request.key:
        parts.append(f"in {request.key}")
    return ", ".join(parts)


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """(n, channels) float audio resampled with a polyphase Kaiser-windowed filter (scipy.signal.resample_poly)."""
    import numpy as np
    from scipy.signal import resample_poly

    if source_rate == target_rate:
        return samples.astype(np.float32)
    divisor = math.gcd(source_rate, target_rate)
    return resample_poly(samples, target_rate // divisor, source_rate // divisor, axis=0).astype(np.float32)


def fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Trim or pad with silence to exactly `length` samples."""
    import numpy as np

    if len(samples) >= length:
        return samples[:length]
    return np.concatenate([samples, np.zeros((length - len(samples), samples.shape[1]), dtype=samples.dtype)])


def crossfade_append(music: np.ndarray, piece: np.ndarray, overlap: int) -> np.ndarray:
    """`music` followed by `piece`, whose first `overlap` samples are faded in over the last `overlap` of `music`."""
    import numpy as np

    overlap = min(overlap, len(music), len(piece))
    if overlap == 0:
        return np.concatenate([music, piece])
    fade_in = np.linspace(0.0, 1.0, overlap, dtype=np.float32)[:, None]
    seam = music[-overlap:] * (1.0 - fade_in) + piece[:overlap] * fade_in
    return np.concatenate([music[:-overlap], seam, piece[overlap:]])


class MusicgenGenerator:
    """Music backend on transformers' MusicGen; the model and processor stay loaded between scores."""

    name = "musicgen"

    def __init__(
        self,
        settings: Settings,
        *,
        model: Any | None = None,
        processor: Any | None = None,
        options: MusicgenOptions | None = None,
    ) -> None:
        self.settings = settings
        self.options = options or MusicgenOptions.from_settings(settings)
        self._device: str | None = None
        self._model = model
        self._processor = processor
        self._on_device = False
        if model is not None:
            self._model = self._prepare(model)

    @classmethod
    def availability(cls, settings: Settings) -> tuple[bool, str]:
        """Cheap: packages by find_spec, CUDA without importing torch, weights by looking at the HF cache."""
        missing = missing_extra_reason(*REQUIRED_PACKAGES)
        if missing:
            return False, missing
        try:
            options = MusicgenOptions.from_settings(settings)
        except ToolError as error:
            return False, str(error)
        if options.model_name == "musicgen-melody":
            torchaudio_missing = missing_extra_reason("torchaudio")
            if torchaudio_missing:
                return False, f"musicgen-melody needs torchaudio: {torchaudio_missing}"
        device = settings.device
        if device != "cpu" and not cuda_present():
            return False, "no CUDA (set device=cpu to run MusicGen on the CPU, slower than real time)"
        if not models.is_cached(options.model_name):
            return False, f"weights not in HF cache (run `studio models pull {options.model_name}`)"
        return True, f"{'CPU' if device == 'cpu' else 'CUDA'}, {options.model_id} in HF cache"

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = resolve_device(getattr(self.settings, "device", "auto"))
        return self._device

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = self._prepare(self._load_model())
        elif not self._on_device:
            self._model = self._prepare(self._model)
        if self.device == "cuda":
            register_resident(self)
        return self._model

    def offload(self) -> bool:
        """Move the model to the CPU while another stage needs the GPU; the next score brings it back."""
        if self._model is None or not self._on_device or self.device != "cuda":
            return False
        self._model = self._model.to("cpu")
        self._on_device = False
        return True

    @property
    def processor(self) -> Any:
        if self._processor is None:
            self._processor = self._load_processor()
        return self._processor

    def _load_model(self) -> Any:
        import transformers

        model_id = self.options.model_id
        try:
            model_type = self._model_type(model_id)
            model_cls = (
                transformers.MusicgenMelodyForConditionalGeneration
                if model_type == "musicgen_melody"
                else transformers.MusicgenForConditionalGeneration
            )
            log.info("loading %s from %s (%s)", model_cls.__name__, model_id, self.device)
            return model_cls.from_pretrained(
                model_id, local_files_only=True, **pretrained_dtype_kwargs("transformers", torch_dtype(self.device))
            )
        except Exception as error:  # corrupt or partial checkpoints surface as many exception types
            raise self._load_error(error) from error

    def _load_processor(self) -> Any:
        from transformers import AutoProcessor

        try:
            return AutoProcessor.from_pretrained(self.options.model_id, local_files_only=True)
        except Exception as error:
            raise self._load_error(error) from error

    def _load_error(self, error: Exception) -> ToolError:
        return ToolError(
            f"cannot load MusicGen from {self.options.model_id}: {type(error).__name__}: {str(error)[:300]} "
            f"(run `studio models pull {self.options.model_name}` to fetch or repair the weights)"
        )

    @staticmethod
    def _model_type(model_id: str) -> str:
        local = Path(model_id) / "config.json"
        if local.is_file():
            return str(json.loads(local.read_text()).get("model_type", "musicgen"))
        from transformers import AutoConfig

        return str(AutoConfig.from_pretrained(model_id, local_files_only=True).model_type)

    def _prepare(self, model: Any) -> Any:
        model.eval()
        if self.device == "cuda":
            make_room(VRAM_NEED, keep=self, doing="MusicGen")
        with vram_guard(f"moving MusicGen to {self.device}", OOM_HINT):
            model = model.to(self.device)
        self._on_device = True
        return model

    def generate(self, request: MusicRequest, output_path: Path) -> AudioTrack:
        """Write a stereo WAV at `request.sample_rate` lasting exactly `request.seconds`."""
        import numpy as np

        if request.seconds <= 0:
            raise ToolError(f"music length must be positive, got {request.seconds} s")
        model = self.model
        audio_config = model.config.audio_encoder
        rate = int(audio_config.sampling_rate)
        hop = round(rate / audio_config.frame_rate)
        # One extra frame so the resampled result is never short of the exact length.
        needed = math.ceil(request.seconds * rate) + hop
        music = self._generate_music(describe(request), needed, rate, hop, request.seed)
        length = round(request.seconds * request.sample_rate)
        resampled = fit_length(resample(music, rate, request.sample_rate), length)
        if resampled.shape[1] == 1:
            resampled = np.repeat(resampled, 2, axis=1)
        peak = float(np.abs(resampled).max()) if len(resampled) else 0.0
        if peak > 1.0:
            resampled = resampled / peak
        write_wav(resampled, request.sample_rate, output_path)
        return AudioTrack(output_path, request.sample_rate, 2, length / request.sample_rate, self.name)

    def _generate_music(self, text: str, needed: int, rate: int, hop: int, seed: int) -> np.ndarray:

        options = self.options
        continues = type(self.model).__name__ == "MusicgenForConditionalGeneration"
        chunk_frames = max(2, int(options.chunk_seconds * rate) // hop)
        context_frames = min(int(options.context_seconds * rate) // hop, chunk_frames // 2) if continues else 0
        crossfade = min(int(options.crossfade_seconds * rate), context_frames * hop) if continues else 0
        if not continues:
            crossfade = min(int(options.crossfade_seconds * rate), chunk_frames * hop // 2)
        music: np.ndarray | None = None
        chunk = 0
        while music is None or len(music) < needed:
            remaining = needed - (0 if music is None else len(music))
            if music is None:
                frames = min(chunk_frames, math.ceil(remaining / hop))
                music = self._generate_chunk(text, frames, seed, prompt=None)
            elif continues:
                context = context_frames * hop
                frames = min(chunk_frames - context_frames, math.ceil(remaining / hop))
                generated = self._generate_chunk(text, frames, seed + chunk, prompt=music[-context:])
                music = crossfade_append(music, generated[context - crossfade :], crossfade)
            else:
                frames = min(chunk_frames, math.ceil((remaining + crossfade) / hop))
                generated = self._generate_chunk(text, frames, seed + chunk, prompt=None)
                music = crossfade_append(music, generated, crossfade)
            chunk += 1
            log.debug("musicgen chunk %d: %d of %d samples", chunk, len(music), needed)
        return music

    def _generate_chunk(self, text: str, frames: int, seed: int, prompt: np.ndarray | None) -> np.ndarray:
        """`frames` new audio frames (after `prompt`, which the output also contains) as (n, channels) float32."""
        import numpy as np
        import torch

        model, processor = self.model, self.processor
        rate = int(model.config.audio_encoder.sampling_rate)
        channels = int(getattr(model.config.audio_encoder, "audio_channels", 1))
        if prompt is None:
            inputs = processor(text=[text], padding=True, return_tensors="pt")
        else:
            audio = prompt[:, 0] if channels == 1 else prompt
            inputs = processor(audio=audio, sampling_rate=rate, text=[text], padding=True, return_tensors="pt")
        dtype = next(model.parameters()).dtype
        inputs = {
            key: value.to(self.device, dtype=dtype) if value.is_floating_point() else value.to(self.device)
            for key, value in inputs.items()
        }
        # The delay pattern spends (codebooks per channel - 1) steps before the first complete audio frame.
        delay = int(model.decoder.num_codebooks) // channels - 1
        devices = [torch.cuda.current_device()] if self.device == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(seed & 0xFFFF_FFFF_FFFF_FFFF)
            with vram_guard(f"generating {frames / model.config.audio_encoder.frame_rate:.1f} s of music", OOM_HINT):
                values = model.generate(
                    **inputs, do_sample=True, guidance_scale=self.options.guidance, max_new_tokens=frames + delay
                )
        output = values[0].float().cpu().numpy()
        require_finite(output, "MusicGen")
        return np.ascontiguousarray(output.T.astype(np.float32))
