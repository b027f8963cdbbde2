"""Prometheus metrics, all named ``patchwarden_*``.

Gauges about the fleet and jobs are read from the state store at scrape time (so two
processes sharing a database report the same numbers); request counters and job durations are
this process's own. What the worker fleet did is read from the state store too: tasks by job
and state (``tasks``) and job runs by job and outcome (``job_runs``), whichever process ran
them, so ``serve``'s ``/metrics`` is right for any number of workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from patchwarden.store.fleet import FleetStore
    from patchwarden.store.jobs import JobStore
    from patchwarden.store.tasks import TaskStore

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _StoreCollector(Collector):
    def __init__(self, fleet: FleetStore, jobs: JobStore, tasks: TaskStore | None) -> None:
        self.fleet = fleet
        self.jobs = jobs
        self.tasks = tasks

    def collect(self) -> Iterator[Metric]:
        s = self.fleet.summary()
        yield GaugeMetricFamily(
            "patchwarden_images_tracked", "Distinct images referenced", value=s["images"]
        )
        yield GaugeMetricFamily(
            "patchwarden_references_tracked",
            "Image references (file locations and containers)",
            value=s["references"],
        )
        g = GaugeMetricFamily(
            "patchwarden_outdated_references", "Outdated references by update kind", labels=["kind"]
        )
        for kind in ("digest", "patch", "minor", "major"):
            g.add_metric([kind], s["outdated_by_kind"].get(kind, 0))
        yield g
        g = GaugeMetricFamily(
            "patchwarden_vulnerabilities",
            "Known vulnerabilities in current images by severity (checks with vulns)",
            labels=["severity"],
        )
        for sev in ("critical", "high", "medium", "low", "unknown"):
            g.add_metric([sev], s["vulnerabilities_by_severity"].get(sev, 0))
        yield g
        c = CounterMetricFamily(
            "patchwarden_container_updates",
            "Live container updates and rollbacks by action and outcome",
            labels=["action", "outcome"],
        )
        for (action, outcome), n in sorted(self.fleet.update_outcomes().items()):
            c.add_metric([action, outcome], n)
        yield c
        g = GaugeMetricFamily(
            "patchwarden_pending_updates", "Updates by approval state", labels=["state"]
        )
        for state, n in sorted(self.fleet.pending_counts().items()):
            g.add_metric([state], n)
        yield g
        g = GaugeMetricFamily(
            "patchwarden_job_last_success_timestamp_seconds",
            "When each job last succeeded (Unix time)",
            labels=["job"],
        )
        for st in self.jobs.states():
            if st.last_success_at is not None:
                g.add_metric([st.name], st.last_success_at.timestamp())
        yield g
        yield from self._fleet_jobs()

    def _fleet_jobs(self) -> Iterator[Metric]:
        totals = self.jobs.run_totals()
        c = CounterMetricFamily(
            "patchwarden_fleet_job_runs",
            "Job runs recorded in the state store by job and outcome (every process)",
            labels=["job", "outcome"],
        )
        t = CounterMetricFamily(
            "patchwarden_fleet_job_run_seconds",
            "Time spent in finished job runs by job (every process)",
            labels=["job"],
        )
        seconds: dict[str, float] = {}
        for (job, outcome), (n, sec) in sorted(totals.items()):
            c.add_metric([job, outcome], n)
            seconds[job] = seconds.get(job, 0.0) + sec
        for job, sec in sorted(seconds.items()):
            t.add_metric([job], sec)
        yield c
        yield t
        if self.tasks is None:
            return
        g = GaugeMetricFamily(
            "patchwarden_tasks",
            "Tasks of the worker fleet by job and state (dead: the dead-letter list)",
            labels=["job", "state"],
        )
        from patchwarden.store.tasks import TaskState

        counts = self.tasks.counts_by_job()
        for job in sorted({j for j, _ in counts}):
            for state in TaskState:
                g.add_metric([job, state.value], counts.get((job, state.value), 0))
        yield g


class Metrics:
    def __init__(self, fleet: FleetStore, jobs: JobStore, tasks: TaskStore | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_StoreCollector(fleet, jobs, tasks))
        self.requests = Counter(
            "patchwarden_registry_requests",
            "Registry HTTP requests by kind",
            ["kind"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "patchwarden_registry_rate_limited",
            "Registry answers 429 Too Many Requests (retried)",
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "patchwarden_job_duration_seconds",
            "Job run time",
            ["job"],
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
            registry=self.registry,
        )
        self.job_runs = Counter(
            "patchwarden_job_runs",
            "Job runs by outcome",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.hook_events = Counter(
            "patchwarden_hook_events",
            "Webhook deliveries by source and result",
            ["source", "result"],
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "patchwarden_api_auth_failures", "Rejected API credentials", registry=self.registry
        )

    def registry_requests(self, counts: dict[str, int]) -> None:
        for kind, n in counts.items():
            if n <= 0:
                continue
            if kind == "rate_limited":
                self.rate_limited.inc(n)
            elif kind != "retries":
                self.requests.labels(kind).inc(n)

    def job_finished(self, job: str, outcome: str, seconds: float) -> None:
        self.job_seconds.labels(job).observe(seconds)
        self.job_runs.labels(job, outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
