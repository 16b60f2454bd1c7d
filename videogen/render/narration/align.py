"""Forced alignment without a model: dynamic time warping (DTW) of an audio against a
synthetic reference of the same text whose word times are known (espeak-ng, with its word
events), the way aeneas aligns. Both are described by MFCCs (numpy only); the warping path
carries each reference word start onto the audio. Used as a fallback for engines that report
no timings, and by ``scripts/word_timing_error.py`` to measure them."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

HOP = 0.01  # seconds between feature frames
_WIN = 0.025
_N_MELS = 26
_N_MFCC = 13
_F_LO, _F_HI = 80.0, 7600.0  # the same band at every sample rate, so features compare


@functools.lru_cache(maxsize=4)
def _mel_dct(sample_rate: int, n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    def mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    edges = 700.0 * (10 ** (np.linspace(mel(np.array(_F_LO)), mel(np.array(min(_F_HI, sample_rate / 2 - 1))),
                                         _N_MELS + 2) / 2595.0) - 1.0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    bank = np.zeros((_N_MELS, freqs.size), np.float32)
    for m in range(_N_MELS):
        lo, mid, hi = edges[m : m + 3]
        up = (freqs - lo) / max(mid - lo, 1e-9)
        down = (hi - freqs) / max(hi - mid, 1e-9)
        bank[m] = np.clip(np.minimum(up, down), 0.0, None)
    k = np.arange(_N_MELS)
    dct = np.cos(np.pi / _N_MELS * (k[None, :] + 0.5) * np.arange(_N_MFCC)[:, None]).astype(np.float32)
    return bank, dct


def mfcc(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """(frames, 12) cepstra, one frame every ``HOP`` seconds, mean-normalised (c0 dropped:
    loudness differs between voices)."""
    hop, win = int(round(HOP * sample_rate)), int(round(_WIN * sample_rate))
    x = np.asarray(samples, np.float32)
    x = np.append(x[:1], x[1:] - 0.97 * x[:-1])
    if x.size < win:
        x = np.pad(x, (0, win - x.size))
    n = 1 + (x.size - win) // hop
    frames = np.lib.stride_tricks.as_strided(x, (n, win), (x.strides[0] * hop, x.strides[0])) * np.hamming(win)
    n_fft = 1 << (win - 1).bit_length()
    power = np.abs(np.fft.rfft(frames, n_fft)) ** 2
    bank, dct = _mel_dct(sample_rate, n_fft)
    feats = np.log(power @ bank.T + 1e-8) @ dct.T
    feats = feats[:, 1:]
    return (feats - feats.mean(axis=0)).astype(np.float32)


def dtw_path(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The warping path between feature sequences ``a`` (n frames) and ``b`` (m frames):
    for each frame of ``a``, the first frame of ``b`` matched to it (Euclidean distances,
    steps (1,0), (0,1), (1,1))."""
    n, m = len(a), len(b)
    cost = np.sqrt(np.maximum(((a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2 * a @ b.T), 0.0))
    acc = np.empty((n, m), np.float64)
    acc[0] = np.cumsum(cost[0])
    for i in range(1, n):
        diag = np.concatenate(([np.inf], acc[i - 1, :-1]))
        best = np.minimum(diag, acc[i - 1]) + cost[i]  # arriving from the row above
        # Then runs along the row: acc[i, j] = min over k <= j of best[k] + cost[i, k+1..j].
        s = np.cumsum(cost[i])
        acc[i] = np.minimum.accumulate(best - s) + s
    first = np.full(n, m - 1, np.int64)
    i, j = n - 1, m - 1
    while i > 0 or j > 0:
        first[i] = j
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            k = int(np.argmin((acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])))
            i, j = (i - 1, j - 1) if k == 0 else ((i - 1, j) if k == 1 else (i, j - 1))
    first[0] = min(first[0], j)
    return first


def dtw_anchors(samples: np.ndarray, sample_rate: int, reference: np.ndarray, reference_rate: int,
                reference_anchors: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """``reference_anchors`` (word starts in the reference audio) carried onto ``samples``:
    the same words, said by another voice."""
    path = dtw_path(mfcc(reference, reference_rate), mfcc(samples, sample_rate))
    out = []
    for pos, t in reference_anchors:
        i = min(len(path) - 1, max(0, int(round(t / HOP))))
        out.append((pos, float(path[i]) * HOP))
    return out
