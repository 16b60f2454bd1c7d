"""``python -m videogen.cli``: the same as the ``videogen`` command."""

from videogen.cli import main

raise SystemExit(main())
