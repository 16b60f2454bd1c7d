"""Draws this sample brand's logo (logo.png): a red roundel with a white "RG" monogram and
the word GAZETTE, on a transparent background. Run: python examples/brands/gazette/draw_logo.py"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
FONT = HERE / "fonts" / "DejaVuSerifCondensed-Bold.ttf"
SCALE = 4  # drawn large, then reduced: smooth edges


def draw() -> Image.Image:
    w, h = 420 * SCALE, 120 * SCALE
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.ellipse([0, 0, h - 1, h - 1], fill=(200, 30, 45, 255))
    d.ellipse([8 * SCALE, 8 * SCALE, h - 8 * SCALE, h - 8 * SCALE], outline=(255, 255, 255, 255), width=3 * SCALE)
    mono = ImageFont.truetype(str(FONT), 54 * SCALE)
    d.text((h / 2, h / 2), "RG", font=mono, fill=(255, 255, 255, 255), anchor="mm")
    word = ImageFont.truetype(str(FONT), 62 * SCALE)
    d.text((h + 14 * SCALE, h / 2), "GAZETTE", font=word, fill=(255, 255, 255, 240), anchor="lm",
           stroke_width=2 * SCALE, stroke_fill=(20, 20, 30, 200))
    return img.resize((w // SCALE, h // SCALE), Image.Resampling.LANCZOS)


if __name__ == "__main__":
    draw().save(HERE / "logo.png", optimize=True)
