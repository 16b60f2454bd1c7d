"""The encoder on its own: every frame handed to it comes out of ffmpeg as it was drawn, whether
the frame goes through the pipe by copy or by vmsplice (where a buffer must not be reused
while the pipe still holds its pages)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from videogen.render.config import EncoderTuning
from videogen.render.encode import VideoEncoder, ffmpeg_exe, x264_args
from videogen.render.templates import Encoding

W, H, N = 1280, 720, 40  # a frame (1.38 MB) larger than the 1 MiB pipe: the vmsplice path


def _frame(i: int) -> np.ndarray:
    """Frame i: luma i * 6 + 5 on the left half, 245 - i * 6 on the right; grey chroma."""
    buf = np.full(W * H * 3 // 2, 128, np.uint8)
    y = buf[: W * H].reshape(H, W)
    y[:, : W // 2] = i * 6 + 5
    y[:, W // 2 :] = 245 - i * 6
    return buf


def _check(path) -> None:
    lumas = _decoded_lumas(path)
    assert len(lumas) == N
    expected = np.array([[i * 6 + 5, 245 - i * 6] for i in range(N)])
    assert np.abs(lumas - expected).max() < 2, np.round(lumas - expected, 1)


def _decoded_lumas(path) -> np.ndarray:
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
                         capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, H * 3 // 2, W)[:, :H]  # the luma planes
    return np.stack([frames[:, 100:-100, 100 : W // 2 - 100].mean(axis=(1, 2)),
                     frames[:, 100:-100, W // 2 + 100 : -100].mean(axis=(1, 2))], axis=1)


@pytest.mark.parametrize("vmsplice", [True, False])
def test_every_frame_arrives_as_drawn(tmp_path, vmsplice):
    out = tmp_path / "v.mp4"
    with VideoEncoder(out, W, H, 24, None, Encoding(crf=18, preset="ultrafast"), EncoderTuning(vmsplice=vmsplice)) as enc:
        assert (enc._vmsplice is not None) == vmsplice
        for i in range(N):
            buf = enc.frame_buffer()
            np.copyto(np.frombuffer(buf, np.uint8), _frame(i))  # drawn into the encoder's own buffer
            enc.submit(buf)
            if i % 5 == 0:
                # A slow frame generator and a fast one: buffers come back in every order.
                subprocess.run(["sleep", "0.05"])
    _check(out)


def test_a_frame_still_in_the_pipe_is_not_drawn_over(tmp_path):
    """ffmpeg stopped (SIGSTOP) mid-stream, several times, while frames keep being drawn: a
    buffer whose pages the pipe still holds must not be handed out for a new frame."""
    out = tmp_path / "v.mp4"
    enc = VideoEncoder(out, W, H, 24, None, Encoding(crf=18, preset="slow"),  # a slow reader: a full pipe
                       EncoderTuning(vmsplice=True))
    assert enc._vmsplice is not None

    def feed() -> None:
        for i in range(N):
            buf = enc.frame_buffer()
            np.copyto(np.frombuffer(buf, np.uint8), _frame(i))
            enc.submit(buf)

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        for _ in range(6):
            time.sleep(0.15)
            os.kill(enc.proc.pid, signal.SIGSTOP)
            time.sleep(0.3)  # meanwhile the feeder draws into whatever buffer it is given
            os.kill(enc.proc.pid, signal.SIGCONT)
        feeder.join(60)
        enc.close()
    except BaseException:
        os.kill(enc.proc.pid, signal.SIGCONT)
        enc.abort()
        raise
    _check(out)


def test_small_frames_are_copied_not_spliced(tmp_path):
    with VideoEncoder(tmp_path / "s.mp4", 64, 36, 24, None, Encoding(preset="ultrafast"),
                      EncoderTuning(vmsplice=True)) as enc:
        assert enc._vmsplice is None  # 3.4 kB frames fit in the pipe many times: pages would be reused too early
        for _ in range(3):
            enc.write(bytes(64 * 36 * 3 // 2))


def test_a_dead_encoder_is_reported_not_waited_for(tmp_path):
    enc = VideoEncoder(tmp_path / "d.mp4", W, H, 24, None, Encoding(preset="ultrafast"))
    enc.proc.kill()
    enc.proc.wait()
    from videogen.errors import RenderError

    with pytest.raises(RenderError):
        for _ in range(50):
            enc.write(bytes(W * H * 3 // 2))
        enc.close()
    enc.abort()


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
@pytest.mark.parametrize("lowered", [7, 0])
def test_frames_are_drawn_in_a_thread_below_the_encoder(tmp_path, lowered):
    caller = _nice()
    seen: list[tuple[int, int]] = []  # (frame, nice value of the thread that drew it)

    def draw(i: int, buf: bytearray) -> None:
        seen.append((i, _nice()))
        np.copyto(np.frombuffer(buf, np.uint8), _frame(i))

    out = tmp_path / "n.mp4"
    with VideoEncoder(out, W, H, 24, None, Encoding(crf=18, preset="ultrafast"), EncoderTuning(frames_nice=lowered)) as enc:
        enc.encode_frames(N, draw)
    _check(out)
    assert [i for i, _ in seen] == list(range(N))
    assert {n for _, n in seen} == {min(19, caller + lowered)}
    assert _nice() == caller  # the calling thread (a worker's, reused for the next job) is untouched


def test_an_error_while_drawing_reaches_the_caller_and_ffmpeg_is_gone(tmp_path):
    def draw(i: int, buf: bytearray) -> None:
        if i == 5:
            raise ValueError("bad frame 5")
        np.copyto(np.frombuffer(buf, np.uint8), _frame(i))

    with pytest.raises(ValueError, match="bad frame 5"):
        with VideoEncoder(tmp_path / "e.mp4", W, H, 24, None, Encoding(preset="ultrafast")) as enc:
            enc.encode_frames(N, draw)
    assert enc.proc.poll() is not None
    assert not [t for t in threading.enumerate() if t.name == "frames"]


class _TimeLimit(Exception):
    """What a signal handler raises in the waiting thread (as Celery's soft time limit does)."""


def test_an_interrupted_caller_stops_the_drawing(tmp_path):
    """A signal that raises in the waiting thread (Ctrl-C, a Celery time limit): the drawing
    stops within a frame or so, the exception goes on, and ffmpeg is killed. The test installs
    its own handler: an earlier test may have left SIGINT to a handler that does not raise."""
    drawn: list[int] = []

    def draw(i: int, buf: bytearray) -> None:
        drawn.append(i)
        if i > 500:
            raise AssertionError("the interruption never reached the waiting thread")
        time.sleep(0.02)

    def interrupt() -> None:
        while len(drawn) < 10:
            time.sleep(0.01)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)

    def on_signal(signum, frame):  # noqa: ARG001
        raise _TimeLimit()

    previous = signal.signal(signal.SIGUSR1, on_signal)
    try:
        threading.Thread(target=interrupt, daemon=True).start()
        with pytest.raises(_TimeLimit):
            with VideoEncoder(tmp_path / "i.mp4", W, H, 24, None, Encoding(preset="ultrafast")) as enc:
                enc.encode_frames(10_000, draw)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    stopped_at = len(drawn)
    time.sleep(0.3)
    assert len(drawn) == stopped_at < 100
    assert enc.proc.poll() is not None


def test_the_tuning_reaches_x264():
    enc = Encoding(preset="ultrafast")
    assert "-threads" not in x264_args(enc, 25, EncoderTuning(x264_threads=None))  # x264's own choice
    assert "-x264-params" not in x264_args(enc, 25, EncoderTuning())
    args = x264_args(enc, 25, EncoderTuning(x264_threads=3, x264_sliced=True, x264_sync_lookahead=0))
    assert args[args.index("-threads") + 1] == "3"
    assert args[args.index("-x264-params") + 1] == "sliced-threads=1:sync-lookahead=0"
