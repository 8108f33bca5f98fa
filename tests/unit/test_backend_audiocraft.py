"""audiocraft backend against real subprocesses.

First half: a small script, written here, that keeps the command-line contract (`--prompt --seconds --seed --model
--output`) and misbehaves on request: crash, hang with a child, no output, the wrong rate, channels or length.

Second half: studio's REAL built-in entry (`ENTRY_SOURCE`) run by the backend, exactly as in production, with an
interpreter whose environment holds a contract double of `audiocraft`: `audiocraft.models.MusicGen` with
`get_pretrained(name, device=None)`, `set_generation_params(..., duration=30.0, ..., extend_stride=18)` (which, as
audiocraft's does, asserts `extend_stride < max_duration`), `generate(descriptions, progress=False,
return_tokens=False)` returning (batch, channels, samples) at 32 kHz, windowed past `max_duration` = 30 s the way
audiocraft's `_generate_tokens` is, and `audiocraft.data.audio.audio_write(stem_name, wav, sample_rate, ...)`,
which appends the suffix. Its sound comes from torch's global generator, so the seed decides it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from studio.config import Settings
from studio.errors import BackendUnavailable, ToolError
from studio.tools.base import AudioTrack, MusicGenerator, MusicRequest
from studio.tools.media import read_wav
from studio.tools.music_audiocraft import (
    ENTRY_SOURCE,
    AudiocraftMusicGenerator,
    AudiocraftOptions,
    conform_argv,
    entry_argv,
)
from studio.tools.registry import BACKENDS

FAKE_ENTRY = r"""
import argparse, json, math, os, subprocess, sys, time, wave
from pathlib import Path

parser = argparse.ArgumentParser()
for name in ("--prompt", "--model", "--output"):
    parser.add_argument(name, required=True)
parser.add_argument("--seconds", type=float, required=True)
parser.add_argument("--seed", type=int, required=True)
args = parser.parse_args()
log = Path(os.environ["FAKE_AUDIOCRAFT_LOG"])
with log.open("a") as handle:
    handle.write(json.dumps({**vars(args), "cwd": os.getcwd(),
                             "cuda_visible": os.environ.get("CUDA_VISIBLE_DEVICES")}) + "\n")
mode = os.environ.get("FAKE_AUDIOCRAFT_MODE", "ok")
if mode == "crash":
    print("loading facebook/musicgen-small", file=sys.stderr)
    print("Traceback (most recent call last):\nRuntimeError: the decoder fell over", file=sys.stderr)
    sys.exit(4)
if mode == "oom":
    print("torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2 GiB", file=sys.stderr)
    sys.exit(1)
if mode == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    (log.parent / "child.pid").write_text(str(child.pid))
    time.sleep(120)
if mode == "no-output":
    sys.exit(0)
if mode == "garbage":
    Path(args.output).write_bytes(b"this is not a wav file")
    sys.exit(0)
rate, channels, seconds = {"ok": (32000, 1, args.seconds), "short": (32000, 1, args.seconds - 0.8),
                           "long": (44100, 2, args.seconds + 0.6)}[mode]
count = int(seconds * rate)
t = [i / rate for i in range(count)]
samples = []
for i in range(count):
    value = int(0.5 * 32767 * math.sin(2 * math.pi * 440 * t[i]))
    samples += [value] * channels
import array
with wave.open(args.output, "wb") as handle:
    handle.setnchannels(channels)
    handle.setsampwidth(2)
    handle.setframerate(rate)
    handle.writeframes(array.array("h", samples).tobytes())
"""


@pytest.fixture
def fake_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    entry = tmp_path / "fake_audiocraft_entry.py"
    entry.write_text(FAKE_ENTRY)
    monkeypatch.setenv("FAKE_AUDIOCRAFT_LOG", str(tmp_path / "calls.jsonl"))
    return entry


def backend_with(
    entry: Path | None, python: Path, timeout_s: float = 60.0, cpu: bool = False
) -> AudiocraftMusicGenerator:
    options = AudiocraftOptions(python=python, entry=entry, model="facebook/musicgen-small", timeout_s=timeout_s,
                                cpu=cpu)  # fmt: skip
    return AudiocraftMusicGenerator(SimpleNamespace(device="auto"), options=options)  # type: ignore[arg-type]


def calls(tmp_path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]


REQUEST = MusicRequest(prompt="calm bossa nova with brushed drums", seconds=2.5, seed=7, tempo_bpm=96, key="D minor")


def test_a_score_comes_back_at_48k_stereo_and_exact_length(fake_entry: Path, tmp_path: Path) -> None:
    backend = backend_with(fake_entry, Path(sys.executable))
    assert isinstance(backend, MusicGenerator)

    track = backend.generate(REQUEST, tmp_path / "score.wav")

    assert track == AudioTrack(tmp_path / "score.wav", 48_000, 2, 2.5, "audiocraft")
    samples, rate = read_wav(track.path)
    assert rate == 48_000 and samples.shape == (120_000, 2)
    assert np.allclose(samples[:, 0], samples[:, 1]), "mono is duplicated to both channels"
    assert 0.4 < np.abs(samples).max() < 0.6, "the level is kept"
    (call,) = calls(tmp_path)
    assert call["prompt"] == "calm bossa nova with brushed drums, 96 bpm, in D minor"
    assert (call["seconds"], call["seed"], call["model"]) == (2.5, 7, "facebook/musicgen-small")
    assert Path(str(call["cwd"])) != Path.cwd() and call["cuda_visible"] is None


@pytest.mark.parametrize("mode", ["short", "long"])
def test_wrong_length_rate_or_channels_are_conformed(
    fake_entry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("FAKE_AUDIOCRAFT_MODE", mode)
    track = backend_with(fake_entry, Path(sys.executable)).generate(REQUEST, tmp_path / "score.wav")
    samples, rate = read_wav(track.path)
    assert (rate, samples.shape, track.seconds) == (48_000, (120_000, 2), 2.5)
    if mode == "short":  # 1.7 s of tone, then silence to 2.5 s
        assert np.abs(samples[: int(1.6 * rate)]).max() > 0.4
        assert np.abs(samples[int(1.75 * rate) :]).max() < 0.01
    else:  # 3.1 s at 44.1 kHz trimmed: sound to the last sample
        assert np.abs(samples[-2400:]).max() > 0.4


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("crash", r"audiocraft failed with exit status 4: .*RuntimeError: the decoder fell over"),
        ("oom", r"exit status 1: .*CUDA out of memory.*use audiocraft_model=facebook/musicgen-small"),
        ("no-output", "audiocraft exited successfully but wrote no WAV"),
        ("garbage", "audiocraft wrote a WAV that cannot be read"),
    ],
)
def test_failures_are_tool_errors_with_the_reason(
    fake_entry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, message: str
) -> None:
    monkeypatch.setenv("FAKE_AUDIOCRAFT_MODE", mode)
    with pytest.raises(ToolError, match=message):
        backend_with(fake_entry, Path(sys.executable)).generate(REQUEST, tmp_path / "never.wav")
    assert not (tmp_path / "never.wav").exists()


def test_timeout_kills_the_whole_process_group(
    fake_entry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_AUDIOCRAFT_MODE", "hang")
    started = time.monotonic()
    with pytest.raises(
        ToolError, match=r"audiocraft took longer than 2 s and was stopped \(raise audiocraft_timeout_s"
    ):
        backend_with(fake_entry, Path(sys.executable), timeout_s=2.0).generate(REQUEST, tmp_path / "never.wav")
    assert time.monotonic() - started < 15
    child = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the script's child process survived the timeout")
    assert not (tmp_path / "never.wav").exists()


def test_device_cpu_hides_the_gpu_from_the_script(fake_entry: Path, tmp_path: Path) -> None:
    backend_with(fake_entry, Path(sys.executable), cpu=True).generate(REQUEST, tmp_path / "score.wav")
    assert calls(tmp_path)[0]["cuda_visible"] == ""


def test_argv_builders_are_pure() -> None:
    argv = entry_argv(Path("/venv/bin/python"), Path("/e.py"), REQUEST, "facebook/musicgen-medium", Path("/o.wav"))
    assert argv == [
        "/venv/bin/python", "/e.py", "--prompt", "calm bossa nova with brushed drums, 96 bpm, in D minor",
        "--seconds", "2.5", "--seed", "7", "--model", "facebook/musicgen-medium", "--output", "/o.wav",
    ]  # fmt: skip
    assert conform_argv(Path("in.wav"), 2, Path("out.wav"), 48_000) == [
        "-y", "-i", "in.wav", "-vn", "-ac", "2", "-ar", "48000", "-c:a", "pcm_s16le", "out.wav",
    ]  # fmt: skip
    assert conform_argv(Path("in.wav"), 1, Path("out.wav"), 44_100)[3:7] == [
        "-vn",
        "-af",
        "pan=stereo|c0=c0|c1=c0",
        "-ar",
    ]


def test_availability_reasons(tmp_path: Path, fake_entry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import studio.tools.music_audiocraft as module

    monkeypatch.setattr(module, "cuda_present", lambda: False)

    def status(**fields: object) -> tuple[bool, str]:
        return AudiocraftMusicGenerator.availability(Settings(data_dir=tmp_path / "data", **fields))  # type: ignore[arg-type]

    assert status() == (
        False,
        "audiocraft_python not set (the Python of a separate environment with audiocraft; see README)",
    )
    assert (
        status(audiocraft_python=tmp_path / "nowhere")[1]
        == f"audiocraft_python {tmp_path / 'nowhere'} is not an executable file"
    )
    assert status(audiocraft_python=sys.executable, audiocraft_entry=tmp_path / "gone.py")[1].endswith("does not exist")
    assert status(audiocraft_python=sys.executable, audiocraft_entry=fake_entry) == (
        True,
        f"facebook/musicgen-small with {sys.executable}",
    )
    assert status(audiocraft_python=sys.executable) == (
        False,
        "no CUDA (set device=cpu to run audiocraft on the CPU, slower than real time)",
    )
    assert status(audiocraft_python=sys.executable, device="cpu") == (
        True,
        f"facebook/musicgen-small with {sys.executable}",
    )


def test_missing_python_is_reported(tmp_path: Path) -> None:
    backend = AudiocraftMusicGenerator(SimpleNamespace(), options=AudiocraftOptions(python=None))  # type: ignore[arg-type]
    with pytest.raises(BackendUnavailable, match="audiocraft_python not set"):
        backend.generate(REQUEST, tmp_path / "never.wav")


def test_registered_after_musicgen_before_synth() -> None:
    music = [spec.name for spec in BACKENDS if spec.kind == "music"]
    assert music == ["musicgen", "audiocraft", "synth"]
    assert Settings(music_backend="audiocraft").music_backend == "audiocraft"


# --- studio's built-in entry against a contract double of audiocraft ------------------------------------------

FAKE_MUSICGEN = r'''
"""Contract double of audiocraft/models/musicgen.py (audiocraft 1.3.0): the generation API only."""
import json
import os
from pathlib import Path

import torch

# One thread: with two, torch's sin of the same tensor came out different in the last bit in 8 of 30 processes on
# a 2-core machine (how the work is split between threads), and a last bit can flip a sample's 16-bit rounding.
# The double's sound must depend on the seed alone.
torch.set_num_threads(1)

_HF_MODEL_CHECKPOINTS_MAP = {"small": "facebook/musicgen-small", "medium": "facebook/musicgen-medium",
                             "large": "facebook/musicgen-large", "melody": "facebook/musicgen-melody"}
RECORD = Path(os.environ["FAKE_AUDIOCRAFT_RECORD"])


def record(entry):
    with RECORD.open("a") as handle:
        handle.write(json.dumps(entry) + "\n")


class MusicGen:
    def __init__(self, name, max_duration=30.0):
        self.name, self.max_duration = name, max_duration
        self.sample_rate, self.frame_rate, self.audio_channels = 32000, 50, 1
        self.extend_stride = None
        self.set_generation_params(duration=15)

    @staticmethod
    def get_pretrained(name="facebook/musicgen-melody", device=None):
        if device is None:
            device = "cuda" if torch.cuda.device_count() else "cpu"
        name = _HF_MODEL_CHECKPOINTS_MAP.get(name, name)
        record({"call": "get_pretrained", "name": name, "device": device})
        return MusicGen(name)

    def set_generation_params(self, use_sampling=True, top_k=250, top_p=0.0, temperature=1.0, duration=30.0,
                              cfg_coef=3.0, cfg_coef_beta=None, two_step_cfg=False, extend_stride=18):
        assert extend_stride < self.max_duration, "Cannot stride by more than max generation duration."
        self.extend_stride, self.duration = extend_stride, duration
        self.generation_params = {"use_sampling": use_sampling, "temp": temperature, "top_k": top_k,
                                  "top_p": top_p, "cfg_coef": cfg_coef, "two_step_cfg": two_step_cfg}

    def generate(self, descriptions, progress=False, return_tokens=False):
        assert isinstance(descriptions, list) and all(isinstance(d, str) for d in descriptions)
        total = int(self.duration * self.frame_rate)
        windows, offset, stride = 0, 0, int(self.extend_stride * self.frame_rate)
        if self.duration <= self.max_duration:
            windows = 1
        else:  # audiocraft's windowing: each window re-uses the end of the previous one as its prompt
            prompt = 0
            while offset + prompt < total:
                windows += 1
                prompt = int(min(self.duration - offset / self.frame_rate, self.max_duration) * self.frame_rate) - stride
                offset += stride
        record({"call": "generate", "descriptions": descriptions, "duration": self.duration, "windows": windows,
                "params": self.generation_params})
        hop = self.sample_rate // self.frame_rate
        tone = torch.rand(len(descriptions), 1, 1) * 400 + 200  # the seed picks the pitch
        t = torch.arange(total * hop, dtype=torch.float32) / self.sample_rate
        wav = 0.3 * torch.sin(2 * torch.pi * tone * t) + 0.05 * torch.randn(len(descriptions), 1, total * hop)
        return (wav, None) if return_tokens else wav
'''

FAKE_AUDIO = r'''
"""Contract double of audiocraft/data/audio.py: audio_write (the real one pipes to ffmpeg; this one uses wave)."""
import wave
from pathlib import Path


def audio_write(stem_name, wav, sample_rate, format="wav", mp3_rate=320, ogg_rate=None, normalize=True,
                strategy="peak", peak_clip_headroom_db=1, rms_headroom_db=18, loudness_headroom_db=14,
                loudness_compressor=False, log_clipping=True, make_parent_dir=True, add_suffix=True):
    assert wav.dtype.is_floating_point, "wav is not floating point"
    if wav.dim() == 1:
        wav = wav[None]
    elif wav.dim() > 2:
        raise ValueError("Input wav should be at most 2 dimension.")
    assert format == "wav" and strategy in ("clip", "peak", "rms", "loudness")
    if normalize or strategy == "peak":
        wav = wav / wav.abs().max().clamp(min=1e-8) * 10 ** (-peak_clip_headroom_db / 20)
    path = Path(str(stem_name) + (".wav" if add_suffix else ""))
    pcm = (wav.clamp(-1, 1) * 32767).round().short().t().contiguous().numpy()
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(pcm.shape[1])
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(pcm.tobytes())
    return path
'''

FAKE_PACKAGE = {
    "audiocraft/__init__.py": "__version__ = '1.3.0'\n",
    "audiocraft/models/__init__.py": "from .musicgen import MusicGen\n",
    "audiocraft/models/musicgen.py": FAKE_MUSICGEN,
    "audiocraft/data/__init__.py": "",
    "audiocraft/data/audio.py": FAKE_AUDIO,
}


@pytest.fixture(scope="module")
def audiocraft_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An environment like the one the README asks for: its own interpreter, audiocraft importable (the double),
    torch from this machine."""
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("audiocraft-venv")
    venv.EnvBuilder(system_site_packages=True, with_pip=False, symlinks=True).create(root)
    python = root / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    for relative, text in FAKE_PACKAGE.items():
        (Path(site) / relative).parent.mkdir(parents=True, exist_ok=True)
        (Path(site) / relative).write_text(text)
    return python


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audiocraft.jsonl"
    monkeypatch.setenv("FAKE_AUDIOCRAFT_RECORD", str(path))
    return path


def records(path: Path, call: str) -> list[dict[str, object]]:
    return [entry for entry in map(json.loads, path.read_text().splitlines()) if entry["call"] == call]


def builtin_entry(python: Path, tmp_path: Path, **fields: object) -> AudiocraftMusicGenerator:
    """The backend exactly as `studio run` builds it: no entry override, so the built-in entry runs."""
    settings = Settings(data_dir=tmp_path / "data", audiocraft_python=python, **fields)  # type: ignore[arg-type]
    backend = AudiocraftMusicGenerator(settings)
    assert backend.options.entry is None and backend.options.problem() is None
    return backend


def test_builtin_entry_uses_audiocraft_api(audiocraft_python: Path, record: Path, tmp_path: Path) -> None:
    backend = builtin_entry(audiocraft_python, tmp_path, audiocraft_model="facebook/musicgen-medium")
    track = backend.generate(REQUEST, tmp_path / "score.wav")

    samples, rate = read_wav(track.path)
    assert (rate, samples.shape) == (48_000, (120_000, 2))
    assert np.abs(samples).max() > 0.3
    (loaded,) = records(record, "get_pretrained")
    assert loaded["name"] == "facebook/musicgen-medium"
    (generated,) = records(record, "generate")
    assert generated["descriptions"] == ["calm bossa nova with brushed drums, 96 bpm, in D minor"]
    assert generated["duration"] == pytest.approx(126 / 50), "one audio frame more than asked, trimmed here"
    assert generated["windows"] == 1


def test_builtin_entry_past_30_s_uses_audiocraft_windowing(
    audiocraft_python: Path, record: Path, tmp_path: Path
) -> None:
    request = MusicRequest(prompt="slow ambient pads", seconds=47.0, seed=3)
    track = builtin_entry(audiocraft_python, tmp_path).generate(request, tmp_path / "long.wav")

    samples, rate = read_wav(track.path)
    assert samples.shape == (47 * 48_000, 2)
    (generated,) = records(record, "generate")
    assert generated["duration"] == pytest.approx(2351 / 50)
    assert generated["windows"] == 2, "30 s, then a window prompted with the last 12 s"


def test_builtin_entry_seed_decides_the_music(audiocraft_python: Path, record: Path, tmp_path: Path) -> None:
    backend = builtin_entry(audiocraft_python, tmp_path)

    def score(seed: int, name: str) -> np.ndarray:
        request = MusicRequest(prompt="calm", seconds=1.0, seed=seed)
        return read_wav(backend.generate(request, tmp_path / name).path)[0]

    first, again, other = score(1, "a.wav"), score(1, "b.wav"), score(2, "c.wav")
    assert np.array_equal(first, again), "the same seed repeats itself"
    assert np.abs(first - other).mean() > 0.05, "another seed makes other music"


def test_builtin_entry_on_cpu_loads_on_the_cpu(audiocraft_python: Path, record: Path, tmp_path: Path) -> None:
    builtin_entry(audiocraft_python, tmp_path, device="cpu").generate(REQUEST, tmp_path / "score.wav")
    assert records(record, "get_pretrained")[0]["device"] == "cpu"


def test_entry_source_keeps_the_contract() -> None:
    compile(ENTRY_SOURCE, "studio_audiocraft_entry.py", "exec")
    for flag in ("--prompt", "--seconds", "--seed", "--model", "--output"):
        assert f'"{flag}"' in ENTRY_SOURCE
