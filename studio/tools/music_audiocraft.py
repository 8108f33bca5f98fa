"""MusicGen through Meta's audiocraft, run out of process in its own Python environment.

audiocraft 1.3.0 pins torch 2.1.0, torchvision 0.16, xformers < 0.0.23 and av 11.0.0, so it cannot share this
environment. studio runs an *entry script* with that environment's interpreter and talks to it only through the
command line and a WAV file. The default entry is `ENTRY_SOURCE` (written to a temporary directory for each call);
`audiocraft_entry` can name any other script that keeps the contract.

Command-line contract (studio → entry script)::

    <audiocraft_python> <entry.py> --prompt TEXT --seconds S --seed N --model NAME --output OUT.wav

- working directory: a fresh temporary directory; environment: ours minus PYTHONPATH/PYTHONHOME/VIRTUAL_ENV, plus
  PYTHONUNBUFFERED=1 (and CUDA_VISIBLE_DEVICES="" when `device=cpu`).
- the script writes OUT.wav holding about S seconds of music at any sample rate, mono or stereo; studio resamples
  it to 48 kHz stereo and trims or pads it with silence to exactly S seconds.
- exit status 0 means success. Anything else is a failure; the last lines of stderr become the error message.
- the script must finish within `audiocraft_timeout_s`; on timeout studio kills its whole process group.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from studio.errors import BackendUnavailable, ToolError
from studio.tools.base import AudioTrack
from studio.tools.device import cuda_present
from studio.tools.media import probe, read_wav, run_ffmpeg, write_wav
from studio.tools.music_musicgen import describe, fit_length
from studio.tools.subprocess_backend import EntryScript, run_entry

if TYPE_CHECKING:
    from studio.config import Settings
    from studio.tools.base import MusicRequest

SCRIPT = EntryScript(
    label="audiocraft",
    timeout_advice="raise audiocraft_timeout_s for long scores",
    oom_advice="out of GPU memory: use audiocraft_model=facebook/musicgen-small or free the GPU",
)


@dataclass(frozen=True)
class AudiocraftOptions:
    python: Path | None
    """Interpreter of an environment with audiocraft installed."""
    entry: Path | None = None
    """A script that keeps the command-line contract. None: studio's entry (`ENTRY_SOURCE`)."""
    model: str = "facebook/musicgen-small"
    """What `MusicGen.get_pretrained` is given: a Hub id or a local folder with state_dict.bin."""
    timeout_s: float = 1800.0
    cpu: bool = False
    """Hide the GPU from the script (`device=cpu`)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> AudiocraftOptions:
        python = settings.audiocraft_python
        entry = settings.audiocraft_entry
        return cls(
            python=Path(python).expanduser() if python else None,
            entry=Path(entry).expanduser() if entry else None,
            model=str(settings.audiocraft_model),
            timeout_s=float(settings.audiocraft_timeout_s),
            cpu=settings.device == "cpu",
        )

    def problem(self) -> str | None:
        """Why this configuration cannot run, or None."""
        if self.python is None:
            return "audiocraft_python not set (the Python of a separate environment with audiocraft; see README)"
        if not self.python.is_file() or not os.access(self.python, os.X_OK):
            return f"audiocraft_python {self.python} is not an executable file"
        if self.entry is not None and not self.entry.is_file():
            return f"audiocraft_entry {self.entry} does not exist"
        return None


def entry_argv(python: Path, entry: Path, request: MusicRequest, model: str, output: Path) -> list[str]:
    """The command line of one score (the contract above)."""
    return [
        str(python), str(entry),
        "--prompt", describe(request),
        "--seconds", str(float(request.seconds)),
        "--seed", str(request.seed),
        "--model", model,
        "--output", str(output),
    ]  # fmt: skip


def conform_argv(source: Path, channels: int, output: Path, sample_rate: int) -> list[str]:
    """ffmpeg arguments that turn a WAV of `channels` channels into 16-bit stereo PCM at `sample_rate`."""
    # ffmpeg's own mono upmix lowers the level by 3 dB; copy the channel at full level instead.
    layout = ["-af", "pan=stereo|c0=c0|c1=c0"] if channels == 1 else ["-ac", "2"]
    return ["-y", "-i", str(source), "-vn", *layout, "-ar", str(sample_rate), "-c:a", "pcm_s16le", str(output)]


class AudiocraftMusicGenerator:
    """Music backend that runs audiocraft's MusicGen out of process and conforms what it writes."""

    name = "audiocraft"

    def __init__(self, settings: Settings, *, options: AudiocraftOptions | None = None) -> None:
        self.settings = settings
        self.options = options or AudiocraftOptions.from_settings(settings)

    @classmethod
    def availability(cls, settings: Settings) -> tuple[bool, str]:
        """Cheap: paths only; nothing is started."""
        options = AudiocraftOptions.from_settings(settings)
        problem = options.problem()
        if problem:
            return False, problem
        if options.entry is None and not options.cpu and not cuda_present():
            return False, "no CUDA (set device=cpu to run audiocraft on the CPU, slower than real time)"
        return True, f"{options.model} with {options.python}"

    def generate(self, request: MusicRequest, output_path: Path) -> AudioTrack:
        """Write a stereo WAV at `request.sample_rate` lasting exactly `request.seconds`."""
        if request.seconds <= 0:
            raise ToolError(f"music length must be positive, got {request.seconds} s")
        problem = self.options.problem()
        if problem:
            raise BackendUnavailable(f"audiocraft cannot run: {problem}")
        assert self.options.python is not None
        with tempfile.TemporaryDirectory(prefix="studio-audiocraft-") as work_name:
            work = Path(work_name)
            raw, conformed = work / "music.wav", work / "conformed.wav"
            argv = entry_argv(self.options.python, self._entry(work), request, self.options.model, raw)
            extra_env = {"CUDA_VISIBLE_DEVICES": ""} if self.options.cpu else None
            run_entry(SCRIPT, argv, cwd=work, logs=work, timeout_s=self.options.timeout_s, extra_env=extra_env)
            if not raw.is_file() or raw.stat().st_size == 0:
                raise ToolError("audiocraft exited successfully but wrote no WAV")
            try:
                channels = probe(raw).audio_channels
                if channels == 0:
                    raise ToolError(f"{raw.name} has no audio stream")
                run_ffmpeg(conform_argv(raw, channels, conformed, request.sample_rate))
            except ToolError as error:
                raise ToolError(f"audiocraft wrote a WAV that cannot be read: {error}") from error
            samples, rate = read_wav(conformed)
        length = round(request.seconds * rate)
        write_wav(fit_length(samples, length), rate, output_path)
        return AudioTrack(output_path, rate, 2, length / rate, self.name)

    def _entry(self, work: Path) -> Path:
        if self.options.entry is not None:
            return self.options.entry.resolve()
        entry = work / "studio_audiocraft_entry.py"
        entry.write_text(ENTRY_SOURCE)
        return entry


ENTRY_SOURCE = '''\
"""studio -> audiocraft entry. Runs INSIDE an environment with audiocraft installed (torch 2.1), in a temporary
working directory. Keeps studio's command-line contract: generates --seconds of music for --prompt with MusicGen
and writes it, at the model's own rate and channels, to --output. Written by studio for each call; do not edit the
copy in the temporary directory.
"""
import argparse
import math
import sys
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--prompt", required=True)
parser.add_argument("--seconds", type=float, required=True)
parser.add_argument("--seed", type=int, required=True)
parser.add_argument("--model", default="facebook/musicgen-small")
parser.add_argument("--output", required=True)
args = parser.parse_args()
if not args.seconds > 0:
    sys.exit(f"--seconds must be positive, got {args.seconds}")

import torch  # noqa: E402
from audiocraft.data.audio import audio_write  # noqa: E402
from audiocraft.models import MusicGen  # noqa: E402

model = MusicGen.get_pretrained(args.model)
# One audio frame more than asked, so studio trims rather than pads. Past model.max_duration (30 s) audiocraft
# itself continues in windows, each prompted with the end of the previous one (extend_stride).
frames = math.ceil(args.seconds * model.frame_rate) + 1
model.set_generation_params(duration=frames / model.frame_rate)
torch.manual_seed(args.seed & 0xFFFF_FFFF_FFFF_FFFF)
wav = model.generate([args.prompt], progress=False)
output = Path(args.output)
written = audio_write(output.with_suffix(""), wav[0].cpu(), model.sample_rate, strategy="loudness",
                      loudness_compressor=True)
if Path(written) != output:
    Path(written).replace(output)
'''
