"""The git repository being gated, normalized to the ``git`` kind.

Git is not a file: ``input: git`` reads the repository holding the first path given to
``check`` (``ArtifactStore.select`` asks :func:`read_repository` once per run). No
repository there is ``NotARepository``, which the store turns into missing evidence (a
required git policy fails; it never passes where there are no commits); a repository that
cannot be read is an ``ArtifactError``, so the policies on it end in ``error``.

What is read, and how:

- GitPython finds the repository (worktrees, submodules and ``.git`` files included) and
  reads which branch is checked out, both in pure Python from the files under ``.git``;
- everything that needs git's object database or its verification (the commit and its
  signature, tags, the previous tag, changed files, the dirty check) is asked of the
  ``git`` command, run by :class:`_Git` with a sanitized environment: every inherited
  ``GIT_*`` variable removed (a hook or a CI wrapper may set ``GIT_DIR`` or
  ``GIT_INDEX_FILE`` for another repository), and the system and global configuration
  ignored (``GIT_CONFIG_NOSYSTEM``, ``GIT_CONFIG_GLOBAL=/dev/null``), so that a developer's
  or a runner's settings cannot change a result. GitPython's own git processes cannot be
  given such an environment (they always inherit the caller's), and its pure-Python object
  database is deprecated, so it is not used to read objects.

Signature trust therefore comes from the repository's own configuration
(``git config gpg.ssh.allowedSignersFile ...`` for SSH signatures) and the GnuPG keyring
(``GNUPGHOME`` or ``~/.gnupg``) for OpenPGP ones. ``signature_status`` is ``good`` only
when git itself says ``G``.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError
from compliancegate.model import Artifact

KIND = "git"
GIT_TIMEOUT_SECONDS = 120
"""Longest a git command may run (signature verification may call gpg)."""

SIGNATURE_STATUS = {
    "G": "good",
    "B": "bad",
    "U": "unknown_key",
    "X": "expired",
    "Y": "expired_key",
    "R": "revoked_key",
    "E": "error",
    "N": "none",
}
"""git's ``%G?`` letters, as words. git reports an SSH key missing from the allowed signers
as ``U`` and a missing OpenPGP key as ``E``."""

# CI variables naming the branch of a detached checkout, in order of preference, each with
# the variable that says the ref is a tag instead (then it names no branch).
_BRANCH_VARIABLES = (
    ("GITHUB_HEAD_REF", None),  # pull requests: the source branch (GITHUB_REF_NAME is N/merge)
    ("GITHUB_REF_NAME", "GITHUB_REF_TYPE"),
    ("CI_COMMIT_REF_NAME", "CI_COMMIT_TAG"),  # GitLab
)


class GitFormat:
    """The ``git`` kind. Never detected from a file: ``input: git`` is served by the store;
    ``parse --format git FILE`` shows the repository holding FILE."""

    name = "git"
    kind = KIND
    syntax = "git"

    def sniff(self, source: Source) -> bool:
        """Files are never git metadata."""
        return False

    def parse(self, source: Source) -> list[Artifact]:
        """The repository holding ``source``."""
        return [read_repository(source.path)]


def sanitized_environment() -> dict[str, str]:
    """The environment git commands run with: ours without ``GIT_*``, system and global
    configuration ignored, no prompts, no optional locks (a gate only reads), C locale."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        GIT_OPTIONAL_LOCKS="0",
        LC_ALL="C",
        LANGUAGE="C",
    )
    return env


@dataclass(frozen=True)
class _Git:
    """Runs git commands in one working tree."""

    worktree: Path
    display: str

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        command = [
            "git",
            "-c",
            "core.quotePath=false",
            "-c",
            "log.showSignature=false",
            "-c",
            "color.ui=false",
            "-c",
            "i18n.logOutputEncoding=UTF-8",
            "-c",
            "core.fsmonitor=false",  # a read-only gate runs no monitor hook
            *args,
        ]
        try:
            done = subprocess.run(
                command,
                cwd=self.worktree,
                env=sanitized_environment(),
                capture_output=True,
                timeout=GIT_TIMEOUT_SECONDS,
                check=False,
            )
        except FileNotFoundError:
            raise ArtifactError(
                "the git command is not installed", file=self.display, hint="install git"
            ) from None
        except subprocess.TimeoutExpired:
            raise ArtifactError(
                f"git {args[0]} did not finish within {GIT_TIMEOUT_SECONDS} seconds",
                file=self.display,
            ) from None
        except OSError as exc:
            raise ArtifactError(f"cannot run git: {exc}", file=self.display) from None
        if check and done.returncode != 0:
            raise ArtifactError(
                f"git {args[0]} failed: {_first_line(done.stderr)}",
                file=self.display,
                hint=_hint(done.stderr),
            )
        return done


class NotARepository(ArtifactError):
    """The check path is in no git repository: git evidence is missing, not unreadable."""


def read_repository(path: Path, base: str | None = None) -> Artifact:
    """The ``git`` document of the repository holding ``path`` (a file or folder).

    ``base`` is the ref that ``changed_files`` is computed against; by default the previous
    tag (the nearest tag reachable from HEAD that does not point at HEAD itself). Raises
    ``ArtifactError`` when there is no repository, no commit, or a ``base`` that is not a
    commit.
    """
    start = path if path.is_dir() else path.parent
    worktree, branch = _open(start)
    display = _display(worktree)
    git = _Git(worktree, display)
    head = git.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    if head.returncode != 0:
        raise ArtifactError("the repository has no commit yet", file=display)
    hexsha = head.stdout.decode("ascii", "replace").strip()
    fields = git.run("show", "-s", f"--format={_COMMIT_FORMAT}", hexsha, "--")
    parts = fields.stdout.decode("utf-8", "replace").split("\x00", 6)
    if len(parts) != 7:
        raise ArtifactError(f"git show gave no commit fields for {hexsha}", file=display)
    author_name, author_email, author_time, committer_name, committer_email = parts[:5]
    committer_time, message = parts[5:]
    tags = git.run(
        "for-each-ref", f"--points-at={hexsha}", "--format=%(refname:strip=2)", "refs/tags"
    )
    tag_names = sorted(t for t in tags.stdout.decode("utf-8", "replace").splitlines() if t)
    branch_source = "git" if branch is not None else None
    if branch is None:
        branch, branch_source = _branch_from_ci()
    signed, status, signer, key = _signature(git, hexsha, _has_signature_header(git, hexsha))
    base_ref, base_commit, changed = _changes(git, hexsha, tag_names, base)
    document = {
        "commit": hexsha,
        "branch": branch,
        "branch_source": branch_source,
        "tags": tag_names,
        "author": _person(author_name, author_email, author_time),
        "committer": _person(committer_name, committer_email, committer_time),
        "message": message.rstrip("\n"),
        "signed": signed,
        "signature_status": status,
        "signer": signer,
        "signing_key": key,
        "changed_files": changed,
        "base": base_ref,
        "base_commit": base_commit,
        "dirty": bool(git.run("status", "--porcelain", "-z", "--untracked-files=no").stdout),
        "shallow": git.run("rev-parse", "--is-shallow-repository").stdout.strip() == b"true",
    }
    return Artifact(display, "git", KIND, "git", document)


# Author and committer (name, email, strict ISO 8601 time), then the raw message; NUL
# separated, as no name or email can hold a NUL.
_COMMIT_FORMAT = "%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"


def _open(start: Path) -> tuple[Path, str | None]:
    """(working tree, checked-out branch or None when detached) of the repository holding
    ``start``, found by GitPython without running git."""
    try:
        import git
    except ImportError as exc:  # GitPython refuses to import without a git executable
        raise ArtifactError(f"GitPython cannot be used: {exc}", file=_display(start)) from None
    try:
        repo = git.Repo(start, search_parent_directories=True)
        try:
            if repo.working_tree_dir is None:
                raise ArtifactError(
                    "a bare repository has no working tree to gate", file=_display(start)
                )
            head = repo.head
            branch = None if head.is_detached else head.reference.name
            return Path(repo.working_tree_dir), branch
        finally:
            repo.close()
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise NotARepository(
            "not a git repository (nor is any parent folder)",
            file=_display(start),
            hint="run the gate inside the repository's checkout, or drop the git policies",
        ) from None
    except ArtifactError:
        raise
    except Exception as exc:  # a damaged .git raises assorted errors
        raise ArtifactError(
            f"cannot open the git repository: {type(exc).__name__}: {exc}", file=_display(start)
        ) from None


def _has_signature_header(git: _Git, hexsha: str) -> bool:
    """Whether the commit object carries a signature (``gpgsig``, or ``gpgsig-sha256`` in a
    SHA-256 repository), whatever git can verify about it."""
    raw = git.run("cat-file", "commit", hexsha).stdout
    headers = raw.split(b"\n\n", 1)[0]
    return any(line.startswith((b"gpgsig ", b"gpgsig-sha256 ")) for line in headers.split(b"\n"))


def _person(name: str, email: str, time: str) -> dict[str, Any]:
    return {"name": name or None, "email": email or None, "time": time or None}


def _branch_from_ci() -> tuple[str | None, str | None]:
    """A detached checkout's branch, from the CI's variables (and which one said so)."""
    for variable, tag_flag in _BRANCH_VARIABLES:
        value = os.environ.get(variable, "").strip()
        if not value:
            continue
        if tag_flag is not None:
            flag = os.environ.get(tag_flag, "").strip()
            # GITHUB_REF_TYPE is "branch" or "tag"; GitLab sets CI_COMMIT_TAG only for tags.
            if flag == "tag" or (tag_flag == "CI_COMMIT_TAG" and flag):
                continue
        return value, variable
    return None, None


def _signature(
    git: _Git, hexsha: str, has_header: bool
) -> tuple[bool, str, str | None, str | None]:
    """(signed, status word, signer, key) as git's own verification reports them.

    Signed means a signature is present, whether or not it verifies: the commit carries a
    ``gpgsig`` header, or git found a signature to check (any letter but ``N``).
    """
    done = git.run("show", "-s", "--format=%G?%x00%GS%x00%GK", hexsha, "--", check=False)
    parts = done.stdout.decode("utf-8", "replace").strip("\n").split("\x00")
    letter = parts[0].strip() if done.returncode == 0 else ""
    signed = has_header or letter in SIGNATURE_STATUS.keys() - {"N"}
    status = SIGNATURE_STATUS.get(letter, "error") if signed else "none"
    if signed and status == "none":
        # git says N for an SSH signature it cannot check (no allowed signers configured):
        # a signature is there, and it was not verified.
        status = "error"
    signer = (parts[1] or None) if len(parts) > 1 and signed else None
    key = (parts[2] or None) if len(parts) > 2 and signed else None
    return signed, status, signer, key


def _changes(
    git: _Git, hexsha: str, head_tags: list[str], base: str | None
) -> tuple[str | None, str | None, list[str] | None]:
    """(base ref, its commit, files changed between it and HEAD); all None when there is no
    previous tag and no base was given."""
    if base is None:
        excludes = [f"--exclude={tag}" for tag in head_tags]  # tag names cannot hold globs
        done = git.run("describe", "--tags", "--abbrev=0", *excludes, hexsha, check=False)
        if done.returncode != 0:
            return None, None, None
        base = done.stdout.decode("utf-8", "replace").strip()
    elif base.startswith("-") or not base.strip():
        raise ArtifactError(f"git base {base!r} is not a ref", file=git.display)
    resolved = git.run(
        "rev-parse", "--verify", "--quiet", "--end-of-options", f"{base}^{{commit}}", check=False
    )
    if resolved.returncode != 0:
        raise ArtifactError(
            f"git base {base!r} is not a commit of this repository",
            file=git.display,
            hint="fetch it first (a shallow CI clone lacks history: fetch-depth: 0), "
            "or fix --git-base / git.base",
        )
    base_commit = resolved.stdout.decode("ascii", "replace").strip()
    # Three dots: the changes on HEAD's side since it forked from the base, which for a
    # previous tag (an ancestor) is simply everything since the tag.
    done = git.run(
        "diff",
        "--name-only",
        "-z",
        "--no-renames",
        "--no-ext-diff",
        "--no-textconv",
        f"{base_commit}...{hexsha}",
        "--",
    )
    files = [p.decode("utf-8", "replace") for p in done.stdout.split(b"\x00") if p]
    return base, base_commit, sorted(files)


def _display(path: Path) -> str:
    """``path`` relative to the working directory when inside it (``.`` for itself)."""
    try:
        relative = path.resolve().relative_to(Path.cwd().resolve())
    except (ValueError, OSError):
        return path.as_posix()
    return relative.as_posix() or "."


def _first_line(stderr: bytes) -> str:
    for line in stderr.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip().removeprefix("fatal: ").removeprefix("error: ")
    return "no message"


def _hint(stderr: bytes) -> str | None:
    if b"dubious ownership" in stderr:
        return (
            "git refuses a repository owned by another user, and the gate ignores the global "
            "safe.directory setting: run the gate as the checkout's owner"
        )
    return None


FORMAT = GitFormat()
