"""Loudness of samples in memory (ITU-R BS.1770-4 / EBU R128): integrated loudness and true peak, the two figures a
linear normalisation needs, measured without an ffmpeg pass over a file.

The K-weighting filter is the two biquads of BS.1770 with the sample-rate-independent design libebur128 uses (and
ffmpeg's `ebur128` and `loudnorm` with it), applied in the frequency domain over the zero-padded signal (the filter
state starts at rest, as a meter reading the file from its start has it). Gating: 400 ms blocks every 100 ms, the
absolute gate at -70 LUFS, the relative gate 10 LU below the absolutely gated mean. True peak: the largest sample of
the signal oversampled 4x with a band-limited (FFT) interpolation, as loudnorm reads it at 192 kHz from 48 kHz.
Agrees with ffmpeg's meter to within about 0.1 LU (tests/unit/test_loudness_memory.py measures both).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = 10.0
BLOCK_SECONDS = 0.4
STEP_SECONDS = 0.1
TRUE_PEAK_OVERSAMPLING = 4
_SETTLE_SECONDS = 0.5  # zero padding after the signal: the K-filter's response has died away long before
_PEAK_CHUNK = 1 << 16  # samples oversampled at once (memory stays small for long segments)
_PEAK_MARGIN = 1024  # samples of context either side of a chunk for its interpolation


@dataclass(frozen=True)
class Measured:
    integrated_lufs: float
    """-inf for audio with no block above the absolute gate (silence)."""
    true_peak_dbtp: float


def k_weighting(sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(b, a) of the K-weighting filter at `sample_rate`: the high-shelf pre-filter then the RLB high-pass."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf_b = np.array([(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0])
    shelf_a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sample_rate)
    high_b = np.array([1.0, -2.0, 1.0])
    high_a = np.array([1.0, 2.0 * (k * k - 1.0) / (1.0 + k / q + k * k), (1.0 - k / q + k * k) / (1.0 + k / q + k * k)])
    return np.convolve(shelf_b, high_b), np.convolve(shelf_a, high_a)


def _k_filtered(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """`samples` (n, channels) through the K-weighting filter, from rest."""
    count = samples.shape[0]
    size = count + int(_SETTLE_SECONDS * sample_rate)
    b, a = k_weighting(sample_rate)
    z = np.exp(-2j * np.pi * np.fft.rfftfreq(size))  # z^-1 on the unit circle
    response = np.polyval(b[::-1], z) / np.polyval(a[::-1], z)
    spectrum = np.fft.rfft(samples, n=size, axis=0) * response[:, None]
    return np.fft.irfft(spectrum, n=size, axis=0)[:count]


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """Gated integrated loudness (LUFS) of float samples (n, channels) in [-1, 1]; -inf when every block is below
    the absolute gate. Every channel weighs 1 (mono, stereo: no surround channels here)."""
    if samples.ndim == 1:
        samples = samples[:, None]
    block, step = round(BLOCK_SECONDS * sample_rate), round(STEP_SECONDS * sample_rate)
    if samples.shape[0] < block:
        return -math.inf
    filtered = _k_filtered(samples.astype(np.float64), sample_rate)
    energy = np.concatenate([[0.0], np.cumsum((filtered * filtered).sum(axis=1))])
    starts = np.arange(0, samples.shape[0] - block + 1, step)
    powers = (energy[starts + block] - energy[starts]) / block
    with np.errstate(divide="ignore"):
        loudness = -0.691 + 10.0 * np.log10(powers)
    gated = powers[loudness > ABSOLUTE_GATE_LUFS]
    if gated.size == 0:
        return -math.inf
    relative = -0.691 + 10.0 * math.log10(float(gated.mean())) - RELATIVE_GATE_LU
    kept = powers[(loudness > ABSOLUTE_GATE_LUFS) & (loudness > relative)]
    return -0.691 + 10.0 * math.log10(float(kept.mean()))


def true_peak(samples: np.ndarray) -> float:
    """True peak (dBTP) of float samples (n, channels): the largest absolute value of the signal interpolated at
    4x its rate (band-limited, by FFT over overlapping chunks, silence beyond the ends); -inf for silence."""
    if samples.ndim == 1:
        samples = samples[:, None]
    count = samples.shape[0]
    peak = float(np.abs(samples).max()) if count else 0.0
    factor = TRUE_PEAK_OVERSAMPLING
    for start in range(0, count, _PEAK_CHUNK):
        lo, hi = max(0, start - _PEAK_MARGIN), min(count, start + _PEAK_CHUNK + _PEAK_MARGIN)
        size = hi - lo + 2 * _PEAK_MARGIN  # silence after the chunk keeps the wrap-around away from its ends
        spectrum = np.fft.rfft(samples[lo:hi].astype(np.float64), n=size, axis=0)
        upsampled = np.fft.irfft(spectrum, n=size * factor, axis=0) * factor
        inner = upsampled[(start - lo) * factor : (min(count, start + _PEAK_CHUNK) - lo) * factor]
        if inner.size:
            peak = max(peak, float(np.abs(inner).max()))
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def measure_samples(samples: np.ndarray, sample_rate: int) -> Measured:
    """Integrated loudness and true peak of float samples (n, channels) at `sample_rate`."""
    return Measured(integrated_loudness(samples, sample_rate), true_peak(samples))
