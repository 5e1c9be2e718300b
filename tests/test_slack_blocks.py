"""Block Kit within Slack's limits, whatever the report: many findings, long texts, code
fences in commands, mentions and links in cluster text."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from svcdoctor.diagnose import diagnose
from svcdoctor.findings import FixStep
from svcdoctor.slack import blocks, scanreply
from svcdoctor.slack.commands import Request
from svcdoctor.sources.open import evidence_from_path

REC = Path(__file__).resolve().parents[1] / "svcdoctor" / "recordings"


def report(name: str):
    return diagnose(evidence_from_path(REC / f"{name}.yaml", None, None))


def render(r) -> list[dict]:
    return blocks.report_blocks(r, footer="context prod · svcdoctor", summarize_button=True,
                                button_value=blocks.button_value(Request("web", "shop", "prod"), [f.id for f in r.findings]))


def test_a_real_report_fits():
    for name in ("crowded-target-port", "node-notready", "lb-failed-azure-join-permission", "lab-local-one-of-three"):
        out = render(report(name))
        assert blocks.violations(out) == [], name
        assert out[0]["type"] == "header" and out[-1]["type"] == "context"


def test_many_findings_are_cut_to_50_blocks_and_point_at_the_file():
    r = report("crowded-target-port")
    r.findings = [copy.copy(f) for _ in range(30) for f in r.findings]   # 90 findings
    out = render(r)
    assert len(out) == 50 and blocks.violations(out) == []
    assert any("more finding(s) … see the file" in json.dumps(b, ensure_ascii=False) for b in out)
    assert out[-2]["type"] == "actions"  # the buttons and the footer always stay


def test_long_texts_are_cut_and_code_blocks_closed():
    r = report("readiness-failing")
    f = r.findings[0]
    f.explanation = "x" * 5000
    f.fix = [FixStep("step", "kubectl get pods " + "a" * 3500)]
    r.verdict = "CRITICAL: " + "v" * 400
    out = render(r)
    assert blocks.violations(out) == []
    assert len(out[0]["text"]["text"]) <= 150
    fix = next(b for b in out if b["type"] == "section" and b["text"]["text"].startswith("*Fix*"))
    assert fix["text"]["text"].endswith("```… see the file") and fix["text"]["text"].count("```") % 2 == 0


def test_cluster_text_is_inert():
    r = report("readiness-failing")
    r.findings[0].explanation = "probe said <!channel> and <https://evil.example|click> & <@U123>"
    r.findings[0].fix = [FixStep("run", "kubectl get pods ```\n<!here>")]
    text = json.dumps(render(r), ensure_ascii=False)
    assert "<!channel>" not in text and "<https://" not in text and "<@U123>" not in text and "<!here>" not in text
    assert "&lt;!channel&gt;" in text and "&amp;" in text


def test_recheck_diff():
    assert blocks.diff_text(["a", "b"], ["b", "c"]) == ("*Re-checked*\n:white_check_mark: cleared: `a`\n"
                                                       ":hourglass: still there: `b`\n:new: new: `c`")
    assert blocks.diff_text(["a"], []) == "*Re-checked*\n:white_check_mark: cleared: `a`"


# --- scan: the summary within the limits, cluster text inert, the file masked ---------------------

def scanned(names: list[str]):
    """A scan's assessment of the recordings ``names``, each copied to 40 Services in 40 namespaces."""
    from svcdoctor.scan import Scope, offline
    from svcdoctor.scan.outcome import assess

    one = [offline(REC / f"{n}.yaml", Scope()).reports[0] for n in names]
    result = offline(REC / f"{names[0]}.yaml", Scope())
    result.reports = []
    for i in range(40):
        for report in one:
            copied = copy.deepcopy(report)
            copied.target = f"team-{i:02d}/{report.target.split('/')[1]}"
            result.reports.append(copied)
    return assess(result)


def test_a_big_scan_fits_and_says_how_many_more():
    a = scanned(["selector-typo", "readiness-failing", "healthy-clusterip"])
    a.result.not_diagnosed = [(f"team-{i:02d}/gone", "not found") for i in range(30)]
    msg = scanreply.message(a, footer="context prod · svcdoctor")
    out = msg["blocks"]
    assert blocks.violations(out) == [] and len(out) <= 20
    text = json.dumps(out, ensure_ascii=False)
    assert out[0]["type"] == "header" and "80 of 120 Services broken" in out[0]["text"]["text"]
    assert "(incomplete)" in out[0]["text"]["text"] and msg["text"].endswith("; incomplete")
    assert text.count(":red_circle: *team-") == scanreply.SHOWN and "… and 65 more: every one is in the file" in text
    assert "*team-00/web-api* `selector-matches-no-pods` Selector app=web-api matches no pod" in text
    assert "```svcdoctor diagnose svc/invoices -n team-00```" in text  # the first ranked
    assert "*By namespace*" in text and "… and 25 more namespaces" in text
    assert "Not diagnosed: team-00/gone: not found" in text and "… and 20 more (in the file)" in text
    assert all(t["verbatim"] for b in out if b["type"] != "header"
               for t in ([b["text"]] if b["type"] == "section" else b["elements"]))


def test_scan_text_is_inert_and_the_file_masked():
    a = scanned(["selector-typo"])
    f = a.services[0].findings[0]
    f.title = "selector <!channel> @here <https://evil.example|fix> & <@U123> token=s3cr3tvalue"
    a.result.not_diagnosed = [("team-00/x", "Get https://admin:hunter22@10.0.0.1/api: <!everyone>")]
    text = json.dumps(scanreply.message(a, footer="context prod")["blocks"], ensure_ascii=False)
    for bad in ("<!channel>", "<!everyone>", "<https://", "<@U123>", "@here", "s3cr3tvalue", "hunter22"):
        assert bad not in text, bad
    assert "&lt;!channel&gt;" in text and "@\u2060here" in text and "token=&lt;masked&gt;" in text
    doc = json.loads(scanreply.document(a))
    assert doc["schema"] == "svcdoctor.scan/v1" and "s3cr3tvalue" not in json.dumps(doc)
    assert doc["services"][0]["findings"][0]["title"].endswith("token=<masked>")
