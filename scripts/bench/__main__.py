"""The benchmark's entry point: `python3 scripts/bench` from the repository, or `python3 -m bench`
from scripts/. See __init__.py for what it runs and the environment variables it reads."""

import sys
from pathlib import Path

if __package__:
    from .runner import main
else:
    # Run as a directory, Python puts this directory first on sys.path, where module names such as
    # `memory` or `report` could shadow others. Its parent takes its place, so every module is
    # imported once, as bench.<name>.
    sys.path[0] = str(Path(__file__).resolve().parents[1])
    from bench.runner import main

sys.exit(main(sys.argv[1:]))
