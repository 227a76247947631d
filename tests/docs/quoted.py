"""Every shell command the project quotes to its users, found where a user reads it.

Commands come from README.md and docs/*.md (lines of fenced shell blocks, ``$ `` prompt lines
with the output quoted under them, and inline code spans that start with ``nnforge ``) and from
the comments of the packaged recipes (``#   nnforge ...``). Each is kept with where it was
found, as text and as shell words (``shlex``, so quoting works as a shell's does).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RECIPES = sorted((ROOT / "nnforge" / "configs").glob("*.yaml"))
PROGRAMS = ("nnforge", "make", "curl", "torchrun", "python")
SHELL_LANGS = {"", "sh", "bash", "console", "shell"}
SPAN = re.compile(r"`(nnforge [^`]+)`")


@dataclass
class Quoted:
    text: str  # the command as quoted (after `.venv/bin/` and a `$ ` prompt are dropped)
    where: str  # file:line
    output: list[str] = field(default_factory=list)  # lines quoted under a `$ ` prompt

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text)


def _split_commands(line: str) -> list[str]:
    """``a; b  # comment`` -> [``a``, ``b``], honouring quotes."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands, current = [], []
    for token in lexer:
        if token == ";":
            commands.append(current)
            current = []
        else:
            current.append(token)
    commands.append(current)
    return [shlex.join(c) for c in commands if c]


def _normalise(command: str) -> str:
    words = shlex.split(command)
    words[0] = re.sub(r"^(\.venv/bin/|\$\(BIN\)/)", "", words[0])
    return shlex.join(words)


def _continued(lines: list[str]) -> list[tuple[int, str]]:
    """Join backslash-continued lines; keep each command's first line number."""
    out, start, buf = [], None, ""
    for number, line in lines:
        if start is None:
            start = number
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        out.append((start, buf + line))
        start, buf = None, ""
    return out


def from_markdown(path: Path) -> list[Quoted]:
    found: list[Quoted] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    rel = path.relative_to(ROOT)
    fence, block = None, []
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            if fence is None:
                fence, block = stripped[3:].strip(), []
            else:
                if fence in SHELL_LANGS:
                    found += _from_block(block, rel)
                fence = None
            continue
        if fence is not None:
            block.append((number, line))
        else:
            for match in SPAN.finditer(line):
                found.append(Quoted(_normalise(match.group(1)), f"{rel}:{number}"))
    return found


def _from_block(block: list[tuple[int, str]], rel: Path) -> list[Quoted]:
    found: list[Quoted] = []
    prompt: Quoted | None = None
    for number, line in _continued(block):
        text = line.strip()
        if text.startswith("$ "):
            prompt = Quoted(_normalise(text[2:]), f"{rel}:{number}")
            found.append(prompt)
            continue
        if prompt is not None:  # output quoted under a prompt
            prompt.output.append(line)
            continue
        first = re.sub(r"^(\.venv/bin/)", "", text.split(" ")[0])
        if first in PROGRAMS or first.endswith("/python"):
            found += [Quoted(_normalise(c), f"{rel}:{number}") for c in _split_commands(text)]
    return found


def from_recipe(path: Path) -> list[Quoted]:
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("#") and line.lstrip("# ").startswith("nnforge "):
            found += [Quoted(_normalise(c), f"{path.relative_to(ROOT)}:{number}") for c in _split_commands(line.lstrip("# "))]
    return found


def quoted_commands() -> list[Quoted]:
    found = [q for path in DOCS for q in from_markdown(path)]
    return found + [q for path in RECIPES for q in from_recipe(path)]


if __name__ == "__main__":
    for q in quoted_commands():
        print(f"{q.where:38} {q.text}")
