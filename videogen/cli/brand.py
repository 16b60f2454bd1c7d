"""``videogen templates check`` and ``videogen templates preview``: a brand checked and seen
without rendering a clip."""

from __future__ import annotations

import argparse
from pathlib import Path

from videogen.cli.options import EXIT_BAD_INPUT, EXIT_OK


def add_actions(p: argparse.ArgumentParser) -> None:
    """``templates`` alone lists the templates; ``check`` and ``preview`` take one."""
    sub = p.add_subparsers(dest="templates_action", metavar="ACTION")
    check = sub.add_parser("check", help="validate a template or brand folder: schema, logo, fonts, colours",
                           description="Validate a template (by name or path): schema, every asset exists and "
                                       "decodes, fonts have the glyphs of the language sample, logo readable and "
                                       "fits, colours valid. Exit 2 naming every problem.")
    check.add_argument("template", metavar="PATH|NAME")
    check.add_argument("--lang", default="en", help="language whose sample the fonts are checked against (default en)")
    preview = sub.add_parser("preview", help="contact sheet of a template: title card, photo scene with captions, outro",
                             description="Draw a contact sheet of a template without rendering a clip.")
    preview.add_argument("template", metavar="PATH|NAME")
    preview.add_argument("--article", type=Path, help="article JSON to show (default: a sample article)")
    preview.add_argument("-o", "--out", type=Path, required=True, help="the sheet (PNG or JPEG)")
    preview.add_argument("--thumb-height", type=int, default=360, help="height of each frame on the sheet (default 360)")


def check(args: argparse.Namespace) -> int:
    from videogen.render.brand import brand_problems
    from videogen.render.templates import template_problems
    from videogen.settings import get_settings

    template, problems = template_problems(args.template, get_settings().templates_dirs)
    if template is not None:
        report = brand_problems(template, args.lang)
        for line in report.found:
            print(line)
        problems = report.problems
    for p in problems:
        print(f"problem: {p}")
    if problems:
        print(f"{args.template}: {len(problems)} problem{'s' if len(problems) > 1 else ''}")
        return EXIT_BAD_INPUT
    print(f"{args.template}: ok")
    return EXIT_OK


def preview(args: argparse.Namespace) -> int:
    from videogen.render.article import load_articles
    from videogen.render.brand import check_brand
    from videogen.render.preview import SAMPLE_ARTICLE, contact_sheet
    from videogen.render.templates import load_template
    from videogen.settings import get_settings

    settings = get_settings()
    template = load_template(args.template, settings.templates_dirs)
    check_brand(template)
    article = load_articles(args.article, settings.article_limits())[0] if args.article else SAMPLE_ARTICLE
    sheet = contact_sheet(template, article, args.thumb_height)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"{args.out}: {sheet.width}×{sheet.height}")
    return EXIT_OK
