"""Entry point of the ``mer-viewer`` desktop app (the window itself is issue #6)."""

from __future__ import annotations

import sys


def main() -> int:
    print("mer-viewer: the desktop app is not built yet; use the `mer` command", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
