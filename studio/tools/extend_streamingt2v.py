"""StreamingT2V extension, run out of process from its own checkout and Python environment.

StreamingT2V (Picsart AI Research) is not on PyPI and pins torch 2.0 / diffusers 0.27, so it cannot share our
environment. studio runs an *entry script* with the checkout's interpreter and talks to it only through files and
the command line below. The default entry is the adapter in `ADAPTER_SOURCE` (written to a temporary directory
for each call); `streamingt2v_entry` can name any other script that keeps the contract.

Command-line contract (studio → entry script)::

    <streamingt2v_python> <entry.py> --input IN.mp4 --prompt TEXT --negative-prompt TEXT
                                     --new-frames K --fps F --seed S --output OUT.mp4

- working directory: `streamingt2v_dir` (the checkout); environment: ours minus PYTHONPATH/PYTHONHOME/VIRTUAL_ENV,
  plus PYTHONUNBUFFERED=1.
- IN.mp4: the shot so far, H.264 yuv420p at its own size and fps (every frame of it).
- the script writes OUT.mp4 holding at least K frames that *continue* IN.mp4 (the new frames only, not the input
  again), at any size; studio keeps the first K, resizes them to the input's size and appends them to the input.
- exit status 0 means success. Anything else is a failure; the last lines of stderr become the error message.
  stdout is free-form progress, logged at debug level.
- the script must finish within `streamingt2v_timeout_s`; on timeout studio kills its whole process group.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from studio.errors import BackendUnavailable, ToolError
from studio.tools.base import Clip
from studio.tools.device import cuda_present, make_room
from studio.tools.media import read_video, write_video
from studio.tools.subprocess_backend import EntryScript, run_entry

if TYPE_CHECKING:
    from studio.config import Settings
    from studio.tools.base import VideoRequest

CHECKPOINT = Path("t2v_enhanced/checkpoints/streaming_t2v.ckpt")
"""Where the StreamingModelscope branch's README puts the StreamingT2V weights, relative to the checkout."""
VRAM_NEED = 40_000_000_000
"""Free GPU memory wanted before the subprocess starts: it loads its own models (the 1.7B StreamingT2V
checkpoint on ModelScope text-to-video, plus the enhancer it may run), which this process's models must not
crowd out. Idle models in this process move to the CPU until this much is free (on an 80 GB card, usually none)."""
SCRIPT = EntryScript(
    label="StreamingT2V",
    timeout_advice="raise streamingt2v_timeout_s for long shots",
    oom_advice="out of GPU memory: StreamingT2V needs a large card; free the GPU or use the procedural extender",
)


@dataclass(frozen=True)
class StreamingT2VOptions:
    checkout: Path | None
    """The StreamingT2V checkout (branch `StreamingModelscope`, text-to-video)."""
    python: Path | None
    """Interpreter of StreamingT2V's own environment. Default: `<checkout>/venv/bin/python` or `.venv/bin/python`."""
    entry: Path | None = None
    """A script that keeps the command-line contract. None: studio's adapter (`ADAPTER_SOURCE`)."""
    timeout_s: float = 1800.0

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamingT2VOptions:
        checkout = settings.streamingt2v_dir
        python = settings.streamingt2v_python
        entry = settings.streamingt2v_entry
        return cls(
            checkout=Path(checkout).expanduser() if checkout else None,
            python=Path(python).expanduser() if python else None,
            entry=Path(entry).expanduser() if entry else None,
            timeout_s=float(settings.streamingt2v_timeout_s),
        )

    def interpreter(self) -> Path | None:
        """The configured interpreter, else the checkout's venv one when it exists."""
        if self.python is not None:
            return self.python
        if self.checkout is None:
            return None
        for candidate in ("venv/bin/python", ".venv/bin/python"):
            if (self.checkout / candidate).is_file():
                return self.checkout / candidate
        return None

    def problem(self) -> str | None:
        """Why this configuration cannot run, or None."""
        if self.checkout is None:
            return "streamingt2v_dir not set (a StreamingT2V checkout with its own environment; see README)"
        if not self.checkout.is_dir():
            return f"streamingt2v_dir {self.checkout} does not exist"
        python = self.interpreter()
        if python is None:
            return f"no Python for StreamingT2V: set streamingt2v_python (no venv in {self.checkout})"
        if not python.is_file() or not os.access(python, os.X_OK):
            return f"streamingt2v_python {python} is not an executable file"
        if self.entry is not None:
            if not self.entry.is_file():
                return f"streamingt2v_entry {self.entry} does not exist"
        elif not (self.checkout / CHECKPOINT).is_file():
            return f"{self.checkout / CHECKPOINT} missing (download it as the StreamingT2V README says)"
        return None


class StreamingT2VExtender:
    """Extender that runs StreamingT2V out of process and appends the frames it makes to the shot."""

    name = "streamingt2v"

    def __init__(self, settings: Settings, *, options: StreamingT2VOptions | None = None) -> None:
        self.settings = settings
        self.options = options or StreamingT2VOptions.from_settings(settings)

    @classmethod
    def availability(cls, settings: Settings) -> tuple[bool, str]:
        """Cheap: paths only; nothing is started."""
        options = StreamingT2VOptions.from_settings(settings)
        problem = options.problem()
        if problem:
            return False, problem
        if options.entry is None and not cuda_present():
            return False, "no CUDA"
        return True, f"{options.checkout} with {options.interpreter()}"

    def extend(self, clip: Clip, request: VideoRequest, num_frames: int, output_path: Path) -> Clip:
        """Continue `clip` until it has `num_frames` frames at its own fps, then write it to `output_path`."""
        import numpy as np

        problem = self.options.problem()
        if problem:
            raise BackendUnavailable(f"StreamingT2V cannot run: {problem}")
        frames, _ = read_video(clip.path)
        if len(frames) == 0:
            raise ToolError(f"{clip.path.name} has no frames to extend")
        new_frames = num_frames - len(frames)
        if new_frames <= 0:
            written = write_video(frames[:num_frames], clip.fps, output_path, width=clip.width, height=clip.height)
            return Clip(output_path, clip.fps, written, clip.width, clip.height, self.name)
        with tempfile.TemporaryDirectory(prefix="studio-streamingt2v-") as work_name:
            work = Path(work_name)
            input_path = work / "input.mp4"
            result_path = work / "continuation.mp4"
            write_video(frames, clip.fps, input_path, width=clip.width, height=clip.height)
            make_room(VRAM_NEED, doing="the StreamingT2V subprocess")
            argv = [
                str(self.options.interpreter()),
                str(self._entry(work)),
                "--input", str(input_path),
                "--prompt", request.prompt,
                "--negative-prompt", request.negative_prompt,
                "--new-frames", str(new_frames),
                "--fps", f"{clip.fps:g}",
                "--seed", str(request.seed),
                "--output", str(result_path),
            ]  # fmt: skip
            self._run(argv, work)
            if not result_path.is_file() or result_path.stat().st_size == 0:
                raise ToolError("StreamingT2V exited successfully but wrote no output video")
            continuation, _ = read_video(result_path, width=clip.width, height=clip.height)
            if len(continuation) < new_frames:
                raise ToolError(f"StreamingT2V wrote {len(continuation)} new frames, {new_frames} were needed")
            extended = np.concatenate([frames, continuation[:new_frames]])
            written = write_video(extended, clip.fps, output_path, width=clip.width, height=clip.height)
        return Clip(output_path, clip.fps, written, clip.width, clip.height, self.name)

    def _entry(self, work: Path) -> Path:
        if self.options.entry is not None:
            return self.options.entry.resolve()
        adapter = work / "studio_streamingt2v_adapter.py"
        adapter.write_text(ADAPTER_SOURCE)
        return adapter

    def _run(self, argv: list[str], work: Path) -> None:
        assert self.options.checkout is not None
        run_entry(SCRIPT, argv, cwd=self.options.checkout, logs=work, timeout_s=self.options.timeout_s)


ADAPTER_SOURCE = '''\
"""studio -> StreamingT2V adapter. Runs INSIDE StreamingT2V's own environment (torch 2.0, diffusers 0.27; its
imageio[ffmpeg] requirement brings imageio-ffmpeg), with the checkout (branch StreamingModelscope) as working
directory. Keeps studio's command-line contract: reads the shot so far, seeds the branch's autoregressive stage with
its last frames, writes exactly --new-frames new frames, at the shot's own size, to --output. Written by studio for
each call; do not edit the copy in the temporary directory.
"""
import argparse
import collections
import math
import os
import sys
import tempfile
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--input", required=True)
parser.add_argument("--prompt", required=True)
parser.add_argument("--negative-prompt", default="")
parser.add_argument("--new-frames", type=int, required=True)
parser.add_argument("--fps", type=float, default=8.0)
parser.add_argument("--seed", type=int, default=33)
parser.add_argument("--output", required=True)
parser.add_argument("--num-steps", type=int, default=50)
parser.add_argument("--image-guidance", type=float, default=9.0)
parser.add_argument("--device", default="cuda")
args = parser.parse_args()
if args.new_frames < 1:
    sys.exit(f"--new-frames must be at least 1, got {args.new_frames}")

checkout = Path.cwd()
# The branch opens configs/... relative to t2v_enhanced and imports its modules as top-level names.
os.chdir(checkout / "t2v_enhanced")
sys.path[:0] = [str(checkout), str(checkout / "t2v_enhanced"), str(checkout / "t2v_enhanced" / "thirdparty")]

import imageio_ffmpeg  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from model_func import stream_long_gen  # noqa: E402
from model_init import init_streamingt2v_model  # noqa: E402


def read_frames(path, keep=None):
    """RGB uint8 frames (T, H, W, 3) of a video, only the last `keep` when given.

    Not imageio.get_reader: list() of its reader asks len(), which is sys.maxsize for videos (MemoryError).
    """
    reader = imageio_ffmpeg.read_frames(str(path))
    width, height = next(reader)["size"]
    frames = collections.deque(maxlen=keep)
    for data in reader:
        frames.append(np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3))
    if not frames:
        sys.exit(f"{path} has no frames")
    return np.stack(frames)


def resized(frames, height, width, mode):
    """uint8 (T, H, W, 3) -> float32 (T, 3, height, width) in [0, 1], low-pass filtered wherever it shrinks."""
    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0
    return F.interpolate(video, size=(height, width), mode=mode, align_corners=False, antialias=True).clamp(0, 1)


# Beside --output: studio's temporary work directory, removed after each call.
result_dir = Path(tempfile.mkdtemp(prefix="streamingt2v-", dir=Path(args.output).resolve().parent))
checkpoint = checkout / "t2v_enhanced" / "checkpoints" / "streaming_t2v.ckpt"
stream_cli, stream_model = init_streamingt2v_model(checkpoint, result_dir, args.device)

# The model reads seed, steps and guidance from inference_params; stream_long_gen only files its own arguments in
# trainer.predict_cfg, where predict_step never looks for them.
seed = args.seed & 0xFFFF_FFFF_FFFF_FFFF  # torch generators take unsigned 64-bit seeds
params = stream_model.inference_params
params.seed = seed
params.num_inference_steps = args.num_steps
params.guidance_scale = args.image_guidance
torch.manual_seed(seed)

# Chunk 0 is the seed video (video_length frames); each further generation adds its second half.
length, new_per_step = params.video_length, params.video_length // 2
frames = read_frames(args.input, keep=length)
in_height, in_width = frames.shape[1:3]
if len(frames) < length:  # repeat the first frame in front, so the frames the next chunk sees stay real
    frames = np.concatenate([np.repeat(frames[:1], length - len(frames), axis=0), frames])
# Squashed to the model's size, not cropped or letterboxed: a crop would lose the sides the continuation must keep
# and bars would be continued as picture; the new frames are stretched back to the shot's size below.
seed_video = resized(frames, params.height, params.width, "bilinear")
generations = 1 + math.ceil(args.new_frames / new_per_step)
stream_long_gen(args.prompt, seed_video, generations, args.negative_prompt, seed, args.num_steps,
                args.image_guidance, "studio", stream_cli, stream_model)

video = read_frames(result_dir / "studio.mp4")
new = video[length:length + args.new_frames]
if len(new) < args.new_frames:
    sys.exit(f"StreamingT2V made {len(new)} new frames, {args.new_frames} asked ({len(video)} in all)")
writer = imageio_ffmpeg.write_frames(args.output, (in_width, in_height), fps=args.fps, quality=9, macro_block_size=2)
writer.send(None)
for frame in new:
    restored = resized(frame[None], in_height, in_width, "bicubic")[0]
    writer.send((restored.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy().tobytes())
writer.close()
'''
