"""Audio as numpy arrays: narration track assembly, loudness levelling (ITU-R BS.1770 gated
loudness, computed in the frequency domain), a peak limiter, pauses inside a sentence, an
optional generated music bed, and WAV output."""

from __future__ import annotations

import functools
import math
import wave
from pathlib import Path

import numpy as np

from videogen.outputs import atomic_file

# --- loudness (BS.1770 / EBU R128) ------------------------------------------------------------


def _biquad_response(b: tuple[float, float, float], a: tuple[float, float, float], w: np.ndarray) -> np.ndarray:
    z = np.exp(-1j * w)
    return (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)


def _k_weighting(freqs: np.ndarray, fs: float) -> np.ndarray:
    """Complex response of the K-weighting pre-filter (high shelf + high pass) at ``freqs``."""
    w = 2 * np.pi * freqs / fs
    # Stage 1: high shelf, +4 dB above ~1.7 kHz (the head's acoustic effect).
    gain_db, q, fc = 3.99984385397, 0.7071752369554193, 1681.9744509555319
    A = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * fc / fs
    alpha = math.sin(w0) / (2 * q)
    cw, sa = math.cos(w0), 2 * math.sqrt(A) * alpha
    b = (A * ((A + 1) + (A - 1) * cw + sa), -2 * A * ((A - 1) + (A + 1) * cw), A * ((A + 1) + (A - 1) * cw - sa))
    a = ((A + 1) - (A - 1) * cw + sa, 2 * ((A - 1) - (A + 1) * cw), (A + 1) - (A - 1) * cw - sa)
    h1 = _biquad_response(b, a, w)
    # Stage 2: high pass at ~38 Hz (RLB weighting).
    q, fc = 0.5003270373238773, 38.13547087602444
    w0 = 2 * math.pi * fc / fs
    alpha = math.sin(w0) / (2 * q)
    cw = math.cos(w0)
    b = ((1 + cw) / 2, -(1 + cw), (1 + cw) / 2)
    a = (1 + alpha, -2 * cw, 1 - alpha)
    return h1 * _biquad_response(b, a, w)


_CHUNK = 1 << 18  # FFT size of one chunk of the loudness filter


@functools.lru_cache(maxsize=8)
def _k_weights(size: int, sample_rate: int) -> np.ndarray:
    """The K-weighting filter on the bins of a ``size``-point real FFT (computed once: each
    levelling measures the loudness twice, and a worker levels every clip)."""
    weights = _k_weighting(np.fft.rfftfreq(size, 1 / sample_rate), sample_rate)
    weights.flags.writeable = False
    return weights


def _block_energies(samples: np.ndarray, sample_rate: int, hop: int) -> np.ndarray:
    """Mean square of the K-weighted signal over each ``hop`` samples, computed chunk by
    chunk (overlap-save with one second of history): memory stays small and flat however
    long the clip is."""
    n = len(samples)
    ctx = sample_rate  # the filters' tails have died out after a second
    size = _CHUNK
    while size - ctx < 4 * hop:
        size *= 2
    step = (size - ctx) // hop * hop
    weights = _k_weights(size, sample_rate)
    n_hops = n // hop
    out = np.empty(n_hops, np.float64)
    seg = np.zeros(size, np.float64)
    for start in range(0, n_hops * hop, step):
        stop = min(n_hops * hop, start + step)
        lo = max(0, start - ctx)
        seg[:] = 0.0
        part = samples[lo:stop]
        seg[ctx - (start - lo) : ctx - (start - lo) + len(part)] = part
        y = np.fft.irfft(np.fft.rfft(seg) * weights, size)[ctx : ctx + stop - start]
        out[start // hop : stop // hop] = (y * y).reshape(-1, hop).mean(axis=1)
    return out


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """Gated integrated loudness in LUFS of a mono signal (-inf for silence)."""
    n = len(samples)
    block, hop = int(0.4 * sample_rate), int(0.1 * sample_rate)
    if n < block:
        samples = np.pad(samples, (0, block - n))
        n = block
    if block == 4 * hop:
        sub = _block_energies(samples, sample_rate, hop)
        z = np.convolve(sub, np.ones(4), mode="valid") / 4  # 400 ms blocks every 100 ms
    else:  # sample rates that are not a multiple of 40 Hz: one FFT over the whole signal
        size = 1 << (n + sample_rate).bit_length()  # padding absorbs the filters' tails
        spec = np.fft.rfft(samples.astype(np.float64), size)
        spec *= _k_weighting(np.fft.rfftfreq(size, 1 / sample_rate), sample_rate)
        y = np.fft.irfft(spec, size)[:n]
        sq = np.concatenate([[0.0], np.cumsum(y * y)])
        starts = np.arange(0, n - block + 1, hop)
        z = (sq[starts + block] - sq[starts]) / block
    with np.errstate(divide="ignore"):
        lk = -0.691 + 10 * np.log10(z)
    z = z[lk > -70.0]
    if z.size == 0:
        return float("-inf")
    rel = -0.691 + 10 * np.log10(z.mean()) - 10.0
    with np.errstate(divide="ignore"):
        z = z[-0.691 + 10 * np.log10(z) > rel]
    return float(-0.691 + 10 * np.log10(z.mean())) if z.size else float("-inf")


def peak_dbfs(samples: np.ndarray) -> float:
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return 20 * math.log10(peak) if peak > 0 else float("-inf")


def limit(samples: np.ndarray, sample_rate: int, ceiling_dbfs: float, release: float = 0.08) -> np.ndarray:
    """Look-ahead peak limiter: gain drops just before a peak would pass the ceiling and
    recovers over ``release`` seconds. Leaves quiet passages untouched."""
    ceiling = 10 ** (ceiling_dbfs / 20)
    step = max(1, sample_rate // 1000)  # 1 ms blocks
    nb = math.ceil(len(samples) / step)
    padded = np.pad(np.abs(samples), (0, nb * step - len(samples)))
    peaks = padded.reshape(nb, step).max(axis=1)
    need = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-9))
    if need.min() >= 1.0:
        return samples
    look = 5  # ms of look-ahead: the gain is already down when the peak arrives
    ahead = np.lib.stride_tricks.sliding_window_view(np.pad(need, (0, look - 1), constant_values=1.0), look).min(axis=1)
    coeff = math.exp(-1.0 / (release * 1000))
    gain = np.empty(nb)
    g = 1.0
    for i in range(nb):
        g = ahead[i] if ahead[i] < g else ahead[i] + (g - ahead[i]) * coeff
        gain[i] = g
    # Apply the gain a chunk at a time: no whole-clip float64 temporaries.
    out = np.empty(len(samples), np.float32)
    blocks = np.arange(nb)
    chunk = step * 65536
    for i in range(0, len(samples), chunk):
        j = min(len(samples), i + chunk)
        per_sample = np.interp(np.arange(i, j) / step, blocks, gain)
        np.clip(samples[i:j] * per_sample, -ceiling, ceiling, out=out[i:j], casting="same_kind")
    return out


def level(samples: np.ndarray, sample_rate: int, target_lufs: float, ceiling_dbfs: float) -> tuple[np.ndarray, float]:
    """Gain to ``target_lufs`` and limit peaks below ``ceiling_dbfs``; the limiter takes a
    little loudness away, so a second pass makes it up. Returns (audio, total gain in dB)."""
    out, total = samples, 0.0
    for _ in range(2):
        loud = integrated_loudness(out, sample_rate)
        if not math.isfinite(loud):
            break
        gain_db = max(-30.0, min(30.0, target_lufs - loud))
        if abs(gain_db) < 0.1:
            break
        out = limit(out * 10 ** (gain_db / 20), sample_rate, ceiling_dbfs)
        total += gain_db
    return out.astype(np.float32), total


# --- speech structure -------------------------------------------------------------------------


def find_pauses(samples: np.ndarray, sample_rate: int, min_gap: float = 0.08, rel_threshold: float = 0.06) -> list[tuple[float, float]]:
    """Silent stretches of at least ``min_gap`` s inside speech, as (start, end) seconds:
    where a speaker breathes at a comma. Used to place caption page breaks on the audio."""
    win = max(1, int(0.01 * sample_rate))
    n = len(samples) // win
    if n < 3:
        return []
    rms = np.sqrt((samples[: n * win].reshape(n, win) ** 2).mean(axis=1))
    quiet = rms < rel_threshold * max(float(rms.max()), 1e-9)
    pauses: list[tuple[float, float]] = []
    i = 0
    while i < n:
        if quiet[i]:
            j = i
            while j < n and quiet[j]:
                j += 1
            if (j - i) * win / sample_rate >= min_gap and i > 0 and j < n:
                pauses.append((i * win / sample_rate, j * win / sample_rate))
            i = j
        else:
            i += 1
    return pauses


# --- assembly ------------------------------------------------------------------------------------


def place(clips: list[tuple[float, np.ndarray]], duration: float, sample_rate: int) -> np.ndarray:
    """A silent track of ``duration`` seconds with each (start, samples) clip added in."""
    track = np.zeros(int(math.ceil(duration * sample_rate)), np.float32)
    for start, samples in clips:
        i = int(round(start * sample_rate))
        j = min(len(track), i + len(samples))
        if j > i:
            track[i:j] += samples[: j - i]
    return track


def music_bed(duration: float, sample_rate: int, level_db: float, seed: int = 0) -> np.ndarray:
    """A soft generated pad (slow chords of sine partials) at ``level_db`` RMS, faded in and
    out: royalty-free by construction."""
    rng = np.random.default_rng(seed)
    n = int(duration * sample_rate)
    t = np.arange(n) / sample_rate
    roots = [220.0, 174.61, 261.63, 196.0]  # A3, F3, C4, G3: a calm I-VI-III-VII loop
    chord_len = 4.0
    out = np.zeros(n, np.float64)
    for k, root in enumerate(roots * int(duration // (chord_len * len(roots)) + 1)):
        t0 = k * chord_len
        if t0 >= duration:
            break
        i0, i1 = int(t0 * sample_rate), min(n, int((t0 + chord_len + 1.0) * sample_rate))
        tt = t[i0:i1] - t0
        env = np.minimum(1, tt / 1.2) * np.minimum(1, np.maximum(0, (chord_len + 1.0 - tt) / 1.2))
        for ratio, amp in ((1, 1.0), (1.25, 0.6), (1.5, 0.7), (2, 0.3)):
            phase = rng.uniform(0, 2 * np.pi)
            out[i0:i1] += amp * env * np.sin(2 * np.pi * root * ratio * tt + phase)
    fade = np.minimum(1, np.minimum(t / 1.5, np.maximum(0, duration - t) / 1.5))
    out *= fade
    rms = math.sqrt(float(np.mean(out**2))) or 1.0
    return (out / rms * 10 ** (level_db / 20)).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """16-bit mono WAV, written to a temporary name and renamed into place."""
    pcm = np.clip(np.round(samples * 32767), -32767, 32767).astype(np.int16)
    with atomic_file(path) as f, wave.open(f, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
