"""``videogen lexicon``: the pronunciation lexicon in the job store (``set``, ``list``,
``remove``), the same one the API edits (``/v1/lexicon/{lang}``) and renders read."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from videogen.cli.options import EXIT_BAD_INPUT, EXIT_OK, Group, error

if TYPE_CHECKING:
    from videogen.service.lexicon import Lexicons

group = Group()


def _actions(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="lexicon_action", metavar="ACTION", required=True)
    s = sub.add_parser("set", help="add or change an entry: how WRITTEN is read in LANG",
                       description="Add or change an entry. SPOKEN is a respelling (read by every engine) or "
                                   "espeak-ng phonemes in [[…]] (read by espeak-ng). An all-lowercase WRITTEN "
                                   "matches any case; one with a capital matches that case only.")
    s.add_argument("lang")
    s.add_argument("written")
    s.add_argument("spoken")
    ls = sub.add_parser("list", help="the entries of LANG")
    ls.add_argument("lang")
    rm = sub.add_parser("remove", help="drop the entry WRITTEN of LANG")
    rm.add_argument("lang")
    rm.add_argument("written")


def _lexicons() -> Lexicons:
    from videogen.service.lexicon import Lexicons
    from videogen.service.store import JobStore
    from videogen.settings import get_settings

    store = JobStore(get_settings().database)
    store.migrate()
    return Lexicons(store.engine)


@group.command("lexicon", "pronunciation lexicon: `lexicon set LANG WRITTEN SPOKEN`, `lexicon list LANG`, "
                          "`lexicon remove LANG WRITTEN`", _actions)
def cmd_lexicon(args: argparse.Namespace) -> int:
    """Edit the pronunciation lexicon of a language (stored in the job store; applies to
    renders enqueued from now on, never to captions)."""
    lexicons = _lexicons()
    if args.lexicon_action == "set":
        lexicons.set(args.lang, args.written, args.spoken)
        print(f"{' '.join(args.written.split())} → {args.spoken.strip()}")
    elif args.lexicon_action == "remove":
        if not lexicons.remove(args.lang, args.written):
            error(f"no entry {args.written!r} in the {args.lang} lexicon")
            return EXIT_BAD_INPUT
    else:
        for written, spoken in lexicons.get(args.lang).items():
            print(f"{written}\t{spoken}")
    return EXIT_OK
