"""Long clips through a model that takes at most N frames: overlapping windows, blended where they overlap.

The XL pass's memory grows with frames (model card: 15.3 GB for 30 frames at 1024x576), so a 10-second shot is
upscaled window by window with the same prompt and seed, as StreamingT2V's own enhancer does (chunks of 24 with an
overlap of 8). Its enhancer blends the overlapping latents at a random cut in every denoising step; here the
decoded frames of two windows are crossfaded linearly over the overlap, which needs no change to the pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def window_starts(num_frames: int, window: int, overlap: int) -> list[int]:
    """First frame of each window of `window` frames covering `num_frames`, neighbours sharing >= `overlap` frames;
    the last window ends at the last frame."""
    if window < 1 or not 0 <= overlap < window:
        raise ValueError(f"need 0 <= overlap < window, got window {window}, overlap {overlap}")
    if num_frames <= window:
        return [0]
    stride = window - overlap
    starts = list(range(0, num_frames - window, stride))
    starts.append(num_frames - window)
    return starts


def blend_windows(pieces: list[tuple[int, np.ndarray]], num_frames: int) -> np.ndarray:
    """Frames (T, H, W, C) from windows `(start, frames)`: where two overlap, the later one fades in linearly."""
    import numpy as np

    first = pieces[0][1]
    result = np.zeros((num_frames, *first.shape[1:]), dtype=np.float32)
    end = 0
    for start, frames in pieces:
        frames = frames.astype(np.float32)
        overlap = max(0, end - start)
        if overlap:
            ramp = (np.arange(1, overlap + 1, dtype=np.float32) / (overlap + 1)).reshape(-1, *[1] * (frames.ndim - 1))
            result[start:end] = result[start:end] * (1.0 - ramp) + frames[:overlap] * ramp
        result[start + overlap : start + len(frames)] = frames[overlap:]
        end = start + len(frames)
    return result
