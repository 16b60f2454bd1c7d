import numpy as np
import pytest

from videogen.render import audio


def tone(seconds, freq=997.0, amp=1.0, rate=48000):
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_loudness_of_reference_tones():
    # EBU Tech 3341: a 1 kHz sine at 0 dBFS in one channel reads about -3 LUFS.
    assert audio.integrated_loudness(tone(5), 48000) == pytest.approx(-3.0, abs=0.4)
    assert audio.integrated_loudness(tone(5, amp=0.1), 48000) == pytest.approx(-23.0, abs=0.4)
    assert audio.integrated_loudness(np.zeros(48000, np.float32), 48000) == float("-inf")


def test_level_reaches_target_and_ceiling():
    rng = np.random.default_rng(1)
    speechy = tone(6, 220, 0.05, 22050) * (rng.random(int(6 * 22050)) > 0.3) + tone(6, 1800, 0.02, 22050)
    speechy[1000:1010] = 0.9  # a click that would clip once made louder
    out, gain = audio.level(speechy.astype(np.float32), 22050, -16.0, -1.5)
    assert audio.integrated_loudness(out, 22050) == pytest.approx(-16.0, abs=0.6)
    assert audio.peak_dbfs(out) <= -1.5 + 1e-6
    assert gain > 5


def test_find_pauses_inside_speech():
    rate = 16000
    a = np.concatenate([tone(0.5, 300, 0.5, rate), np.zeros(int(0.2 * rate), np.float32), tone(0.5, 300, 0.5, rate)])
    pauses = audio.find_pauses(a, rate)
    assert len(pauses) == 1
    start, end = pauses[0]
    assert start == pytest.approx(0.5, abs=0.02) and end == pytest.approx(0.7, abs=0.02)


def test_place_and_bed():
    track = audio.place([(0.5, np.ones(100, np.float32)), (1.0, np.ones(50, np.float32))], 2.0, 1000)
    assert len(track) == 2000 and track[500:600].sum() == 100 and track[1000:1050].sum() == 50
    bed = audio.music_bed(10.0, 22050, -30.0)
    rms = float(np.sqrt(np.mean(bed**2)))
    assert 20 * np.log10(rms) == pytest.approx(-30.0, abs=0.5)
    assert abs(bed[0]) < 1e-3 and abs(bed[-1]) < 1e-3


def test_chunked_loudness_equals_one_fft_over_the_whole_clip():
    """The K-weighting filter runs chunk by chunk (flat memory for long clips); the result is
    the one a single FFT over the whole signal gives."""
    from videogen.render.audio import _k_weighting

    rate = 22050
    rng = np.random.default_rng(3)
    n = rate * 40  # several chunks
    x = (rng.standard_normal(n) * np.repeat(rng.random(n // 2205 + 1), 2205)[:n] * 0.2).astype(np.float32)
    size = 1 << (n + rate).bit_length()
    spec = np.fft.rfft(x.astype(np.float64), size) * _k_weighting(np.fft.rfftfreq(size, 1 / rate), rate)
    y = np.fft.irfft(spec, size)[:n]
    sq = np.concatenate([[0.0], np.cumsum(y * y)])
    block, hop = int(0.4 * rate), int(0.1 * rate)
    starts = np.arange(0, n - block + 1, hop)
    z = (sq[starts + block] - sq[starts]) / block
    z = z[-0.691 + 10 * np.log10(z) > -70]
    z = z[-0.691 + 10 * np.log10(z) > -0.691 + 10 * np.log10(z.mean()) - 10]
    expected = -0.691 + 10 * np.log10(z.mean())
    assert audio.integrated_loudness(x, rate) == pytest.approx(expected, abs=0.01)
