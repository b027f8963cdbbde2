"""Test commands (real processes), the soak loop and the metrics verdicts."""

from __future__ import annotations

import math
import time

from patchwarden.app.rollout.gates import OUTPUT_KEPT, check_metrics, run_command, run_tests, soak
from patchwarden.app.rollout.prometheus import MetricsError, Sample, within
from patchwarden.config.rollout import MetricsGate, TestCommand


def test_a_passing_and_a_failing_command_keep_their_output() -> None:
    tests = [
        TestCommand(name="smoke", run='echo "hello $PATCHWARDEN_ROLLOUT_ENV"'),
        TestCommand(name="integration", run="echo broken >&2; exit 7"),
        TestCommand(name="never", run="exit 0"),
    ]
    out = run_tests(tests, {"PATCHWARDEN_ROLLOUT_ENV": "staging"}, None)
    assert not out.ok
    assert out.reason == "integration exited 7: broken"
    runs = out.detail["runs"]
    assert [r["name"] for r in runs] == ["smoke", "integration"], "stops at the first failure"
    assert runs[0]["output"] == "hello staging\n" and runs[0]["exit_code"] == 0


def test_a_command_over_its_time_limit_is_killed_with_its_children() -> None:
    t0 = time.monotonic()
    run = run_command("sleep 30 & sleep 30; echo never", 0.5, {}, None)
    assert run["exit_code"] is None
    assert time.monotonic() - t0 < 10
    out = run_tests([TestCommand(run="sleep 5", timeout=0.3)], {}, None)
    assert not out.ok and "timed out after 0.3s" in out.reason


def test_long_output_keeps_only_the_tail() -> None:
    run = run_command(f"head -c {OUTPUT_KEPT * 4} /dev/zero | tr '\\0' x; echo END", 10, {}, None)
    assert run["exit_code"] == 0
    assert run["output"].endswith("END\n")
    assert "earlier bytes not kept" in run["output"]
    assert len(run["output"]) < OUTPUT_KEPT + 100


class _Source:
    def __init__(self, answers: list[object]) -> None:
        self.answers = answers
        self.queries = 0

    def query(self, base_url: str, promql: str) -> list[Sample]:
        self.queries += 1
        answer = self.answers[min(self.queries - 1, len(self.answers) - 1)]
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, list)
        return answer


GATE = MetricsGate(prometheus="http://prom", query="err_rate", max=0.1)


def test_metrics_verdicts() -> None:
    assert check_metrics(_Source([[Sample({}, 0.05)]]), GATE) == (None, [0.05])
    problem, _ = check_metrics(_Source([[Sample({}, 0.5)]]), GATE)
    assert problem == "metrics: err_rate = 0.5, must be <= 0.1"
    assert check_metrics(_Source([[]]), GATE)[0] == "metrics: the query returned no data"
    lenient = GATE.model_copy(update={"on_no_data": "pass"})
    assert check_metrics(_Source([[]]), lenient)[0] is None
    down = _Source([MetricsError("Prometheus at http://prom did not answer: ConnectError")])
    assert "did not answer" in str(check_metrics(down, GATE)[0])
    assert not within(math.nan, None, 1.0)


def test_soak_runs_for_its_duration_and_stops_at_the_first_problem() -> None:
    calls: list[float] = []

    def healthy() -> str | None:
        calls.append(time.monotonic())
        return None

    t0 = time.monotonic()
    soaked, measured = soak(0.6, 0.2, healthy, None, 0.0)
    assert soaked.ok and measured is None
    assert time.monotonic() - t0 >= 0.6
    assert 3 <= len(calls) <= 6

    state = {"n": 0}

    def breaks() -> str | None:
        state["n"] += 1
        return "web-2 restarted (1 time(s)) during the soak" if state["n"] == 2 else None

    soaked, _ = soak(5.0, 0.1, breaks, None, 0.0)
    assert not soaked.ok and soaked.reason.startswith("web-2 restarted")

    source = _Source([[Sample({}, 0.0)], [Sample({}, 0.0)], [Sample({}, 0.9)]])
    soaked, measured = soak(5.0, 0.1, healthy, lambda: check_metrics(source, GATE), 0.1)
    assert measured is not None and not measured.ok
    assert "err_rate = 0.9" in measured.reason and measured.detail["evaluations"] == 3
