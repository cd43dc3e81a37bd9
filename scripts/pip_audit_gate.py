"""`make audit`: run pip-audit on pinned requirement files and decide pass or fail.

pip-audit looks every pin up in PyPI's vulnerability data. This gate adds what its exit code
does not say:

* a known vulnerability passes only when `.pip-audit-ignore` lists its ID (or an alias, e.g.
  the CVE) with the reason it is accepted; any other one fails the build;
* a pin that could not be audited fails the build, except when *no* pin could be, which means
  the vulnerability service is unreachable from this machine: then the audit says loudly that
  nothing was audited and passes (`--offline warn`, the default) or fails (`--offline fail`);
* an ignore entry that matches nothing any more is reported, so fixed ones get removed.

Usage: python scripts/pip_audit_gate.py --pip-audit "<pip-audit command>" requirements.txt
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PIP_AUDIT_ARGS = (
    "--no-deps",  # the files are fully pinned: audit exactly these versions, resolve nothing
    "--disable-pip",
    "--format", "json",
    "--aliases", "on",
    "--desc", "off",
    "--progress-spinner", "off",
)  # fmt: skip
OFFLINE_POLICIES = ("warn", "fail")


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    vuln_id: str
    aliases: tuple[str, ...]
    fix_versions: tuple[str, ...]

    @property
    def ids(self) -> set[str]:
        return {self.vuln_id, *self.aliases}

    def describe(self) -> str:
        fixes = ", ".join(self.fix_versions) or "no fixed release"
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        return f"{self.package}=={self.version}: {self.vuln_id}{aliases}; fixed in: {fixes}"


@dataclass
class Verdict:
    exit_code: int = 0
    lines: list[str] = field(default_factory=list)
    audited: bool = False  # at least one file's pins reached the vulnerability service


def read_ignores(path: Path) -> dict[str, str]:
    """{vulnerability ID: reason} from lines ``ID  reason``; '#' starts a comment."""
    ignores = {}
    if not path.exists():
        return ignores
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        vuln_id, _, reason = line.partition(" ")
        if not reason.strip():
            raise ValueError(f"{path}:{number}: {vuln_id} needs a reason after its ID")
        ignores[vuln_id] = reason.strip()
    return ignores


def findings_of(report: dict) -> tuple[int, list[str], list[Finding]]:
    """(pins audited, skip reasons, findings) of one pip-audit JSON report."""
    audited, skipped, findings = 0, [], []
    for dep in report.get("dependencies", []):
        if dep.get("skip_reason"):
            skipped.append(dep["skip_reason"])
            continue
        audited += 1
        for vuln in dep.get("vulns", []):
            findings.append(
                Finding(
                    package=dep["name"],
                    version=dep["version"],
                    vuln_id=vuln["id"],
                    aliases=tuple(vuln.get("aliases", [])),
                    fix_versions=tuple(vuln.get("fix_versions", [])),
                )
            )
    return audited, skipped, findings


def evaluate(reports: dict[str, dict], ignores: dict[str, str], offline: str) -> Verdict:
    """The gate's decision over {requirements file: pip-audit JSON report}."""
    verdict = Verdict()
    matched: set[str] = set()
    any_audited = any_new = False
    for name, report in reports.items():
        audited, skipped, findings = findings_of(report)
        if skipped and not audited:
            verdict.lines.append(
                f"pip-audit: NOT AUDITED {name}: the vulnerability service answered for none of "
                f"its {len(skipped)} pins (first: {skipped[0]!r}). Run `make audit` where the "
                "index's per-release JSON API is reachable (`AUDIT_OFFLINE=fail` makes this fatal)."
            )
            verdict.exit_code = 1 if offline == "fail" else verdict.exit_code
            continue
        any_audited = True
        for reason in skipped:
            verdict.lines.append(f"pip-audit: NOT AUDITED in {name}: {reason}")
            verdict.exit_code = 1
        accepted_here = 0
        for finding in findings:
            accepted = sorted(finding.ids & ignores.keys())
            if accepted:
                matched.update(accepted)
                accepted_here += 1
                verdict.lines.append(f"  accepted  {finding.describe()} -- {ignores[accepted[0]]}")
            else:
                any_new = True
                verdict.lines.append(f"  VULNERABLE  {finding.describe()}")
        verdict.lines.append(
            f"pip-audit {name}: {audited} pins audited, {len(findings)} known vulnerabilities "
            f"({accepted_here} accepted in the ignore file)"
        )
    verdict.audited = any_audited
    if any_audited:
        for vuln_id in sorted(ignores.keys() - matched):
            verdict.lines.append(f"  stale ignore {vuln_id}: no longer reported, remove it")
    if any_new:
        verdict.exit_code = 1
        verdict.lines.append(
            "Bump each VULNERABLE pin to a fixed release (make lock), or list its ID in "
            ".pip-audit-ignore with the reason it is accepted (and in docs/security.md)."
        )
    return verdict


def run_pip_audit(command: list[str], requirements: str) -> dict:
    """One pip-audit run over one file (pins of different files may conflict)."""
    # pip-audit runs in its own environment: the repository must not shadow its modules
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [*command, "--requirement", requirements, *PIP_AUDIT_ARGS],
        capture_output=True,
        text=True,
        env=env,
    )
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        sys.stderr.write(done.stderr)
        message = f"pip-audit gave no report for {requirements} (exit {done.returncode})"
        raise SystemExit(message) from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requirements", nargs="+", help="pinned requirement files")
    parser.add_argument("--pip-audit", required=True, help="command that runs pip-audit")
    parser.add_argument("--ignore-file", type=Path, default=Path(".pip-audit-ignore"))
    parser.add_argument("--offline", choices=OFFLINE_POLICIES, default="warn")
    args = parser.parse_args(argv)

    ignores = read_ignores(args.ignore_file)
    started = time.monotonic()
    command = shlex.split(args.pip_audit)
    reports = {name: run_pip_audit(command, name) for name in args.requirements}
    verdict = evaluate(reports, ignores, args.offline)
    print("\n".join(verdict.lines))
    outcome = "FAILED" if verdict.exit_code else "ok" if verdict.audited else "NOT AUDITED"
    print(f"pip-audit gate: {outcome} in {time.monotonic() - started:.1f} s")
    return verdict.exit_code


if __name__ == "__main__":
    sys.exit(main())
