"""`make audit` (run before the tests by `make test`): the gate over pip-audit's report fails on
any known vulnerability that `.pip-audit-ignore` does not accept with a reason, and never
passes silently when nothing could be audited."""

from __future__ import annotations

import importlib.util
import re
import sys

import pytest

from include.cryptodw.settings import REPO_ROOT

_SPEC = importlib.util.spec_from_file_location(
    "pip_audit_gate", REPO_ROOT / "scripts" / "pip_audit_gate.py"
)
gate = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = gate  # dataclasses resolve their module by name
_SPEC.loader.exec_module(gate)

JINJA = {
    "name": "jinja2",
    "version": "2.10",
    "vulns": [
        {"id": "PYSEC-2019-217", "fix_versions": ["2.10.1"], "aliases": ["CVE-2019-10906"]},
    ],
}
CLEAN = {"name": "duckdb", "version": "2.0.1", "vulns": []}


def _skipped(name: str) -> dict:
    return {"name": name, "skip_reason": f"Dependency not found on PyPI: {name}"}


def test_an_unlisted_vulnerability_fails_the_audit():
    verdict = gate.evaluate({"r.txt": {"dependencies": [JINJA, CLEAN]}}, {}, "warn")
    assert verdict.exit_code == 1
    assert any("VULNERABLE  jinja2==2.10: PYSEC-2019-217" in line for line in verdict.lines)


@pytest.mark.parametrize("listed", ["PYSEC-2019-217", "CVE-2019-10906"])
def test_a_vulnerability_listed_with_its_reason_passes(listed):
    ignores = {listed: "templates are ours only", "GHSA-0000-0000-0000": "fixed since"}
    verdict = gate.evaluate({"r.txt": {"dependencies": [JINJA, CLEAN]}}, ignores, "fail")
    assert verdict.exit_code == 0 and verdict.audited
    assert any("accepted" in line and "templates are ours only" in line for line in verdict.lines)
    assert any("stale ignore GHSA-0000-0000-0000" in line for line in verdict.lines)


@pytest.mark.parametrize("offline, exit_code", [("warn", 0), ("fail", 1)])
def test_an_unreachable_service_is_reported_never_taken_for_a_clean_audit(offline, exit_code):
    report = {"dependencies": [_skipped("a2wsgi"), _skipped("duckdb")]}
    verdict = gate.evaluate({"r.txt": report}, {}, offline)
    assert verdict.exit_code == exit_code and not verdict.audited
    assert "NOT AUDITED r.txt" in verdict.lines[0]


def test_a_pin_that_cannot_be_audited_fails_when_others_can():
    verdict = gate.evaluate({"r.txt": {"dependencies": [CLEAN, _skipped("x")]}}, {}, "warn")
    assert verdict.exit_code == 1


def test_every_accepted_vulnerability_has_a_reason(tmp_path):
    assert all(gate.read_ignores(REPO_ROOT / ".pip-audit-ignore").values())
    bare = tmp_path / "ignore"
    bare.write_text("# comment\nGHSA-aaaa-bbbb-cccc\n")
    with pytest.raises(ValueError, match="needs a reason"):
        gate.read_ignores(bare)


def test_make_test_runs_the_pinned_audit_first():
    makefile = (REPO_ROOT / "Makefile").read_text()
    prerequisites = re.search(r"^test:([^#\n]*)", makefile, re.MULTILINE).group(1).split()
    assert "audit" in prerequisites
    assert re.search(r"--from pip-audit==\d+\.\d+\.\d+ pip-audit", makefile)
