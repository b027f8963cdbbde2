"""The overview's rows rendered in Python give exactly what the Jinja loop they replace
gave (autoescaped), hostile values included; the overview pages through the fleet."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from patchwarden.service.fleetrows import fleet_rows, quote_part
from patchwarden.store.fleet import FleetItem, FleetLine
from testkit.serve_helpers import ADMIN, Served

OLD_LOOP = """{% for i in items %}<tr class="{{ i.status }}"><td><a href="/images/{{ i.key|q }}">\
{{ i.image }}</a></td><td>{{ i.source }}</td>
<td>{{ i.status }}</td><td>{{ i.current_tag or "" }}@{{ i.current_digest|short }}</td>
<td>{% if i.candidate_tag or i.candidate_digest %}{{ i.candidate_tag or "" }}@\
{{ i.candidate_digest|short }}{% endif %}</td><td>{{ i.update_kind or "" }}</td></tr>\
{% if not loop.last %}\n{% endif %}{% endfor %}"""


def _old(lines: list[FleetLine]) -> str:
    env = Environment(autoescape=select_autoescape(default_for_string=True))
    env.filters["short"] = lambda d: (d or "").split(":")[-1][:12]
    env.filters["q"] = lambda s: quote(s, safe="")
    return env.from_string(OLD_LOOP).render(items=lines)


def test_rows_equal_the_jinja_loop_they_replace() -> None:
    lines = [
        FleetLine("file:a/Dockerfile:1", "reg/app", "a/Dockerfile:1", "outdated", "1.0",
                  "sha256:" + "a" * 64, "1.1", "sha256:" + "b" * 64, "minor"),
        FleetLine("container:<script>", 'x"><img src=x>', "container:<b>", "up-to-date",
                  None, None, None, None, None),
        FleetLine("file:ünïcode/ä b%20&c:3", "reg/ä&", "é", "error", "'t'", "sha256:&<>",
                  None, "sha256:<c>", ""),
    ]  # fmt: skip
    assert str(fleet_rows(lines)) == _old(lines)
    assert isinstance(fleet_rows(lines), Markup)
    for text in ("file:a/b c:1", "container:x%y", "ünï/cöde", "~-._"):
        assert quote_part(text) == quote(text, safe="")


def test_the_overview_pages_through_the_fleet(served: Served) -> None:
    deadline = time.monotonic() + 60  # the start-up check replaces file rows: let it finish
    while not any(r.finished_at for r in served.svc.jobs.runs("check")):
        assert time.monotonic() < deadline, "the start-up check did not finish"
        time.sleep(0.05)
    now = datetime.now(UTC)
    served.svc.fleet.save_results(
        FleetItem(f"file:f{i:03}:1", f"f{i:03}:1", f"reg/app{i:03}", f"reg/app{i:03}",
                  "outdated" if i % 2 else "up-to-date", "patch" if i % 2 else None, "1", None,
                  None, None, "", now)
        for i in range(250)
    )  # fmt: skip
    served.client.post("/login", data={"token": ADMIN})
    first = served.client.get("/").text
    assert first.count('<tr class="') == 100 and "page 1 of 3" in first
    assert 'href="?page=2" rel="next"' in first and "reg/app000" in first
    last = served.client.get("/?page=3").text
    assert last.count('<tr class="') == 50 and "reg/app249" in last and 'rel="prev"' in last
    outdated = served.client.get("/?status=outdated&per_page=100&page=2").text
    assert outdated.count('<tr class="outdated">') == 25 and "page 2 of 2" in outdated
    assert 'href="?per_page=100&amp;status=outdated&amp;page=1"' not in outdated  # default size
    assert 'href="?status=outdated&amp;page=1" rel="prev"' in outdated
    assert served.client.get("/?page=99&per_page=abc").status_code == 200  # clamped, not 500
    assert "<b>250</b>references" in first  # counts cover the whole fleet


def test_database_counts_equal_counting_every_row(tmp_path: Path) -> None:
    from patchwarden.store import open_store
    from patchwarden.store.fleet import FleetStore, summarize

    now = datetime.now(UTC)
    kinds = ["major", "minor", None, "digest", ""]
    vulns: list[dict[str, Any]] = [{}, {"by_severity": {"critical": 2, "high": 1}},
                                   {"by_severity": {"low": 3}}, {"other": 1}]  # fmt: skip
    with open_store(str(tmp_path / "s.db")) as store:
        fleet = FleetStore(store.engine)
        fleet.save_results(
            FleetItem(f"file:f{i}:1", "s", f"img{i % 7}", "r", ["outdated", "error"][i % 2],
                      kinds[i % 5], "1", None, None, None, "", now, vulns[i % 4])
            for i in range(60)
        )  # fmt: skip
        assert fleet.summary() == summarize(fleet.fleet())
        assert fleet.summary()["vulnerabilities_by_severity"] == {
            "critical": 30,
            "high": 15,
            "low": 45,
        }
