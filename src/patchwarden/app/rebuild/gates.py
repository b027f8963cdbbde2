"""The test gate (commands, file assertions, health probe) and the scan gate (new vs previous).

The scan comparison is ``check --vulns``' own: findings keyed by (vulnerability, source
package); fixed = previous minus new, introduced = new minus previous.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from patchwarden.app.check.vulns import Key, key
from patchwarden.app.rebuild.model import BuildSpec, Step
from patchwarden.app.rebuild.tools import Builder, Runner
from patchwarden.scan.model import Finding, FindingStatus, Severity

OUTPUT_IN_REPORT = 4000
PROBE_INTERVAL_S = 0.5
Probe = Callable[[str], int | None]  # URL -> HTTP status, None when nothing answers


def _tail(text: str) -> str:
    return text[-OUTPUT_IN_REPORT:]


def run_tests(
    spec: BuildSpec, image: str, builder: Builder, runner: Runner, probe: Probe
) -> list[Step]:
    """Every test, file assertion and the health probe, in that order; stops at the first
    failure (its output is in the failing step)."""
    steps: list[Step] = []
    for t in spec.tests:
        start = time.monotonic()
        done = runner.run(image, t.run, t.timeout_s)
        took = time.monotonic() - start
        problem = None
        if done.timed_out:
            problem = f"timed out after {t.timeout_s:.0f}s"
        elif done.code != t.exit_code:
            problem = f"exited {done.code}, expected {t.exit_code}"
        elif t.stdout_contains is not None and t.stdout_contains not in done.output:
            problem = f"output does not contain {t.stdout_contains!r}"
        name = f"test: {t.name}"
        steps.append(Step(name, problem is None, problem or "passed", took, _tail(done.output)))
        if problem:
            return steps
    for f in spec.files:
        start = time.monotonic()
        data = builder.read_file(image, f.path)
        problem = None
        if f.exists and data is None:
            problem = f"{f.path} does not exist (or is not a regular file)"
        elif not f.exists and data is not None:
            problem = f"{f.path} exists but must not"
        elif (
            f.contains is not None
            and data is not None
            and f.contains not in data.decode("utf-8", "replace")
        ):
            problem = f"{f.path} does not contain {f.contains!r}"
        steps.append(
            Step(f"file: {f.path}", problem is None, problem or "ok", time.monotonic() - start)
        )
        if problem:
            return steps
    if spec.health is not None:
        steps.append(_health(spec, image, runner, probe))
    return steps


def _health(spec: BuildSpec, image: str, runner: Runner, probe: Probe) -> Step:
    assert spec.health is not None  # noqa: S101 - called only for builds with a probe
    h = spec.health
    start = time.monotonic()
    cid, port = runner.start(image, h.port)
    last: int | None = None
    try:
        url = f"http://127.0.0.1:{port}{h.path}"
        while time.monotonic() - start < h.timeout_s:
            last = probe(url)
            if last is not None and 200 <= last < 400:
                took = time.monotonic() - start
                return Step("health", True, f"GET {h.path} answered {last}", took)
            time.sleep(PROBE_INTERVAL_S)
        logs = runner.logs(cid)
    finally:
        runner.stop(cid)
    seen = f"last answer {last}" if last is not None else "no answer"
    return Step(
        "health",
        False,
        f"GET {h.path} on port {h.port} not healthy within {h.timeout_s:.0f}s ({seen})",
        time.monotonic() - start,
        _tail(logs),
    )


@dataclass(frozen=True, slots=True)
class ScanDiff:
    findings: tuple[Finding, ...]
    fixed: tuple[Key, ...]
    introduced: tuple[Finding, ...]
    compared_with: str

    @property
    def fixable(self) -> int:
        return sum(1 for f in self.findings if f.status == FindingStatus.FIXED)


def diff(new: Sequence[Finding], previous: Sequence[Key], compared_with: str) -> ScanDiff:
    new_keys = {key(f) for f in new}
    prev = set(previous)
    return ScanDiff(
        findings=tuple(new),
        fixed=tuple(sorted(k for k in prev if k not in new_keys)),
        introduced=tuple(f for f in new if key(f) not in prev),
        compared_with=compared_with,
    )


def gate_stops(d: ScanDiff, threshold: str) -> str | None:
    """Why the scan gate stops the push, or None. ``threshold``: a severity, any, or off."""
    if threshold == "off":
        return None
    if threshold == "any":
        bad = list(d.introduced)
    else:
        limit = Severity(threshold).rank
        bad = [f for f in d.introduced if f.severity.rank >= limit]
    if not bad:
        return None
    shown = ", ".join(f"{f.id} ({f.package.name}, {f.severity.value})" for f in bad[:5])
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    what = "new vulnerabilities" if threshold == "any" else f"new vulnerabilities >= {threshold}"
    return f"{what} compared with {d.compared_with}: {shown}{more}"
