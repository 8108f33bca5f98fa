"""Zeroscope v2 through diffusers: 576w text-to-video first pass, XL video-to-video upscale with the same prompt.

`TextToVideoSDPipeline` / `VideoToVideoSDPipeline` live under `diffusers.pipelines.deprecated` since 0.33 (they
warn at construction and get no fixes), hence the upper bound on diffusers in the `gpu` extra. diffusers 0.42
removed `pipe.enable_vae_slicing()` on them: VAE slicing is `pipe.vae.enable_slicing()`.

Each backend loads its pipeline once, on first use, from the HF cache only (`local_files_only=True`), and keeps
it loaded between shots; when another stage needs the GPU memory it moves to the CPU and comes back on its next
shot (`device.make_room`). Tests inject a tiny pipeline or point `model_id` at a tiny one saved to disk.

Prompts are longer than the text encoder's 77 tokens: they reach the pipeline as `prompt_embeds`, motion first,
encoded window by window (`prompt_window`), and the log records each prompt's token count and anything dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio import models
from studio.errors import ToolError
from studio.tools.base import Clip
from studio.tools.device import (
    cuda_present,
    make_room,
    missing_extra_reason,
    pretrained_dtype_kwargs,
    register_resident,
    require_finite,
    resolve_device,
    seeded_generator,
    torch_dtype,
    vram_guard,
)
from studio.tools.frame_chunks import blend_windows, window_starts
from studio.tools.media import read_video, write_video
from studio.tools.prompt_window import DEFAULT_MAX_WINDOWS, PromptWindows, encode_long_prompt, motion_first

if TYPE_CHECKING:
    import numpy as np

    from studio.config import Settings
    from studio.tools.base import VideoRequest

log = logging.getLogger(__name__)

REQUIRED_PACKAGES = ("torch", "diffusers", "transformers", "accelerate")
OOM_HINT = (
    "set STUDIO_ZEROSCOPE_FORWARD_CHUNKING=1 and STUDIO_ZEROSCOPE_VAE_TILING=1, then STUDIO_ZEROSCOPE_CPU_OFFLOAD=1 "
    "(model CPU offload), or lower STUDIO_ZEROSCOPE_MAX_FRAMES (attention slicing saves little and slows SDPA down)"
)
GB = 1_000_000_000
VRAM_NEED = {"TextToVideoSDPipeline": 8 * GB, "VideoToVideoSDPipeline": 14 * GB}
"""Free GPU memory a pass wants before it runs (model cards: 7.9 GB for 30 frames at 576x320, 15.3 GB for 30 at
1024x576; clips here are 24 frames). Idle models move off the GPU until this much is free."""
XL_OVERLAP = 8
"""Frames two neighbouring XL windows share (StreamingT2V's enhancer: chunks of 24, overlap 8)."""


@dataclass(frozen=True)
class ZeroscopeOptions:
    """How one Zeroscope pipeline is loaded and called. Defaults follow the model cards."""

    model_id: str
    """Hub repository id (looked up in the HF cache only) or a local directory saved with `save_pretrained`."""
    model_name: str
    """Key in `studio.models.MODELS`, for "run `studio models pull NAME`"."""
    max_frames: int = 24
    """Most frames rendered in one clip (the render stage extends longer shots). ~7.9 GB VRAM for 30 at 576x320."""
    steps: int = 40
    guidance: float = 9.0
    strength: float = 0.7
    """XL only: how much of the first pass is re-noised (model card: 0.66-0.85)."""
    cpu_offload: bool = False
    """`enable_model_cpu_offload()`: fits small cards at some cost in speed (CUDA only)."""
    attention_slice_size: int | str | None = None
    """`enable_attention_slicing(size)`; None leaves attention unsliced."""
    vae_slicing: bool = True
    """Decode frames one at a time (`pipe.vae.enable_slicing()`), which bounds the VAE's peak memory."""
    vae_tiling: bool = False
    """Decode each frame in overlapping tiles (`pipe.vae.enable_tiling()`)."""
    forward_chunking: bool = False
    """`unet.enable_forward_chunking()`: feed-forward layers run a chunk at a time, trading speed for memory."""
    max_prompt_windows: int = DEFAULT_MAX_WINDOWS
    """77-token windows of prompt the text encoder reads (4: 300 tokens); text past them is dropped and logged."""

    @classmethod
    def first_pass(cls, settings: Settings) -> ZeroscopeOptions:
        return cls._from_settings(settings, "zeroscope", "zeroscope_model")

    @classmethod
    def upscale_pass(cls, settings: Settings) -> ZeroscopeOptions:
        return cls._from_settings(settings, "xl", "zeroscope_xl_model")

    @classmethod
    def _from_settings(cls, settings: Settings, model_name: str, model_setting: str) -> ZeroscopeOptions:
        slicing = settings.zeroscope_attention_slicing
        return cls(
            model_id=str(getattr(settings, model_setting, None) or models.MODELS[model_name].repo_id),
            model_name=model_name,
            max_frames=int(settings.zeroscope_max_frames),
            steps=int(settings.zeroscope_steps),
            guidance=float(settings.zeroscope_guidance),
            strength=float(settings.zeroscope_xl_strength),
            cpu_offload=bool(settings.zeroscope_cpu_offload),
            attention_slice_size="auto" if slicing is True else (slicing or None),
            vae_slicing=bool(settings.zeroscope_vae_slicing),
            vae_tiling=bool(getattr(settings, "zeroscope_vae_tiling", False)),
            forward_chunking=bool(getattr(settings, "zeroscope_forward_chunking", False)),
        )


class _ZeroscopePipelineHolder:
    """Loads one diffusers pipeline on first use and keeps it for later shots."""

    pipeline_class: str

    def __init__(self, settings: Settings, options: ZeroscopeOptions, pipeline: Any | None) -> None:
        self.settings = settings
        self.options = options
        self._device: str | None = None
        self._pipeline = None
        self._on_device = False
        self.last_prompt: PromptWindows | None = None
        """How the last shot's prompt was split for the text encoder (token count, anything dropped)."""
        if pipeline is not None:
            self._pipeline = self._prepare(pipeline)

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = resolve_device(getattr(self.settings, "device", "auto"))
        return self._device

    @property
    def pipeline(self) -> Any:
        """The loaded pipeline on its device (loaded now if this is the first shot, moved back if it was offloaded)."""
        if self._pipeline is None:
            self._pipeline = self._prepare(self._load())
        elif not self._on_device:
            self._to_device(self._pipeline)
        elif self._offloadable:  # already here: the others still make room for this pass's activations
            make_room(VRAM_NEED.get(self.pipeline_class, 8 * GB), keep=self, doing=self.pipeline_class)
        if self._offloadable:
            register_resident(self)
        return self._pipeline

    @property
    def _offloadable(self) -> bool:
        return self.device == "cuda" and not self.options.cpu_offload

    def offload(self) -> bool:
        """Move the pipeline to the CPU while another stage needs the GPU; the next shot brings it back."""
        if self._pipeline is None or not self._on_device or not self._offloadable:
            return False
        self._pipeline.to("cpu")
        self._on_device = False
        return True

    def _to_device(self, pipeline: Any) -> None:
        if self._offloadable:
            make_room(VRAM_NEED.get(self.pipeline_class, 8 * GB), keep=self, doing=self.pipeline_class)
        with vram_guard(f"moving {self.pipeline_class} to {self.device}", OOM_HINT):
            pipeline.to(self.device)
        self._on_device = True
        if self._offloadable:
            register_resident(self)

    def _embeds(self, pipeline: Any, request: VideoRequest) -> dict[str, Any]:
        """`prompt_embeds`/`negative_prompt_embeds` for `request`: motion first, every window of the prompt read."""
        device = getattr(pipeline, "_execution_device", None) or self.device
        prompt = motion_first(request.prompt, request.motion.describe())
        positive, negative, windows = encode_long_prompt(
            pipeline, prompt, request.negative_prompt, device=device, max_windows=self.options.max_prompt_windows
        )
        self.last_prompt = windows
        log.info("%s prompt of shot %s: %s", self.name, request.shot_id or "?", windows.describe())
        return {"prompt_embeds": positive, "negative_prompt_embeds": negative}

    def _load(self) -> Any:
        import diffusers

        pipeline_cls = getattr(diffusers, self.pipeline_class)
        model_id = self.options.model_id
        dtype = torch_dtype(self.device)
        log.info("loading %s from %s (%s, %s)", self.pipeline_class, model_id, self.device, dtype)
        try:
            return pipeline_cls.from_pretrained(
                model_id, local_files_only=True, **pretrained_dtype_kwargs("diffusers", dtype)
            )
        except Exception as error:  # corrupt or partial checkpoints surface as many exception types
            raise ToolError(
                f"cannot load {self.pipeline_class} from {model_id}: {type(error).__name__}: {error} "
                f"(run `studio models pull {self.options.model_name}` to fetch or repair the weights)"
            ) from error

    def _prepare(self, pipeline: Any) -> Any:
        pipeline.set_progress_bar_config(disable=True)
        if self.options.vae_slicing:
            pipeline.vae.enable_slicing()
        if self.options.vae_tiling:
            pipeline.vae.enable_tiling()
        if self.options.forward_chunking:
            pipeline.unet.enable_forward_chunking(chunk_size=1, dim=1)
        if self.options.attention_slice_size is not None:
            pipeline.enable_attention_slicing(self.options.attention_slice_size)
        if self.options.cpu_offload and self.device == "cuda":
            pipeline.enable_model_cpu_offload()
            self._on_device = True
        else:
            self._to_device(pipeline)
        return pipeline


def frames_to_uint8(frames: Any) -> np.ndarray:
    """Pipeline output frames, float in [0, 1] shaped (T, H, W, 3), as RGB uint8."""
    import numpy as np

    if hasattr(frames, "detach"):
        frames = frames.detach().float().cpu().numpy()
    array = np.asarray(frames, dtype=np.float32)
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ToolError(f"unexpected frames from the pipeline: shape {array.shape}, expected (T, H, W, 3)")
    require_finite(array, "the video pipeline")
    return (np.clip(array, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def _availability(settings: Settings, options: ZeroscopeOptions) -> tuple[bool, str]:
    missing = missing_extra_reason(*REQUIRED_PACKAGES)
    if missing:
        return False, missing
    if settings.device == "cpu":
        return False, "device=cpu: Zeroscope needs CUDA (hours per clip on a CPU)"
    if not cuda_present():
        return False, "no CUDA"
    local = Path(options.model_id)
    if local.is_dir():
        if not (local / "model_index.json").is_file():
            return False, f"{local} has no model_index.json"
        return True, f"CUDA, weights in {local}"
    if options.model_id == models.MODELS[options.model_name].repo_id:
        if not models.is_cached(options.model_name):
            return False, f"weights not in HF cache (run `studio models pull {options.model_name}`)"
    return True, f"CUDA, {options.model_id} in HF cache"


class ZeroscopeVideoGenerator(_ZeroscopePipelineHolder):
    """Text-to-video with Zeroscope v2 576w. The render stage asks for the model's native 576x320 at 8 fps
    (Zeroscope stores no frame rate; 8 fps is how its clips are usually played, FILM brings them to house fps).
    A request longer than `max_frames` gets one clip of `max_frames`; the render stage extends it."""

    name = "zeroscope"
    pipeline_class = "TextToVideoSDPipeline"

    def __init__(
        self, settings: Settings, *, pipeline: Any | None = None, options: ZeroscopeOptions | None = None
    ) -> None:
        super().__init__(settings, options or ZeroscopeOptions.first_pass(settings), pipeline)

    @classmethod
    def availability(cls, settings: Settings) -> tuple[bool, str]:
        """Cheap: packages by find_spec, CUDA without importing torch, weights by looking at the HF cache."""
        return _availability(settings, ZeroscopeOptions.first_pass(settings))

    def frames_for(self, request: VideoRequest) -> int:
        """Frames this backend renders for `request`: all of them, up to one clip of `max_frames`."""
        return max(1, min(self.options.max_frames, request.num_frames))

    def generate(self, request: VideoRequest, output_path: Path) -> Clip:
        """Render one clip for `request` and write it to `output_path`."""
        options = self.options
        width, height = request.width, request.height
        num_frames = self.frames_for(request)
        pipeline = self.pipeline
        multiple = int(getattr(pipeline, "vae_scale_factor", 8))
        if width % multiple or height % multiple:
            raise ToolError(f"Zeroscope size {width}x{height} must be a multiple of {multiple}")
        with vram_guard(f"generating {num_frames} frames at {width}x{height}", OOM_HINT):
            result = pipeline(
                **self._embeds(pipeline, request),
                num_frames=num_frames,
                height=height,
                width=width,
                num_inference_steps=options.steps,
                guidance_scale=options.guidance,
                generator=seeded_generator(self.device, request.seed),
                output_type="np",
            )
        frames = frames_to_uint8(result.frames[0])
        written = write_video(frames, request.fps, output_path, width=width, height=height)
        return Clip(output_path, request.fps, written, width, height, self.name)


class ZeroscopeXLUpscaler(_ZeroscopePipelineHolder):
    """Zeroscope v2 XL: frames resized to the target size (1024x576) and re-noised by `strength`, then denoised
    with THE SAME PROMPT and negative prompt as the first pass (the model card's recipe)."""

    name = "zeroscope_xl"
    pipeline_class = "VideoToVideoSDPipeline"

    def __init__(
        self, settings: Settings, *, pipeline: Any | None = None, options: ZeroscopeOptions | None = None
    ) -> None:
        super().__init__(settings, options or ZeroscopeOptions.upscale_pass(settings), pipeline)

    @classmethod
    def availability(cls, settings: Settings) -> tuple[bool, str]:
        """Cheap: packages by find_spec, CUDA without importing torch, weights by looking at the HF cache."""
        return _availability(settings, ZeroscopeOptions.upscale_pass(settings))

    def with_strength(self, strength: float) -> ZeroscopeXLUpscaler:
        """Use another strength from now on (the pipeline stays loaded)."""
        if not 0.0 < strength <= 1.0:
            raise ToolError(f"XL strength must be in (0, 1], got {strength}")
        self.options = replace(self.options, strength=strength)
        return self

    def upscale(self, clip: Clip, request: VideoRequest, width: int, height: int, output_path: Path) -> Clip:
        """Upscale `clip` to width x height with the prompt of `request` (the one that made the clip), in windows of
        at most `max_frames` frames that overlap by `XL_OVERLAP` and are blended, each with the same prompt and seed:
        the XL pass's memory grows with the frames it denoises at once."""
        import numpy as np

        options = self.options
        pipeline = self.pipeline
        multiple = int(getattr(pipeline, "vae_scale_factor", 8))
        if width % multiple or height % multiple:
            raise ToolError(f"XL upscale size {width}x{height} must be a multiple of {multiple}")
        if int(options.steps * options.strength) < 1:
            raise ToolError(f"{options.steps} steps at strength {options.strength} leave no denoising step")
        frames, _ = read_video(clip.path, width=width, height=height)
        window = max(1, options.max_frames)
        starts = window_starts(len(frames), window, min(XL_OVERLAP, window // 3))
        embeds = self._embeds(pipeline, request)
        pieces: list[tuple[int, np.ndarray]] = []
        for start in starts:
            video = frames[start : start + window].astype(np.float32) / 255.0
            with vram_guard(f"upscaling {len(video)} frames to {width}x{height}", OOM_HINT):
                result = pipeline(
                    **embeds,
                    video=video,
                    strength=options.strength,
                    num_inference_steps=options.steps,
                    guidance_scale=options.guidance,
                    generator=seeded_generator(self.device, request.seed),
                    output_type="np",
                )
            piece = frames_to_uint8(result.frames[0])
            if piece.shape[1:3] != (height, width):
                raise ToolError(f"XL returned {piece.shape[2]}x{piece.shape[1]} frames, expected {width}x{height}")
            pieces.append((start, piece))
        upscaled = blend_windows(pieces, len(frames)).round().astype(np.uint8)
        written = write_video(upscaled, clip.fps, output_path, width=width, height=height)
        return Clip(output_path, clip.fps, written, width, height, self.name)
