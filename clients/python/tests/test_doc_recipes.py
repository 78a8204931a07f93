"""Every deployment recipe in the documents, run exactly as written, must deliver batches.

The commands are read from the documents (doc_recipes.py) and run by recipe_runner.py: docs/SECURITY.md's **Keys**, **A
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

import json
import re
import shlex
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Dict, List, Tuple

import yaml

import pytest

import netns
from doc_recipes import Command, headed_blocks, python_blocks, section_blocks, shell_commands
from lossd_testkit import repo_root
from recipe_runner import ROUTABLE_LIMIT, Daemon, Recipe, WebAccess, run_recipe, subnet_of

REASON = netns.unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"no network namespaces here: {REASON}")


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
