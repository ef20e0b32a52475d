"""Entry point: ``enginy-desktop`` / ``python -m enginy_desktop``. A command runs headless; none opens the window."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from enginy_desktop.cli import build_parser, run

    args = build_parser().parse_args(argv)
    if getattr(args, "command", None):
        return run(argv)
    from enginy_desktop.app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
