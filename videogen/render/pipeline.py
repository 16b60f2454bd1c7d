"""render_article: article → folder with video.mp4, poster.jpg, captions.vtt, manifest.json.

Each stage is a plain function from the modules beside this one; this module only runs them
in order, times them, reports progress and publishes the files atomically."""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import cv2
import numpy as np
from PIL import Image

from videogen import __version__
from videogen.errors import RenderError, StorageError
from videogen.outputs import CONTENT_TYPES, FILES, MEDIA_FILES
from videogen.render import RENDERER_VERSION, audio, graphics, i18n
from videogen.render.article import Article
from videogen.render.captions import to_webvtt
from videogen.render.compose import (
    OVERSAMPLE,
    BodyLayers,
    FrameRenderer,
    LazyOverlay,
    Move,
    MovingLayer,
    OverlayPlanes,
    Planes,
    SceneLayers,
    as_moviepy_clip,
    limit_opencv_threads,
)
from videogen.render.config import EncoderTuning, RenderConfig, TtsChoice
from videogen.render.encode import VideoEncoder
from videogen.render.images import ImageLimits, LoadedImage, load_images
from videogen.render.memory import map_large_blocks, release_memory
from videogen.render.narration import NarrationChain
from videogen.render.script import Script, build_script, plan_scenes, seed_for
from videogen.render.templates import Template, load_template
from videogen.render.timeline import (
    LineAudio,
    Timeline,
    build_timeline,
    clip_length,
    lines_within,
)

log = logging.getLogger(__name__)

# Share of the whole render each stage takes, for one overall progress figure.
STAGE_WEIGHTS = {"script": 0.01, "narration": 0.14, "timeline": 0.01, "layers": 0.06, "frames": 0.74, "publish": 0.04}

ProgressFn = Callable[[str, float], None]


@dataclass(frozen=True)
class RenderOptions:
    template: str = "news"
    voice: str | None = None
    tts: TtsChoice | None = None  # None: the config's default
    max_duration: float | None = None  # None: the config's default
    height: int | None = None  # render smaller than the template (previews, tests)
    fps: float | None = None
    engine: Literal["fast", "moviepy"] = "fast"
    allow_local_images: bool = True  # False for articles that came through the API
    allow_outside_paths: bool = False
    skip_unreachable_images: bool = False  # the service's last attempt: skip hosts that time out

    def resolved(self, config: RenderConfig) -> RenderOptions:
        return replace(self, tts=self.tts or config.tts, max_duration=self.max_duration or config.max_duration)


@dataclass
class RenderResult:
    out_dir: Path
    manifest: dict[str, Any]

    @property
    def video(self) -> Path:
        return self.out_dir / "video.mp4"


@dataclass
class _Stages:
    progress: ProgressFn | None
    timings: dict[str, float] = field(default_factory=dict)
    _done: float = 0.0

    def report(self, stage: str, fraction: float) -> None:
        if self.progress:
            self.progress(stage, min(1.0, self._done + STAGE_WEIGHTS.get(stage, 0) * max(0.0, min(1.0, fraction))))

    def finish(self, stage: str, started: float) -> None:
        self.timings[stage] = round(self.timings.get(stage, 0.0) + time.perf_counter() - started, 3)
        self._done += STAGE_WEIGHTS.get(stage, 0)
        if self.progress:
            self.progress(stage, min(1.0, self._done))


def video_id(article: Article, template: str) -> str:
    """Folder name of a render in the CLI's output folder."""
    return f"{article.id}-{Path(template).stem}"


def content_key(article: Article, template: Template, voice: str | None, tts: str, max_duration: float) -> str:
    """Identifies a render: same article content, template, voice and renderer → same key."""
    data = article.content_dict()
    images = []
    for img in article.images:
        entry = img.model_dump(exclude_none=True)
        if not img.is_url and article.base_dir is not None:
            path = (article.base_dir / img.src).resolve()
            if path.is_file():  # a changed local file is a different render
                entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        images.append(entry)
    data["images"] = images
    payload = {
        "article": data,
        "template": template.model_dump(mode="json"),
        "voice": voice,
        "tts": tts,
        "max_duration": max_duration,
        "renderer": RENDERER_VERSION,
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- visual layers ----------------------------------------------------------------------------

def canvas_size(template: Template, zoom: float) -> tuple[int, int]:
    """The size (even) of a canvas seen through a window that zooms in up to ``zoom``:
    ``OVERSAMPLE`` times larger than the window at its closest (see compose.view)."""
    w, h = template.size
    return round(w * zoom * OVERSAMPLE / 2) * 2, round(h * zoom * OVERSAMPLE / 2) * 2


def build_layers(template: Template, article: Article, script: Script, scenes, images: list[LoadedImage],
                 timeline: Timeline, pool: ThreadPoolExecutor | None = None,
                 timings: dict[str, float] | None = None) -> tuple[SceneLayers, Image.Image]:
    """Pre-render every visual layer once; returns the layers and the poster (the title card).
    With a ``pool``, only the title card is drawn before this returns: the rest is drawn in
    the pool while the title card's frames are encoded (its time goes in
    ``timings["layers_overlapped"]``)."""
    w, h = template.size
    m = template.motion
    lang = article.lang
    direction = i18n.text_direction(lang)
    meta_parts = []
    if article.published_at:
        meta_parts.append(i18n.long_date(article.published_at, lang))
    title = graphics.title_card(
        template,
        graphics.TitleCardText(article.title, article.source, " · ".join(meta_parts) or None, direction),
        seed=seed_for(article.id, "title"),
        photo=images[0].image if images else None,
    )
    title_seg = timeline.segments[0]
    title_layer = MovingLayer(_card_canvas(title, template), w, h, Move(1.0, m.title_zoom, 0.0, title_seg.end - title_seg.start))
    pages = [LazyOverlay(functools.partial(graphics.caption_overlay, p.text, template, direction), w, h)
             for p in timeline.pages]

    def body() -> BodyLayers:
        started = time.perf_counter()
        layers = _body_layers(template, article, scenes, images, timeline, meta_parts, direction)
        if timings is not None:
            timings["layers_overlapped"] = round(time.perf_counter() - started, 3)
        return layers

    return SceneLayers(title_layer, pool.submit(body) if pool else body(), pages), title


def _card_canvas(card: Image.Image, template: Template) -> Planes:
    """A card drawn at the frame size, enlarged to its canvas (see ``canvas_size``)."""
    rgb = cv2.resize(np.asarray(card.convert("RGB")), canvas_size(template, 1.0), interpolation=cv2.INTER_CUBIC)
    return Planes.from_rgb(rgb)


def _body_layers(template: Template, article: Article, scenes, images: list[LoadedImage],
                 timeline: Timeline, meta_parts: list[str], direction: str) -> BodyLayers:
    """The scenes, their credits, the header and the outro card."""
    w, h = template.size
    m = template.motion
    lang = article.lang
    site = urlsplit(article.url).hostname if article.url else None
    outro_lines = [i18n.text("read_more", lang, site=site.removeprefix("www.")) if site else i18n.text("thanks", lang)]
    if meta_parts:
        outro_lines.append(meta_parts[0])
    outro = graphics.outro_card(template, article.source or site or i18n.text("thanks", lang), outro_lines,
                                seed=seed_for(article.id, "outro"), direction=direction)
    outro_seg = timeline.segments[-1]
    outro_layer = MovingLayer(_card_canvas(outro, template), w, h, Move(1.0, 1.0 + (m.title_zoom - 1) / 2, 0.0, outro_seg.end - outro_seg.start))
    del outro

    size = canvas_size(template, m.max_zoom)
    scene_layers: list[MovingLayer] = []
    credits: list[OverlayPlanes | None] = []
    prepared: dict[int, Planes] = {}
    for k, scene in enumerate(scenes):
        seg = timeline.segments[1 + k]
        v = scene.visual
        if v.kind == "image" and v.image is not None:
            if v.image not in prepared:
                prepared[v.image] = Planes.from_rgb(graphics.prepare_photo(images[v.image].image, size))
            canvas = prepared[v.image]
            credit = images[v.image].credit
            credits.append(OverlayPlanes(graphics.credit_overlay(i18n.text("photo", lang, credit=credit), template, direction), w, h) if credit else None)
        else:
            canvas = Planes.from_rgb(graphics.generated_background(template, v.seed, size))
            credits.append(None)
        z0, z1 = m.zoom_start, m.zoom_end
        pan = m.pan if not v.reverse else -m.pan
        if v.reverse:
            z0, z1 = z1, z0
        scene_layers.append(MovingLayer(canvas, w, h, Move(z0, z1, pan, seg.end - seg.start)))
    header = OverlayPlanes(graphics.header_overlay(template, article.source, article.title, direction), w, h)
    release_memory()  # give back the heap that drawing the canvases used (Pillow and numpy temporaries)
    return BodyLayers(scene_layers, outro_layer, credits, header)


def _on_screen(article: Article, lines: list[str], template: Template, warnings: list[str]) -> tuple[Article, list[str]]:
    """What is drawn: the texts without characters no shipped font has (emoji, rare symbols),
    so nothing shows as a tofu box. Captions files and narration keep the original text."""
    from videogen.render.fonts import drop_missing

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


# --- the render ---------------------------------------------------------------------------------

def render_article(article: Article, options: RenderOptions, out_dir: Path, config: RenderConfig,
                   progress: ProgressFn | None = None, chain: NarrationChain | None = None) -> RenderResult:
    """Render ``article`` into ``out_dir`` (created or replaced). Raises a ``VideogenError``;
    on any failure nothing in ``out_dir`` changes."""
    map_large_blocks()
    limit_opencv_threads()
    options = options.resolved(config)
    assert options.tts is not None and options.max_duration is not None
    st = _Stages(progress)
    started_at = datetime.now(UTC)
    t0 = time.perf_counter()

    template = load_template(options.template, config.templates_dir)
    template = template.at_size(options.height, options.fps)
    chain = chain or NarrationChain.from_config(config)
    script = build_script(article)
    warnings = list(script.warnings)
    # Do not synthesise far more than can be kept: ~14 characters a second is a brisk reader.
    budget = options.max_duration * 14 * 1.4
    keep, used = 0, len(script.title.text)
    for ln in script.lines:
        used += len(ln.text)
        if used > budget and keep:
            break
        keep += 1
    candidates = chain.candidates(article.lang, options.tts, options.voice)  # fail fast on bad voice/lang
    del candidates
    st.finish("script", t0)

    # Narration (CPU) and images (network, decoding) at the same time.
    t1 = time.perf_counter()
    limits = ImageLimits(config.max_image_bytes, config.max_image_pixels, config.image_timeout,
                         options.allow_local_images, options.allow_outside_paths, options.skip_unreachable_images,
                         config.image_hosts)
    canvas_hint = canvas_size(template, template.motion.max_zoom)
    with ThreadPoolExecutor(1, thread_name_prefix="images") as pool:
        images_future = pool.submit(load_images, article, limits, canvas_hint)
        narration = chain.narrate(script.spoken[: 1 + keep], article.lang, options.tts, options.voice,
                                  progress=lambda f: st.report("narration", f))
        images, image_notes = images_future.result()
    warnings += narration.warnings + image_notes
    st.finish("narration", t1)

    t2 = time.perf_counter()
    durations = narration.durations
    n_keep = lines_within(durations[0], durations[1:], template.timing, options.max_duration)
    if n_keep < len(script.lines):
        warnings.append(
            f"narration capped at {options.max_duration:g} s: kept {n_keep} of {len(script.lines)} sentences"
        )
    if clip_length(durations[0], durations[1 : 1 + n_keep], template.timing) > options.max_duration:
        warnings.append(f"the title and first sentence alone last longer than {options.max_duration:g} s")
    script.lines = script.lines[:n_keep]
    speeches = narration.speeches[: 1 + n_keep]
    sr = narration.sample_rate
    lines_audio = [LineAudio(s.duration, tuple(audio.find_pauses(s.samples, sr))) for s in speeches[1:]]
    scenes = plan_scenes(script, len(images), article.id or "")
    used_images = {s.visual.image for s in scenes if s.visual.image is not None}
    if images and len(used_images) < len(images):
        warnings.append(f"{len(images) - len(used_images)} image(s) not shown: more images than sentences")
    screen_article, screen_lines = _on_screen(article, [ln.text for ln in script.lines], template, warnings)
    pages_per_line = [graphics.caption_pages(t, template) for t in screen_lines]
    timeline = build_timeline(script.title.text, LineAudio(speeches[0].duration), [ln.text for ln in script.lines],
                              lines_audio, pages_per_line, [s.lines for s in scenes], template.timing, template.fps)
    expected = clip_length(speeches[0].duration, [a.duration for a in lines_audio], template.timing)
    assert abs(timeline.duration - expected) < 1.5 / template.fps, (timeline.duration, expected)
    st.finish("timeline", t2)

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        t3 = time.perf_counter()
        wav = staging / "narration.wav"
        n_images = len(images)
        # The narration track (levelled, written for ffmpeg) in one thread and the title card
        # here, at the same time; the other layers in a thread while the title's frames are
        # encoded.
        layers_pool = ThreadPoolExecutor(1, thread_name_prefix="layers")
        try:
            track_future = layers_pool.submit(_narration_track, timeline, speeches, sr, template, article.id, wav)
            layers, title_card = build_layers(template, screen_article, script, scenes, images, timeline,
                                              layers_pool, st.timings)
            track, gain_db = track_future.result()
            renderer = FrameRenderer(timeline, layers, template.width, template.height)
            # The samples live on in the WAV (and the track, for MoviePy): nothing holds them
            # through the frames stage (26 MB for a 5-minute clip).
            del images, speeches, track_future
            narration.speeches = []
            if options.engine != "moviepy":
                del track
            st.finish("layers", t3)

            t4 = time.perf_counter()
            video = staging / "video.mp4"
            if options.engine == "moviepy":
                _encode_with_moviepy(renderer, track, sr, video, template)
            else:
                _encode(renderer, timeline, wav, video, template, config.encoder, lambda f: st.report("frames", f))
            st.finish("frames", t4)
        finally:
            layers_pool.shutdown(wait=True, cancel_futures=True)

        t5 = time.perf_counter()
        wav.unlink()
        title_card.save(staging / "poster.jpg", "JPEG", quality=88, optimize=True, progressive=True)
        (staging / "captions.vtt").write_text(to_webvtt(timeline.cues, article.language), encoding="utf-8")
        key = content_key(article, template.at_size() if not (options.height or options.fps) else template,
                          options.voice, options.tts, options.max_duration)
        manifest = _manifest(article, template, options, narration, timeline, script, staging, key,
                             warnings, started_at, gain_db, n_images)
        st.timings["publish"] = round(time.perf_counter() - t5, 3)
        st.timings["total"] = round(time.perf_counter() - t0, 3)
        manifest["timings"] = dict(st.timings)
        _write_json(staging / "manifest.json", manifest)
        publish(staging, out_dir)
        st.finish("publish", t5)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageError(f"no space left on device in {out_dir.parent}") from e
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RenderResult(out_dir, manifest)


def _narration_track(timeline: Timeline, speeches, sr: int, template: Template, article_id: str | None,
                     wav: Path) -> tuple[np.ndarray, float]:
    """The clip's sound: each sentence at its place, levelled (and over the music bed if the
    template has one), written to ``wav``. Returns the track and the gain applied (dB)."""
    track = audio.place(list(zip(timeline.speech_starts, [s.samples for s in speeches], strict=True)), timeline.duration, sr)
    track, gain_db = audio.level(track, sr, template.audio.loudness_lufs, template.audio.peak_dbfs)
    if template.audio.bed:
        track = track + audio.music_bed(timeline.duration, sr, template.audio.bed_level_db, seed_for(article_id, "bed"))
        track = audio.limit(track, sr, template.audio.peak_dbfs)
    audio.write_wav(wav, track, sr)
    return track, gain_db


def _encode(renderer: FrameRenderer, timeline: Timeline, wav: Path, video: Path, template: Template,
            tuning: EncoderTuning, progress: Callable[[float], None]) -> None:
    step = max(1, timeline.n_frames // 100)
    with VideoEncoder(video, template.width, template.height, template.fps, wav, template.encoding, tuning) as enc:
        planes: dict[int, Planes] = {}  # one view per encoder buffer

        def draw(i: int, buf: bytearray) -> None:
            out = planes.get(id(buf))
            if out is None:
                out = planes[id(buf)] = Planes(template.width, template.height, np.frombuffer(buf, np.uint8))
            renderer.frame(i, out)
            if i % step == 0:
                progress(i / timeline.n_frames)

        enc.encode_frames(timeline.n_frames, draw)


def _encode_with_moviepy(renderer: FrameRenderer, track: np.ndarray, sr: int, video: Path, template: Template) -> None:
    """The same frames through MoviePy's own writer: slower (RGB through the pipe), kept as a
    reference and for people who compose our clip with other MoviePy clips."""
    clip = as_moviepy_clip(renderer, track, sr)
    try:
        clip.write_videofile(
            str(video), fps=template.fps, codec="libx264", audio_codec="aac", audio_bitrate=template.encoding.audio_bitrate,
            preset=template.encoding.preset, logger=None,
            ffmpeg_params=["-crf", str(template.encoding.crf), "-profile:v", "high", "-pix_fmt", "yuv420p", "-movflags", "+faststart"],
            temp_audiofile_path=str(video.parent),
        )
    except (OSError, ValueError) as e:
        raise RenderError(f"MoviePy failed to write the video: {e}") from e
    finally:
        clip.close()


def _manifest(article: Article, template: Template, options: RenderOptions, narration, timeline: Timeline,
              script: Script, folder: Path, key: str, warnings: list[str], started_at: datetime,
              gain_db: float, n_images: int) -> dict[str, Any]:
    files = {}
    for name in MEDIA_FILES:
        p = folder / name
        files[name] = {"bytes": p.stat().st_size, "sha256": sha256_file(p), "content_type": CONTENT_TYPES[name]}
    v = narration.voice
    return {
        "videogen": __version__,
        "renderer_version": RENDERER_VERSION,
        "content_key": key,
        "article": {
            "id": article.id, "title": article.title, "language": article.language, "url": article.url,
            "source": article.source, "published_at": article.published_at.isoformat() if article.published_at else None,
        },
        "template": {"name": template.name, "width": template.width, "height": template.height, "fps": template.fps, "aspect": template.aspect},
        "narration": {
            "engine": v.engine, "voice": v.voice_id, "voice_name": v.name, "offline": v.offline,
            "fingerprint": narration.fingerprint, "sample_rate": narration.sample_rate,
            "lines": 1 + len(script.lines), "cache_hits": narration.cache_hits, "narrated_from": script.narrated_from,
            "gain_db": round(gain_db, 2),
        },
        "duration": round(timeline.duration, 3),
        "frames": timeline.n_frames,
        "scenes": len(timeline.segments) - 2,
        "images_used": n_images,
        "captions": {"cues": len(timeline.cues), "pages": len(timeline.pages)},
        "files": files,
        "warnings": warnings,
        "created_at": started_at.isoformat(timespec="seconds"),
        "engine": options.engine,
    }


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def publish(staging: Path, out_dir: Path) -> None:
    """Move a complete set of files into ``out_dir``. A new folder appears whole (one rename);
    an existing one gets each file replaced atomically, the manifest last."""
    try:
        if not out_dir.exists():
            os.rename(staging, out_dir)
            return
        for name in FILES:  # manifest.json is last: it commits the set
            os.replace(staging / name, out_dir / name)
    except OSError as e:
        raise StorageError(f"could not publish into {out_dir}: {e.strerror or e}") from e
