"""The install users do: a wheel (and an sdist) built from this checkout, installed into a
fresh virtual environment outside it, and the CLI run from there.

The editable install the tests otherwise use reads the checkout itself, so a subpackage or
a data file missing from the wheel would go unnoticed (it did: ``svcdoctor.render``)."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tomllib  # Python >= 3.11, as on the test machines
import venv
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "svcdoctor"
RECORDINGS = sorted((PKG / "recordings").glob("*.yaml"))


def _package_files() -> set[str]:
    """What the wheel must hold: every module, every YAML (plugin tables, playbooks,
    recordings), py.typed — relative to the checkout."""
    files = {p for p in PKG.rglob("*") if p.is_file() and "__pycache__" not in p.parts
             and p.suffix in (".py", ".yaml", ".typed")}
    return {str(p.relative_to(ROOT)) for p in files}


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = out.glob("svcdoctor-*.whl")
    (sdist,) = out.glob("svcdoctor-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@pytest.fixture(scope="module")
def installed(dists, tmp_path_factory) -> dict[str, object]:
    """A fresh venv, outside the checkout, with only the wheel (and its dependencies)."""
    home = tmp_path_factory.mktemp("user")
    env_dir = home / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    py = env_dir / "bin" / "python"
    proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           str(dists["wheel"])], capture_output=True, text=True, timeout=900, cwd=home)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # A user's shell: no kubeconfig, no checkout on the path, a HOME of its own.
    env = {"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(home), "NO_COLOR": "1", "LANG": "C.UTF-8"}
    return {"bin": env_dir / "bin", "py": py, "env": env, "cwd": home}


def run(installed, prog: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(installed["bin"] / prog), *args], capture_output=True, text=True,
                          env=installed["env"], cwd=installed["cwd"], timeout=120)


def test_wheel_holds_every_package_and_data_file(dists):
    names = set(zipfile.ZipFile(dists["wheel"]).namelist())
    missing = sorted(_package_files() - names)
    assert not missing, f"not in the wheel: {missing}"
    # the packages discovered, not listed: every folder with an __init__.py
    for init in PKG.rglob("__init__.py"):
        assert str(init.relative_to(ROOT)) in names
    assert len([n for n in names if n.startswith("svcdoctor/recordings/") and n.endswith(".yaml")]) == len(RECORDINGS)
    assert not any(n.startswith(("tests/", "scripts/")) for n in names)


def test_sdist_holds_every_package_and_data_file(dists):
    with tarfile.open(dists["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"pyproject.toml", "README.md"} <= names
    missing = sorted(_package_files() - names)
    assert not missing, f"not in the sdist: {missing}"


def test_installed_cli_runs_outside_the_checkout(installed):
    where = subprocess.run([str(installed["py"]), "-c", "import svcdoctor; print(svcdoctor.__file__)"],
                           capture_output=True, text=True, env=installed["env"], cwd=installed["cwd"])
    assert where.stdout.startswith(str(installed["bin"].parent)), where.stdout + where.stderr

    demo = run(installed, "svcdoctor", "diagnose")  # README's first command, as installed
    assert demo.returncode == 0, demo.stderr
    assert "CRITICAL: Selector app=web-api matches no pod in namespace shop" in demo.stdout
    assert "no cluster configured" in demo.stderr

    listing = run(installed, "svcdoctor", "demo", "--list")
    assert listing.returncode == 0
    assert {line.split()[0] for line in listing.stdout.splitlines()} == {p.stem for p in RECORDINGS}

    plugins = run(installed, "svcdoctor", "plugins")
    assert plugins.returncode == 0, plugins.stderr
    entry_points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["svcdoctor"]
    listed = {line.split()[0] for line in plugins.stdout.splitlines() if not line.startswith(" ")}
    assert set(entry_points) <= listed

    helped = run(installed, "kubectl-svcdoctor", "--help")
    assert helped.returncode == 0 and "kubectl svcdoctor" in helped.stdout


def test_installed_cli_diagnoses_offline_input(installed, tmp_path):
    """One --from diagnosis each: a recording, and kubectl List output made of its objects."""
    rec = yaml.safe_load((PKG / "recordings" / "readiness-failing.yaml").read_text())
    rec_file = tmp_path / "rec.yaml"
    rec_file.write_text(yaml.safe_dump(rec))
    proc = run(installed, "svcdoctor", "diagnose", "--from", str(rec_file), "-o", "json")
    assert proc.returncode == 2, proc.stderr
    assert [f["id"] for f in json.loads(proc.stdout)["findings"]] == rec["expect"]["findings"]
    listing = tmp_path / "kubectl.json"
    listing.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": rec["items"]}))
    proc = run(installed, "svcdoctor", "diagnose", "svc/invoices", "-n", "billing", "--from", str(listing))
    assert proc.returncode == 2 and "no-ready-endpoints" in proc.stdout, proc.stderr


def test_summary_without_the_llm_extra(installed):
    """--summarize on the core install: the report and its exit code, and one line saying
    what to install (never a traceback)."""
    demo = run(installed, "svcdoctor", "diagnose", "--summarize")
    assert demo.returncode == 0 and "CRITICAL: Selector app=web-api" in demo.stdout
    lines = [line for line in demo.stderr.splitlines() if line.startswith("svcdoctor: summary:")]
    assert lines == ["svcdoctor: summary: the LLM summary needs the llm extra: pip install 'svcdoctor[llm]'"]
    assert "Traceback" not in demo.stderr
    rec = run(installed, "svcdoctor", "diagnose", "--from",
              str(PKG / "recordings" / "some-not-ready.yaml"), "--summarize", "-o", "json")
    assert rec.returncode == 1 and json.loads(rec.stdout)["summary"]["grounded"] is False


def test_core_install_stays_light(installed):
    """The optional parts' clients come only with their extras."""
    proc = subprocess.run([str(installed["py"]), "-m", "pip", "list", "--format", "json"],
                          capture_output=True, text=True, env=installed["env"])
    have = {p["name"].lower() for p in json.loads(proc.stdout)}
    assert {"kubernetes", "pluggy", "httpx", "dnspython", "rich"} <= have
    assert not have & {"openai", "slack-bolt", "boto3", "mcp"}, have


def test_extras_are_declared():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {"llm", "slack", "aws", "mcp", "all", "test"} <= set(extras)
    assert extras["llm"][0].startswith("openai")
    for part in ("llm", "slack", "aws", "mcp"):
        assert part in extras["all"][0]


def test_installed_scan_and_mcp_without_its_extra(installed, tmp_path):
    """`svcdoctor scan` on the core install; `svcdoctor mcp` says which extra it needs."""
    rec = yaml.safe_load((PKG / "recordings" / "readiness-failing.yaml").read_text())
    listing = tmp_path / "kubectl.json"
    listing.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": rec["items"]}))
    proc = run(installed, "svcdoctor", "scan", "--from", str(listing), "-o", "junit")
    assert proc.returncode == 2 and 'name="invoices"' in proc.stdout and "<failure" in proc.stdout, proc.stderr
    mcp = run(installed, "svcdoctor", "mcp")
    assert mcp.returncode == 3 and "pip install 'svcdoctor[mcp]'" in mcp.stderr
    assert "Traceback" not in mcp.stderr and len(mcp.stderr.strip().splitlines()) == 1
