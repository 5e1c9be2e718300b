"""Playbook templates: placeholders, literal braces, sentences left out when a value is missing."""

from svcdoctor.wording import fill, placeholders


def test_placeholder_next_to_literal_braces():
    # JSON patches and jsonpath live in commands: a placeholder right before "}" must fill.
    assert fill('{"value":{port}}]', {"port": 3000}) == '{"value":3000}]'
    assert fill("-o jsonpath='{{.spec.ports}}'", {}) == "-o jsonpath='{.spec.ports}'"
    assert fill("{{range .items[*]}}{{.name}}{{end}}", {}) == "{range .items[*]}{.name}{end}"


def test_missing_or_empty_value_drops_the_sentence():
    assert fill("Closest pods: {near}.", {}) is None
    assert fill("Closest pods: {near}.", {"near": []}) is None
    assert fill("Ready: {n}.", {"n": 0}) == "Ready: 0."
    assert fill("Pods: {p}.", {"p": ["a", "b"]}) == "Pods: a, b."
    assert fill("Selector {s}.", {"s": {"app": "web", "tier": "fe"}}) == "Selector app=web,tier=fe."


def test_placeholders_ignore_escaped_braces():
    book = {"title": "{a}", "fix": [{"text": "t {b}", "command": "x '{{end}}' {c}"}]}
    assert placeholders(book) == {"a", "b", "c"}
