"""Where the LLM summary goes and how: the environment, then an optional config file.

    OPENAI_API_KEY        the key (a local server needs none)
    OPENAI_BASE_URL       any OpenAI-compatible server: Ollama, vLLM, llama.cpp, LM Studio,
                          Azure OpenAI's /openai/v1/ endpoint
    SVCDOCTOR_LLM_MODEL   the model

``$XDG_CONFIG_HOME/svcdoctor/config.yaml`` (default ``~/.config/svcdoctor/config.yaml``)::

    llm:
      model: gpt-4.1-mini
      base_url: http://127.0.0.1:11434/v1
      api_key_env: MY_LLM_KEY          # read the key from this variable instead
      timeout: 30                      # seconds per request (the client's own default is 600)
      max_retries: 1                   # on connection errors, 408, 409, 429 and 5xx
      max_tokens: 800
      headers: {X-Team: platform}      # extra HTTP headers (a gateway's)
      price: {input: 0.40, output: 1.60}   # per million tokens: the cost is shown
      redact: ['ACME-[0-9]{6}']        # more patterns to mask before anything is sent

The environment wins over the file. The key is never read from the file itself.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import shapes
from ..errors import UsageError

DEFAULT_MODEL = "gpt-4.1-mini"
SHAPE = {"llm": {"model": shapes.STR, "base_url": shapes.STR, "api_key_env": shapes.STR,
                 "timeout": shapes.NUMBER, "max_retries": shapes.INT, "max_tokens": shapes.INT,
                 "headers": shapes.STRMAP, "price": {"input": shapes.NUMBER, "output": shapes.NUMBER},
                 "redact": [shapes.STR]}}


@dataclass
class LLMConfig:
    model: str = DEFAULT_MODEL
    base_url: str = ""                 # "" = the client's default (api.openai.com)
    api_key: str = field(default="", repr=False)
    timeout: float = 30.0
    max_retries: int = 1
    max_tokens: int = 800
    headers: dict[str, str] = field(default_factory=dict)
    price_input: float | None = None   # per million tokens
    price_output: float | None = None
    redact: list[re.Pattern[str]] = field(default_factory=list)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        if self.price_input is None or self.price_output is None:
            return None
        return (prompt_tokens * self.price_input + completion_tokens * self.price_output) / 1e6


def config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "svcdoctor" / "config.yaml"


def load(env: dict[str, str] | None = None, path: Path | None = None) -> LLMConfig:
    """The configuration; UsageError (one line) for a config file that is wrong."""
    env = dict(os.environ) if env is None else env
    path = path or config_file()
    section = _file_section(path)
    cfg = LLMConfig()
    cfg.model = env.get("SVCDOCTOR_LLM_MODEL") or section.get("model") or DEFAULT_MODEL
    cfg.base_url = env.get("OPENAI_BASE_URL") or section.get("base_url", "")
    key_env = section.get("api_key_env") or "OPENAI_API_KEY"
    cfg.api_key = env.get(key_env, "")
    cfg.timeout = float(section.get("timeout", cfg.timeout))
    cfg.max_retries = int(section.get("max_retries", cfg.max_retries))
    cfg.max_tokens = int(section.get("max_tokens", cfg.max_tokens))
    if cfg.timeout <= 0 or cfg.max_retries < 0 or cfg.max_tokens < 16:
        raise UsageError(f"{path}: llm timeout must be positive, max_retries at least 0, max_tokens at least 16")
    cfg.headers = dict(section.get("headers") or {})
    price = section.get("price") or {}
    cfg.price_input, cfg.price_output = price.get("input"), price.get("output")
    for pattern in section.get("redact") or []:
        try:
            cfg.redact.append(re.compile(pattern))
        except (re.error, OverflowError, RecursionError) as exc:
            raise UsageError(f"{path}: llm.redact pattern {pattern!r} is not a regular expression ({exc})") from None
    return cfg


def _file_section(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise UsageError(f"{path}: cannot read the svcdoctor config ({exc.__class__.__name__})") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise UsageError(f"{path}: the svcdoctor config must be a mapping (llm: ...)")
    try:
        return shapes.conform(doc, SHAPE).get("llm") or {}
    except shapes.ShapeError as exc:
        raise UsageError(f"{path}: {exc}") from None
