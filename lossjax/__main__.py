"""``python -m lossjax``: see :mod:`lossjax._cli` (``python -m lossjax --help``)."""

from lossjax._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
