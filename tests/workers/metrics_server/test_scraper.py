"""Reading a kubelet's ``/metrics/resource`` and finding its address
(workers/metrics_server/scraper.py; upstream metrics-server pkg/scraper/client/resource
decode.go and pkg/utils/address.go)."""
from __future__ import annotations

from workers.metrics_server.scraper import (ADDRESS_TYPES, kubelet_port, node_address,
                                            parse_resource_metrics)

TEXT = """\
# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="app",namespace="ns",pod="web"} 12.5 1700000000123
container_cpu_usage_seconds_total{container="x",namespace="ns",pod="quoted\\"pod"} 1 1700000000123
container_cpu_usage_seconds_total{container="orphan",namespace="ns",pod=""} 1 1700000000123
container_cpu_usage_seconds_total{container="nomem",namespace="ns",pod="web"} 1 1700000000123
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="app",namespace="ns",pod="web"} 6.7108864e+07 1700000000123
container_memory_working_set_bytes{container="x",namespace="ns",pod="quoted\\"pod"} 1024
container_memory_working_set_bytes{container="late",namespace="ns",pod="web"} 1024
container_start_time_seconds{container="app",namespace="ns",pod="web"} 1.7e+09 1700000000123
node_cpu_usage_seconds_total 321.25 1700000000456
node_memory_working_set_bytes 1.073741824e+09 1700000000456
pod_cpu_usage_seconds_total{namespace="ns",pod="web"} 13.5 1700000000123
resource_scrape_error 0
this is not a sample
container_cpu_usage_seconds_total{container="bad",namespace="ns",pod="web"} NaNx
"""


def test_node_and_container_points():
    node, containers = parse_resource_metrics(TEXT, now=5.0)
    assert (node.timestamp, node.cpu_seconds, node.memory) == (1700000000.456, 321.25,
                                                               2 ** 30)
    app = containers[("ns", "web", "app")]
    assert (app.timestamp, app.cpu_seconds, app.memory, app.start_time) == (
        1700000000.123, 12.5, 2 ** 26, 1.7e9)
    # label values are unescaped; a sample without a timestamp takes the scrape time
    quoted = containers[("ns", 'quoted"pod', "x")]
    assert (quoted.timestamp, quoted.cpu_seconds, quoted.memory) == (1700000000.123, 1.0,
                                                                     1024.0)
    # a container needs both CPU and memory, and all three labels
    assert set(containers) == {("ns", "web", "app"), ("ns", 'quoted"pod', "x")}


def test_without_node_samples_there_is_no_node_point():
    node, containers = parse_resource_metrics(
        'container_cpu_usage_seconds_total{container="a",namespace="n",pod="p"} 2\n'
        'container_memory_working_set_bytes{container="a",namespace="n",pod="p"} 3\n', now=9.0)
    assert node is None
    (point,) = containers.values()
    assert (point.timestamp, point.cpu_seconds, point.memory, point.start_time) == (
        9.0, 2.0, 3.0, 0.0)
    assert parse_resource_metrics("", now=1.0) == (None, {})


def node(addresses, port=10250):
    return {"metadata": {"name": "n"},
            "status": {"addresses": [{"type": t, "address": a} for t, a in addresses],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}}


def test_the_first_preferred_address_type_wins():
    n = node([("InternalIP", "10.0.0.1"), ("Hostname", "n1"), ("ExternalIP", "1.2.3.4")])
    assert ADDRESS_TYPES[0] == "Hostname"
    assert node_address(n) == "n1"
    assert node_address(n, ("InternalIP", "Hostname")) == "10.0.0.1"
    assert node_address(n, ("ExternalDNS", "ExternalIP")) == "1.2.3.4"
    assert node_address(n, ("ExternalDNS",)) is None
    # an empty address of a preferred type is skipped
    assert node_address(node([("Hostname", ""), ("InternalIP", "10.0.0.2")])) == "10.0.0.2"
    assert node_address({}) is None


def test_kubelet_port_from_the_daemon_endpoints():
    assert kubelet_port(node([], 41234)) == 41234
    assert kubelet_port({"status": {}}) == 0
