"""The allocator settings that keep a render's memory flat (glibc)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from videogen.render.encode import VideoEncoder
from videogen.render.memory import MMAP_THRESHOLD
from videogen.render.templates import Encoding

PROBE = """
import ctypes, numpy as np
from videogen.render.memory import map_large_blocks
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
if {fixed}:
    map_large_blocks()
big = np.ones(8 << 20, np.uint8); del big   # freeing a mapped 8 MB block raises glibc's own threshold
before = libc.mallinfo2().hblkhd
frame = np.ones(1 << 20, np.uint8)           # then a 1 MB block: mapped on its own, or from the heap?
print(libc.mallinfo2().hblkhd - before >= 1 << 20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
@pytest.mark.parametrize("fixed", [True, False])
def test_large_blocks_stay_mapped_after_a_larger_one_was_freed(fixed):
    r = subprocess.run([sys.executable, "-c", PROBE.format(fixed=fixed)], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == str(fixed)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_ffmpeg_gets_the_same_threshold(tmp_path):
    with VideoEncoder(tmp_path / "m.mp4", 64, 36, 24, None, Encoding(preset="ultrafast")) as enc:
        environ = open(f"/proc/{enc.proc.pid}/environ", "rb").read().split(b"\0")
        enc.write(bytes(64 * 36 * 3 // 2))
    assert f"MALLOC_MMAP_THRESHOLD_={MMAP_THRESHOLD}".encode() in environ
