"""`make bench` in quick mode: the harness renders, serves, loads and reports the default project.

One short run (1 s per wrk run, one round, the default variant only) written to a temporary
report, so the benchmark keeps working as the template changes; the figures themselves are
only checked for being there and positive, since the machine is shared with the other tests.
It also rewrites the report (``--report``) from those figures stripped of the paired hello runs,
as saved before they existed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import TEMPLATE, project_env, run

ENDPOINTS = {
    "healthz": "GET /healthz",
    "item": "GET /api/v1/items/<random id>",
    "list": "GET /api/v1/items?limit=20",
    "create": "POST /api/v1/items",
}
CONNECTIONS = 50
HAND_WRITTEN = "These notes were written by hand and must survive a rerun."


def test_quick_benchmark_reports_every_endpoint(tmp_path: Path) -> None:
    report = tmp_path / "BENCHMARKS.md"
    raw = tmp_path / "results.json"
    report.write_text(
        f"# Old report\n\n## Notes and trade-offs\n\n<!-- notes -->\n{HAND_WRITTEN}\n"
    )
    env = project_env(
        BENCH_VARIANTS="sqlite",
        BENCH_DURATION="1",
        BENCH_RUNS="1",
        BENCH_CONNECTIONS=str(CONNECTIONS),
        BENCH_OUTPUT=str(report),
        BENCH_RESULTS=str(raw),
        BENCH_BUILD_DIR=str(tmp_path / "build"),
    )

    run([sys.executable, "bench/bench.py"], TEMPLATE, env, timeout=600)

    results = json.loads(raw.read_text())
    text = report.read_text()
    summary = {(row["target"], row["endpoint"]): row for row in results["summary"]}

    paired = {r["paired_with"]: r for r in results["runs"] if "paired_with" in r}
    for endpoint, description in ENDPOINTS.items():
        row = summary[("sqlite-service", endpoint)]
        assert row["rps"] > 0, row
        assert row["non_2xx"] == 0, row
        # One round: one paired hello run, whose ratio is the median.
        hello_run = paired[f"sqlite-service/{endpoint}"]
        assert (hello_run["target"], hello_run["endpoint"]) == ("hypercorn-hello", "healthz")
        assert hello_run["rps"] > 0, hello_run
        (ratio,) = row["vs_hello_rounds"]
        assert ratio > 0, row
        assert row["vs_hello"] == ratio, row
        assert row["vs_hello_unpaired"] > 0, row
        assert row["vs_raw"] > 0, row
        assert f"`{description}`" in text
    assert len(paired) == len(ENDPOINTS)
    for reference in ("hypercorn-raw", "hypercorn-hello"):
        assert summary[(reference, "healthz")]["rps"] > 0
        assert summary[(reference, "healthz")]["runs"] == 1  # its own run, not the paired ones
        assert results["targets"][reference]["idle_rss_kib"] > 0
    assert "raw ASGI" in text
    assert "Quart hello" in text
    assert "÷ hello, per round" in text

    variant = results["variants"]["sqlite"]
    assert len(variant["cold_start_s"]) == 3
    assert 0 < variant["cold_start_median_s"] < 60
    assert variant["render_to_ready"]["total_s"] > 0
    service = results["targets"]["sqlite-service"]
    assert service["idle_rss_kib"] > 0
    # A worker's own memory is part of its RSS; the rest is shared libraries' pages.
    assert 0 < service["idle_private_kib"] < service["idle_rss_kib"]
    assert service["loaded_rss_kib"] >= service["idle_rss_kib"] * 0.9
    assert "cold start" in text
    assert "idle RSS" in text
    assert "idle private memory" in text
    memory = variant["workers_memory"]
    assert memory["workers"] == 4
    assert memory["processes"] >= 5  # the supervisor and its workers
    assert len(memory["worker_private_kib"]) == 4
    for private, rss in zip(memory["worker_private_kib"], memory["worker_rss_kib"], strict=True):
        assert 0 < private < rss
    # Forked from a supervisor that has imported the app, the workers share most of it: the
    # whole tree takes less memory than four workers that each hold their own copy would.
    assert memory["pss_kib"] < 4 * service["idle_private_kib"]
    assert "4 workers, idle: memory of all" in text

    (writes,) = results["writes"]
    assert writes["ok_2xx"] > 0
    assert writes["lost"] == 0, writes
    # Rows beyond the 2xx count were in flight when wrk closed its sockets: at most one each.
    assert writes["unacknowledged"] <= CONNECTIONS, writes
    assert writes["rows_after"] >= 1000 + writes["ok_2xx"]

    assert text.endswith(f"<!-- notes -->\n{HAND_WRITTEN}\n")
    assert "# Old report" not in text

    # Figures saved before the paired runs: the report falls back to the ratio of medians.
    results["runs"] = [r for r in results["runs"] if "paired_with" not in r]
    for row in results["summary"]:
        if "vs_hello_unpaired" in row:
            del row["vs_hello_rounds"]
            row["vs_hello"] = row.pop("vs_hello_unpaired")
    raw.write_text(json.dumps(results))
    run([sys.executable, "bench/bench.py", "--report"], TEMPLATE, env)
    old_text = report.read_text()
    assert "÷ Quart hello" in old_text
    assert "÷ hello, per round" not in old_text
    assert "paired" not in old_text
    assert old_text.endswith(f"<!-- notes -->\n{HAND_WRITTEN}\n")
