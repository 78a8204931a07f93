"""Several hosts on one machine: Linux network namespaces plugged into one virtual switch.

A :class:`Network` is a bridge in a namespace of its own (so the machine's own interfaces are never
touched) and :class:`Host` namespaces joined to it by veth pairs, each with an address on one
subnet, its own loopback and, optionally, its own ``/etc/hosts`` (``ip netns exec`` mounts
``/etc/netns/NAME/hosts`` over it). Processes start in a host with :meth:`Host.popen` or
:meth:`Host.run`; :meth:`Host.cut` and :meth:`Host.restore` take a host's link down and up, for
fault tests; :meth:`Host.within` runs a function of the test's own process inside a host (its
sockets then live on that host's network). Everything is removed by :meth:`Network.close` (also on failure: use it as a
context manager), which ends the processes still running in its namespaces first.

Needs root and iproute2; :func:`unavailable_reason` says why namespaces cannot be made here, for
a test to skip with."""

from __future__ import annotations

import atexit
import ctypes
import ipaddress
import itertools
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, TypeVar

_serial = itertools.count()
_CLONE_NEWNET = 0x40000000
_T = TypeVar("_T")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


def unavailable_reason() -> Optional[str]:
    """None when network namespaces can be made here, otherwise the reason they cannot."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root"
    name = f"lossd-probe-{os.getpid()}-{next(_serial)}"
    made = _ip("netns", "add", name, check=False)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip() or made.returncode}"
    _ip("netns", "del", name, check=False)
    return None


class Host:
    """One namespace on the network: ``address`` is its IPv4 address, ``namespace`` its name."""

    def __init__(self, network: "Network", name: str, namespace: str, address: str, interface: str) -> None:
        self.network = network
        self.name = name
        self.namespace = namespace
        self.address = address
        self.interface = interface

    def command(self, argv: Sequence[str]) -> List[str]:
        """``argv`` as run inside this host."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def run(self, argv: Sequence[str], timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
        """Runs ``argv`` in this host to completion (output captured as text unless told otherwise)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(self.command(argv), timeout=timeout, **kwargs)

    def popen(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        """Starts ``argv`` in this host in a session of its own (so that :meth:`Network.close`, or
        ``os.killpg``, reaches every process it starts)."""
        kwargs.setdefault("start_new_session", True)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.Popen(self.command(argv), **kwargs)

    def within(self, function: Callable[..., _T], *args, timeout: float = 60) -> _T:
        """``function(*args)`` run on a thread of this process that has joined this host's network
        namespace: the sockets it opens are this host's (an HTTP request to its loopback, a TCP
        probe of a port it binds). Only that thread changes namespace, and it ends with the call.
        Raises what ``function`` raised; ``TimeoutError`` after ``timeout`` seconds."""
        outcome: Dict[str, object] = {}

        def body() -> None:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                with open(f"/run/netns/{self.namespace}", "rb") as handle:
                    if libc.setns(handle.fileno(), _CLONE_NEWNET) != 0:
                        error = ctypes.get_errno()
                        raise OSError(error, f"setns into {self.namespace}: {os.strerror(error)}")
                outcome["value"] = function(*args)
            except BaseException as error:  # re-raised on the caller's thread
                outcome["error"] = error

        thread = threading.Thread(target=body, name=f"in-{self.name}", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"{getattr(function, '__name__', function)} did not return within {timeout} s "
                               f"in host {self.name}")
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return outcome["value"]  # type: ignore[return-value]

    def cut(self) -> None:
        """Takes this host's link down: its peers see nothing from it until :meth:`restore`."""
        _ip("netns", "exec", self.network.switch, "ip", "link", "set", self.interface, "down")

    def restore(self) -> None:
        """Brings this host's link back up."""
        _ip("netns", "exec", self.network.switch, "ip", "link", "set", self.interface, "up")

    def __repr__(self) -> str:
        return f"Host({self.name!r}, {self.address})"


class Network:
    """A virtual LAN on ``subnet`` (a /24 or larger); hosts get the addresses they ask for, or the
    next free one from the top of the subnet."""

    def __init__(self, subnet: str = "10.0.0.0/24") -> None:
        self.subnet = ipaddress.ip_network(subnet)
        self.prefix = f"lossd-{os.getpid()}-{next(_serial)}"
        self.switch = f"{self.prefix}-switch"
        self.hosts: Dict[str, Host] = {}
        self._namespaces: List[str] = []
        self._free = (str(address) for address in reversed(list(self.subnet.hosts())))
        atexit.register(self.close)
        self._add_namespace(self.switch)
        self._exec(self.switch, "ip", "link", "add", "br0", "type", "bridge")
        self._exec(self.switch, "ip", "link", "set", "br0", "up")

    def __enter__(self) -> "Network":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _add_namespace(self, name: str) -> None:
        _ip("netns", "add", name)
        self._namespaces.append(name)

    def _exec(self, namespace: str, *argv: str) -> None:
        _ip("netns", "exec", namespace, *argv)

    def address_in_use(self, address: str) -> bool:
        return any(host.address == address for host in self.hosts.values())

    def add_host(self, name: str, address: Optional[str] = None, names: Optional[Dict[str, str]] = None) -> Host:
        """A new host called ``name`` at ``address`` (the next free one if None). ``names`` maps
        host names to addresses in its ``/etc/hosts`` (for commands that name hosts)."""
        if name in self.hosts:
            raise ValueError(f"there is already a host called {name}")
        if address is None:
            address = next(a for a in self._free if not self.address_in_use(a))
        if ipaddress.ip_address(address) not in self.subnet or self.address_in_use(address):
            raise ValueError(f"{address} is not a free address of {self.subnet}")
        index = len(self.hosts)
        namespace = f"{self.prefix}-{name}"
        interface = f"h{index}"
        self._add_namespace(namespace)
        _ip("link", "add", "eth0", "netns", namespace, "type", "veth", "peer", "name", interface, "netns", self.switch)
        self._exec(self.switch, "ip", "link", "set", interface, "master", "br0")
        self._exec(self.switch, "ip", "link", "set", interface, "up")
        self._exec(namespace, "ip", "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", "eth0")
        self._exec(namespace, "ip", "link", "set", "eth0", "up")
        self._exec(namespace, "ip", "link", "set", "lo", "up")
        if names:
            directory = Path("/etc/netns") / namespace
            directory.mkdir(parents=True, exist_ok=True)
            lines = ["127.0.0.1 localhost"] + [f"{ip} {host}" for host, ip in names.items()]
            (directory / "hosts").write_text("\n".join(lines) + "\n")
        host = Host(self, name, namespace, address, interface)
        self.hosts[name] = host
        return host

    def close(self) -> None:
        """Ends every process still running in the network's namespaces, then removes them."""
        for namespace in reversed(self._namespaces):
            pids = _ip("netns", "pids", namespace, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            deadline = time.monotonic() + 5
            while pids and time.monotonic() < deadline and _ip("netns", "pids", namespace, check=False).stdout.split():
                time.sleep(0.05)
            _ip("netns", "del", namespace, check=False)
            shutil.rmtree(Path("/etc/netns") / namespace, ignore_errors=True)
        self._namespaces.clear()
        self.hosts.clear()
