"""The runner of the documents' deployment recipes (test_doc_recipes.py says what it checks).

A ``Recipe`` is the hosts of one recipe, each a network namespace (netns.py) holding the address
the commands name, with its own loopback and ``/var``; ``run_recipe`` starts the recipe's lossd
daemons as written (``Daemon``), runs its file steps first as one shell session, supplies what
the document leaves to the reader (a trainer for a sidecar no code dials, a sidecar for an
aggregator without one, an aggregator where sidecars point), sends BATCHES batches per trainer,
and checks that the aggregator counts exactly those and no process saw a failed handshake.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import shlex
import signal
import subprocess
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import netns
from doc_recipes import ASSIGNMENT, Command
from lossd_testkit import repo_root

BATCHES = 3
ROUTABLE_LIMIT = 30.0  # seconds for any one wait
IPV4 = re.compile(r"\b(\d{1,3}(?:\.\d{1,3}){3})\b")
BIND_OPTIONS = ("--input", "--http", "--publish", "--records-input")
TRAINER_LAUNCHERS = ("python", "python3", "torchrun")
# The programs of a recipe's file steps (a folder, a certificate, a password hash, a file written
# from a here-document), run as one shell session before its lossd commands.
FILE_STEPS = ("install", "cd", "openssl", "chmod", "htpasswd", "cut", "cat")


def routable(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not (ip.is_loopback or ip.is_unspecified)


def bound_addresses(command: Command) -> List[str]:
    """The routable addresses a daemon binds: in its --input, --http, --publish and --records-input
    values, every endpoint but those that connect (``>``)."""
    addresses = []
    for option in BIND_OPTIONS:
        value = command.option(option)
        if value is None:
            continue
        for item in value.split(","):
            if item.strip().startswith(">"):
                continue
            addresses += [a for a in IPV4.findall(item) if routable(a)]
    return addresses


def input_endpoint(command: Command) -> str:
    """The address a trainer dials for a sidecar: its first bound input (default 127.0.0.1:5555)."""
    value = command.option("--input") or "@tcp://127.0.0.1:5555"
    item = next(i.strip() for i in value.split(",") if not i.strip().startswith(">"))
    return ">" + item.lstrip("@")


def http_address(command: Command) -> str:
    value = command.option("--http") or "127.0.0.1:9180"
    host, port = value.rsplit(":", 1)
    return f"{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"


@dataclass
class Daemon:
    command: Command
    host: netns.Host
    process: subprocess.Popen
    stderr_path: Path
    exports: List[Command] = field(default_factory=list)

    def check_exports(self) -> None:
        """The variables the recipe exported before the command are in the daemon's environment
        (by name: glibc rewrites GLIBC_TUNABLES in place once it has read it)."""
        names = {entry.split(b"=", 1)[0] for entry in Path(f"/proc/{self.process.pid}/environ").read_bytes().split(b"\0")}
        for export in self.exports:
            for assignment in export.program[1:]:
                assert assignment.split("=", 1)[0].encode() in names, (
                    f"`{export.text}` is not in effect for `{self.command.text}` on {self.host}")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_for_log(self, marker: str) -> None:
        deadline = time.monotonic() + ROUTABLE_LIMIT
        while time.monotonic() < deadline:
            if marker in self.stderr():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"`{self.command.text}` on {self.host} did not log {marker!r} "
                             f"(exit {self.process.poll()}):\n{self.stderr()[-3000:]}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=ROUTABLE_LIMIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"`{self.command.text}` did not stop on SIGTERM:\n{self.stderr()[-3000:]}")

    def last_line(self) -> Dict[str, int]:
        lines = [line for line in self.stderr().splitlines() if line.strip()]
        return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)\b", lines[-1])} if lines else {}


@dataclass
class WebAccess:
    """How the runner reads a guarded HTTP port: the certificate it trusts, the user and password."""
    ca_file: Path
    user: str
    password: str


@dataclass
class Recipe:
    """A recipe being run: its network, its working directory, the processes it started.

    ``paths`` maps absolute folders the commands name (such as ``/etc/lossd``) to folders of the
    working directory that stand in for them: the runner never writes to the machine's own /etc."""
    network: netns.Network
    work: Path
    lossd_bin: str
    daemons: List[Daemon] = field(default_factory=list)
    sent: Dict[str, int] = field(default_factory=dict)  # run label -> batches sent
    notes: List[str] = field(default_factory=list)
    paths: Dict[str, Path] = field(default_factory=dict)
    web: Optional[WebAccess] = None

    def __post_init__(self) -> None:
        self.bin = self.work / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        (self.bin / "lossd").symlink_to(self.lossd_bin)
        # The tests run as root (network namespaces need it): `sudo` is a pass-through.
        (self.bin / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
        (self.bin / "sudo").chmod(0o755)
        self.environment = dict(os.environ, PATH=f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                                PYTHONPATH=f"{repo_root() / 'clients' / 'python'}:{Path(__file__).parent}")

    def host_for(self, address: Optional[str], name: str) -> netns.Host:
        for host in self.network.hosts.values():
            if address is not None and host.address == address:
                return host
        return self.network.add_host(name, address)

    def mapped(self, text: str) -> str:
        """``text`` with every folder of ``paths`` replaced by the folder standing in for it."""
        for folder, stand_in in self.paths.items():
            text = re.sub(re.escape(folder) + r"(?=/|\b|$)", str(stand_in), text)
        return text

    def run_steps(self, commands: List[Command]) -> str:
        """The recipe's file steps, in order, as one shell session in the working directory (a
        ``cd`` holds for the steps after it), with ``paths`` mapped; a failing step fails the
        recipe. Returns what the steps printed."""
        for command in commands:
            unknown = [p for p in command.programs if p not in FILE_STEPS]
            assert not unknown, (f"the recipe runner does not know how to run {unknown} of `{command.text}`: teach "
                                 "test_doc_recipes.py (FILE_STEPS) what it does")
        script = "set -e\n" + "\n".join(self.mapped(command.text) for command in commands) + "\n"
        done = subprocess.run(["sh", "-c", script], cwd=self.work, env=self.environment,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"the recipe's file steps failed ({done.returncode}):\n{script}\n{done.stderr}"
        self.notes += [f"ran: {command.text.splitlines()[0]}" for command in commands]
        return done.stdout

    def var_directory(self, host: netns.Host, command: Command) -> Path:
        """The host's own /var, with the folders the command's paths under /var need."""
        var = self.work / "hosts" / host.name / "var"
        var.mkdir(parents=True, exist_ok=True)
        for word in command.program:
            for path in re.findall(r"(/var/[^\s,'\"]+)", word):
                (var / Path(path).relative_to("/var")).parent.mkdir(parents=True, exist_ok=True)
        return var

    def script(self, host: netns.Host, command: Command, exports: List[Command]) -> str:
        """The shell line that runs ``command`` as written in ``host``, with the host's /var, after
        the recipe's ``export`` lines that precede it."""
        text = re.sub(r"^((?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*)lossd\b", r"\1exec lossd", self.mapped(command.text))
        var = self.var_directory(host, command)
        steps = [f"mount --bind {shlex.quote(str(var))} /var", f"cd {shlex.quote(str(self.work))}"]
        steps += [export.text for export in exports] + [text]
        return " && ".join(steps)

    def run_once(self, command: Command) -> subprocess.CompletedProcess:
        """A command that ends by itself (lossd keygen), run as written in the working directory."""
        done = subprocess.run(["sh", "-c", self.mapped(command.text)], cwd=self.work, env=self.environment,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"`{command.text}` failed ({done.returncode}):\n{done.stderr}"
        return done

    def start(self, host: netns.Host, command: Command, exports: Optional[List[Command]] = None) -> Daemon:
        index = len(self.daemons)
        exports = exports or []
        stderr_path = self.work / f"{index}-{host.name}-{command.subcommand}.stderr"
        with open(stderr_path, "wb") as stderr, open(self.work / f"{index}.stdout", "wb") as stdout:
            process = host.popen(["sh", "-c", self.script(host, command, exports)], env=self.environment,
                                 stdout=stdout, stderr=stderr)
        daemon = Daemon(command, host, process, stderr_path, exports)
        self.daemons.append(daemon)
        if command.subcommand in ("aggregate", "serve"):
            daemon.wait_for_log("HTTP listening")
        if command.subcommand in ("sidecar", "serve"):
            daemon.wait_for_log("sidecar listening")
        return daemon

    def trainer(self, host: netns.Host, run: str, client_code: str, variable: str = "client") -> None:
        """Runs ``client_code`` (which makes a LossClient called ``variable``) in ``host``, then sends
        BATCHES batches through it under the run label ``run``."""
        program = textwrap.dedent(client_code) + textwrap.dedent(f"""

            from lossd_testkit import synthetic_batch
            {variable}._encoder.run = {run!r}  # the test's label, to count each trainer apart
            {variable}._handshake_mode = "raise"  # a handshake that keeps failing fails the trainer
            y_true, y_pred = synthetic_batch(boxes=64, classes=5, batch=2)
            for step in range({BATCHES}):
                {variable}.send(y_true, y_pred, step=step)
            {variable}.close()
            """)
        path = self.work / f"trainer-{run}.py"
        path.write_text(program)
        done = host.run(["python3", str(path)], cwd=self.work, env=self.environment, timeout=120)
        assert done.returncode == 0, f"the trainer {run} on {host} failed:\n{done.stderr[-3000:]}"
        self.sent[run] = self.sent.get(run, 0) + BATCHES

    def own_trainer(self, host: netns.Host, sidecar: Command, run: str) -> None:
        """A trainer of the test's for ``sidecar``: plain, or with the keys its input asks for."""
        arguments = ""
        key_file = sidecar.option("--input-key-file") or sidecar.option("--key-file")
        if key_file:
            allowed = sidecar.option("--input-allowed-clients") or sidecar.option("--allowed-clients")
            pair = "public, secret = None, None\n"
            if allowed:
                client_key = next(Path(item).with_suffix(".key") for item in allowed.split(",")
                                  if (self.work / Path(item).with_suffix(".key")).exists())
                pair = f"public, secret = read_key_pair({str(client_key)!r})\n"
            arguments = (", curve_server_key=read_public_key({!r}), curve_public_key=public, "
                         "curve_secret_key=secret").format(key_file)
            code = "from lossd_client import read_key_pair, read_public_key\n" + pair
        else:
            code = ""
        code += f"from lossd_client import LossClient\nclient = LossClient({input_endpoint(sidecar)!r}{arguments})\n"
        self.trainer(host, run, code)

    def stats(self, aggregator: Daemon) -> Dict:
        """GET /stats on the aggregation host: over TLS with the password when ``web`` says how."""
        if self.web is None:
            url = f"http://{http_address(aggregator.command)}/stats"
            code = f"import urllib.request;print(urllib.request.urlopen({url!r}, timeout=5).read().decode())"
        else:
            url = f"https://{http_address(aggregator.command)}/stats"
            token = base64.b64encode(f"{self.web.user}:{self.web.password}".encode()).decode()
            code = (f"import ssl, urllib.request\n"
                    f"context = ssl.create_default_context(cafile={str(self.web.ca_file)!r})\n"
                    f"request = urllib.request.Request({url!r}, headers={{'Authorization': 'Basic {token}'}})\n"
                    f"print(urllib.request.urlopen(request, timeout=5, context=context).read().decode())")
        done = aggregator.host.run(["python3", "-c", code], timeout=30)
        assert done.returncode == 0, f"GET {url} on {aggregator.host}: {done.stderr}"
        return json.loads(done.stdout)

    def batches_by_run(self, aggregator: Daemon) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for split in self.stats(aggregator)["splits"]:
            counts[split["run"]] = counts.get(split["run"], 0) + split["batches"]
        return counts


def run_recipe(recipe: Recipe, commands: List[Command], snippets: List[str], sidecar_copies: int = 1,
               after_steps: Optional[Callable[[str], None]] = None,
               while_running: Optional[Callable[[Daemon], None]] = None) -> Daemon:
    """Runs the commands as written, feeds every sidecar, and checks that the one aggregator got
    every batch. The file steps run first (``after_steps`` gets what they printed); ``while_running``
    gets the aggregator once the batches are in and the curl checks passed. Returns the aggregator."""
    one_shot = [c for c in commands if c.is_lossd and c.subcommand not in ("aggregate", "sidecar", "serve")]
    aggregators = [c for c in commands if c.subcommand == "aggregate"]
    sidecars = [c for c in commands if c.subcommand == "sidecar"]
    checks = [c for c in commands if c.program and c.program[0] == "curl"]
    steps = [c for c in commands if c.programs and c.programs[0] in FILE_STEPS]
    # An `export` line holds for the commands after it, as in one shell session.
    exports: Dict[int, List[Command]] = {}
    exported: List[Command] = []
    for command in commands:
        exports[id(command)] = list(exported)
        if command.program and command.program[0] == "export":
            assert all(ASSIGNMENT.match(word) for word in command.program[1:]), f"`{command.text}`"
            exported.append(command)
        elif not command.is_lossd and command not in checks and command not in steps:
            assert command.program and command.program[0] in TRAINER_LAUNCHERS, (
                f"the recipe runner does not know how to run `{command.text}`: teach test_doc_recipes.py, or "
                "keep the recipe's commands to lossd, export, curl, the file steps of FILE_STEPS and trainer "
                "launchers (which the runner's trainers stand in for)")
            recipe.notes.append(f"stood in for: {command.text}")
    assert len(aggregators) <= 1, f"a recipe has one aggregator, not {len(aggregators)}"
    assert aggregators or sidecars, "a recipe runs an aggregator or sidecars"
    if steps:
        printed = recipe.run_steps(steps)
        if after_steps is not None:
            after_steps(printed)
    for command in one_shot:
        recipe.run_once(command)

    if aggregators:
        aggregator_command = aggregators[0]
    else:
        # Sidecars alone: a plain aggregator takes their records where their output points.
        output = sidecars[0].option("--output") or ">tcp://127.0.0.1:5556"
        address, port = re.match(r">?tcp://([\d.]+):(\d+)$", output).groups()
        aggregator_command = Command(f"lossd aggregate --input @tcp://{address}:{port}")
        recipe.notes.append(f"supplied: {aggregator_command.text}")
    aggregator_address = (bound_addresses(aggregator_command) or [None])[0]
    aggregator = recipe.start(recipe.host_for(aggregator_address, "aggregation"), aggregator_command,
                              exports.get(id(aggregator_command)))

    if not sidecars:
        # The recipe is the aggregator alone: a plain sidecar feeds it, on its host when its input
        # is loopback, from another host otherwise.
        records = aggregator_command.option("--input") or "@tcp://127.0.0.1:5556"
        item = next(i.strip() for i in records.split(",") if not i.strip().startswith(">"))
        address, port = re.match(r"@?tcp://([^:]+):(\d+)", item).groups()
        if ipaddress.ip_address(address).is_loopback:
            sidecars_to_start = [(aggregator.host, Command("lossd sidecar"))]
        else:
            target = aggregator.host.address if ipaddress.ip_address(address).is_unspecified else address
            sidecars_to_start = [(recipe.network.add_host("training"),
                                  Command(f"lossd sidecar --output '>tcp://{target}:{port}'"))]
    else:
        sidecars_to_start = []
        for index, command in enumerate(sidecars):
            bound = bound_addresses(command)
            output = command.option("--output") or ">tcp://127.0.0.1:5556"
            if not bound and ipaddress.ip_address(re.search(r"tcp://([\d.]+):", output).group(1)).is_loopback:
                # Its sink is on its own host: beside the aggregator, once.
                sidecars_to_start.append((aggregator.host, command))
                continue
            copies = 1 if bound else sidecar_copies
            for copy in range(copies):
                name = f"training-{index}-{copy}"
                sidecars_to_start.append((recipe.host_for(bound[0] if bound else None, name), command))
    started = [recipe.start(host, command, exports.get(id(command))) for host, command in sidecars_to_start]
    for daemon in [aggregator, *started]:
        daemon.check_exports()

    for daemon in started:
        endpoint = input_endpoint(daemon.command)
        address, port = re.search(r"tcp://([\d.]+):(\d+)", endpoint).groups()
        loopback = ipaddress.ip_address(address).is_loopback
        # The document's client code that dials this sidecar: beside it for a loopback input, on
        # a host of its own otherwise.
        used = False
        for number, snippet in enumerate(snippets):
            made = re.search(r"(\w+)\s*=\s*LossClient\(\s*[\"']>?tcp://([\d.]+):(\d+)", snippet)
            if made and made.group(2) == address and made.group(3) == port:
                host = daemon.host if loopback else recipe.network.add_host(f"trainer-{daemon.host.name}-{number}")
                recipe.trainer(host, f"recipe-snippet-{number}-{daemon.host.name}", snippet, variable=made.group(1))
                used = True
        if not used and loopback:
            recipe.own_trainer(daemon.host, daemon.command, run=f"recipe-{daemon.host.name}")
        elif not used:
            recipe.own_trainer(recipe.network.add_host(f"trainer-{daemon.host.name}"), daemon.command,
                               run=f"recipe-{daemon.host.name}")

    deadline = time.monotonic() + ROUTABLE_LIMIT
    while recipe.batches_by_run(aggregator) != recipe.sent and time.monotonic() < deadline:
        time.sleep(0.2)
    assert recipe.batches_by_run(aggregator) == recipe.sent, (
        f"batches by run at the aggregator != sent; aggregator log:\n{aggregator.stderr()[-2000:]}\n" +
        "\n".join(f"{d.host}: {d.stderr()[-1500:]}" for d in started))

    for check in checks:
        done = aggregator.host.run(["sh", "-c", check.text], cwd=recipe.work, env=recipe.environment, timeout=30)
        assert done.returncode == 0 and done.stdout.strip(), f"`{check.text}` on {aggregator.host}: {done.stderr}"
        recipe.notes.append(f"checked: {check.text}")
    if while_running is not None:
        while_running(aggregator)

    for daemon in started:
        assert daemon.stop() == 0, daemon.stderr()[-3000:]
        summary = daemon.last_line()
        assert summary.get("received") == summary.get("computed") and summary.get("received", 0) > 0, summary
        assert summary.get("handshake_failures") == 0 and summary.get("output_handshake_failures") == 0, summary
    assert aggregator.stop() == 0, aggregator.stderr()[-3000:]
    assert aggregator.last_line().get("records") == sum(recipe.sent.values()), aggregator.stderr()[-2000:]
    assert aggregator.last_line().get("handshake_failures") == 0, aggregator.stderr()[-2000:]
    return aggregator


def subnet_of(commands: List[Command]) -> str:
    """The /24 of the routable addresses the commands name (10.0.0.0/24 when they name none)."""
    addresses = {a for c in commands for word in c.program for a in IPV4.findall(word) if routable(a)}
    subnets = {ipaddress.ip_network(f"{a}/24", strict=False) for a in addresses}
    assert len(subnets) <= 1, f"the recipe's hosts are on several subnets: {sorted(map(str, subnets))}"
    return str(subnets.pop()) if subnets else "10.0.0.0/24"
