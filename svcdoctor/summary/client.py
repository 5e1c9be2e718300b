"""The one place that talks to the LLM: the ``openai`` client, Chat Completions.

Imported only when a summary is asked for (a kubectl plugin must start fast), with an
explicit timeout and bounded retries (the client's defaults are 600 s and 2 retries).

Servers differ in what they accept for a structured answer, so the request climbs down a
ladder: ``json_schema`` (OpenAI, vLLM, Ollama, llama.cpp, LM Studio), then ``json_object``
with the schema in the prompt, then the prompt alone. A server that refuses a rung with a
400/422 naming it moves to the next; what worked is remembered per base URL and model
(modes.json in the cache folder), so later diagnoses make exactly one request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import LLMConfig

MODES = ("json_schema", "json_object", "prompt")


class Unavailable(Exception):
    """``str(err)`` is the one line saying why there is no answer (never the key)."""


@dataclass
class Completion:
    text: str
    mode: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 1


def request_body(cfg: LLMConfig, messages: list[dict[str, str]], schema: dict[str, Any], mode: str) -> dict[str, Any]:
    """The Chat Completions request for one rung of the ladder (also what --show-prompt prints)."""
    body: dict[str, Any] = {"model": cfg.model, "messages": messages, "temperature": 0,
                            "max_tokens": cfg.max_tokens}
    if mode == "json_schema":
        body["response_format"] = {"type": "json_schema",
                                   "json_schema": {"name": "svcdoctor_summary", "strict": True, "schema": schema}}
    elif mode == "json_object":
        body["response_format"] = {"type": "json_object"}
    return body


def complete(cfg: LLMConfig, messages: list[dict[str, str]], schema: dict[str, Any],
             modes_file: Path | None) -> Completion:
    try:
        import openai
    except ImportError:
        raise Unavailable("the LLM summary needs the llm extra: pip install 'svcdoctor[llm]'") from None
    client = openai.OpenAI(api_key=cfg.api_key or "not-needed", base_url=cfg.base_url or None,
                           timeout=cfg.timeout, max_retries=cfg.max_retries,
                           default_headers=cfg.headers or None)
    where = cfg.base_url or "api.openai.com"
    known = _modes(modes_file)
    start = known.get(_key(cfg), MODES[0])
    requests = 0
    for mode in MODES[MODES.index(start):]:
        requests += 1
        try:
            resp = client.chat.completions.create(**request_body(cfg, messages, schema, mode))
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            if mode != MODES[-1] and _refuses_format(exc):
                continue  # this server does not take this response_format: the next rung
            raise Unavailable(f"{where} refused the request ({exc.status_code}): {_message(exc)}") from None
        except openai.AuthenticationError:
            raise Unavailable(f"{where} refused the API key (401); set OPENAI_API_KEY") from None
        except openai.PermissionDeniedError as exc:
            raise Unavailable(f"{where} denied the request (403): {_message(exc)}") from None
        except openai.RateLimitError:
            raise Unavailable(f"{where} is rate limiting (429); try again later") from None
        except openai.APITimeoutError:
            raise Unavailable(f"{where} did not answer within {cfg.timeout:g}s") from None
        except openai.APIConnectionError:
            raise Unavailable(f"cannot reach {where}") from None
        except openai.APIStatusError as exc:
            raise Unavailable(f"{where} answered {exc.status_code}: {_message(exc)}") from None
        except Exception as exc:  # noqa: BLE001 - a body the client cannot read (an HTML page...)
            raise Unavailable(f"{where} gave an answer the client could not read ({type(exc).__name__})") from None
        _remember(modes_file, known, _key(cfg), mode)
        return _completion(resp, mode, requests)
    raise Unavailable(f"{where} accepts no way of asking for JSON")  # not reached: "prompt" has no format


def _completion(resp: Any, mode: str, requests: int) -> Completion:
    choices = getattr(resp, "choices", None) or []
    if not choices:
        raise Unavailable("the server answered without a choice")
    choice = choices[0]
    if getattr(choice, "finish_reason", "") == "length":
        raise Unavailable("the answer was cut off at max_tokens")
    message = getattr(choice, "message", None)
    if getattr(message, "refusal", None):
        raise Unavailable("the model refused to answer")
    text = getattr(message, "content", None)
    if not isinstance(text, str) or not text.strip():
        raise Unavailable("the answer was empty")
    usage = getattr(resp, "usage", None)
    return Completion(text, mode, int(getattr(usage, "prompt_tokens", 0) or 0),
                      int(getattr(usage, "completion_tokens", 0) or 0), requests)


def _refuses_format(exc: Any) -> bool:
    text = _message(exc).lower()
    return any(w in text for w in ("response_format", "json_schema", "json_object", "structured", "schema"))


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        msg = err.get("message") if isinstance(err, dict) else err
        if isinstance(msg, str):
            return " ".join(msg.split())[:200]
    return " ".join(str(getattr(exc, "message", "") or type(exc).__name__).split())[:200]


def _key(cfg: LLMConfig) -> str:
    return f"{cfg.base_url or 'https://api.openai.com/v1'} {cfg.model}"


def _modes(path: Path | None) -> dict[str, str]:
    try:
        data = json.loads(path.read_text()) if path else {}
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str) and v in MODES} if isinstance(data, dict) else {}


def _remember(path: Path | None, known: dict[str, str], key: str, mode: str) -> None:
    if path is None or known.get(key) == mode:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**known, key: mode}, indent=1))
    except OSError:
        pass  # only a speed-up for the next run
