"""FILM backend: a tiny random TorchScript interpolator written in the test, loaded through the real loading path.

The tiny model blends `x0*(1-dt) + x1*dt` (plus a random convolution scaled by zero, so it has real weights) and
refuses inputs whose size is not a multiple of 64, so the test sees the padding and the timing of every frame.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from studio.config import Settings  # noqa: E402
from studio.errors import ToolError  # noqa: E402
from studio.tools.base import Clip, Interpolator  # noqa: E402
from studio.tools.interpolate_film import (  # noqa: E402
    FilmInterpolator,
    FilmOptions,
    split_order,
    target_positions,
)
from studio.tools.media import probe, read_video, write_video  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

WIDTH, HEIGHT = 40, 24  # deliberately not multiples of 64
LEVELS = (0, 80, 160, 240)


class TinyFilm(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mix = torch.nn.Conv2d(6, 3, 3, padding=1)

    def forward(self, x0: torch.Tensor, x1: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
        if x0.shape[2] % 64 != 0 or x0.shape[3] % 64 != 0:
            raise RuntimeError("FILM needs frames padded to a multiple of 64")
        weight = dt.view(-1, 1, 1, 1)
        return x0 * (1.0 - weight) + x1 * weight + 0.0 * self.mix(torch.cat([x0, x1], dim=1))


@pytest.fixture(scope="module")
def film_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("film") / "film_net_fp32.pt"
    torch.manual_seed(0)
    torch.jit.script(TinyFilm()).save(str(path))
    return path


@pytest.fixture
def grey_clip(tmp_path: Path) -> Clip:
    frames = [np.full((HEIGHT, WIDTH, 3), level, dtype=np.uint8) for level in LEVELS]
    path = tmp_path / "grey.mkv"
    write_video(frames, 8.0, path, width=WIDTH, height=HEIGHT)
    return Clip(path, 8.0, len(LEVELS), WIDTH, HEIGHT, "test")


@pytest.fixture
def settings(tmp_path: Path, backend_device: str) -> Settings:
    """Settings on the test device: the CPU, or CUDA under `pytest --device cuda`."""
    return Settings(device=backend_device, data_dir=tmp_path / "data")


def interpolator(film_file: Path, settings: Settings, timing: str = "nearest") -> FilmInterpolator:
    return FilmInterpolator(settings, options=FilmOptions(model_path=film_file, timing=timing))  # type: ignore[arg-type]


def levels_of(path: Path) -> list[float]:
    frames, _ = read_video(path)
    return [float(frame.mean()) for frame in frames]


def test_doubling_bisects_once_per_pair(film_file: Path, grey_clip: Clip, tmp_path: Path, settings: Settings) -> None:
    film = interpolator(film_file, settings)
    assert isinstance(film, Interpolator)

    result = film.interpolate(grey_clip, 16.0, tmp_path / "x2.mkv")

    assert result == Clip(tmp_path / "x2.mkv", 16.0, 8, WIDTH, HEIGHT, "film")
    info = probe(result.path)
    assert (info.video_frames, info.width, info.height, info.fps) == (8, WIDTH, HEIGHT, 16.0)
    assert levels_of(result.path) == pytest.approx([0, 40, 80, 120, 160, 200, 240, 240], abs=2)


def test_power_of_two_multiple_uses_recursive_bisection(
    film_file: Path, grey_clip: Clip, tmp_path: Path, settings: Settings
) -> None:
    result = interpolator(film_file, settings).interpolate(grey_clip, 32.0, tmp_path / "x4.mkv")
    assert result.num_frames == 16 and probe(result.path).fps == 32.0
    assert levels_of(result.path)[:5] == pytest.approx([0, 20, 40, 60, 80], abs=2)


class CountingFilm:
    """Wraps a FILM module and records the dt of every call and the dtype it was handed."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module, self.calls = module, []

    def __call__(self, x0: torch.Tensor, x1: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
        self.calls.append((float(dt), x0.dtype))
        return self.module(x0, x1, dt)


def test_general_fps_nearest_and_linear_timing(
    film_file: Path, grey_clip: Clip, tmp_path: Path, settings: Settings
) -> None:
    counting = CountingFilm(torch.jit.script(TinyFilm()).to(settings.device))
    film = FilmInterpolator(settings, model=counting, options=FilmOptions(model_path=film_file))
    nearest = film.interpolate(grey_clip, 24.0, tmp_path / "nearest.mkv")
    linear = interpolator(film_file, settings, "linear").interpolate(grey_clip, 24.0, tmp_path / "linear.mkv")

    for clip in (nearest, linear):
        info = probe(clip.path)
        assert (info.video_frames, info.fps, clip.num_frames) == (12, 24.0, 12)
        assert clip.seconds == pytest.approx(grey_clip.seconds)
    # x3: in-between frames at exactly 1/3 and 2/3 (not 3/8 and 5/8, which judder), two model calls per pair:
    # 1/3 from the pair (dt 1/3), then 2/3 from 1/3 and 1 (dt 1/2), as FILM's reference inference does.
    thirds = [0, 80 / 3, 160 / 3, 80, 80 + 80 / 3, 80 + 160 / 3, 160]
    assert levels_of(nearest.path)[:7] == pytest.approx(thirds, abs=2)
    assert levels_of(linear.path)[:7] == pytest.approx(thirds, abs=2)
    assert [dt for dt, _ in counting.calls] == pytest.approx([1 / 3, 1 / 2] * 3)


def test_film_stays_float32_where_the_stack_runs_float16(
    film_file: Path, grey_clip: Clip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    """On CUDA the diffusion models run in float16; FILM's warp grid loses about a quarter pixel in it."""
    from studio.tools import device, interpolate_film

    monkeypatch.setattr(device, "torch_dtype", lambda _device: torch.float16)
    monkeypatch.setattr(interpolate_film, "torch_dtype", lambda _device: torch.float16, raising=False)
    film = interpolator(film_file, settings)
    assert all(parameter.dtype == torch.float32 for parameter in film.model.parameters())
    counting = CountingFilm(film.model)
    film._model = counting
    film.interpolate(grey_clip, 16.0, tmp_path / "x2.mkv")
    assert {dtype for _, dtype in counting.calls} == {torch.float32}


class NaNFilm(TinyFilm):
    def forward(self, x0: torch.Tensor, x1: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
        return x0 * float("nan")


def test_non_finite_output_is_a_tool_error(grey_clip: Clip, tmp_path: Path, settings: Settings) -> None:
    film = FilmInterpolator(settings, model=torch.jit.script(NaNFilm()).to(settings.device))
    with pytest.raises(ToolError, match="non-finite"):
        film.interpolate(grey_clip, 16.0, tmp_path / "never.mkv")


def test_timing_helpers() -> None:
    positions = target_positions(4, 8.0, 12.0)
    assert positions == [Fraction(0), Fraction(2, 3), Fraction(4, 3), Fraction(2), Fraction(8, 3), Fraction(3)]
    assert len(target_positions(48, 24.0, 12.0)) == 24
    third, half, quarter = Fraction(1, 3), Fraction(1, 2), Fraction(1, 4)
    assert split_order([third, 2 * third]) == [(0, 1, third), (third, 1, 2 * third)]
    assert split_order([quarter, half, 3 * quarter]) == [(0, 1, half), (0, half, quarter), (half, 1, 3 * quarter)]


def test_corrupt_model_file_is_a_tool_error(grey_clip: Clip, tmp_path: Path, settings: Settings) -> None:
    broken = tmp_path / "film_net_fp32.pt"
    broken.write_bytes(b"\x00" * 64)
    with pytest.raises(ToolError, match="cannot load FILM"):
        interpolator(broken, settings).interpolate(grey_clip, 16.0, tmp_path / "never.mkv")


def test_injected_model_is_used(grey_clip: Clip, tmp_path: Path) -> None:
    film = FilmInterpolator(Settings(device="cpu", data_dir=tmp_path), model=torch.jit.script(TinyFilm()))
    assert film.interpolate(grey_clip, 16.0, tmp_path / "x2.mkv").num_frames == 8


def test_availability_reasons(film_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    from studio.tools import interpolate_film

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(interpolate_film, "cuda_present", lambda: False)
    assert FilmInterpolator.availability(Settings(device="auto", data_dir=tmp_path))[1].startswith("no CUDA")
    cpu = Settings(device="cpu", data_dir=tmp_path)
    assert FilmInterpolator.availability(cpu) == (False, "weights not in HF cache (run `studio models pull film`)")
    with_path = Settings(device="cpu", film_model_path=film_file, data_dir=tmp_path)
    assert FilmInterpolator.availability(with_path) == (True, f"CPU, {film_file}")
