"""Every deployment recipe in the documents, run exactly as written, must deliver batches.

The commands are read from the documents (doc_recipes.py): docs/SECURITY.md's **Keys**, **A
deployment across hosts** and **The files, step by step** (TLS and passwords), README's **Scaling out to many hosts**, docs/OPERATIONS.md's
**Running it** (RECIPES; its **Large batches** section needs no setting, so has no recipe); a lossd daemon started in any other section of
docs/SECURITY.md or docs/OPERATIONS.md fails a test until its section is run too. Each host is a network namespace (netns.py) holding the address the commands name
(10.0.0.10 is the aggregation host, 10.0.0.21 a training host), with its own loopback and its own
``/var``; a command that binds no routable address gets a host of its own. ``lossd`` is the
binary under test (LOSSD_BIN), found on PATH as the documents call it. Key files are shared
through one working directory, as if copied between hosts.

Trainers come from the document too: its Python code that makes a ``LossClient`` dialling a
sidecar's input runs, as written, beside that sidecar (a loopback input) or on a host of its own
(a routable one), and sends BATCHES batches through the client it made, under a run label of the
test's so that each trainer is counted apart (a HandshakeWarning makes the trainer fail). What
the document leaves to the reader is supplied the same way for every recipe: a sidecar no code
dials gets the test's trainer (with the keys its input asks for), and an aggregator with no
sidecar in its recipe gets a plain ``lossd sidecar``, and sidecars with no aggregator get a plain
``lossd aggregate`` where their output points. An ``export`` line holds for the commands after it
(and must be in their environment). The aggregator must count exactly the
batches sent, and every process must end with no handshake failure. ``curl`` commands are run on
the aggregation host once the batches are in.

File steps (FILE_STEPS: ``sudo install``, ``cd``, ``openssl``, ``chmod``, ``htpasswd``, a ``cat``
here-document) run first, as one shell session; a folder under /etc they name is stood in for by
one of the working directory (``Recipe.paths``), and ``sudo`` is a pass-through (the tests run as
root). A command the runner does not know fails the test rather than being skipped."""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import shlex
import signal
import ssl
import subprocess
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import yaml

import pytest

import netns
from doc_recipes import ASSIGNMENT, Command, headed_blocks, python_blocks, section_blocks, shell_commands
from lossd_testkit import repo_root

BATCHES = 3
ROUTABLE_LIMIT = 30.0  # seconds for any one wait
IPV4 = re.compile(r"\b(\d{1,3}(?:\.\d{1,3}){3})\b")
BIND_OPTIONS = ("--input", "--http", "--publish", "--records-input")
TRAINER_LAUNCHERS = ("python", "python3", "torchrun")
# The programs of a recipe's file steps (a folder, a certificate, a password hash, a file written
# from a here-document), run as one shell session before its lossd commands.
FILE_STEPS = ("install", "cd", "openssl", "chmod", "htpasswd", "cut", "cat")

REASON = netns.unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"no network namespaces here: {REASON}")


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


@pytest.fixture
def recipe(lossd_bin, tmp_path):
    made: List[Recipe] = []

    def make(commands: List[Command]) -> Recipe:
        network = netns.Network(subnet_of(commands))
        made.append(Recipe(network, tmp_path / f"recipe-{len(made)}", lossd_bin))
        return made[-1]

    yield make
    for run in made:
        for daemon in run.daemons:
            if daemon.process.poll() is None:
                daemon.process.kill()
        run.network.close()


def document(name: str) -> Path:
    return repo_root() / name


def test_security_recipe_delivers_every_batch(recipe):
    """docs/SECURITY.md: keys, an aggregator that allows two sidecars, sidecars with an encrypted
    output and a plain loopback input, and one whose input takes CURVE trainers from other hosts."""
    path = document("docs/SECURITY.md")
    blocks = section_blocks(path, "Keys") + section_blocks(path, "A deployment across hosts")
    commands = shell_commands(blocks)
    run = recipe(commands)
    run_recipe(run, commands, python_blocks(blocks))
    snippet_runs = [r for r in run.sent if r.startswith("recipe-snippet-")]
    assert len(snippet_runs) == len(run.sent) >= 3, f"every trainer is the document's code: {sorted(run.sent)}"


def test_readme_multi_host_recipe_delivers_every_batch(recipe):
    """README: one aggregator, the same sidecar command on every training host (two here)."""
    blocks = section_blocks(document("README.md"), "Scaling out to many hosts")
    commands = shell_commands(blocks)
    run = recipe(commands)
    run_recipe(run, commands, python_blocks(blocks), sidecar_copies=2)
    assert len(run.sent) >= 2


def operations_aggregators() -> List[Tuple[str, Command]]:
    commands = shell_commands(section_blocks(document("docs/OPERATIONS.md"), "Running it"))
    return [(c.text.split("#")[0].strip(), c) for c in commands if c.subcommand == "aggregate"]


@pytest.mark.parametrize("text", [text for text, _ in operations_aggregators()])
def test_operations_recipes_deliver_every_batch(recipe, text):
    """docs/OPERATIONS.md's ways to run the aggregator, each fed by a sidecar, then its curl check."""
    commands = shell_commands(section_blocks(document("docs/OPERATIONS.md"), "Running it"))
    chosen = [c for c in commands if c.subcommand != "aggregate" or c.text.split("#")[0].strip() == text]
    run = recipe(chosen)
    run_recipe(run, chosen, [])
    assert any(note.startswith("checked: curl") for note in run.notes)


def htpasswd_credentials(command: Command) -> Tuple[str, str]:
    """The user and password of ``htpasswd -nb[B][C cost] USER PASSWORD`` (batch mode: the last two
    words before any pipe)."""
    words = command.program[:command.program.index("|")] if "|" in command.program else command.program
    assert words[0] == "htpasswd" and "b" in words[1], f"`{command.text}` is not htpasswd's batch mode"
    return words[-2], words[-1]


def expected_outcome(check: Command) -> str:
    """What a curl check's comment says it gets: an HTTP status (``# 401``, ``# …: 200``) or
    ``fails`` (``# fails: …``)."""
    comment = check.text.split("#", 1)[1].strip() if "#" in check.text else ""
    status = re.search(r"\b(\d{3})$", comment)
    if status:
        return status.group(1)
    assert comment.startswith("fails"), (
        f"`{check.text}`: the runner reads the outcome from the comment (an HTTP status, or `fails: …`)")
    return "fails"


TLS_SECTION = "The files, step by step"
PLACEHOLDER_HASH = "$2y$10$…"  # what the document's web.yml holds where step 2's hash goes
BCRYPT = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$", re.M)


def test_security_tls_recipe_guards_the_http_port(recipe):
    """docs/SECURITY.md's TLS and passwords for the HTTP port, as written: the file steps (sudo
    install, openssl, chmod, htpasswd, the web.yml here-document) in a folder standing in for
    /etc/lossd, where the runner puts the hash step 2 printed in place of the document's
    placeholder ``$2y$10$…``; the aggregator from the document's command, fed by a sidecar on
    another host; then, from a host that knows ``lossd.example`` as the aggregation host, the
    document's curl checks with the outcomes their comments state (200 with the password, 401
    without, a plain-HTTP failure), and a real Prometheus with the document's scrape job (its
    /etc/prometheus files stood in for, a 1 s interval added) scraping lossd's metrics."""
    path = document("docs/SECURITY.md")
    blocks = section_blocks(path, TLS_SECTION)
    commands = shell_commands(blocks)
    checks = [c for c in commands if c.program and c.program[0] == "curl"]
    assert len(checks) >= 3, f"§ {TLS_SECTION} has no curl checks: {[c.text for c in commands]}"
    setup = [c for c in commands if c not in checks]
    aggregator_command = next(c for c in setup if c.subcommand == "aggregate")
    web_config = aggregator_command.option("--web-config")
    assert web_config and web_config.startswith("/etc/lossd/"), aggregator_command.text
    user, password = htpasswd_credentials(next(c for c in setup if "htpasswd" in c.programs))
    run = recipe(setup)
    run.paths["/etc/lossd"] = run.work / "etc" / "lossd"

    def fill_in_the_hash(printed: str) -> None:
        hashes = BCRYPT.findall(printed)
        assert len(hashes) == 1, f"step 2 printed no one bcrypt hash:\n{printed}"
        config = Path(run.mapped(web_config))
        text = config.read_text()
        assert text.count(PLACEHOLDER_HASH) == 1, f"web.yml does not hold the placeholder {PLACEHOLDER_HASH}:\n{text}"
        config.write_text(text.replace(PLACEHOLDER_HASH, hashes[0]))
        key = run.paths["/etc/lossd"] / "lossd.key"
        assert key.stat().st_mode & 0o777 == 0o600, oct(key.stat().st_mode)
        run.web = WebAccess(run.paths["/etc/lossd"] / "lossd.crt", user, password)

    def check_from_other_hosts(aggregator: Daemon) -> None:
        # What the document says the `HTTP listening` line shows.
        listening = next(line for line in aggregator.stderr().splitlines() if "HTTP listening" in line)
        assert "authentication=basic (1 users)" in listening and "tls=on" in listening, listening
        # The names the checks use are the aggregation host's, in the checking hosts' /etc/hosts.
        names = {urllib.parse.urlsplit(word).hostname: aggregator.host.address
                 for check in checks for word in check.program if "://" in word}
        client = run.network.add_host("client", names=names)
        folder = run.work / "hosts" / "client"
        folder.mkdir(parents=True)
        (folder / "lossd.crt").write_bytes(run.web.ca_file.read_bytes())  # the copy the prose asks for
        for check in checks:
            expected = expected_outcome(check)
            # As written, with the status written out after the body.
            line = shlex.join(check.program + ["--write-out", "\n%{http_code}"])
            done = client.run(["sh", "-c", line], cwd=folder, env=run.environment, timeout=30)
            body, _, status = done.stdout.rpartition("\n")
            if expected == "fails":
                assert done.returncode != 0 and status == "000", f"`{check.text}`: {done.returncode} {done.stdout}"
            else:
                assert done.returncode == 0 and status == expected, (
                    f"`{check.text}` on {client}: exit {done.returncode}, status {status}\n{done.stderr}")
            if expected == "200" and check.program[-1].endswith("/stats"):
                batches = sum(split["batches"] for split in json.loads(body)["splits"])
                assert batches == sum(run.sent.values()), body
            run.notes.append(f"checked: {check.text}")
        scrape(aggregator, names)

    def scrape(aggregator: Daemon, names: Dict[str, str]) -> None:
        job_text = next(b.text for b in blocks if b.language in ("yaml", "yml") and "scrape_configs" in b.text)
        folder = run.work / "hosts" / "prometheus"
        run.paths["/etc/prometheus"] = folder / "etc" / "prometheus"
        config = yaml.safe_load(run.mapped(job_text))
        job = config["scrape_configs"][0]
        ca_file = Path(job["tls_config"]["ca_file"])
        ca_file.parent.mkdir(parents=True)
        ca_file.write_bytes(run.web.ca_file.read_bytes())  # lossd.crt copied, never lossd.key
        if "password_file" in job["basic_auth"]:
            Path(job["basic_auth"]["password_file"]).write_text(password + "\n")
        config["global"] = {"scrape_interval": "1s", "scrape_timeout": "1s"}
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        host = run.network.add_host("prometheus", names=names)
        with open(folder / "prometheus.log", "wb") as log:
            server = host.popen(["prometheus", f"--config.file={folder / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={folder / 'tsdb'}", "--web.listen-address=127.0.0.1:9090",
                                 "--log.level=warn"], stdout=log, stderr=log)
        query = ("import json, sys, urllib.request\n"
                 "print(urllib.request.urlopen('http://127.0.0.1:9090/api/v1/' + sys.argv[1], timeout=5).read().decode())")
        try:
            deadline = time.monotonic() + ROUTABLE_LIMIT
            health: List[Dict] = []
            while time.monotonic() < deadline and server.poll() is None:
                done = host.run(["python3", "-c", query, "targets?state=active"], timeout=30)
                if done.returncode == 0:
                    health = [t for t in json.loads(done.stdout)["data"]["activeTargets"] if t["labels"]["job"] == job["job_name"]]
                    if health and health[0]["health"] == "up":
                        break
                time.sleep(0.2)
            assert health and health[0]["health"] == "up", (
                f"Prometheus did not scrape lossd: {health}\n{(folder / 'prometheus.log').read_text()[-2000:]}")
            expression = urllib.parse.quote(f'lossd_loss_mean{{job="{job["job_name"]}"}}')
            done = host.run(["python3", "-c", query, f"query?query={expression}"], timeout=30)
            assert done.returncode == 0 and json.loads(done.stdout)["data"]["result"], done.stdout + done.stderr
            run.notes.append(f"scraped: {job['job_name']} {job['static_configs'][0]['targets']}")
        finally:
            server.terminate()
            server.wait(timeout=ROUTABLE_LIMIT)

    run_recipe(run, setup, [], after_steps=fill_in_the_hash, while_running=check_from_other_hosts)
    assert sum(note.startswith("checked: curl") for note in run.notes) == len(checks), run.notes
    assert any(note.startswith("scraped: ") for note in run.notes), run.notes


# The sections whose commands the tests above run, by document.
RECIPES = {
    "docs/SECURITY.md": ("Keys", "A deployment across hosts", TLS_SECTION),
    "README.md": ("Scaling out to many hosts",),
    "docs/OPERATIONS.md": ("Running it",),
}


def test_the_recipe_sections_exist_and_hold_commands():
    """A renamed heading or a recipe turned into prose would silently run nothing: fail instead."""
    for name, headings in RECIPES.items():
        for heading in headings:
            commands = shell_commands(section_blocks(document(name), heading))
            assert any(c.is_lossd for c in commands), f"{name} § {heading} has no lossd command"


@pytest.mark.parametrize("name", ["docs/SECURITY.md", "docs/OPERATIONS.md"])
def test_every_daemon_command_of_the_deployment_documents_is_in_a_tested_recipe(name):
    """A lossd daemon started anywhere in docs/SECURITY.md or docs/OPERATIONS.md belongs to a
    section the tests above run: a recipe added elsewhere fails here until it is tested."""
    untested = []
    for headings, block in headed_blocks(document(name)):
        daemons = [c.text for c in shell_commands([block]) if c.subcommand in ("aggregate", "sidecar", "serve")]
        if daemons and not set(headings) & set(RECIPES[name]):
            untested.append(f"§ {' › '.join(headings)}: {daemons}")
    assert not untested, f"{name} has recipes no test runs (add their section to RECIPES):\n" + "\n".join(untested)
