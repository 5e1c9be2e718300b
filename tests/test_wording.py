"""Playbook templates: placeholders, literal braces, sentences left out or gated."""

from svcdoctor.findings import Finding, Severity
from svcdoctor.wording import Playbooks, fill, placeholders


def test_only_identifiers_are_placeholders():
    # JSON patches and jsonpath live in commands and need no escaping.
    assert fill('{"value":{port}}]', {"port": 3000}) == '{"value":3000}]'
    assert fill('-p \'{"spec":{"a":{"b":1}}}\'', {}) == '-p \'{"spec":{"a":{"b":1}}}\''
    assert fill("-o jsonpath='{.spec.ports[*].nodePort}'", {}) == "-o jsonpath='{.spec.ports[*].nodePort}'"


def test_missing_or_empty_value_drops_the_sentence():
    assert fill("Closest pods: {near}.", {}) is None
    assert fill("Closest pods: {near}.", {"near": []}) is None
    assert fill("Ready: {n}.", {"n": 0}) == "Ready: 0."
    assert fill("Pods: {p}.", {"p": ["a", "b"]}) == "Pods: a, b."
    assert fill("Selector {s}.", {"s": {"app": "web", "tier": "fe"}}) == "Selector app=web,tier=fe."


def test_when_gates_a_sentence_and_a_step():
    books = Playbooks({"x": {"id": "x", "title": "T",
                             "explanation": ["Always.", {"when": "flag", "text": "Only if flagged."}],
                             "fix": [{"text": "a"}, {"text": "b", "when": "flag"}]}})
    for flag, text, steps in (("", "Always.", ["a"]), ("yes", "Always. Only if flagged.", ["a", "b"])):
        f = Finding("x", Severity.INFO, "s", facts={"flag": flag})
        books.apply(f, {})
        assert f.explanation == text and [s.text for s in f.fix] == steps


def test_when_not_gates_on_a_missing_fact():
    # could-not-verify: "grant read access" is wrong advice when the objects were read but
    # not evaluated; the finding then gives its own step instead.
    books = Playbooks({"x": {"id": "x", "title": "T",
                             "fix": [{"text": "grant", "when": "not check"}, {"text": "look", "command": "{check}"}]}})
    for check, steps in (("", ["grant"]), ("kubectl get cnp", ["look"])):
        f = Finding("x", Severity.INFO, "s", facts={"check": check})
        books.apply(f, {})
        assert [s.text for s in f.fix] == steps


def test_placeholders_include_gates():
    book = {"title": "{a}", "explanation": [{"when": "g", "text": "t"}],
            "fix": [{"text": "t {b}", "command": "x '{.end}' {c}", "when": "h"}, {"text": "u", "when": "not k"}]}
    assert placeholders(book) == {"a", "b", "c", "g", "h", "k"}


import pytest  # noqa: E402

from svcdoctor.errors import UsageError  # noqa: E402
from svcdoctor.wording import _parse  # noqa: E402


@pytest.mark.parametrize("text, needle", [
    ("id: x\nwhy: true\n", "why must be text"),           # found by scripts/fuzz.py (scale 10)
    ("id: x\nexplanation: 5\n", "explanation must be text"),
    ("id: x\ntitle: [a]\n", "title must be text"),
    ("id: x\nfix: {text: a}\n", "fix must be a list"),
    ("id: x\nfix: [{text: a, command: 5}]\n", "command must be text"),
    ("id: x\nlinks: [{when: metallb}]\n", "each entry of links"),
    ("id: x\nexplanation: [{text: a, when: [b]}]\n", "when names a fact"),
    ("- id: x\n", "expected a mapping"),
])
def test_a_broken_playbook_is_one_line(text, needle):
    with pytest.raises(UsageError, match=needle) as err:
        _parse(text, "mine.yaml")
    assert "\n" not in str(err.value) and "mine.yaml" in str(err.value)
