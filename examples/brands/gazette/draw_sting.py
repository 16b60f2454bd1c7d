"""Draws this sample brand's intro sting (intro.mp4): 2 s at 640×360, 25 fps, the logo growing
and settling on the brand's red, over a two-note chime (sines) that fades out. Run:
python examples/brands/gazette/draw_sting.py (needs the ffmpeg that imageio-ffmpeg ships)."""

import subprocess
import wave
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
W, H, FPS, SECONDS, SR = 640, 360, 25, 2.0, 48000


def frames() -> list[bytes]:
    logo = Image.open(HERE / "logo.png").convert("RGBA")
    out = []
    n = int(SECONDS * FPS)
    for i in range(n):
        t = i / (n - 1)
        k = min(1.0, t / 0.6)
        ease = 1 - (1 - k) ** 3
        top = np.array([42, 10, 16]) * (1 - t) + np.array([122, 16, 32]) * t
        bg = Image.new("RGB", (W, H), tuple(int(c) for c in top))
        scale = 0.6 + 0.4 * ease
        lw = int(W * 0.7 * scale)
        lh = int(lw * logo.height / logo.width)
        mark = logo.resize((lw, lh), Image.Resampling.LANCZOS)
        alpha = mark.getchannel("A").point(lambda a, e=ease: int(a * e))
        mark.putalpha(alpha)
        bg.paste(mark, ((W - lw) // 2, (H - lh) // 2), mark)
        out.append(bg.tobytes())
    return out


def chime(path: Path) -> None:
    t = np.arange(int(SECONDS * SR)) / SR
    notes = np.sin(2 * np.pi * 659.25 * t) * (t < 0.5) + np.sin(2 * np.pi * 987.77 * t) * (t >= 0.5)
    env = np.exp(-2.5 * np.where(t < 0.5, t, t - 0.5)) * np.minimum(1, (SECONDS - t) / 0.4)
    pcm = (0.4 * notes * env * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())


if __name__ == "__main__":
    wav = HERE / "chime.wav"
    chime(wav)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{W}x{H}", "-framerate", str(FPS), "-i", "pipe:0", "-i", str(wav), "-c:v", "libx264", "-crf", "30",
           "-preset", "slow", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-ac", "1", "-shortest",
           "-movflags", "+faststart", str(HERE / "intro.mp4")]
    subprocess.run(cmd, input=b"".join(frames()), check=True)
    wav.unlink()
