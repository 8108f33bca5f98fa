"""Settings: `STUDIO_*` environment variables, overridden by command-line flags.

The OpenAI-compatible endpoint is read from the standard `OPENAI_API_KEY` / `OPENAI_BASE_URL` variables so the
same environment works for OpenAI, vLLM, Ollama and llama.cpp server.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from studio.errors import ConfigError


def default_data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "studio"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STUDIO_", extra="forbid", validate_default=True)

    data_dir: Path = Field(default_factory=default_data_dir)
    """Where the station keeps everything it writes: station.sqlite, checkpoints, media/, hls/."""

    openai_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "STUDIO_OPENAI_API_KEY")
    )
    """Key for the OpenAI-compatible endpoint. Without a key or a base URL the offline director writes the plans."""

    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "STUDIO_OPENAI_BASE_URL")
    )
    """Base URL of an OpenAI-compatible server (vLLM, Ollama, llama.cpp server). Local servers need no key."""

    llm_model: str = "gpt-4o-mini"
    """Chat model name sent to the endpoint."""

    llm_structured_method: Literal["json_schema", "function_calling", "json_mode"] = "json_schema"
    """How structured outputs are requested; `function_calling` suits servers without JSON-schema support."""

    llm_timeout_s: float = 120.0
    """Seconds before one LLM call is abandoned (the agent then falls back to the offline director)."""

    vision_model: str | None = None
    """A multimodal chat model (e.g. `gpt-4o-mini`, `qwen2.5-vl`) at an OpenAI-compatible endpoint. Set, the critic
    also sends sampled frames of every clip it judges (in production and `studio critique`) with the shot's brief
    to it: its verdict can add failures to the measured checks, never clear one; unreachable, it is reported
    unavailable and the clip is judged without it. The on-air safety gate asks it whether each segment fits the
    show's tone and avoid list. Unset (or no endpoint configured), neither runs, and their evidence says so."""

    vision_base_url: str | None = None
    """Base URL of the vision model's server; unset, `OPENAI_BASE_URL` (else OpenAI's API)."""

    vision_api_key: str | None = None
    """Key for the vision model's server; unset, `OPENAI_API_KEY` (local servers need none)."""

    vision_frames: int = Field(default=4, ge=1, le=16)
    """Frames of each clip sent to the vision model, spread over the clip."""

    vision_timeout_s: float = Field(default=60.0, gt=0)
    """Seconds before one vision call is abandoned (the vision check then reports itself unavailable)."""

    device: Literal["auto", "cuda", "cpu"] = "auto"
    """Device for the model backends. `auto` picks CUDA when present."""

    video_backend: Literal["auto", "procedural", "zeroscope"] = "auto"
    """Text-to-video backend. `auto`: Zeroscope when CUDA, diffusers and its weights are present, else procedural."""

    upscale_backend: Literal["auto", "ffmpeg", "zeroscope_xl"] = "auto"
    """Second pass to the house size. `auto`: Zeroscope XL when usable, else ffmpeg lanczos scaling."""

    extend_backend: Literal["auto", "procedural", "streamingt2v"] = "auto"
    """Extender for shots longer than one generated clip."""

    interpolate_backend: Literal["auto", "ffmpeg", "film"] = "auto"
    """Frame interpolation to the house frame rate. `auto`: FILM when its weights are present, else ffmpeg."""

    interpolate_mode: Literal["blend", "mci_fast", "mci"] = "blend"
    """ffmpeg interpolation: `blend` (real-time on a laptop), or motion-compensated `mci_fast` / `mci` (3-6x slower
    than real time on 2 cores, sharper on pans)."""

    music_backend: Literal["auto", "synth", "musicgen", "audiocraft"] = "auto"
    """Score backend. `auto`: MusicGen when usable, then audiocraft (out of process), else the embedded synthesiser."""

    zeroscope_model: str | None = None
    """Hub id or local diffusers directory of the first pass. Default: cerspense/zeroscope_v2_576w."""

    zeroscope_xl_model: str | None = None
    """Hub id or local diffusers directory of the upscale pass. Default: cerspense/zeroscope_v2_XL."""

    zeroscope_steps: int = Field(default=40, ge=1, le=200)
    """Denoising steps of each Zeroscope pass."""

    zeroscope_guidance: float = Field(default=9.0, ge=1.0)
    """Classifier-free guidance of both Zeroscope passes."""

    zeroscope_xl_strength: float = Field(default=0.7, gt=0.0, le=1.0)
    """How much of the 576w clip the XL pass re-noises (model card: 0.66-0.85)."""

    zeroscope_max_frames: int = Field(default=24, ge=2, le=64)
    """Most frames in one Zeroscope clip; longer shots are extended (~7.9 GB VRAM for 30 frames at 576x320)."""

    zeroscope_cpu_offload: bool = False
    """Model CPU offload for cards too small for the XL pass (slower)."""

    zeroscope_attention_slicing: bool = False
    """Sliced attention: less VRAM, but it slows PyTorch's fused (SDPA) attention down; prefer forward chunking."""

    zeroscope_forward_chunking: bool = False
    """Run the UNet's feed-forward layers frame chunk by frame chunk (`unet.enable_forward_chunking`): less VRAM."""

    zeroscope_vae_tiling: bool = False
    """Decode the VAE in overlapping tiles: bounds its peak VRAM at 1024x576."""

    zeroscope_vae_slicing: bool = True
    """Decode frames one at a time, which bounds the VAE's peak VRAM."""

    film_model_path: Path | None = None
    """A FILM TorchScript file (film_net_fp32.pt). Unset: the one `studio models pull film` put in the HF cache."""

    film_timing: Literal["nearest", "linear"] = "nearest"
    """`nearest`: each in-between frame from the made frames around it, the split nearest the middle first, with
    its exact time (FILM's reference inference); `linear`: every frame straight from the two input frames."""

    musicgen_model: Literal["small", "medium", "large", "melody"] = "small"
    """MusicGen size (melody needs torchaudio)."""

    musicgen_guidance: float = Field(default=3.0, ge=1.0)
    """Classifier-free guidance of MusicGen."""

    musicgen_chunk_s: float = Field(default=30.0, gt=1.0, le=30.0)
    """Longest single MusicGen generation; longer scores continue in chunks."""

    musicgen_context_s: float = Field(default=10.0, gt=0.0, lt=30.0)
    """Tail of the score so far used as the audio prompt of the next chunk."""

    streamingt2v_dir: Path | None = None
    """A StreamingT2V checkout (branch StreamingModelscope) with its own Python environment."""

    streamingt2v_python: Path | None = None
    """Python of StreamingT2V's environment. Unset: <dir>/venv/bin/python or <dir>/.venv/bin/python."""

    streamingt2v_entry: Path | None = None
    """A script keeping studio's StreamingT2V command-line contract. Unset: studio's built-in adapter."""

    streamingt2v_timeout_s: float = Field(default=1800.0, gt=0)
    """Seconds before a StreamingT2V run is killed."""

    audiocraft_python: Path | None = None
    """Python of a separate environment with audiocraft installed (it pins torch 2.1; see README)."""

    audiocraft_entry: Path | None = None
    """A script keeping studio's audiocraft command-line contract. Unset: studio's built-in entry."""

    audiocraft_model: str = "facebook/musicgen-small"
    """What audiocraft's `MusicGen.get_pretrained` loads: facebook/musicgen-small, -medium, -large, -melody, or a
    local folder with state_dict.bin and compression_state_dict.bin."""

    audiocraft_timeout_s: float = Field(default=1800.0, gt=0)
    """Seconds before an audiocraft run is killed."""

    max_repairs: int = Field(default=2, ge=0, le=10)
    """How many times the critic may send one shot back before it is dropped from its segment."""

    buffer_target_s: float = Field(default=120.0, gt=0)
    """Approved seconds the showrunner keeps queued ahead of the playhead before it pauses production."""

    pipeline_depth: int = Field(default=3, ge=1, le=32)
    """Segments production makes at once (each on its own thread: written, designed, judged and conformed there,
    its shots rendered by the one render stage). While one segment is judged or conformed, the others keep the
    render stage (the GPU) busy; the next episode is planned as soon as every segment of the ones in hand has
    started. 1: one segment at a time, one step after another."""

    ray_address: str | None = None
    """A Ray cluster to render on (`studio run --ray`): `auto` (the cluster this machine belongs to), `HOST:PORT` of
    its head, or `ray://HOST:PORT` (Ray Client). One render worker runs per unit of `ray_render_resource`, its models
    loaded once; the critic and the conform encode run as Ray tasks on the cluster's CPUs; the store, the agents,
    the safety gate and playout stay here. Unset: everything runs here."""

    ray_render_resource: str = "GPU"
    """The Ray resource a render worker takes one unit of: `GPU`, or a custom resource the cluster's nodes were
    started with (`ray start --resources '{"render": 2}'`) to keep some GPUs for other work, or to stand in for
    GPUs on a test cluster."""

    buffer_strategy: bool = True
    """The showrunner watches the buffer: when an episode as planned would not be made before the buffer runs dry
    at the measured production rate, it plans shorter segments with fewer repairs and, if that is not enough, lets
    reruns of aired segments fill the gaps between episodes (the log says why). Off: every episode as planned."""

    reruns: bool = True
    """Between episodes, while the next one cannot start yet, air segments that already aired (the best-judged,
    least recently rerun first) after a "coming up" card, instead of looping the show's ident."""

    loudness_lufs: float = Field(default=-23.0, ge=-40.0, le=-5.0)
    """Integrated loudness every segment, ident and rerun airs at (EBU R128: -23 LUFS; for streaming platforms
    -16), so shows, music and filler play at one level. Applied once, when a segment is conformed."""

    true_peak_dbtp: float = Field(default=-1.0, ge=-9.0, le=0.0)
    """The true-peak ceiling (dBTP) the loudness normalisation keeps under."""

    air_through_margin: float = Field(default=1.5, ge=1.0, le=10.0)
    """An episode starts before all its segments are made only if production, this many times slower than
    measured so far, would still finish each one before it is due on air (no filler inside an episode)."""

    memory_premise_threshold: float = Field(default=0.8, gt=0.0, le=1.0)
    """Cosine similarity (0-1) at which a planned premise counts as one already aired: the showrunner plans again
    while the show has unaired topics, and calls it a variation once every topic has aired."""

    memory_chroma_url: str | None = None
    """Use Chroma's own server (`chroma run`) at this URL for the memory index instead of `memory/` in the data dir
    (for several processes or machines)."""

    safety_gate: bool = True
    """The on-air safety gate (`on`/`off`): every conformed segment is read (OCR on sampled frames, the show's
    avoided words, and the tone when a vision model is configured) before it may air; one that shows any legible
    text, an avoided word, or content outside the show's tone is held for a person instead. Off only for tests and
    trusted material."""

    safety_gate_read_embedded: bool = False
    """Also read the embedded renderer's pictures for text. It draws shapes, gradients and figures, never letters
    (0 of 36 of its segments held when read), so by default the gate spends its OCR, about 6 s of CPU a segment on
    2 cores, only on a generative model's pictures; avoided words in titles and the tone are checked either way."""

    safety_gate_min_score: float = Field(default=0.9, gt=0.0, le=1.0)
    """OCR confidence (0-1) from which a reading counts as legible text for the safety gate."""

    safety_gate_sample_fps: float = Field(default=2.0, gt=0.0, le=30.0)
    """Frames per second of a segment the safety gate samples (of those, only frames that changed are read)."""

    safety_gate_max_frames: int = Field(default=8, ge=1, le=120)
    """Most frames the safety gate reads per segment (spread over those that changed): its cost, about 0.2 s of CPU
    a frame (read at 640 px, its corners again on two of them)."""

    port: int = Field(default=8090, ge=0, le=65535)
    """Port of the local web player (HLS). 0 picks a free port."""

    bind: str = "127.0.0.1"
    """Address the web player listens on. Loopback by default; use 0.0.0.0 to share on your network."""

    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    """Serve Prometheus metrics at http://127.0.0.1:PORT/metrics (0 picks a free port); unset, none are served."""

    rtmp_url: str | None = None
    """Also push the channel as FLV to this RTMP URL (e.g. rtmp://127.0.0.1/live/studio)."""

    playout_realtime: bool = True
    """Stream at real-time rate, as a channel does. Off only for tests and dry runs."""

    hls_list_size: int = Field(default=6, ge=0)
    """Segments the live HLS playlist lists; older ones are deleted. 0 keeps every segment and lists them all: a
    recording of everything that aired (soak tests measure it)."""

    faults: str = ""
    """Fault injection for soak tests and dry runs, e.g. `render_error=0.05,corrupt_clip=0.03,seed=7`; renders
    then take fake time (`studio.faults` lists every fault and option). Empty: none."""

    filler_seconds: float = Field(default=4.0, gt=0.2)
    """Length of the show's ident, which airs (looping) whenever no approved segment is ready, so the channel never
    goes dark or silent: the show's title over its colours and music. A segment that becomes ready waits at most
    this long."""

    media_budget_gb: float | None = Field(default=20.0, ge=0)
    """Disk budget of media/ in GB (10^9 bytes); 0 or unset: unlimited. Over it, the station deletes what no longer
    airs: shot renders of segments already made (rejected takes first), then aired episodes beyond those kept for
    reruns, oldest first. Nothing that may still air is deleted, nor thumbnails, contact sheets or the ident."""

    rerun_keep_episodes: int = Field(default=3, ge=0)
    """The most recent aired episodes whose segment and episode files are never pruned, so reruns can air them."""

    retention_interval_s: float = Field(default=300.0, gt=0)
    """Seconds between pruning passes (media and checkpoints) besides the one after each segment airs."""


OTHER_VARIABLES = frozenset({"STUDIO_DEBUG", "STUDIO_CACHE_DIR"})
"""Variables read where they are needed, not through `Settings`: `STUDIO_DEBUG` (tracebacks), `STUDIO_CACHE_DIR`
(`studio.tools.checks.ocr.optimised_model`, read without loading the settings, which `studio critique` skips)."""


def setting_variables() -> set[str]:
    """Every environment variable a setting reads."""
    names = {f"STUDIO_{name.upper()}" for name in Settings.model_fields}
    for field in Settings.model_fields.values():
        if isinstance(field.validation_alias, AliasChoices):
            names |= {str(choice).upper() for choice in field.validation_alias.choices}
    return names


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """`STUDIO_*` variables set in the environment that no setting reads (a typo would otherwise do nothing)."""
    environ = os.environ if environ is None else environ
    known = setting_variables() | OTHER_VARIABLES
    return sorted(name for name in environ if name.upper().startswith("STUDIO_") and name.upper() not in known)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit (non-None) overrides from the command line. A `STUDIO_*`
    variable that is no setting is a `ConfigError` naming it (and the setting it was probably meant to be)."""
    unknown = unknown_variables()
    if unknown:
        known = sorted(setting_variables() | OTHER_VARIABLES)
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name.upper(), known, n=1)
            hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
        raise ConfigError(
            f"unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(hints)}: unset it or fix its name"
            " (the README lists every STUDIO_* variable)"
        )
    given = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**given)  # type: ignore[arg-type]
