"""The ``videogen`` command. Thin: parses arguments, calls the library, turns errors into
messages and exit codes (0 ok, 2 bad input, 3 render or service failure)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from . import __version__
from .errors import InvalidInput, VideogenError
from .settings import get_settings

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_RENDER = 0, 1, 2, 3

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    def deco(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = fn
        return fn

    return deco


def _error(message: str) -> None:
    print(f"videogen: error: {message}", file=sys.stderr)


# --- render ---------------------------------------------------------------------------------

@command("render")
def cmd_render(args: argparse.Namespace) -> int:
    from .article import load_articles
    from .progress import ProgressBar
    from .render import RenderOptions, render_article, video_id
    from .templates import load_template

    settings = get_settings()
    # Validate everything before rendering anything: a bad file renders nothing.
    try:
        load_template(args.template, settings.templates_dir)
        batches = [(path, load_articles(path)) for path in args.articles]
    except InvalidInput as e:
        _error(str(e))
        return EXIT_BAD_INPUT
    options = RenderOptions(
        template=args.template, voice=args.voice, tts=args.tts, max_duration=args.max_duration,
        height=args.height, fps=args.fps, engine=args.engine, allow_outside_paths=args.allow_outside_paths,
    )
    out_root = Path(args.out)
    failures = 0
    for path, articles in batches:
        for article in articles:
            vid = video_id(article, args.template)
            bar = ProgressBar(vid) if not args.quiet else None
            try:
                result = render_article(article, options, out_root / vid, settings, progress=bar)
            except InvalidInput as e:
                if bar:
                    bar.fail(str(e))
                _error(f"{path}: {e}")
                return EXIT_BAD_INPUT
            except VideogenError as e:
                if bar:
                    bar.fail(str(e))
                _error(f"{path}: {article.id}: {e}")
                failures += 1
                continue
            m = result.manifest
            if bar:
                bar.done(f"{m['duration']:.1f}s clip, {m['narration']['voice']}")
            for w in m["warnings"]:
                print(f"videogen: warning: {article.id}: {w}", file=sys.stderr)
            print(result.out_dir)
    return EXIT_RENDER if failures else EXIT_OK


# --- listings -------------------------------------------------------------------------------

@command("templates")
def cmd_templates(args: argparse.Namespace) -> int:
    from .templates import available_templates, load_template

    settings = get_settings()
    for name in available_templates(settings.templates_dir):
        t = load_template(name, settings.templates_dir)
        print(f"{t.name:<10} {t.width}x{t.height} {t.aspect:<5} {t.fps:g} fps  {t.description}")
    return EXIT_OK


@command("voices")
def cmd_voices(args: argparse.Namespace) -> int:
    from .narration import NarrationChain
    from .text.normalize import speaks_numbers

    chain = NarrationChain.from_settings(get_settings())
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
        default = offline[0] if offline else None
        detail = _engine_voice(default) if default else "-"
        numbers = "words" if speaks_numbers(lang) else "digits"
        others = ", ".join(v.voice_id + ("" if v.offline else " (online)") for v in here)
        print(f"{lang:<5} {default.voice_id if default else '(none offline)':<30} {detail:<22} "
              f"{'yes' if offline else 'no':<8} {numbers:<8} {others}")
    return EXIT_OK


def _engine_voice(v) -> str:  # type: ignore[no-untyped-def]
    """What speaks inside the engine: espeak-ng's voice file (``sit/cmn`` for Chinese), the
    Piper model, or gTTS's language code."""
    if v.engine == "espeak":
        return f"espeak-ng {v.extra.get('espeak_voice', '?')}"
    if v.engine == "piper" and v.model_path is not None:
        return f"piper {v.model_path.name[: -len('.onnx')]}"[:22]
    return v.voice_id


# --- parser ---------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="videogen", description="Turn news articles into short narrated video clips.")
    p.add_argument("--version", action="version", version=f"videogen {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("render", help="render article JSON files (or JSONL batches) into out/<video id>/")
    r.add_argument("articles", nargs="+", type=Path, metavar="ARTICLE.json")
    r.add_argument("--template", "-t", default="news", help="template name or .toml path (see `videogen templates`)")
    r.add_argument("--voice", help="voice id (see `videogen voices`); default: the best for the language")
    r.add_argument("--tts", choices=["auto", "piper", "espeak", "gtts"], default=None, help="narration engine (default auto: offline)")
    r.add_argument("--out", "-o", default="out", help="output folder (default ./out)")
    r.add_argument("--max-duration", type=float, default=None, help="cap the clip at this many seconds (default 120)")
    r.add_argument("--height", type=int, default=None, help="render smaller than the template, e.g. 360 for a preview")
    r.add_argument("--fps", type=float, default=None, help="override the template's frame rate")
    r.add_argument("--engine", choices=["fast", "moviepy"], default="fast", help="frame writer (moviepy: MoviePy's own, slower)")
    r.add_argument("--allow-outside-paths", action="store_true", help="let image paths leave the article's folder")
    r.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    sub.add_parser("templates", help="list templates")
    v = sub.add_parser("voices", help="list voices per language and which are offline")
    v.add_argument("--language", "-l", help="only this language")
    for extra in _EXTRA_PARSERS:
        extra(sub)
    return p


_EXTRA_PARSERS: list[Callable[[argparse._SubParsersAction], None]] = []


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except InvalidInput as e:
        _error(str(e))
        return EXIT_BAD_INPUT
    except VideogenError as e:
        _error(str(e))
        return EXIT_RENDER
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:  # `videogen voices | head`
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
