"""Running git for the git store, with a sanitized environment.

A gate step runs inside CI jobs and git hooks, where ``GIT_DIR``, ``GIT_WORK_TREE``,
``GIT_INDEX_FILE`` and friends may point at the repository being gated: inherited, they
would make the store's git commands read or write the wrong repository. As pre-commit does,
every inherited ``GIT_*`` variable is dropped except the ones that only say how to reach a
remote (ssh command, CA bundle, askpass, per-process config). GitPython always merges
``os.environ`` into its commands' environment and cannot drop a variable, so the store runs
the ``git`` executable itself.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from compliancegate.ledger.interface import LedgerError, LedgerUnavailable

_KEPT = frozenset(
    {
        "GIT_ASKPASS",
        "GIT_ALLOW_PROTOCOL",
        "GIT_CONFIG_COUNT",
        "GIT_EXEC_PATH",
        "GIT_HTTP_PROXY_AUTHMETHOD",
        "GIT_PROXY_COMMAND",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSH_VARIANT",
        "GIT_SSL_CAINFO",
        "GIT_SSL_CAPATH",
        "GIT_SSL_NO_VERIFY",
    }
)

AUTHOR = ("compliancegate", "compliancegate@localhost")
"""Who the ledger's commits are by (the records say who did what)."""


def clean_env(environ: Mapping[str, str], config: Sequence[tuple[str, str]] = ()) -> dict[str, str]:
    """``environ`` without inherited ``GIT_*`` variables, plus the store's own settings.

    ``config`` pairs are passed to git as per-process configuration (``GIT_CONFIG_KEY_n``),
    which keeps credentials off the command line, where ``ps`` would show them.
    """
    env = {
        key: value
        for key, value in environ.items()
        if not key.startswith("GIT_")
        or key in _KEPT
        or key.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))
    }
    env.update(
        {
            # Messages the store parses are English; a prompt would hang a CI job forever.
            "LC_ALL": "C",
            "LANGUAGE": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GCM_INTERACTIVE": "never",
            "GIT_AUTHOR_NAME": AUTHOR[0],
            "GIT_AUTHOR_EMAIL": AUTHOR[1],
            "GIT_COMMITTER_NAME": AUTHOR[0],
            "GIT_COMMITTER_EMAIL": AUTHOR[1],
        }
    )
    if config:
        start = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
        for offset, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{start + offset}"] = key
            env[f"GIT_CONFIG_VALUE_{start + offset}"] = value
        env["GIT_CONFIG_COUNT"] = str(start + len(config))
    return env


@dataclass(frozen=True)
class GitResult:
    """What one git command did."""

    code: int
    stdout: bytes
    stderr: str

    @property
    def last_error(self) -> str:
        """What git said went wrong: its first ``fatal:``/``error:`` line, else its last."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        for line in lines:
            if line.startswith(("fatal:", "error:")):
                return line
        return lines[-1] if lines else f"git exited with {self.code}"


class Git:
    """``git --git-dir REPO ...`` with the sanitized environment and a timeout."""

    def __init__(self, git_dir: Path, env: Mapping[str, str], timeout: float = 120.0) -> None:
        """Commands run on the repository at ``git_dir`` with exactly ``env``."""
        self.git_dir = git_dir
        self.env = dict(env)
        self.timeout = timeout

    def run(self, *args: str, stdin: bytes | None = None) -> GitResult:
        """Run a git command; the result whatever its exit code."""
        command = ["git", "--git-dir", str(self.git_dir), *args]
        try:
            done = subprocess.run(
                command,
                input=stdin,
                capture_output=True,
                env=self.env,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            raise LedgerError(
                "git is not installed", hint="the git ledger runs the git executable"
            ) from None
        except subprocess.TimeoutExpired:
            raise LedgerUnavailable(
                f"git {args[0]} did not finish within {self.timeout:.0f}s"
            ) from None
        return GitResult(done.returncode, done.stdout, done.stderr.decode("utf-8", "replace"))

    def out(self, *args: str, stdin: bytes | None = None) -> bytes:
        """Run a git command that must succeed; its stdout."""
        result = self.run(*args, stdin=stdin)
        if result.code != 0:
            raise LedgerError(f"git {args[0]} failed: {result.last_error}", file=str(self.git_dir))
        return result.stdout
