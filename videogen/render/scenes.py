"""The visual layers of a clip, drawn once before its frames: the title and outro cards, each
scene's photo or generated background with its credit, the header over the scenes and the
caption pages, handed to compose as YUV planes. Also what text is drawn on screen."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import cv2
import numpy as np
from PIL import Image

from videogen.render import backdrops, brand, cards, i18n
from videogen.render.article import Article
from videogen.render.compose import (
    OVERSAMPLE,
    BodyLayers,
    LazyOverlay,
    Move,
    MovingLayer,
    OverlayPlanes,
    Planes,
    SceneLayers,
)
from videogen.render.fonts import drop_missing
from videogen.render.framing import Box
from videogen.render.images import LoadedImage
from videogen.render.layercache import LayerCache, layer_key, template_digest
from videogen.render.memory import release_memory
from videogen.render.script import Scene, Script, seed_for
from videogen.render.templates import Template
from videogen.render.timeline import Timeline


def canvas_size(template: Template, zoom: float) -> tuple[int, int]:
    """The size (even) of a canvas seen through a window that zooms in up to ``zoom``:
    ``OVERSAMPLE`` times larger than the window at its closest (see compose.view)."""
    w, h = template.size
    return round(w * zoom * OVERSAMPLE / 2) * 2, round(h * zoom * OVERSAMPLE / 2) * 2


def build_layers(template: Template, article: Article, script: Script, scenes: list[Scene], images: list[LoadedImage],
                 timeline: Timeline, pool: ThreadPoolExecutor | None = None,
                 timings: dict[str, float] | None = None,
                 cache: LayerCache | None = None) -> tuple[SceneLayers, Image.Image]:
    """Pre-render every visual layer once; returns the layers and the poster (the title card).
    With a ``pool``, only the title card is drawn before this returns: the rest is drawn in
    the pool while the title card's frames are encoded (its time goes in
    ``timings["layers_overlapped"]``). With a ``cache``, the cards, backgrounds and framed
    photos an earlier render drew alike are read back instead of drawn."""
    cache = cache or LayerCache(None)
    w, h = template.size
    m = template.motion
    lang = article.lang
    direction = i18n.text_direction(lang)
    meta_parts = []
    if article.published_at:
        meta_parts.append(i18n.long_date(article.published_at, lang))
    title_text = cards.TitleCardText(article.title, article.source, " · ".join(meta_parts) or None, direction)
    title_seed = seed_for(article.id, "title")
    title = _cached_image(cache, layer_key("title", template_digest(template), title_text, title_seed,
                                           images[0].digest if images else None),
                          lambda: cards.title_card(template, title_text, seed=title_seed,
                                                   photo=images[0].image if images else None))
    title_seg = timeline.segments[0]
    title_layer = MovingLayer(_card_canvas(title, template), w, h, Move(1.0, m.title_zoom, 0.0, title_seg.end - title_seg.start))
    pages: list[OverlayPlanes | LazyOverlay] = [
        LazyOverlay(functools.partial(cards.word_caption_overlay, p.text, p.words, p.highlight, template, direction)
                    if p.words else functools.partial(cards.caption_overlay, p.text, template, direction), w, h)
        for p in timeline.pages
    ]

    def body() -> BodyLayers:
        started = time.perf_counter()
        layers = _body_layers(template, article, scenes, images, timeline, meta_parts, direction, cache)
        if timings is not None:
            timings["layers_overlapped"] = round(time.perf_counter() - started, 3)
        return layers

    layers = SceneLayers(title_layer, pool.submit(body) if pool else body(), pages)
    if template.logo is not None:
        spec = template.logo
        end = timeline.segments[-1].start if spec.until == "outro" else math.inf
        layers.logo = OverlayPlanes(brand.logo_overlay(template), w, h)
        layers.logo_span = (spec.start, end, spec.fade)
    return layers, title


def _card_canvas(card: Image.Image, template: Template) -> Planes:
    """A card drawn at the frame size, enlarged to its canvas (see ``canvas_size``)."""
    rgb = cv2.resize(np.asarray(card.convert("RGB")), canvas_size(template, 1.0), interpolation=cv2.INTER_CUBIC)
    return Planes.from_rgb(rgb)


def _cached_image(cache: LayerCache, key: str, draw: Callable[[], Image.Image]) -> Image.Image:
    """An RGB image (a card) from the cache, else drawn and kept."""
    arrays, _meta = cache.get_or_make(key, lambda: ({"rgb": np.asarray(draw().convert("RGB"))}, {}))
    return Image.fromarray(arrays["rgb"])


def _cached_planes(cache: LayerCache, key: str, draw: Callable[[], tuple[Planes, dict[str, Any]]]) -> tuple[Planes, dict[str, Any]]:
    """A canvas (and what is known of it) from the cache, else drawn and kept."""
    def make() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        planes, meta = draw()
        return {"buf": planes.buf}, {**meta, "w": planes.w, "h": planes.h}

    arrays, meta = cache.get_or_make(key, make)
    return Planes(meta["w"], meta["h"], arrays["buf"]), meta


def _framed(photo: LoadedImage, size: tuple[int, int], kept_floor: float) -> tuple[Planes, dict[str, Any]]:
    framed = backdrops.frame_photo(photo.image, size, photo.subject, kept_floor)
    k = framed.keep
    keep = [k.x0, k.y0, k.x1, k.y1] if k is not None else None
    return Planes.from_rgb(framed.image), {"focus": list(framed.focus), "keep": keep}


def _background(template: Template, seed: int, size: tuple[int, int]) -> tuple[Planes, dict[str, Any]]:
    return Planes.from_rgb(backdrops.generated_background(template, seed, size)), {}


def _body_layers(template: Template, article: Article, scenes: list[Scene], images: list[LoadedImage],
                 timeline: Timeline, meta_parts: list[str], direction: str, cache: LayerCache) -> BodyLayers:
    """The scenes, their credits, the header and the outro card."""
    tdigest = template_digest(template)
    w, h = template.size
    m = template.motion
    lang = article.lang
    site = urlsplit(article.url).hostname if article.url else None
    outro_lines = [i18n.text("read_more", lang, site=site.removeprefix("www.")) if site else i18n.text("thanks", lang)]
    if meta_parts:
        outro_lines.append(meta_parts[0])
    outro_name = article.source or site or i18n.text("thanks", lang)
    outro_seed = seed_for(article.id, "outro")
    outro = _cached_image(cache, layer_key("outro", tdigest, outro_name, outro_lines, outro_seed, direction),
                          lambda: cards.outro_card(template, outro_name, outro_lines, seed=outro_seed, direction=direction))
    outro_seg = timeline.segments[-1]
    outro_layer = MovingLayer(_card_canvas(outro, template), w, h, Move(1.0, 1.0 + (m.title_zoom - 1) / 2, 0.0, outro_seg.end - outro_seg.start))
    del outro

    size = canvas_size(template, m.max_zoom)
    scene_layers: list[MovingLayer] = []
    credits: list[OverlayPlanes | None] = []
    prepared: dict[int, tuple[Planes, tuple[float, float], Box | None]] = {}
    for k, scene in enumerate(scenes):
        seg = timeline.segments[1 + k]
        v = scene.visual
        focus: tuple[float, float] = (0.5, 0.5)
        keep: Box | None = None
        if v.kind == "image" and v.image is not None:
            if v.image not in prepared:
                photo = images[v.image]
                floor = template.framing.kept_floor
                key = layer_key("photo", photo.digest, photo.image.size, photo.subject, size, floor)
                planes, meta = (_cached_planes(cache, key, functools.partial(_framed, photo, size, floor))
                                if photo.digest is not None else _framed(photo, size, floor))
                kept = Box(*meta["keep"]) if meta["keep"] is not None else None
                prepared[v.image] = (planes, (meta["focus"][0], meta["focus"][1]), kept)
            canvas, focus, keep = prepared[v.image]
            credit = images[v.image].credit
            label = i18n.photo_credit(credit, lang) if credit else None
            credits.append(OverlayPlanes(cards.credit_overlay(label, template, direction), w, h) if label else None)
        else:
            canvas, _ = _cached_planes(cache, layer_key("background", tdigest, v.seed, size),
                                       functools.partial(_background, template, v.seed, size))
            credits.append(None)
        z0, z1 = m.zoom_start, m.zoom_end
        pan = m.pan if not v.reverse else -m.pan
        if v.reverse:
            z0, z1 = z1, z0
        scene_layers.append(MovingLayer(canvas, w, h, Move(z0, z1, pan, seg.end - seg.start, focus, keep)))
    header = OverlayPlanes(cards.header_overlay(template, article.source, article.title, direction), w, h)
    release_memory()  # give back the heap that drawing the canvases used (Pillow and numpy temporaries)
    return BodyLayers(scene_layers, outro_layer, credits, header)


def on_screen(article: Article, lines: list[str], template: Template, warnings: list[str]) -> tuple[Article, list[str]]:
    """What is drawn: the texts without characters no shipped font has (emoji, rare symbols),
    so nothing shows as a tofu box. Captions files and narration keep the original text."""
    dropped: dict[str, None] = {}

    def shown(text: str | None, font: str) -> str | None:
        if text is None:
            return None
        kept, missing = drop_missing(text, font, article.lang)
        dropped.update(dict.fromkeys(missing))
        return kept

    title = shown(article.title, template.fonts.title) or article.title
    source = shown(article.source, template.fonts.title) or None
    screen_lines = [shown(t, template.fonts.caption) or t for t in lines]
    if dropped:
        warnings.append(f"not drawn on screen (no font has them): {' '.join(dropped)}")
    return article.model_copy(update={"title": title, "source": source}), screen_lines
