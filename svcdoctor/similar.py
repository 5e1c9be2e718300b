"""How close one name is to another, and when a "did you mean" is safe to say.

Every suggestion svcdoctor makes (a selector value, a named targetPort, a namespace or a
Service name) goes through here, so they all follow one rule: rank candidates by how close
they are, and name one only when it is clearly the closest. In a namespace with dozens of
apps, "the first one that differs" is a wrong answer; a wrong fix command sends traffic to
another application, which is worse than no command at all.

Closeness of two values, 0..1 (1 = equal):
    - edit distance (Damerau-Levenshtein: a transposed pair is one edit), normalised by
      the longer value: typos ("chekout" → "checkout" 0.88);
      when both have several tokens, every token that differs by more than one edit must
      be close too ("web-api" / "web-ui" is not a typo: 0.33; "web-apj" / "web-api" is);
    - one value a whole-token prefix or suffix of the other ("orders" in "orders-v1",
      renames that dropped or added a token): 0.5 plus half the share of the longer
      value it covers (0.83), so two apps sharing the prefix are about equally close
      (web → web-frontend 0.625, web-backend 0.636: within MARGIN, no winner);
    - the same tokens in another order ("api-web" / "web-api"), case only ("Web" / "web").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Generic, Iterable, Sequence, TypeVar

T = TypeVar("T")

STRONG = 0.6   # below this a candidate is listed as "closest", never suggested as the fix
MARGIN = 0.1   # the best must lead the runner-up by this much to be "clearly" the closest
WEAK = 0.4     # below this a candidate is not even worth listing as "closest"
_TOKENS = re.compile(r"[-_./:]+")


def distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment)."""
    if a == b:
        return 0
    if not a or not b:
        return len(a) or len(b)
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def tokens(value: str) -> list[str]:
    return [t for t in _TOKENS.split(value.lower()) if t]


def extends(want: str, have: str) -> bool:
    """``have`` is ``want`` with whole tokens added ("payments" → "payments-ui"): usually
    another component of the same application, not a rename of it."""
    ta, tb = tokens(want), tokens(have)
    return bool(ta) and len(tb) > len(ta) and (tb[:len(ta)] == ta or tb[-len(ta):] == ta)


def closeness(want: str, have: str) -> float:
    """How close ``have`` is to ``want``: 1.0 equal, 0.0 nothing in common."""
    if want == have:
        return 1.0
    if not want or not have:
        return 0.0
    a, b = want.lower(), have.lower()
    if a == b:
        return 0.95
    ta, tb = tokens(a), tokens(b)
    if ta and sorted(ta) == sorted(tb):
        return 0.9
    edit = _edit(a, b)
    if len(ta) == len(tb) > 1:
        # "web-api" / "web-ui" share a token, but "api" / "ui" is no typo: every token
        # that differs must itself be close — one slip ("apj" / "api") is a typo however
        # short the token.
        edit = min([edit] + [_edit(x, y) for x, y in zip(ta, tb) if x != y and distance(x, y) > 1])
    short, long_ = (ta, tb) if len(ta) <= len(tb) else (tb, ta)
    part = 0.0
    if short and len(short) < len(long_) and (long_[:len(short)] == short or long_[-len(short):] == short):
        # A token added or dropped (a rename, a suffix): meaningful however short the
        # shared part, and the more of the longer value it covers, the closer.
        part = 0.5 + 0.5 * len("-".join(short)) / max(len(a), len(b))
    return round(max(edit, part), 3)


def _edit(a: str, b: str) -> float:
    return 1.0 - distance(a, b) / max(len(a), len(b))


@dataclass(frozen=True)
class Ranked(Generic[T]):
    item: T
    score: float


def rank(want: str, choices: Iterable[T], key: Callable[[T], str] = str) -> list[Ranked[T]]:
    """Choices by closeness to ``want``, closest first; ties keep a stable, sorted order."""
    scored = [Ranked(c, closeness(want, key(c))) for c in choices]
    return sorted(scored, key=lambda r: (-r.score, key(r.item)))


def clear_winner(ranked: Sequence[Ranked[T]], strong: float = STRONG,
                 margin: float = MARGIN) -> T | None:
    """The first candidate when it is close enough and clearly closer than the next."""
    if not ranked or ranked[0].score < strong:
        return None
    if len(ranked) > 1 and ranked[0].score - ranked[1].score < margin:
        return None
    return ranked[0].item


def did_you_mean(word: str, choices: Iterable[str], floor: float = STRONG) -> list[str]:
    """Names worth suggesting for a mistyped ``word``: the clear winner alone, or the few
    that are about equally close (within MARGIN of the best), or nothing."""
    ranked = [r for r in rank(word, set(choices)) if r.score >= floor and r.item != word]
    if not ranked:
        return []
    best = ranked[0].score
    return [r.item for r in ranked if best - r.score < MARGIN][:3]


def suggestion(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` (or ``'x' or 'y'``) for error messages, or ``""``."""
    names = did_you_mean(word, choices)
    if not names:
        return ""
    return "; did you mean " + " or ".join(repr(n) for n in names) + "?"
