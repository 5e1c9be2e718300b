"""Tier 1: similar.py, the one rule behind every "did you mean" svcdoctor prints.

Expected values are worked out from the names (edit distance over the longer length; a
whole-token prefix or suffix scores 0.5 plus half the share it covers), not copied from
the code's output.
"""

from __future__ import annotations

import pytest

from svcdoctor import similar
from svcdoctor.similar import MARGIN, STRONG, clear_winner, closeness, did_you_mean, rank

# The apps of a busy shop namespace, as in the crowded control-plane scenarios.
CROWD = ["auth", "cart", "catalog", "chat", "checkout", "checkout-worker", "inventory",
         "notifications", "order-history", "orders", "orders-worker", "payments",
         "payments-ui", "reviews", "search", "search-indexer", "shipping",
         "web-backend", "web-frontend"]


@pytest.mark.parametrize("a, b, edits", [
    ("checkout", "checkout", 0),
    ("chekout", "checkout", 1),       # a dropped letter
    ("checkuot", "checkout", 1),      # a transposed pair is one edit, not two
    ("ab", "ba", 1),
    ("kitten", "sitting", 3),
    ("", "cart", 4),
])
def test_distance(a, b, edits):
    assert similar.distance(a, b) == edits
    assert similar.distance(b, a) == edits


@pytest.mark.parametrize("want, have, expected", [
    # typos: 1 edit in 8 letters
    ("chekout", "checkout", 1 - 1 / 8),
    ("checkuot", "checkout", 1 - 1 / 8),
    ("paymnets", "payments", 1 - 1 / 8),
    # 1 edit in 9 letters
    ("invetory", "inventory", 1 - 1 / 9),
    # a rename that dropped a token: "orders" covers 6 of the 9 characters of "orders-v1"
    ("orders-v1", "orders", 0.5 + 0.5 * 6 / 9),
    # the demo: the pods carry "web", the Service asks for "web-api" (3 of 7)
    ("web-api", "web", 0.5 + 0.5 * 3 / 7),
    # a prefix shared by two apps: 3 of 12 and 3 of 11
    ("web", "web-frontend", 0.5 + 0.5 * 3 / 12),
    ("web", "web-backend", 0.5 + 0.5 * 3 / 11),
    # a suffix counts like a prefix ("api" is the last token of "orders-api", 3 of 10)
    ("api", "orders-api", 0.5 + 0.5 * 3 / 10),
    # case and token order
    ("Checkout", "checkout", 0.95),
    ("api-web", "web-api", 0.9),
    ("", "web", 0.0),
    ("web", "web", 1.0),
])
def test_closeness(want, have, expected):
    assert closeness(want, have) == pytest.approx(expected, abs=0.001)


def test_closeness_is_symmetric_for_realistic_pairs():
    for a, b in [("chekout", "checkout"), ("orders-v1", "orders"), ("web", "web-frontend"),
                 ("web-api", "web-ui"), ("legacy-db", "legacy-db-1")]:
        assert closeness(a, b) == closeness(b, a)


@pytest.mark.parametrize("want, have", [
    ("web-api", "web-ui"),           # one shared token, but "api" / "ui" is no typo
    ("web-api", "web-backend"),
    ("orders-v1", "orders-worker"),  # same first token, "v1" / "worker" unrelated
    ("orders-v1", "order-history"),
    ("chekout", "chat"),             # short names sharing two letters
    ("chekout", "cart"),
    ("loyalty", "notifications"),
])
def test_not_a_typo_is_not_strong(want, have):
    assert closeness(want, have) < STRONG


def test_web_api_and_web_ui_share_a_token_but_differ_in_the_other():
    # the differing tokens decide: "api" → "ui" is 2 edits of 3 letters
    assert closeness("web-api", "web-ui") == pytest.approx(1 - 2 / 3, abs=0.001)


@pytest.mark.parametrize("want, have, expected", [
    ("payments", "payments-ui", True),    # another component of payments
    ("web", "web-frontend", True),
    ("api", "orders-api", True),          # added in front
    ("web-api", "web", False),            # the pods' name drops a token: a rename
    ("orders-v1", "orders", False),
    ("chekout", "checkout", False),       # a typo adds a letter, not a token
    ("orders", "orders", False),
    ("order", "orders-worker", False),    # "order" is not a whole token of it
])
def test_extends(want, have, expected):
    assert similar.extends(want, have) is expected


# --- ranking and "clearly the closest" ---------------------------------------------------

def test_a_typo_in_a_crowd_has_one_clear_winner():
    ranked = rank("chekout", CROWD)
    assert ranked[0].item == "checkout"
    assert clear_winner(ranked) == "checkout"
    # checkout-worker starts with the same letters, but is far behind
    assert ranked[0].score - next(r.score for r in ranked if r.item == "checkout-worker") >= MARGIN


def test_a_stale_value_after_a_rename_points_at_the_renamed_app():
    ranked = rank("orders-v1", CROWD)
    assert clear_winner(ranked) == "orders"
    # orders-worker and order-history share the start, but not the differing token
    assert all(r.score < STRONG for r in ranked if r.item in ("orders-worker", "order-history"))


def test_a_prefix_of_two_apps_has_no_winner():
    ranked = rank("web", CROWD)
    assert {r.item for r in ranked[:2]} == {"web-frontend", "web-backend"}
    assert clear_winner(ranked) is None
    assert set(did_you_mean("web", CROWD)) == {"web-frontend", "web-backend"}


def test_the_first_alphabetically_is_never_picked_for_an_unknown_name():
    # "loyalty" is like nothing here; the old ranking picked the first app (auth)
    assert clear_winner(rank("loyalty", CROWD)) is None
    assert did_you_mean("loyalty", CROWD) == []


def test_a_weak_best_is_not_a_winner_even_alone():
    # "cart" is the only choice, but "cart" for "chekout" is 4 edits of 7
    assert clear_winner(rank("chekout", ["cart"])) is None


def test_a_strong_single_choice_is_a_winner():
    assert clear_winner(rank("web-api", ["web"])) == "web"


def test_rank_is_stable_for_equal_scores():
    assert [r.item for r in rank("zzz", ["b", "a", "c"])] == ["a", "b", "c"]


def test_rank_by_key():
    pods = [("shop", "Deployment checkout"), ("shop", "Deployment chat")]
    ranked = rank("chekout", pods, key=lambda p: p[1].split()[1])
    assert ranked[0].item == ("shop", "Deployment checkout")


# --- the words -----------------------------------------------------------------------------

def test_did_you_mean_names_the_clear_winner_alone():
    assert did_you_mean("paymnets", CROWD) == ["payments"]


def test_did_you_mean_never_suggests_the_word_itself():
    assert did_you_mean("orders", ["orders", "orders-worker"]) == ["orders-worker"]


def test_suggestion_text():
    assert similar.suggestion("chekout", CROWD) == "; did you mean 'checkout'?"
    assert similar.suggestion("web", CROWD) in ("; did you mean 'web-backend' or 'web-frontend'?",
                                                "; did you mean 'web-frontend' or 'web-backend'?")
    assert similar.suggestion("loyalty", CROWD) == ""


@pytest.mark.parametrize("tp, names, expected", [
    ("htpp", ["http", "https", "grpc", "metrics"], "http"),     # transposition beats a longer name
    ("metric", ["metrics", "grpc-metrics", "http"], "metrics"),
    ("grpc", ["grpc-api", "grpc-web", "http"], None),          # equally close: no winner
])
def test_named_port_typos(tp, names, expected):
    assert clear_winner(rank(tp, names)) == expected


def test_one_slip_in_a_short_token_is_still_a_typo():
    """web-apj is web-api with one key missed; web merely shares its first token."""
    assert did_you_mean("web-apj", ["web", "web-api", "api"]) == ["web-api"]
    assert closeness("web-apj", "web-api") > closeness("web-apj", "web") + MARGIN
