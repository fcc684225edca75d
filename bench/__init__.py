"""Benchmarks of the vending path (`make bench` = `python -m bench`); never deployed."""

import sys
from pathlib import Path

# src/ is the Lambda package root (SAM CodeUri): the service's packages (`handlers`...) import from it.
_SRC = str(Path(__file__).resolve().parent.parent / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)
