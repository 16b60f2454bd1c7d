"""Rendering here, without the service: ``render``, ``templates``, ``voices``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from videogen.cli import brand
from videogen.cli.options import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_RENDER,
    Group,
    articles,
    error,
    render_options,
)
from videogen.errors import InvalidInput, VideogenError

if TYPE_CHECKING:
    from videogen.render.narration.base import VoiceInfo

group = Group()


def _render_only_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", "-o", default="out", help="output folder (default ./out)")
    p.add_argument("--engine", choices=["fast", "moviepy"], default="fast", help="frame writer (moviepy: MoviePy's own, slower)")
    p.add_argument("--allow-outside-paths", action="store_true", help="let image paths leave the article's folder")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


@group.command("render", "render article JSON files (or JSONL batches) into out/<video id>/",
               articles(metavar="ARTICLE.json"), render_options, _render_only_options)
def cmd_render(args: argparse.Namespace) -> int:
    """Render article JSON files (or JSONL batches) into OUT/<article id>-<template>/: video.mp4,
    poster.jpg, captions.vtt, manifest.json. Every file is checked before anything renders."""
    from videogen.cli.progress import ProgressBar
    from videogen.render.article import load_articles
    from videogen.render.brand import check_brand
    from videogen.render.keys import video_id
    from videogen.render.pipeline import RenderOptions, render_article
    from videogen.render.templates import load_template
    from videogen.settings import get_settings

    settings = get_settings()
    # Validate everything before rendering anything: a bad file renders nothing.
    check_brand(load_template(args.template, settings.templates_dirs))
    batches = [(path, load_articles(path, settings.article_limits())) for path in args.articles]
    options = RenderOptions(
        template=args.template, voice=args.voice, tts=args.tts, max_duration=args.max_duration,
        height=args.height, fps=args.fps, engine=args.engine, allow_outside_paths=args.allow_outside_paths,
    )
    out_root = Path(args.out)
    failures = 0
    for path, batch in batches:
        for article in batch:
            vid = video_id(article, args.template)
            bar = ProgressBar(vid) if not args.quiet else None
            try:
                result = render_article(article, options, out_root / vid, settings.render_config(), progress=bar)
            except InvalidInput as e:
                if bar:
                    bar.fail(str(e))
                error(f"{path}: {e}")
                return EXIT_BAD_INPUT
            except VideogenError as e:
                if bar:
                    bar.fail(str(e))
                error(f"{path}: {article.id}: {e}")
                failures += 1
                continue
            m = result.manifest
            if bar:
                bar.done(f"{m['duration']:.1f}s clip, {m['narration']['voice']}")
            for w in m["warnings"]:
                print(f"videogen: warning: {article.id}: {w}", file=sys.stderr)
            print(result.out_dir)
    return EXIT_RENDER if failures else EXIT_OK


@group.command("templates", "list templates; `templates check PATH|NAME`, `templates preview PATH|NAME -o sheet.png`",
               brand.add_actions)
def cmd_templates(args: argparse.Namespace) -> int:
    """List the templates (VIDEOGEN_TEMPLATES_DIR's folders, then the shipped ones); check or
    preview one."""
    if getattr(args, "templates_action", None) == "check":
        return brand.check(args)
    if getattr(args, "templates_action", None) == "preview":
        return brand.preview(args)
    from videogen.render.templates import available_templates, load_template
    from videogen.settings import get_settings

    settings = get_settings()
    for name in available_templates(settings.templates_dirs):
        t = load_template(name, settings.templates_dirs)
        print(f"{t.name:<10} {t.width}x{t.height} {t.aspect:<5} {t.fps:g} fps  {t.description}")
    return EXIT_OK


def _language(p: argparse.ArgumentParser) -> None:
    p.add_argument("--language", "-l", help="only this language")


def _voices_actions(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="voices_action", metavar="ACTION")
    add = sub.add_parser("add", help="check a Piper voice (FILE.onnx + FILE.onnx.json) and install it",
                         description="Check a Piper voice (its .onnx.json beside it, valid JSON with a language and "
                                     "a sample rate, the model loads with piper and speaks a test sentence) and "
                                     "copy both files into the voices folder (VIDEOGEN_VOICES_DIR, default "
                                     "HOME/voices), where every render and worker finds it. Exit 2 naming the problem.")
    add.add_argument("model", type=Path, metavar="FILE.onnx")
    add.add_argument("--replace", action="store_true", help="overwrite an installed voice of the same name")


@group.command("voices", "list voices per language and which are offline; `voices add FILE.onnx` installs a Piper voice",
               _language, _voices_actions)
def cmd_voices(args: argparse.Namespace) -> int:
    """List the voices per language (the default of ``--tts auto`` first), or install a Piper
    voice with ``voices add FILE.onnx``."""
    if getattr(args, "voices_action", None) == "add":
        return _add_voice(args)
    from videogen.render.narration import NarrationChain
    from videogen.render.text.normalize import speaks_numbers
    from videogen.settings import get_settings

    chain = NarrationChain.from_config(get_settings().render_config())
    voices = chain.voices()
    langs = sorted({v.language for v in voices})
    if args.language:
        langs = [args.language.split("-")[0].lower()]
    print(f"{'lang':<5} {'default (auto)':<30} {'engine voice':<22} {'offline':<8} {'numbers':<8} all voices")
    for lang in langs:
        here = sorted((v for v in voices if v.language == lang), key=lambda v: -v.quality)
        if not here:
            print(f"{lang:<5} {'(none: unsupported)':<30}")
            continue
        offline = [v for v in here if v.offline]
        default = chain.candidates(lang)[0] if offline else None  # VIDEOGEN_DEFAULT_VOICES first
        detail = _engine_voice(default) if default else "-"
        numbers = "words" if speaks_numbers(lang) else "digits"
        others = ", ".join(v.voice_id + ("" if v.offline else " (online)") for v in here)
        print(f"{lang:<5} {default.voice_id if default else '(none offline)':<30} {detail:<22} "
              f"{'yes' if offline else 'no':<8} {numbers:<8} {others}")
    return EXIT_OK


def _add_voice(args: argparse.Namespace) -> int:
    from videogen.render.narration.piper_engine import install_piper_voice
    from videogen.settings import get_settings

    settings = get_settings()
    voice = install_piper_voice(args.model, settings.voices_path, replace=args.replace)
    print(f"installed {voice.voice_id} ({voice.language}) in {settings.voices_path}")
    default = settings.default_voice_map.get(voice.language)
    if default is None:
        print(f"it speaks {voice.language!r} articles from now on (set VIDEOGEN_DEFAULT_VOICES="
              f"{voice.language}:{voice.voice_id.split(':', 1)[1]} to choose among several)")
    return EXIT_OK


def _engine_voice(v: VoiceInfo) -> str:
    """What speaks inside the engine: espeak-ng's voice file (``sit/cmn`` for Chinese), the
    Piper model, or gTTS's language code."""
    if v.engine == "espeak":
        return f"espeak-ng {v.extra.get('espeak_voice', '?')}"
    if v.engine == "piper" and v.model_path is not None:
        return f"piper {v.model_path.name[: -len('.onnx')]}"[:22]
    return v.voice_id
