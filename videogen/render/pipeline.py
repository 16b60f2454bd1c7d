"""render_article: article → folder with video.mp4, poster.jpg, captions.vtt, captions.srt,
manifest.json.

Each stage is a plain function from the modules beside this one (script, narration, images,
timeline, scenes, compose, encode, manifest); this module only runs them in order, times
them, reports progress and publishes the files atomically (``outputs.publish_folder``)."""

from __future__ import annotations

import errno
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from videogen.errors import InvalidInput, RenderError, StorageError
from videogen.outputs import MANIFEST, publish_folder
from videogen.render import audio, cards
from videogen.render.article import Article
from videogen.render.brand import check_brand
from videogen.render.captions import to_srt, to_webvtt
from videogen.render.compose import FrameRenderer, Planes, as_moviepy_clip, limit_opencv_threads
from videogen.render.config import EncoderTuning, RenderConfig, TtsChoice
from videogen.render.cputime import CpuParts, children_cpu, process_cpu
from videogen.render.encode import VideoEncoder
from videogen.render.images import ImageLimits, load_images
from videogen.render.keys import content_key
from videogen.render.layercache import LayerCache
from videogen.render.manifest import build_manifest, write_json
from videogen.render.memory import map_large_blocks
from videogen.render.narration import Narration, NarrationChain, Speech, VoiceInfo
from videogen.render.scenes import build_layers, canvas_size, on_screen
from videogen.render.script import Line, Script, build_script, lines_to_speak, plan_scenes, seed_for
from videogen.render.stings import Stings, plan_stings
from videogen.render.templates import Template, load_template
from videogen.render.text.lexicon import apply_lexicon
from videogen.render.text.normalize import normalize_for_speech
from videogen.render.text.units import prefix_words, speech_length
from videogen.render.timeline import (
    LineAudio,
    Page,
    Timeline,
    build_timeline,
    clip_length,
    lines_within,
    shifted,
    word_pages,
)
from videogen.render.words import TimedWord, group_words, map_anchors, word_times

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
    #: Pronunciation lexicon of the article's language, {written: spoken} (``text.lexicon``):
    #: changes what is read, never what is shown.
    lexicon: Mapping[str, str] = field(default_factory=dict)
    #: An editor's corrected script, (caption, spoken) pairs, the title first (``build_script``).
    script: tuple[tuple[str, str], ...] | None = None
    #: Image sources the caller already holds, by ``images[].src`` (the service's uploads,
    #: ``upload:<sha256>``): read from here, never fetched.
    image_bytes: Mapping[str, bytes] = field(default_factory=dict)

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
    cpu = CpuParts()
    started_at = datetime.now(UTC)
    t0 = time.perf_counter()

    template = load_template(options.template, config.templates_dir)
    check_brand(template)  # a brand with a bad logo or font fails here, before anything is drawn
    template = template.at_size(options.height, options.fps)
    stings = _plan_stings(template, options.engine)
    chain = chain or NarrationChain.from_config(config)
    script = build_script(article, options.lexicon, options.script)
    warnings = list(script.warnings)
    # Do not synthesise far more than can be kept (lines are short: the margin is bounded).
    keep = lines_to_speak(script, options.max_duration)
    candidates = chain.candidates(article.lang, options.tts, options.voice)  # fail fast on bad voice/lang
    del candidates
    st.finish("script", t0)

    # Narration (CPU) and images (network, decoding) at the same time.
    t1 = time.perf_counter()
    limits = ImageLimits(config.max_image_bytes, config.max_image_pixels, config.image_timeout,
                         options.allow_local_images, options.allow_outside_paths, options.skip_unreachable_images,
                         config.image_hosts)
    canvas_hint = canvas_size(template, template.motion.max_zoom)
    # Layers drawn by an earlier render alike (a correction of this clip) are read back.
    layer_cache = LayerCache(config.cache_dir / "layers" if config.cache_dir else None, config.layer_cache_bytes)
    cpu_before = process_cpu() + children_cpu()
    with ThreadPoolExecutor(1, thread_name_prefix="images") as pool:
        images_future = pool.submit(cpu.timed("images", load_images), article, limits, canvas_hint,
                                    known=options.image_bytes, cache=layer_cache)
        narration = chain.narrate(script.spoken[: 1 + keep], article.lang, options.tts, options.voice,
                                  progress=lambda f: st.report("narration", f), lexicon=options.lexicon)
        images, image_notes = images_future.result()
    # The synthesis may run in threads of its own (and children): all the process's CPU in
    # the stage but the images thread's.
    cpu.add("narration", process_cpu() + children_cpu() - cpu_before - cpu.seconds.get("images", 0.0))
    warnings += narration.warnings + image_notes
    st.finish("narration", t1)

    t2 = time.perf_counter()
    # The whole clip is bounded: the narrated part gets what the stings leave.
    n_keep = _fit_to_duration(chain, narration, script, article.lang, template, options.max_duration, warnings,
                              stings.seconds, options.lexicon)
    script.lines = script.lines[:n_keep]
    speeches = narration.speeches[: 1 + n_keep]
    sr = narration.sample_rate
    lines_audio = [LineAudio(s.duration, tuple(audio.find_pauses(s.samples, sr))) for s in speeches[1:]]
    scenes = plan_scenes(script, len(images), article.id or "")
    used_images = {s.visual.image for s in scenes if s.visual.image is not None}
    if images and len(used_images) < len(images):
        warnings.append(f"{len(images) - len(used_images)} image(s) not shown: more images than sentences")
    screen_article, screen_lines = on_screen(article, [ln.text for ln in script.lines], template, warnings)
    style = template.layout.caption_style
    pages_per_line = [cards.caption_pages(t, template) if style == "sentence" else [] for t in screen_lines]
    timeline = build_timeline(script.title.text, LineAudio(speeches[0].duration), [ln.text for ln in script.lines],
                              lines_audio, pages_per_line, [s.lines for s in scenes], template.timing, template.fps)
    all_lines = [script.title, *script.lines]
    all_pauses = [tuple(audio.find_pauses(speeches[0].samples, sr)), *(a.pauses for a in lines_audio)]
    word_timing = "+".join(dict.fromkeys(sp.timing or "none" for sp in speeches))
    cue_words = [line_words(ln.text, ln.spoken, sp, p) for ln, sp, p in zip(all_lines, speeches, all_pauses, strict=True)]
    if style == "words":
        timeline = replace(timeline, pages=_word_pages(screen_lines, script.lines, speeches[1:], all_pauses[1:],
                                                       timeline, template, article.lang))
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
        layers_pool = _CountingPool(cpu, "layers")
        try:
            track_future = layers_pool.submit(cpu.timed("audio", _narration_track), timeline, speeches, sr, template,
                                              article.id, wav, stings)
            with cpu.thread("layers"):
                layers, title_card = build_layers(template, screen_article, script, scenes, images, timeline,
                                                  layers_pool, st.timings, layer_cache)
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
                _encode(renderer, timeline, wav, video, template, config.encoder, lambda f: st.report("frames", f),
                        stings, cpu)
            st.finish("frames", t4)
        finally:
            layers_pool.shutdown(wait=True, cancel_futures=True)

        t5 = time.perf_counter()
        wav.unlink()
        # The narrated part's times as they are in the clip: after the intro sting.
        timeline = shifted(timeline, stings.intro_frames / template.fps,
                           stings.intro_frames + timeline.n_frames + stings.outro_frames)
        title_card.save(staging / "poster.jpg", "JPEG", quality=88, optimize=True, progressive=True)
        starts = timeline.speech_starts
        vtt_words = [[(w.a, starts[c] + w.start) for w in ws] for c, ws in enumerate(cue_words)]
        (staging / "captions.vtt").write_text(to_webvtt(timeline.cues, article.language, vtt_words), encoding="utf-8")
        (staging / "captions.srt").write_text(to_srt(timeline.cues), encoding="utf-8")
        key = content_key(article, template.at_size() if not (options.height or options.fps) else template,
                          options.voice, options.tts, options.max_duration, options.lexicon, options.script)
        manifest = build_manifest(article, template, options.engine, narration, timeline, script, staging, key,
                                  warnings, started_at, gain_db, n_images, cue_words,
                                  word_timing)
        manifest["stings"] = stings.manifest()
        manifest["layer_cache"] = layer_cache.counts()
        st.timings["publish"] = round(time.perf_counter() - t5, 3)
        st.timings["total"] = round(time.perf_counter() - t0, 3)
        manifest["timings"] = dict(st.timings) | cpu.timings()
        write_json(staging / MANIFEST, manifest)
        publish_folder(staging, out_dir)
        st.finish("publish", t5)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageError(f"no space left on device in {out_dir.parent}") from e
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RenderResult(out_dir, manifest)


def line_words(shown: str, spoken: str, speech: Speech, pauses: tuple[tuple[float, float], ...]) -> list[TimedWord]:
    """The words of ``shown`` timed by the speech of ``spoken`` (seconds into that speech)."""
    return word_times(shown, map_anchors(spoken, speech.anchors, shown), speech.duration, pauses)


def _word_pages(screen_lines: list[str], lines: list[Line], speeches: list[Speech],
                pauses: list[tuple[tuple[float, float], ...]], timeline: Timeline, template: Template,
                lang: str) -> list[Page]:
    """The ``words`` caption style's pages: each line's words as drawn (``screen_lines``), in
    groups that fit one line, timed on the clip."""
    fits = cards.caption_fits(template, lang)
    groups_per_line = []
    for i, (text, line, speech) in enumerate(zip(screen_lines, lines, speeches, strict=True)):
        t0 = timeline.speech_starts[i + 1]
        timed = line_words(text, line.spoken, speech, pauses[i])
        groups = []
        for g in group_words(text, timed, template.layout.caption_words, fits):
            a = g[0].a
            groups.append((text[a : g[-1].b], [(w.a - a, w.b - a, t0 + w.start, t0 + w.end) for w in g]))
        groups_per_line.append(groups)
    return word_pages(groups_per_line, template.timing)


def _fit_to_duration(chain: NarrationChain, narration: Narration, script: Script, lang: str, template: Template,
                     max_duration: float, warnings: list[str], reserved: float = 0.0,
                     lexicon: Mapping[str, str] | None = None) -> int:
    """How many body lines the clip keeps so that it lasts at most ``max_duration`` (the whole
    clip: title card, narration, pauses and outro, and the stings' ``reserved`` seconds), with
    the frame rounding. When the title,
    or the first line after it, cannot fit whole, a start of it cut between words is spoken
    instead (``script`` and ``narration`` are changed in place); the title is always spoken,
    a word at least."""
    timing = template.timing
    limit = max_duration - reserved - 1.0 / template.fps  # the last frame may end up to a frame later
    fixed = clip_length(0.0, [], timing)
    title = narration.speeches[0]
    if fixed + title.duration > limit:
        fitted = _fit_line(chain, narration.voice, script.title, title, limit - fixed, lang, at_least_a_word=True,
                           lexicon=lexicon)
        if fitted is not None:
            script.title, narration.speeches[0] = fitted
            warnings.append(f"narration capped at {max_duration:g} s: only the start of the title is read")
        if fixed + narration.speeches[0].duration > limit:
            warnings.append(f"the title alone lasts longer than {max_duration:g} s")
    durations = narration.durations
    n_keep = lines_within(durations[0], durations[1:], timing, limit)
    n_lines, cut = len(script.lines), ""
    if n_keep == 0 and script.lines:
        room = limit - clip_length(durations[0], [], timing)
        fitted = (_fit_line(chain, narration.voice, script.lines[0], narration.speeches[1], room, lang, lexicon=lexicon)
                  if room >= 0.5 else None)
        if fitted is not None:
            script.lines[0], narration.speeches[1] = fitted
            n_keep, cut = 1, " (only the start of the first)"
    if n_keep < n_lines:
        unit = "sentences" if all(ln.whole for ln in script.lines) else "sentence parts"
        stings = f", {reserved:g} s of them stings" if reserved else ""
        warnings.append(f"narration capped at {max_duration:g} s{stings}: kept {n_keep} of {n_lines} {unit}{cut}")
    return n_keep


def _fit_line(chain: NarrationChain, voice: VoiceInfo, line: Line, speech: Speech, seconds: float,
              lang: str, at_least_a_word: bool = False,
              lexicon: Mapping[str, str] | None = None) -> tuple[Line, Speech] | None:
    """``line`` if its speech lasts at most ``seconds``, else the longest start of it (cut
    between words, estimated from its speech rate; shown with an ellipsis) that does, with its
    speech. When not even one word fits: None, or with ``at_least_a_word`` the shortest start
    tried. A few syntheses of a short text at most."""
    if speech.duration <= seconds:
        return line, speech
    text, shortest = line.text, None
    for _ in range(5):
        length = speech_length(text)
        shorter = prefix_words(text, min(length - 1, length * seconds / speech.duration * 0.92))
        if not shorter or shorter == text:
            break
        text = shorter
        spoken = normalize_for_speech(apply_lexicon(text, lexicon or {}), lang)
        if not any(c.isalnum() for c in spoken):
            break
        speech = chain.speak(voice, spoken, lexicon)
        shortest = Line(text.rstrip(",;:，、；：،؛ ") + "…", spoken, line.role, whole=False), speech
        if speech.duration <= seconds:
            return shortest
    return shortest if at_least_a_word else None


def _plan_stings(template: Template, engine: str) -> Stings:
    """The template's stings, probed (``check_brand`` has named any problem already)."""
    try:
        stings = plan_stings(template)
    except ValueError as e:
        raise InvalidInput("template", f"{template.name}: {e}") from None
    if engine == "moviepy" and (stings.intro or stings.outro):
        raise InvalidInput("engine", "stings ([intro]/[outro]) are rendered by the fast engine only")
    return stings


class _CountingPool(ThreadPoolExecutor):
    """A one-thread pool whose tasks count their CPU time as ``part`` (a task counting its own
    part, e.g. the audio, is not counted twice)."""

    def __init__(self, cpu: CpuParts, part: str):
        super().__init__(1, thread_name_prefix=part)
        self._cpu, self._part = cpu, part

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return super().submit(self._cpu.timed(self._part, fn), *args, **kwargs)


def _narration_track(timeline: Timeline, speeches: list[Speech], sr: int, template: Template, article_id: str | None,
                     wav: Path, stings: Stings | None = None) -> tuple[np.ndarray, float]:
    """The clip's sound: each sentence at its place, levelled (and over the music bed if the
    template has one), between the stings' own sounds (levelled alike), written to ``wav``.
    Returns the track (the narrated part's) and the gain applied to the narration (dB)."""
    track = audio.place(list(zip(timeline.speech_starts, [s.samples for s in speeches], strict=True)), timeline.duration, sr)
    track, gain_db = audio.level(track, sr, template.audio.loudness_lufs, template.audio.peak_dbfs)
    if template.audio.bed:
        track = track + audio.music_bed(timeline.duration, sr, template.audio.bed_level_db, seed_for(article_id, "bed"))
        track = audio.limit(track, sr, template.audio.peak_dbfs)
    if stings is not None and (stings.intro or stings.outro):
        before, after = stings.sounds(sr, template)
        audio.write_wav(wav, np.concatenate([before, track, after]), sr)
    else:
        audio.write_wav(wav, track, sr)
    return track, gain_db


def _encode(renderer: FrameRenderer, timeline: Timeline, wav: Path, video: Path, template: Template,
            tuning: EncoderTuning, progress: Callable[[float], None], stings: Stings | None = None,
            cpu: CpuParts | None = None) -> None:
    """Encode the clip: the intro sting's frames, the narrated part's, the outro sting's."""
    n_intro = stings.intro_frames if stings else 0
    n_body = timeline.n_frames
    n_total = n_intro + n_body + (stings.outro_frames if stings else 0)
    intro, outro = stings.frame_sources(template.width, template.height) if stings else (None, None)
    # Progress (where a cancelled job stops) at least once a second of clip.
    step = max(1, min(n_total // 100, round(template.fps)))
    try:
        with VideoEncoder(video, template.width, template.height, template.fps, wav, template.encoding, tuning,
                          cpu=cpu) as enc:
            planes: dict[int, Planes] = {}  # one view per encoder buffer

            def draw(i: int, buf: bytearray) -> None:
                if i < n_intro and intro is not None:
                    intro.fill(buf)
                elif i >= n_intro + n_body and outro is not None:
                    outro.fill(buf)
                else:
                    out = planes.get(id(buf))
                    if out is None:
                        out = planes[id(buf)] = Planes(template.width, template.height, np.frombuffer(buf, np.uint8))
                    renderer.frame(i - n_intro, out)
                if i % step == 0:
                    progress(i / n_total)

            enc.encode_frames(n_total, draw)
    finally:
        for source in (intro, outro):
            if source is not None:
                source.close()


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
