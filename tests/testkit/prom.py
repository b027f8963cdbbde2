"""A real Prometheus server (Debian's ``prometheus``) on a free loopback port, scraping a small
test exporter every second; the exporter's error ratio is what the test makes it."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from patchwarden.devtools.registry_server import free_port


class Exporter:
    """``/metrics`` with one gauge, ``app_error_ratio``, computed at each scrape."""

    def __init__(self, ratio: Callable[[], float]) -> None:
        self.ratio = ratio
        self.scrapes = 0
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/metrics":
                    self.send_error(404)
                    return
                exporter.scrapes += 1
                body = (
                    "# HELP app_error_ratio Share of failed requests.\n"
                    "# TYPE app_error_ratio gauge\n"
                    f'app_error_ratio{{env="prod"}} {exporter.ratio()}\n'
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Exporter:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def prometheus(binary: str, workdir: Path, target: str) -> Iterator[str]:
    """Prometheus scraping ``target`` every second; yields its base URL once it has data."""
    port = free_port()
    cfg = workdir / "prometheus.yml"
    cfg.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: app\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    log = (workdir / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={cfg}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "prometheus did not start: " + (workdir / "prometheus.log").read_text()[-2000:]
                )
            try:
                res = httpx.get(f"{url}/api/v1/query", params={"query": "app_error_ratio"})
                if res.status_code == 200 and res.json()["data"]["result"]:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
