"""Intro and outro stings: a still or a short video with its sound, played before or after the
narrated part of a clip.

A sting is probed once (``probe_sting``: what it is, how long it plays, problems named by key),
then streamed: its frames decoded by ffmpeg at the canvas's size and frame rate, letterboxed on
black, straight into the encoder's frame buffers (one frame in memory at a time), and its sound
decoded by ffmpeg to mono samples at the narration's rate, levelled like the narration."""

from __future__ import annotations

import functools
import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from videogen.render import audio
from videogen.render.encode import ffmpeg_exe
from videogen.render.memory import child_env
from videogen.render.templates import MAX_STING_SECONDS, STILL_SECONDS, Sting, Template

_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\S+.*?: Video: .*?(\d{2,5})x(\d{2,5})")
_AUDIO = re.compile(r"Stream #\S+.*?: Audio: ")
_IMAGE_INPUT = re.compile(r"Input #0, (image2|\w+_pipe)\b")  # a picture under a video's name


@dataclass(frozen=True)
class StingInfo:
    """What a sting file is: ``kind``, its size, how long it plays in the clip (``seconds``,
    the file's own length for a video when shorter than its ``duration``), how long the file
    lasts (``length``) and whether it has sound."""

    kind: Literal["still", "video"]
    width: int
    height: int
    seconds: float
    length: float
    has_audio: bool

    def frames(self, fps: float) -> int:
        """How many frames of the clip it takes (at least one)."""
        return max(1, round(self.seconds * fps))

    def describe(self) -> str:
        if self.kind == "still":
            return f"still {self.width}×{self.height}, {self.seconds:g} s, silent"
        return f"video {self.width}×{self.height}, {self.length:.2f} s with sound, plays {self.seconds:.2f} s"


@functools.lru_cache(maxsize=64)
def _header(path: str, mtime_ns: int, size: int) -> str:
    """What ffmpeg says of a file's streams (cached per file version: a service checks the
    brand on every enqueue)."""
    del mtime_ns, size  # the cache key only
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path], capture_output=True,
                          text=True, errors="replace", timeout=30, env=child_env())
    return proc.stderr


def probe_sting(spec: Sting) -> StingInfo:
    """Open the sting's file and say what it is. Raises ValueError naming what is wrong: it
    does not exist, is neither an image nor a video, is a video with no sound, or lasts longer
    than ``MAX_STING_SECONDS``."""
    path = spec.path
    if not path.is_file():
        raise ValueError(f"{path.name} does not exist")
    if spec.still:
        try:
            with Image.open(path) as img:
                img.load()
                w, h = img.size
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise ValueError(f"{path.name} is not a readable image ({e})") from None
        seconds = spec.duration or STILL_SECONDS
        return StingInfo("still", w, h, seconds, seconds, False)
    stat = path.stat()
    head = _header(str(path), stat.st_mtime_ns, stat.st_size)
    video, duration = _VIDEO.search(head), _DURATION.search(head)
    if video is None or duration is None or _IMAGE_INPUT.search(head):
        raise ValueError(f"{path.name} is not a video or an image (a sting is a .png/.jpg/.webp still or a video "
                         f"with sound)")
    hours, minutes, secs = duration.groups()
    length = int(hours) * 3600 + int(minutes) * 60 + float(secs)
    if length <= 0:
        raise ValueError(f"{path.name} is not a video or an image (it lasts no time)")
    if length > MAX_STING_SECONDS + 0.05:
        raise ValueError(f"{path.name} lasts {length:.1f} s: a sting lasts at most {MAX_STING_SECONDS:g} s "
                         f"(cut the file)")
    if not _AUDIO.search(head):
        raise ValueError(f"{path.name} has no sound: a video sting brings its own (add an audio track, silent "
                         f"if need be, or use a still image)")
    seconds = min(length, spec.duration) if spec.duration else length
    return StingInfo("video", int(video.group(1)), int(video.group(2)), seconds, length, True)


def sting_problems(template: Template) -> tuple[list[str], list[str]]:
    """What ``[intro]`` and ``[outro]`` hold, one finding each, and their problems, each naming
    its key (``intro.path: …``)."""
    found, problems = [], []
    for key in ("intro", "outro"):
        spec: Sting | None = getattr(template, key)
        if spec is None:
            found.append(f"{key}: none")
            continue
        try:
            info = probe_sting(spec)
        except ValueError as e:
            problems.append(f"{key}.path: {e}")
            continue
        extra = f", volume {spec.volume:g}" if info.has_audio else ""
        extra += f", fade {spec.fade:g} s" if spec.fade else ""
        found.append(f"{key}: {spec.path.name} ({info.describe()}{extra})")
    return found, problems


def _letterbox_filter(w: int, h: int, fps: float) -> str:
    return (f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:black,"
            f"setsar=1,fps={fps},format=yuv420p")


def still_frame(path: Path, w: int, h: int) -> bytes:
    """The still, fitted in a ``w``×``h`` black canvas, as one I420 frame (BT.601, limited
    range, like every frame of the clip)."""
    import cv2

    with Image.open(path) as img:
        fitted = ImageOps.contain(img.convert("RGB"), (w, h), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (w, h), (0, 0, 0))
    canvas.paste(fitted, ((w - fitted.width) // 2, (h - fitted.height) // 2))
    return bytes(cv2.cvtColor(np.asarray(canvas), cv2.COLOR_RGB2YUV_I420).reshape(-1))


def sting_picture(spec: Sting, info: StingInfo, w: int, h: int) -> Image.Image:
    """One picture of the sting on a ``w``×``h`` canvas (RGB): the still, or the video's frame
    at the middle of what plays (its first frame is often a fade from black); for previews."""
    if info.kind == "still":
        with Image.open(spec.path) as img:
            fitted = ImageOps.contain(img.convert("RGB"), (w, h), Image.Resampling.LANCZOS)
    else:
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-ss", f"{info.seconds / 2:.3f}",
               "-i", str(spec.path), "-frames:v", "1", "-vf", f"scale={w}:{h}:force_original_aspect_ratio=decrease",
               "-f", "image2pipe", "-vcodec", "png", "pipe:1"]
        proc = subprocess.run(cmd, capture_output=True, timeout=30, env=child_env())
        if proc.returncode != 0 or not proc.stdout:
            raise ValueError(f"{spec.path.name}: ffmpeg decoded no frame of the sting")
        import io

        fitted = Image.open(io.BytesIO(proc.stdout)).convert("RGB")
    canvas = Image.new("RGB", (w, h), (0, 0, 0))
    canvas.paste(fitted, ((w - fitted.width) // 2, (h - fitted.height) // 2))
    return canvas


def _fade_levels(n: int, fps: float, fade: float, at_end: bool) -> list[float]:
    """Brightness of each of ``n`` frames: 1, ramping to 0 over the last ``fade`` seconds
    (``at_end``) or from 0 over the first ones."""
    if fade <= 0:
        return [1.0] * n
    levels = []
    for i in range(n):
        t = (i + 0.5) / fps
        levels.append(min(1.0, ((n / fps - t) if at_end else t) / fade))
    return levels


def _dim(buf: np.ndarray, w: int, h: int, level: float) -> None:
    """Fade an I420 frame towards black (Y 16, chroma 128) in place."""
    if level >= 1.0:
        return
    n = w * h
    y = buf[:n].astype(np.float32)
    buf[:n] = np.round(16 + (y - 16) * level).astype(np.uint8)
    c = buf[n:].astype(np.float32)
    buf[n:] = np.round(128 + (c - 128) * level).astype(np.uint8)


class StingFrames:
    """The frames of a sting for a ``w``×``h`` canvas at ``fps``, one at a time: ``fill(buf)``
    writes the next frame into an encoder buffer. A video is decoded by an ffmpeg started on
    the first frame and stopped by ``close`` (or after its last frame); when it gives fewer
    frames than planned, its last frame is held."""

    def __init__(self, spec: Sting, info: StingInfo, w: int, h: int, fps: float, at_end: bool):
        self.spec, self.info, self.w, self.h, self.fps = spec, info, w, h, fps
        self.n = info.frames(fps)
        self.frame_bytes = w * h * 3 // 2
        self._levels = _fade_levels(self.n, fps, spec.fade, at_end)
        self._i = 0
        self._last: bytes | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> IO[bytes]:
        if self._proc is None:
            cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(self.spec.path),
                   "-an", "-vf", _letterbox_filter(self.w, self.h, self.fps), "-frames:v", str(self.n),
                   "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"]
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, env=child_env())
        assert self._proc.stdout is not None
        return self._proc.stdout

    def _next(self) -> bytes:
        if self.info.kind == "still":
            if self._last is None:
                self._last = still_frame(self.spec.path, self.w, self.h)
            return self._last
        data = self._start().read(self.frame_bytes)
        if len(data) == self.frame_bytes:
            self._last = data
        elif self._last is None:
            raise ValueError(f"{self.spec.path.name}: ffmpeg decoded no frame of the sting")
        return self._last

    def fill(self, buf: bytearray) -> None:
        """Write the sting's next frame into ``buf`` (an I420 frame of the canvas)."""
        data = self._next()
        out = np.frombuffer(buf, np.uint8)
        out[:] = np.frombuffer(data, np.uint8)
        _dim(out, self.w, self.h, self._levels[min(self._i, self.n - 1)])
        self._i += 1
        if self._i >= self.n:
            self.close()

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None


def sting_sound(spec: Sting, info: StingInfo, n_samples: int, sample_rate: int, template: Template,
                at_end: bool) -> np.ndarray:
    """The sting's sound, ``n_samples`` long (silence for a still): decoded to mono at
    ``sample_rate``, levelled to the template's loudness and peak like the narration, times
    ``volume``, faded like its frames."""
    out = np.zeros(n_samples, np.float32)
    if info.kind == "still" or not info.has_audio or n_samples == 0:
        return out
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(spec.path), "-vn",
           "-t", f"{n_samples / sample_rate:.6f}", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "pipe:1"]
    proc = subprocess.run(cmd, capture_output=True, timeout=60, env=child_env())
    if proc.returncode != 0:
        raise ValueError(f"{spec.path.name}: ffmpeg could not decode the sting's sound: "
                         f"{proc.stderr.decode(errors='replace').strip()[-300:]}")
    samples = np.frombuffer(proc.stdout, np.float32)[:n_samples]
    out[: len(samples)] = samples
    out, _ = audio.level(out, sample_rate, template.audio.loudness_lufs, template.audio.peak_dbfs)
    out = out * np.float32(spec.volume)
    if spec.fade > 0:
        ramp = np.minimum(1.0, np.arange(n_samples, dtype=np.float32)[::-1 if at_end else 1] / (spec.fade * sample_rate))
        out = out * ramp.astype(np.float32)
    return out.astype(np.float32)


@dataclass(frozen=True)
class Stings:
    """A clip's stings as planned: each with what it is and how many frames it takes (0: none)."""

    intro: tuple[Sting, StingInfo] | None
    outro: tuple[Sting, StingInfo] | None
    fps: float

    @property
    def intro_frames(self) -> int:
        return self.intro[1].frames(self.fps) if self.intro else 0

    @property
    def outro_frames(self) -> int:
        return self.outro[1].frames(self.fps) if self.outro else 0

    @property
    def seconds(self) -> float:
        """How long both last in the clip (whole frames)."""
        return (self.intro_frames + self.outro_frames) / self.fps

    def samples(self, frames: int, sample_rate: int) -> int:
        return int(math.ceil(frames / self.fps * sample_rate))

    def frame_sources(self, w: int, h: int) -> tuple[StingFrames | None, StingFrames | None]:
        """The intro's frames (or None) and the outro's, for a ``w``×``h`` canvas."""
        return (StingFrames(*self.intro, w, h, self.fps, at_end=True) if self.intro else None,
                StingFrames(*self.outro, w, h, self.fps, at_end=False) if self.outro else None)

    def sounds(self, sample_rate: int, template: Template) -> tuple[np.ndarray, np.ndarray]:
        """The intro's sound and the outro's, each as long as its frames (empty: no sting)."""
        before = (sting_sound(*self.intro, self.samples(self.intro_frames, sample_rate), sample_rate, template, True)
                  if self.intro else np.zeros(0, np.float32))
        after = (sting_sound(*self.outro, self.samples(self.outro_frames, sample_rate), sample_rate, template, False)
                 if self.outro else np.zeros(0, np.float32))
        return before, after

    def manifest(self) -> dict[str, dict[str, object]]:
        """What the manifest says of them: per sting, its file, kind, start and length in the clip."""
        out: dict[str, dict[str, object]] = {}
        if self.intro:
            out["intro"] = {"file": self.intro[0].path.name, "kind": self.intro[1].kind, "start": 0.0,
                            "duration": round(self.intro_frames / self.fps, 3)}
        if self.outro:
            out["outro"] = {"file": self.outro[0].path.name, "kind": self.outro[1].kind,
                            "duration": round(self.outro_frames / self.fps, 3)}
        return out


def plan_stings(template: Template) -> Stings:
    """The template's stings probed, at its frame rate (a render checks the brand first, so a
    problem here is unexpected: it raises ValueError)."""
    intro = (template.intro, probe_sting(template.intro)) if template.intro else None
    outro = (template.outro, probe_sting(template.outro)) if template.outro else None
    return Stings(intro, outro, template.fps)
