"""Small helpers shared by the test modules."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def cli(prog: str = "svcdoctor") -> str:
    """The console script pip installed beside this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / prog
    exe = str(beside) if beside.exists() else shutil.which(prog)
    assert exe, f"{prog} is not installed (pip install -e .)"
    return exe
