"""``-o json``: the report as documented in docs/json-output.md."""

from __future__ import annotations

import json
from typing import TextIO

from ..report import Report


def render(report: Report, out: TextIO) -> None:
    json.dump(report.to_dict(), out, indent=2, default=str)
    out.write("\n")
