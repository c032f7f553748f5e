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

The repository's own configuration (``.git/config`` and what it includes) is read by git
but not trusted: whoever produced the checkout may have written it. Every setting that would
run a program (``core.fsmonitor``, ``core.hooksPath``, ``gpg.*.program``, the clean and
process commands of filter drivers) or decide which signatures are trusted
(``gpg.ssh.allowedSignersFile``) is overridden on git's command line, which wins over every
configuration file.

SSH signature trust comes only from outside the gated tree: the allowed-signers file named
by ``COMPLIANCEGATE_ALLOWED_SIGNERS``, which must not lie inside the repository (a
contributor could add their own key to a file in the commit being gated). Without it no SSH
key is trusted. OpenPGP trust is the runner's GnuPG keyring (``GNUPGHOME`` or
``~/.gnupg``). ``signature_status`` is ``good`` only when git itself says ``G``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError
from compliancegate.model import Artifact

KIND = "git"
SIGNERS_VARIABLE = "COMPLIANCEGATE_ALLOWED_SIGNERS"
"""The SSH allowed-signers file (``ssh-keygen`` ALLOWED SIGNERS format) commits are verified
against; it must lie outside the repository being gated."""
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


# Settings of the gated repository's own configuration that git would act on and the gate
# must not: each one is replaced on the command line, where it wins over every file.
_OVERRIDES = (
    ("core.quotePath", "false"),
    ("log.showSignature", "false"),
    ("color.ui", "false"),
    ("i18n.logOutputEncoding", "UTF-8"),
    ("core.pager", "cat"),
    # Programs the repository's configuration could make git run.
    ("core.fsmonitor", "false"),
    ("core.hooksPath", os.devnull),
    ("gpg.program", "gpg"),
    ("gpg.openpgp.program", "gpg"),
    ("gpg.x509.program", "gpgsm"),
    ("gpg.ssh.program", "ssh-keygen"),
    # Revocations narrow trust, but a file named by the repository may be a FIFO that hangs.
    ("gpg.ssh.revocationFile", os.devnull),
)

# A filter driver's commands run on the working tree's files (``git status`` cleans a file
# whose timestamps changed); empty commands disable the driver.
_FILTER_COMMANDS = ("clean", "smudge", "process")


@dataclass(frozen=True)
class _Git:
    """Runs git commands in one working tree, with the repository's configuration defused."""

    worktree: Path
    display: str
    settings: tuple[tuple[str, str], ...] = ()
    """Extra ``-c`` settings (the trust root, disabled filter drivers)."""

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        command = ["git"]
        for key, value in (*_OVERRIDES, *self.settings):
            command += ["-c", f"{key}={value}"]
        command += args
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
    worktree, git_dir, branch = _open(start)
    display = _display(worktree)
    signers = allowed_signers(os.environ, (worktree, git_dir), display)
    git = _Git(worktree, display)
    settings = [("gpg.ssh.allowedSignersFile", str(signers) if signers else os.devnull)]
    settings += _disabled_filters(git)
    git = _Git(worktree, display, tuple(settings))
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
        "allowed_signers": None if signers is None else str(signers),
        "changed_files": changed,
        "base": base_ref,
        "base_commit": base_commit,
        # Submodules' own working trees are not inspected: that would run git in repositories
        # whose configuration was never read here; a submodule at another commit is dirty.
        "dirty": bool(
            git.run(
                "status",
                "--porcelain",
                "-z",
                "--untracked-files=no",
                "--ignore-submodules=dirty",
            ).stdout
        ),
        "shallow": git.run("rev-parse", "--is-shallow-repository").stdout.strip() == b"true",
    }
    return Artifact(display, "git", KIND, "git", document)


# Author and committer (name, email, strict ISO 8601 time), then the raw message; NUL
# separated, as no name or email can hold a NUL.
_COMMIT_FORMAT = "%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"


def allowed_signers(environ: Mapping[str, str], gated: Sequence[Path], display: str) -> Path | None:
    """The SSH trust root: ``COMPLIANCEGATE_ALLOWED_SIGNERS``, or None when it is not set.

    Raises ``ArtifactError`` when it names no readable regular file, or one inside any of
    the ``gated`` folders (the working tree and the git folder), whose content the change
    being gated controls.
    """
    value = environ.get(SIGNERS_VARIABLE, "")
    if not value.strip():
        return None
    named = Path(value).expanduser()
    try:
        real = named.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise ArtifactError(
            f"{SIGNERS_VARIABLE}={value} cannot be read: {getattr(exc, 'strerror', None) or exc}",
            file=display,
            hint="point it at an allowed-signers file kept outside the repository",
        ) from None
    for folder in gated:
        try:
            inside = real.is_relative_to(folder.resolve())
        except OSError:
            inside = False
        if inside:
            raise ArtifactError(
                f"{SIGNERS_VARIABLE}={value} is inside the repository being gated "
                f"({_display(folder)}): a change could add its own key to it, so it is not "
                "a trust root",
                file=display,
                hint="keep the allowed signers outside the checkout: a runner secret or a "
                "file fetched from the protected base branch into a folder of its own",
            )
    if not real.is_file():
        raise ArtifactError(f"{SIGNERS_VARIABLE}={value} is not a regular file", file=display)
    return real


def _disabled_filters(git: _Git) -> list[tuple[str, str]]:
    """Settings that disable every filter driver the repository's configuration defines."""
    done = git.run("config", "--name-only", "-z", "--get-regexp", r"^filter\.", check=False)
    drivers = set()
    for name in done.stdout.decode("utf-8", "replace").split("\x00"):
        # filter.<driver>.<key>; the driver's name may itself hold dots.
        driver, dot, _ = name.strip().removeprefix("filter.").rpartition(".")
        if dot and driver:
            drivers.add(driver)
    settings = [(f"filter.{d}.{c}", "") for d in sorted(drivers) for c in _FILTER_COMMANDS]
    return settings + [(f"filter.{d}.required", "false") for d in sorted(drivers)]


def _open(start: Path) -> tuple[Path, Path, str | None]:
    """(working tree, git folder, checked-out branch or None when detached) of the
    repository holding ``start``, found by GitPython without running git."""
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
            return Path(repo.working_tree_dir), Path(repo.common_dir), branch
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
