"""The Grafana dashboard and the scrape configurations name only what the services expose."""

from __future__ import annotations

import json
import re
from pathlib import Path

from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import REGISTRY, CollectorRegistry

import shared.metrics  # noqa: F401 - registers Envol's metrics

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = {"sum", "by", "rate", "histogram_quantile", "le"}


def exposed() -> set[str]:
    """Every sample name a service's /metrics can show: Envol's, FastStream's middleware's, the process'."""
    registry = CollectorRegistry()
    middleware = KafkaPrometheusMiddleware(registry=registry)
    assert middleware  # its metrics are registered when it is made
    names = set()
    for source in (REGISTRY, registry):
        for family in source.collect():
            names.add(family.name)
            suffixes = (
                ("_total", "_bucket", "_count", "_sum") if family.type in ("counter", "histogram") else ()
            )
            names |= {family.name + suffix for suffix in suffixes}
    return names


def test_every_dashboard_query_names_a_metric_the_services_expose() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "envol.json").read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert queries
    names = exposed()
    for query in queries:
        used = {word for word in re.findall(r"\b[a-z_]+_[a-z_]+\b", query)} - FUNCTIONS
        unknown = {word for word in used if word.startswith(("envol_", "faststream_", "process_"))} - names
        assert not unknown, f"{query}: no such metric {sorted(unknown)}"
    assert any("envol_volunteers" in query for query in queries)


def test_the_local_scrape_targets_are_the_ports_the_services_script_gives() -> None:
    script = (ROOT / "deploy" / "local" / "services.sh").read_text()
    base = int(re.search(r"ENVOL_HTTP_PORT_BASE:-(\d+)", script).group(1))  # type: ignore[union-attr]
    order = re.search(r"ALL=\(([^)]*)\)", script).group(1).split()  # type: ignore[union-attr]
    config = (ROOT / "deploy" / "prometheus" / "local.yml").read_text()
    for index, service in enumerate(order, start=1):
        assert f'"127.0.0.1:{base + index}"], labels: {{ service: {service} }}' in config, service
