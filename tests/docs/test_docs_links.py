"""The README and docs/ point only at what exists: every relative link resolves to a file (or
heading) in this repository, and every ``compliancegate COMMAND --flag`` they name is a
command, subcommand and option the CLI has; ``--help`` names only commands that exist."""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from compliancegate.cli import cli

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~)([^\n]*)\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
_COMMAND = re.compile(r"(?<![\w.@-])compliancegate\"?[ \t]+(.+)")
_SEPARATORS = ("|", "||", "&&", ";", ">", "2>", ">>", "&")


def _prose(text: str) -> str:
    """``text`` without fenced blocks and code spans (links there are examples)."""
    text = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    return _CODE_SPAN.sub("", text)


def _tracked() -> set[str] | None:
    done = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return None  # not a git checkout (an unpacked archive): existence is checked
    return set(done.stdout.split("\0")) - {""}


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    counts: dict[str, int] = {}
    for _, heading in _HEADING.findall(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(heading)
        n = counts.get(base, 0)
        counts[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(page: Path) -> list[str]:
    text = _prose(page.read_text(encoding="utf-8"))
    return _LINK.findall(text) + _REFERENCE.findall(text)


def test_every_page_has_links_to_check() -> None:
    assert sum(len(links(p)) for p in PAGES) > 10


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_resolve_inside_the_repository(page: Path) -> None:
    tracked = _tracked()
    problems = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # https:, mailto: ...
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.is_relative_to(REPO):
            problems.append(f"{target}: outside the repository")
            continue
        if not resolved.exists():
            problems.append(f"{target}: no such file")
            continue
        relative = resolved.relative_to(REPO).as_posix()
        if tracked is not None and resolved.is_file() and relative not in tracked:
            problems.append(f"{target}: not in git (readers of the repository will not have it)")
        in_git = tracked is None or any(n.startswith(relative + "/") for n in tracked)
        if resolved.is_dir() and relative != "." and not in_git:
            problems.append(f"{target}: no file of it is in git")
        if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading #{anchor} in {relative}")
    assert problems == []


def test_the_link_check_catches_what_it_should(tmp_path: Path) -> None:
    page = REPO / "docs" / "_probe.md"
    assert not page.exists()
    text = "[a](../../shared/SPEC.md) [b](nope.md) [c](ledger.md#no-such) [d](ledger.md) `[e](x)`"
    got = _LINK.findall(_prose(text))
    assert got == ["../../shared/SPEC.md", "nope.md", "ledger.md#no-such", "ledger.md"]
    assert slug("Markdown (`$GITHUB_STEP_SUMMARY`)") == "markdown-github_step_summary"


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Invocation:
    page: str
    tokens: tuple[str, ...]


def _command_texts(text: str) -> list[str]:
    """Command lines in fenced blocks (YAML blocks: their string values, such as a CI
    job's script lines) and in code spans."""
    found: list[str] = []
    for _, info, body in _FENCE.findall(text):
        language = info.strip().split(" ")[0]
        if language in ("yaml", "yml"):
            try:
                document = yaml.safe_load(body)
            except yaml.YAMLError:
                document = body
            found.extend(_strings(document))
        else:
            found.extend(body.replace("\\\n", " ").splitlines())
    found.extend(m.group(2) for m in _CODE_SPAN.finditer(_FENCE.sub("", text)))
    return found


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node.replace("\\\n", " ")]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def invocations(page: Path) -> list[Invocation]:
    found = []
    for line in _command_texts(page.read_text(encoding="utf-8")):
        for match in _COMMAND.finditer(line):
            try:
                tokens = shlex.split(match.group(1))
            except ValueError:
                tokens = match.group(1).split()
            kept: list[str] = []
            for token in tokens:
                if token in _SEPARATORS or token.startswith("#"):
                    break
                if token.endswith(";"):
                    kept.append(token[:-1])
                    break
                kept.append(token)
            if kept and re.match(r"^-{0,2}[a-z]", kept[0]):
                found.append(Invocation(page.relative_to(REPO).as_posix(), tuple(kept)))
    return found


def problems_of(tokens: tuple[str, ...]) -> list[str]:
    """What in ``compliancegate TOKENS`` the CLI does not have."""
    ctx = click.Context(cli)
    command: click.Command = cli
    path = ["compliancegate"]
    problems = []
    expecting_subcommand = True
    for raw in tokens:
        token = raw.lstrip("[").rstrip("]")  # usage lines: [--flag VALUE]
        if re.match(r"^(-[a-zA-Z]|--[a-z][\w-]*)", token):
            name = token.partition("=")[0]
            options = {o for p in command.params for o in getattr(p, "opts", [])}
            options |= {"--help", "-h"} | ({"--version", "--debug"} if command is cli else set())
            if name not in options:
                problems.append(f"{' '.join(path)} has no option {name}")
            continue
        if isinstance(command, click.Group) and expecting_subcommand:
            names = [n for n in re.split(r"[|,]", token) if n]
            for name in names:
                if command.get_command(ctx, name) is None:
                    problems.append(f"{' '.join(path)} has no command {name!r}")
            sub = command.get_command(ctx, names[0]) if names else None
            if sub is None:
                break
            command = sub
            path.append(names[0])
            continue
        expecting_subcommand = False
    return problems


def all_invocations() -> list[Invocation]:
    return [i for page in PAGES for i in invocations(page)]


def test_pages_name_many_commands() -> None:
    named = {i.tokens[0] for i in all_invocations()}
    assert {"check", "init", "policy", "register", "findings", "ledger", "parse"} <= named


def test_every_named_command_and_option_exists() -> None:
    problems = [
        f"{i.page}: compliancegate {' '.join(i.tokens)}: {p}"
        for i in all_invocations()
        for p in problems_of(i.tokens)
    ]
    assert problems == []


@pytest.mark.parametrize(
    "tokens",
    [
        ("bundle", "publish"),
        ("bundle", "create", "--sign"),
        ("check", "--no-such-flag"),
        ("findings", "purge"),
        ("policy", "validate|lint"),
        ("ledger", "copy", "a", "b"),
    ],
)
def test_the_command_check_catches_what_it_should(tokens: tuple[str, ...]) -> None:
    assert problems_of(tokens)


def test_help_names_only_commands_that_exist() -> None:
    """The exit codes in ``--help`` say which command gives 1 (``CMD: why``); each exists,
    and the README's exit-code table names the same commands."""
    help_text = " ".join(cli.get_help(click.Context(cli, info_name="compliancegate")).split())
    match = re.search(r"1 non-compliant \(([^)]*)\)", help_text)
    assert match, help_text
    named = [part.split(":")[0].strip() for part in match.group(1).split(";")]
    assert named
    for name in named:
        assert problems_of(tuple(name.split())) == [], name
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| 1 |"))
    assert sorted(re.findall(r"`([^`]+)`", row)) == sorted(named)
