"""netns.py, the hosts the recipe and fault tests run on: hosts reach each other by address and
by the names given, a cut link stops traffic and a restored one carries it again, and closing
the network ends its processes and removes its namespaces."""

from __future__ import annotations

import subprocess

import pytest

import netns

REASON = netns.unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"no network namespaces here: {REASON}")

CONNECT = "import socket, sys; socket.create_connection((sys.argv[1], 7000), timeout=1).close()"
SERVE = ("import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
         "s.bind(('0.0.0.0', 7000)); s.listen(8)\nwhile True: s.accept()[0].close()")


def namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def test_hosts_connect_a_cut_link_stops_traffic_and_close_removes_everything():
    with netns.Network("10.0.0.0/24") as network:
        server = network.add_host("server", "10.0.0.10")
        client = network.add_host("client", names={"aggregator": "10.0.0.10"})
        assert client.address == "10.0.0.254"
        listening = server.popen(["python3", "-c", SERVE])
        assert client.run(["python3", "-c", "import time; time.sleep(0.5)"]).returncode == 0
        assert client.run(["python3", "-c", CONNECT, "10.0.0.10"]).returncode == 0
        assert client.run(["python3", "-c", CONNECT, "aggregator"]).returncode == 0, "the names given resolve"
        # Loopback is the host's own: nothing listens on the client's.
        assert client.run(["python3", "-c", CONNECT, "127.0.0.1"]).returncode != 0
        client.cut()
        assert client.run(["python3", "-c", CONNECT, "10.0.0.10"]).returncode != 0
        client.restore()
        assert client.run(["python3", "-c", CONNECT, "10.0.0.10"], timeout=30).returncode == 0
        prefix = network.prefix
        assert prefix in namespaces()
    assert listening.wait(timeout=10) is not None, "close ends the processes in the namespaces"
    assert prefix not in namespaces()
