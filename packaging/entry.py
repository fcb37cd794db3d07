"""Entry point of the one-folder app: ``mer-viewer`` starts the desktop app; the ``mer`` link
beside it (the same executable under another name) runs the command line."""

import multiprocessing
import os
import sys


def main() -> int:
    multiprocessing.freeze_support()  # the demo builder and the face helper spawn processes
    if os.path.basename(sys.argv[0]) == "mer":
        from mer_viewer.cli import main as run
    else:
        from mer_viewer.qt.app import main as run
    return run()


if __name__ == "__main__":
    sys.exit(main())
