"""Encoding with the ffmpeg that imageio-ffmpeg ships: raw I420 frames on a pipe + a WAV →
H.264 (High profile, yuv420p, browser-safe) + mono AAC in an MP4 with ``+faststart``.

Frames are written by a thread, so Python prepares frame n+1 while the pipe and x264 take
frame n; the ffmpeg process is always waited for or killed (no leaked children)."""

from __future__ import annotations

import ctypes
import errno
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import imageio_ffmpeg

from videogen.errors import RenderError
from videogen.render.config import EncoderTuning
from videogen.render.cputime import CpuParts, children_cpu
from videogen.render.memory import child_env
from videogen.render.templates import Encoding


def _grow_pipe(fd: int) -> int:
    """A 1 MiB pipe (Linux; the default is 64 KiB): a frame crosses in a few writes instead of
    about 50, with as many fewer wake-ups of ffmpeg. Returns the pipe's size (0: unknown)."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        return fcntl.fcntl(fd, getattr(fcntl, "F_GETPIPE_SZ", 1032))
    except (ImportError, OSError):
        return 0  # other systems, or a lower /proc/sys/fs/pipe-max-size: the default works too


#: The defaults measured on two cores (README, Performance), for encoders given no tuning.
_MEASURED = EncoderTuning()


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


_Vmsplice = Callable[[int, Any, int, int], int]


def _vmsplice_fn() -> _Vmsplice | None:
    """libc's vmsplice (Linux), or None. ctypes releases the GIL while it blocks."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).vmsplice
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.POINTER(_IoVec), ctypes.c_ulong, ctypes.c_uint]
    fn.restype = ctypes.c_ssize_t
    return cast(_Vmsplice, fn)


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def _lower_this_thread(nice: int) -> None:
    """Raise the calling thread's nice value by ``nice`` (Linux only: there a thread's id
    names just that thread; elsewhere the same call would renice a whole process).

    The thread that draws frames runs ``EncoderTuning.frames_nice`` levels below the encoder:
    x264 then takes a core whenever it has work and the frames are drawn in the time it
    leaves, with fewer preemptions of the encoder's threads and less of their cache lost to
    the frame generator (see README, Performance)."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:
        pass  # a priority is a hint: the frames are the same without it


def x264_params(tuning: EncoderTuning) -> list[str]:
    """x264 threading options. ``x264_sliced`` splits each frame between the threads instead
    of encoding several frames at once: 58 MB less at 1080p and about 4 % less CPU for the
    encoder alone, but next to the frame generator the render took about 5 % longer, so it is
    not the default. ``x264_sync_lookahead=0`` runs the look-ahead in the encoding thread:
    about 20 MB less, but slower."""
    params = []
    if tuning.x264_sliced:
        params.append("sliced-threads=1")
    if tuning.x264_sync_lookahead is not None:
        params.append(f"sync-lookahead={int(tuning.x264_sync_lookahead)}")
    return ["-x264-params", ":".join(params)] if params else []


def x264_args(enc: Encoding, fps: float, tuning: EncoderTuning) -> list[str]:
    """The video encoder settings, shared by the renderer and the benchmark's encode floor.

    ``tuning.x264_threads``: two frame threads (the default) keep both cores busy next to the
    frame generator and hold about 25 MB less at 1080p than x264's own choice (3 on two
    cores), with practically the same output (same size and PSNR/SSIM to three decimals);
    None leaves the choice to x264."""
    args = [
        "-c:v", "libx264", "-preset", enc.preset, "-crf", str(enc.crf),
        "-profile:v", "high", "-pix_fmt", "yuv420p",
        # Frames are converted with the BT.601 matrix in limited range (OpenCV's I420); say so,
        # so players do not guess. Primaries and transfer are sRGB/BT.709 like the sources.
        "-colorspace", "smpte170m", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
        "-g", str(max(1, round(fps * 2))),  # a keyframe every 2 s: quick, exact seeking in players
    ]
    if tuning.x264_threads:
        args += ["-threads", str(tuning.x264_threads)]
    return args + x264_params(tuning)


def aac_args(enc: Encoding) -> list[str]:
    """The audio encoder settings, shared by the renderer and the benchmark's floor with audio.
    The narration track is mono, so is the AAC: a stereo copy of one channel held the same
    sound and cost the encoder twice. The constant-quantizer coder (``fast``) takes 1.0 CPU-s
    per minute of speech instead of 3.6 for the default two-loop search with two channels,
    and at this bitrate it decodes closer to the source (SNR 47.6 dB against 22.7 dB on the
    benchmark's narration)."""
    return ["-c:a", "aac", "-aac_coder", "fast", "-b:a", enc.audio_bitrate, "-ar", "48000", "-ac", "1"]


class VideoEncoder:
    """``with VideoEncoder(...) as enc:`` then, per frame, ``buf = enc.frame_buffer()``, draw
    the frame into ``buf`` and ``enc.submit(buf)`` (or ``enc.write(data)`` to copy a frame in);
    ``path`` exists on success.

    Frames go to ffmpeg through a few reused buffers, written to the pipe by a thread: the
    caller draws frame n+1 while ffmpeg takes frame n, and no frame is copied in Python."""

    def __init__(self, path: Path, width: int, height: int, fps: float, audio_wav: Path | None,
                 encoding: Encoding, tuning: EncoderTuning = _MEASURED, queue_size: int = 2,
                 cpu: CpuParts | None = None):
        self.path = path
        self.tuning = tuning
        self.cpu = cpu or CpuParts()  # where the drawing, writer and ffmpeg CPU-seconds go
        self.frame_bytes = width * height * 3 // 2
        cmd = [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-framerate", f"{fps}",
            "-thread_queue_size", "2", "-i", "pipe:0",
        ]
        if audio_wav is not None:
            cmd += ["-i", str(audio_wav), "-map", "0:v:0", "-map", "1:a:0"]
        cmd += x264_args(encoding, fps, tuning)
        if audio_wav is not None:
            cmd += aac_args(encoding)
        cmd += ["-movflags", "+faststart", "-f", "mp4", str(path)]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=child_env())
        assert self.proc.stdin is not None
        pipe_size = _grow_pipe(self.proc.stdin.fileno())
        # vmsplice hands the frame's pages to the pipe instead of copying them (0.6-0.9 CPU-s
        # less per minute of 1080p). A page handed over must not change until ffmpeg has read
        # it: a frame larger than the pipe pushes the whole previous frame out of it, so a
        # buffer is reused only once the next frame has gone in (one more buffer in the pool).
        big = pipe_size and self.frame_bytes > pipe_size + 8192
        self._vmsplice = _vmsplice_fn() if tuning.vmsplice and big else None
        self._stderr: list[bytes] = []
        self._err_thread = threading.Thread(target=self._drain, daemon=True)
        self._err_thread.start()
        self._queue: queue.Queue[bytearray | None] = queue.Queue(maxsize=queue_size)
        # queue_size frames waiting, one being written, one being drawn.
        self._free: queue.Queue[bytearray] = queue.Queue()
        for _ in range(queue_size + (3 if self._vmsplice else 2)):
            self._free.put(bytearray(self.frame_bytes))
        self._write_error: BaseException | None = None
        self._writer = threading.Thread(target=self._write_loop, daemon=True)
        self._writer.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)
            del self._stderr[:-40]

    def _write_loop(self) -> None:
        with self.cpu.thread("writer"):
            self._write_frames()

    def _write_frames(self) -> None:
        assert self.proc.stdin is not None
        in_pipe: bytearray | None = None  # spliced last: its pages may still be in the pipe
        while True:
            item = self._queue.get()
            if item is None:
                break
            try:
                if self._write_error is None:
                    if self._vmsplice:
                        self._splice(item)
                    else:
                        self.proc.stdin.write(item)
            except (BrokenPipeError, OSError) as e:
                self._write_error = e
            finally:
                # Back to frame_buffer() for a later frame (a spliced one after the next).
                if self._vmsplice:
                    item, in_pipe = in_pipe, item
                if item is not None:
                    self._free.put(item)
        if in_pipe is not None:
            self._free.put(in_pipe)

    def _splice(self, buf: bytearray) -> None:
        assert self.proc.stdin is not None and self._vmsplice is not None
        fd = self.proc.stdin.fileno()
        addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
        done, total = 0, len(buf)
        while done < total:
            iov = _IoVec(addr + done, total - done)
            n = self._vmsplice(fd, ctypes.byref(iov), 1, 0)
            if n < 0:
                err = ctypes.get_errno()
                if err == errno.EINTR:
                    continue
                raise OSError(err, os.strerror(err))
            done += n

    def frame_buffer(self) -> bytearray:
        """A buffer of one frame (I420) to draw into, then pass to ``submit``."""
        if self._write_error is not None:
            raise RenderError(f"ffmpeg stopped taking frames: {self.error_text()}")
        return self._free.get()  # the writer thread hands one back after each write

    def submit(self, buf: bytearray) -> None:
        """Send a buffer from ``frame_buffer``, drawn: ffmpeg gets it next."""
        self._queue.put(buf)

    def write(self, frame: bytes | memoryview) -> None:
        """Send one frame; the bytes are copied, so the caller may reuse its buffer."""
        buf = self.frame_buffer()
        memoryview(buf)[:] = memoryview(frame).cast("B")
        self.submit(buf)

    def encode_frames(self, n_frames: int, draw: Callable[[int, bytearray], None]) -> None:
        """Frames 0 … n_frames-1: ``draw(i, buf)`` fills a buffer of the encoder with frame
        ``i``, which then goes to ffmpeg. The drawing runs in a thread of its own, at a
        priority ``tuning.frames_nice`` levels below ffmpeg's; this waits for it, re-raises what
        ``draw`` raised, and on an interruption of the waiting thread (Ctrl-C, a task's
        time limit) stops the drawing before raising."""
        stop = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            _lower_this_thread(self.tuning.frames_nice)
            try:
                with self.cpu.thread("drawing"):
                    for i in range(n_frames):
                        if stop.is_set():
                            return
                        buf = self.frame_buffer()
                        draw(i, buf)
                        if i == 0:
                            self.cpu.mark_first_frame()
                        self.submit(buf)
            except BaseException as e:  # noqa: BLE001 - handed to the waiting thread
                failure.append(e)

        thread = threading.Thread(target=run, name="frames", daemon=True)
        thread.start()
        try:
            while thread.is_alive():
                thread.join(0.5)  # a timed wait: signals still reach the waiting thread
        finally:
            stop.set()
            thread.join(30)  # one frame at most; a dead ffmpeg is killed by abort() after this
        if failure:
            raise failure[0]

    def error_text(self) -> str:
        return b"".join(self._stderr).decode(errors="replace").strip()[-800:] or "no message"

    def close(self) -> None:
        self._queue.put(None)
        self._writer.join()
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        before = children_cpu()
        rc = self.proc.wait()
        self.cpu.add("x264", children_cpu() - before)  # ffmpeg: x264, the AAC encoder, the muxer
        self._err_thread.join(timeout=5)
        if rc != 0 or self._write_error is not None:
            raise RenderError(f"ffmpeg failed (exit {rc}): {self.error_text()}")

    def abort(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        # Unblock the writer thread if it waits on a full queue or a dead pipe.
        self._write_error = self._write_error or RenderError("aborted")
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass
        self._queue.put(None)
        self._writer.join(timeout=5)
        self.proc.wait()
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def __enter__(self) -> VideoEncoder:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
