"""The commands of the deployment recipes, read from the documents themselves.

A recipe is the fenced code of one section of a Markdown document: its ```` ```sh ```` blocks hold
the commands (a line ending in ``\\`` continues on the next; ``#`` starts a comment; a here-document,
``<<'END'`` to ``END``, belongs to the command that opens it) and its ```` ```python ```` blocks the
client code. Sections are found by their heading's text, so prose
around the commands may change freely; a heading that disappears fails loudly."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

FENCE = re.compile(r"^```(\w*)\s*$")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")


@dataclass
class Block:
    """One fenced block: its language and its text."""
    language: str
    text: str


def _walk(document: Path) -> Tuple[List[Tuple[List[Tuple[int, str]], Block]], List[str]]:
    """Every fenced block with the headings it is under (level and text, outermost first), and
    every heading's text."""
    found: List[Tuple[List[Tuple[int, str]], Block]] = []
    every: List[str] = []
    headings: List[Tuple[int, str]] = []
    fence: Optional[str] = None
    body: List[str] = []
    for line in document.read_text().splitlines():
        if fence is not None:
            if line.strip() == "```":
                found.append((list(headings), Block(fence, "\n".join(body))))
                fence, body = None, []
            else:
                body.append(line)
            continue
        opening = FENCE.match(line)
        if opening:
            fence = opening.group(1)
            continue
        match = HEADING.match(line)
        if match:
            depth = len(match.group(1))
            headings = [(d, text) for d, text in headings if d < depth] + [(depth, match.group(2))]
            every.append(match.group(2))
    return found, every


def section_blocks(document: Path, heading: str, subsections: bool = True) -> List[Block]:
    """The fenced blocks under the heading whose text is ``heading``, up to the next heading of the
    same or a higher level; with ``subsections``, those under deeper headings too."""
    found, every = _walk(document)
    if heading not in every:
        raise LookupError(f"{document.name} has no section headed {heading!r}")
    return [block for headings, block in found
            if headings and (headings[-1][1] == heading or (subsections and heading in (t for _, t in headings)))]


def headed_blocks(document: Path) -> List[Tuple[List[str], Block]]:
    """Every fenced block of ``document``, each with the headings it is under (outermost first)."""
    return [([text for _, text in headings], block) for headings, block in _walk(document)[0]]


@dataclass
class Command:
    """One shell command as the document writes it, and its words (those of its first line: the
    lines after it, if any, are its here-document)."""
    text: str
    words: List[str] = field(init=False)
    environment: Dict[str, str] = field(init=False)
    program: List[str] = field(init=False)

    def __post_init__(self) -> None:
        self.words = shlex.split(self.text.split("\n", 1)[0], comments=True)
        index = 0
        self.environment = {}
        while index < len(self.words) and ASSIGNMENT.match(self.words[index]):
            name, value = self.words[index].split("=", 1)
            self.environment[name] = value
            index += 1
        self.program = self.words[index:]

    @property
    def programs(self) -> List[str]:
        """The program of each simple command in the line (``a && b | c`` runs a, b and c), a
        leading ``sudo`` skipped."""
        lexer = shlex.shlex(self.text.split("\n", 1)[0], posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        found: List[str] = []
        expecting = True
        for word in lexer:
            if word in ("&&", "||", "|", ";", "&"):
                expecting = True
            elif expecting and word != "sudo" and not ASSIGNMENT.match(word):
                found.append(word)
                expecting = False
        return found

    @property
    def is_lossd(self) -> bool:
        return bool(self.program) and self.program[0] == "lossd"

    @property
    def subcommand(self) -> Optional[str]:
        return self.program[1] if self.is_lossd and len(self.program) > 1 else None

    def option(self, name: str) -> Optional[str]:
        """The value of ``--name VALUE`` or ``--name=VALUE``; None when absent."""
        for index, word in enumerate(self.program):
            if word == name and index + 1 < len(self.program):
                return self.program[index + 1]
            if word.startswith(name + "="):
                return word.split("=", 1)[1]
        return None


def shell_commands(blocks: List[Block]) -> List[Command]:
    """The commands of the ``sh`` blocks, continuation lines joined, comment lines dropped, a
    here-document kept with its command as written."""
    commands: List[Command] = []
    for block in blocks:
        if block.language not in ("sh", "bash", "shell"):
            continue
        pending = ""
        heredoc: Optional[List[str]] = None
        delimiter = ""
        for line in block.text.splitlines():
            if heredoc is not None:
                heredoc.append(line)
                if line.strip() == delimiter:
                    commands.append(Command("\n".join(heredoc)))
                    heredoc = None
                continue
            stripped = line.strip()
            if not pending and (not stripped or stripped.startswith("#")):
                continue
            if stripped.endswith("\\"):
                pending += stripped[:-1].rstrip() + " "
                continue
            text = (pending + stripped).strip()
            pending = ""
            opening = HEREDOC.search(text.split("#", 1)[0])
            if opening:
                heredoc, delimiter = [text], opening.group(2)
            elif text:
                commands.append(Command(text))
        if heredoc is not None:
            raise ValueError(f"a here-document is not closed by {delimiter!r}: {heredoc[0]!r}")
        if pending.strip():
            commands.append(Command(pending.strip()))
    return commands


def python_blocks(blocks: List[Block]) -> List[str]:
    """The client code of the python blocks: each block up to its first top-level loop. A block may
    go on with the training loop it sits in (with the trainer's own names, such as ``train_step``);
    the runner keeps what makes the client and sends from a loop of its own."""
    return [client_setup(block.text) for block in blocks if block.language == "python"]


def client_setup(code: str) -> str:
    """``code`` up to (not including) its first line that starts a top-level ``for`` or ``while`` loop."""
    lines = code.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if re.match(r"(for|while)\b", line):
            return "".join(lines[:index])
    return code
