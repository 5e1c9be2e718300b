"""Renderers: report → text, by output name (``-o``)."""

from __future__ import annotations

from typing import Callable, TextIO

from ..report import Report
from . import json_out, markdown, terminal

RENDERERS: dict[str, Callable[[Report, TextIO], None]] = {
    "text": terminal.render,
    "json": json_out.render,
    "markdown": markdown.render,
}
