"""The flags, settings and environment variables docs/SECURITY.md and docs/OPERATIONS.md name
are ones lossd has: a renamed flag or key fails here, not in a reader's terminal."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Set

import pytest
import yaml

from lossd_testkit import repo_root

DOCUMENTS = ["docs/SECURITY.md", "docs/OPERATIONS.md"]
COMMANDS = ["sidecar", "aggregate", "serve", "replay", "report", "synth", "bench", "bench kernel", "bench pipeline",
            "bench replay", "bench record", "keygen", "demo"]
# A flag: two dashes and lowercase words joined by dashes. One followed by a dot and more name is
# another program's (Prometheus's `--web.config.file`), not the `--web` of an unknown lossd flag; a
# flag that ends a sentence (`--open-healthz.`) is still read.
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)(?![\w-]|\.\w)")


@pytest.fixture(scope="module")
def flags(lossd_bin) -> Set[str]:
    found: Set[str] = set()
    for command in COMMANDS:
        done = subprocess.run([lossd_bin, *command.split(), "--help"], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        found |= set(FLAG.findall(done.stdout))
    return found


def settings_keys() -> Set[str]:
    config = yaml.safe_load((repo_root() / "Config" / "lossd.yaml").read_text())
    return {f"{section}.{key}" for section, values in config.items() if isinstance(values, dict) for key in values}


def code_spans(document: str) -> str:
    text = (repo_root() / document).read_text()
    return "\n".join(re.findall(r"`([^`\n]+)`", text) + re.findall(r"```\w*\n(.*?)```", text, re.S))


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_flag_a_document_names_is_in_lossd_help(document, flags):
    named = set(FLAG.findall(code_spans(document)))
    assert named, f"{document} names no flag: is this test still reading it right?"
    assert not named - flags, f"{document} names flags no lossd command has: {sorted(named - flags)}"


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_setting_a_document_names_is_in_the_configuration(document):
    keys = settings_keys()
    spans = code_spans(document)
    # (loss.* is left out: `loss.mean` and the like are /stats fields in docs/OPERATIONS.md.)
    named = set(re.findall(r"\b((?:sidecar|aggregate|serve|curve)\.[a-z_]+)\b", spans))
    # LOSSD_ + the key in capitals: the section is the first word.
    for variable in re.findall(r"\bLOSSD_([A-Z]+)_([A-Z_]+)\b", spans):
        named.add(f"{variable[0].lower()}.{variable[1].lower()}")
    assert named, f"{document} names no setting: is this test still reading it right?"
    assert not named - keys, f"{document} names settings Config/lossd.yaml does not have: {sorted(named - keys)}"
