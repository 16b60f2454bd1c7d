import io
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from videogen.errors import ImageError
from videogen.render.article import parse_article
from videogen.render.images import ImageLimits, decode_image, load_images
from videogen.render.pipeline import RenderOptions, render_article

LIMITS = ImageLimits()


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def photo(w=64, h=48, mode="RGB") -> Image.Image:
    arr = np.zeros((h, w, 3), np.uint8)
    arr[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    arr[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    return Image.fromarray(arr).convert(mode)


def png_claiming(w: int, h: int) -> bytes:
    """A tiny PNG whose header claims w×h pixels (a decompression bomb's calling card)."""
    data = bytearray(encode(photo(4, 4), "PNG"))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def test_cmyk_grayscale_16bit_and_alpha_become_rgb():
    for img in (photo(mode="CMYK"), photo(mode="L"), photo(mode="RGBA"), photo(mode="LA"), photo(mode="P")):
        fmt = "JPEG" if img.mode in ("CMYK", "L") else "PNG"
        out = decode_image(encode(img, fmt), LIMITS)
        assert out.mode == "RGB" and out.size == (64, 48)
    deep = Image.fromarray((np.arange(64 * 48).reshape(48, 64) * 20).astype(np.uint16))
    out = decode_image(encode(deep, "PNG"), LIMITS)
    assert out.mode == "RGB" and np.asarray(out).max() > 200


def test_transparent_pixels_are_flattened_on_the_background():
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    out = decode_image(encode(rgba, "PNG"), LIMITS, background=(10, 20, 30))
    assert out.getpixel((5, 5)) == (10, 20, 30)


def test_exif_rotation_is_applied():
    img = photo(64, 48)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = decode_image(encode(img, "JPEG", exif=exif), LIMITS)
    assert out.size == (48, 64)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "not a readable"),
        (b"hello, I am text", "not a readable"),
        (png_claiming(60000, 60000), "pixels"),
        (encode(photo(640, 480), "JPEG")[:3000], "truncated"),
    ],
)
def test_bad_images_are_refused_with_a_reason(data, words):
    with pytest.raises(ImageError, match=words):
        decode_image(data, LIMITS)


def test_a_render_with_broken_images_skips_them_and_says_so(tmp_path, settings):
    (tmp_path / "good.jpg").write_bytes(encode(photo(320, 200), "JPEG"))
    (tmp_path / "cut.jpg").write_bytes(encode(photo(640, 480), "JPEG")[:2000])
    (tmp_path / "text.jpg").write_bytes(b"not an image")
    (tmp_path / "bomb.png").write_bytes(png_claiming(60000, 60000))
    data = {"id": "broken-images", "title": "Images that break", "summary": "One image works. The others do not.",
            "language": "en", "images": [{"src": n} for n in ("cut.jpg", "missing.jpg", "text.jpg", "bomb.png", "good.jpg", "../outside.jpg")]}
    article = parse_article(data, base_dir=tmp_path)
    images, notes = load_images(article, LIMITS)
    assert [i.index for i in images] == [4]
    assert len(notes) == 5 and any("outside the article's folder" in n for n in notes)
    result = render_article(article, RenderOptions(height=180, fps=10), tmp_path / "out", settings.render_config())
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert manifest["images_used"] == 1
    assert sum("skipped" in w for w in manifest["warnings"]) == 5
