"""A small stand-in for the GitHub Actions runner: enough of it to run ``action.yml`` as the
runner runs a composite action, and to read what the runner would read from its output.

What it reproduces, and from where (actions/runner):

- Expressions: ``${{ ... }}`` in ``env`` values, ``run`` scripts and output values are
  replaced before the shell starts (the runner evaluates templates, then writes the script
  file). Only context lookups are supported (``inputs.x``, ``steps.id.outputs.x``,
  ``github.x``, ``runner.x``, ``env.x``); anything else raises, so an action that starts using
  more of the expression language makes these tests fail instead of silently passing.
  A missing value is the empty string, as in the runner.
- ``shell: bash`` runs ``bash --noprofile --norc -eo pipefail {0}`` on a script file in
  ``$RUNNER_TEMP``, in ``$GITHUB_WORKSPACE``; every step gets fresh ``GITHUB_OUTPUT`` and
  ``GITHUB_STEP_SUMMARY`` files and ``GITHUB_ACTION_PATH``.
- Output files: ``name=value`` lines and ``name<<DELIMITER`` heredocs (``SetOutputFileCommand``).
- Workflow commands on stdout: ``ActionCommand.TryParseV2`` and its unescaping, ported
  line by line; ``stop-commands`` suspends command processing until its token comes back.
- A composite action stops at its first failing step; its outputs are its ``outputs.*.value``
  expressions evaluated over the steps context.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_LOOKUP = re.compile(rf"^({_NAME})((?:\.{_NAME})*)$")

# ActionCommand.cs: the order of the mappings is the order of the sequential Replace calls.
DATA_MAPPINGS = (("\r", "%0D"), ("\n", "%0A"), ("%", "%25"))
PROPERTY_MAPPINGS = (("\r", "%0D"), ("\n", "%0A"), (":", "%3A"), (",", "%2C"), ("%", "%25"))
REGISTERED_COMMANDS = frozenset(
    {
        "add-mask",
        "add-matcher",
        "debug",
        "echo",
        "endgroup",
        "error",
        "group",
        "notice",
        "remove-matcher",
        "save-state",
        "set-env",
        "set-output",
        "stop-commands",
        "warning",
    }
)


def unescape(text: str, mappings: tuple[tuple[str, str], ...]) -> str:
    """``ActionCommand.UnescapeData``/``UnescapeProperty``: sequential replacements."""
    for token, replacement in mappings:
        text = text.replace(replacement, token)
    return text


@dataclass(frozen=True)
class Command:
    """One parsed workflow command."""

    name: str
    properties: dict[str, str]
    data: str


def parse_command(line: str) -> Command | None:
    """``ActionCommand.TryParseV2``: None when the line is not a registered ``::`` command."""
    message = line.lstrip()
    if not message.startswith("::"):
        return None
    end = message.find("::", 2)
    if end < 0:
        return None
    info = message[2:end]
    space = info.find(" ")
    name = info if space < 0 else info[:space]
    if name not in REGISTERED_COMMANDS:
        return None
    properties: dict[str, str] = {}
    if space > 0:
        for piece in info[space + 1 :].strip().split(","):
            if not piece:
                continue  # StringSplitOptions.RemoveEmptyEntries
            pair = [p for p in piece.split("=", 1) if p]
            if len(pair) == 2:
                # The runner's dictionary is case-insensitive; keys are kept lower-case here.
                properties[pair[0].lower()] = unescape(pair[1], PROPERTY_MAPPINGS)
    return Command(name, properties, unescape(message[end + 2 :], DATA_MAPPINGS))


def read_commands(stdout: str) -> list[Command]:
    """The commands the runner would execute for ``stdout``, honouring ``stop-commands``."""
    commands: list[Command] = []
    stop_token: str | None = None
    for line in stdout.splitlines():
        if stop_token is not None:
            if line.strip() == f"::{stop_token}::":
                stop_token = None
            continue
        command = parse_command(line)
        if command is None:
            continue
        if command.name == "stop-commands":
            stop_token = command.data
            continue
        commands.append(command)
    return commands


def read_output_file(path: Path) -> dict[str, str]:
    """A ``GITHUB_OUTPUT`` file as the runner reads it (``name=value`` and heredocs)."""
    values: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").split("\n") if path.exists() else []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        heredoc = line.find("<<")
        equals = line.find("=")
        if heredoc > 0 and (equals < 0 or heredoc < equals):
            name, delimiter = line[:heredoc], line[heredoc + 2 :]
            body: list[str] = []
            while True:
                if index >= len(lines):
                    raise AssertionError(f"output {name}: delimiter {delimiter!r} not found")
                current = lines[index]
                index += 1
                if current == delimiter:
                    break
                body.append(current)
            values[name] = "\n".join(body)
        elif equals > 0:
            values[line[:equals]] = line[equals + 1 :]
        else:
            raise AssertionError(f"invalid line in output file: {line!r}")
    return values


@dataclass
class StepRun:
    """What one step did."""

    step_id: str | None
    name: str
    script: str
    env: dict[str, str]
    exit_code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str

    @property
    def commands(self) -> list[Command]:
        """The workflow commands the runner would have executed."""
        return read_commands(self.stdout)


@dataclass
class ActionRun:
    """What the whole action did."""

    steps: list[StepRun]
    outputs: dict[str, str]
    failed: bool = False

    @property
    def exit_code(self) -> int:
        """The exit code of the step that ended the action (0 when every step passed)."""
        return next((s.exit_code for s in self.steps if s.exit_code), 0)

    @property
    def annotations(self) -> list[Command]:
        """Every error, warning and notice command of every step."""
        return [
            c for s in self.steps for c in s.commands if c.name in ("error", "warning", "notice")
        ]

    @property
    def summary(self) -> str:
        """The step summaries, in step order."""
        return "".join(s.summary for s in self.steps)

    def step(self, step_id: str) -> StepRun:
        """The run of the step with ``id: step_id``."""
        return next(s for s in self.steps if s.step_id == step_id)


@dataclass
class Runner:
    """Runs ``action.yml`` from ``action_path`` with a workspace and a runner temp folder."""

    action_path: Path
    workspace: Path
    runner_temp: Path
    github: dict[str, str] = field(default_factory=dict)
    base_env: dict[str, str] = field(default_factory=dict)
    timeout: float = 600

    def metadata(self) -> dict[str, Any]:
        """The parsed ``action.yml``."""
        loaded: dict[str, Any] = yaml.safe_load(
            (self.action_path / "action.yml").read_text(encoding="utf-8")
        )
        return loaded

    def run(self, inputs: Mapping[str, str] | None = None) -> ActionRun:
        """Run every step of the composite action with ``inputs`` (the ``with:`` map)."""
        action = self.metadata()
        assert action["runs"]["using"] == "composite"
        given = dict(inputs or {})
        declared = action.get("inputs") or {}
        unknown = set(given) - set(declared)
        assert not unknown, f"inputs not declared by the action: {sorted(unknown)}"
        contexts: dict[str, Any] = {
            "github": {**self.github, "action_path": str(self.action_path)},
            "runner": {"temp": str(self.runner_temp), "os": "Linux"},
            "env": {},
            "steps": {},
        }
        values: dict[str, str] = {}
        for name, spec in declared.items():
            default = str((spec or {}).get("default", ""))
            values[name] = given[name] if name in given else evaluate(default, contexts)
        contexts["inputs"] = values

        steps: list[StepRun] = []
        failed = False
        for index, step in enumerate(action["runs"]["steps"]):
            assert "if" not in step, "step conditions are not supported by this runner"
            assert step.get("shell") == "bash", "every run step must say shell: bash"
            env = {k: evaluate(str(v), contexts) for k, v in (step.get("env") or {}).items()}
            script = evaluate(step["run"], contexts)
            done = self._run_step(index, step, env, script)
            steps.append(done)
            if step.get("id"):
                contexts["steps"][step["id"]] = {
                    "outputs": done.outputs,
                    "outcome": "success" if done.exit_code == 0 else "failure",
                }
            if done.exit_code != 0:
                failed = True
                break
        outputs = {
            name: evaluate(str(spec["value"]), contexts)
            for name, spec in (action.get("outputs") or {}).items()
        }
        return ActionRun(steps, outputs, failed)

    def _run_step(
        self, index: int, step: dict[str, Any], env: dict[str, str], script: str
    ) -> StepRun:
        files = self.runner_temp / "_runner_file_commands"
        files.mkdir(parents=True, exist_ok=True)
        key = f"{index}_{uuid.uuid4().hex}"
        output_file = files / f"set_output_{key}"
        summary_file = files / f"step_summary_{key}"
        for path in (output_file, summary_file):
            path.write_text("", encoding="utf-8")
        script_file = self.runner_temp / f"{uuid.uuid4()}.sh"
        script_file.write_text(script, encoding="utf-8")
        full_env = {
            **self.base_env,
            **env,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTION_PATH": str(self.action_path),
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary_file),
            "RUNNER_TEMP": str(self.runner_temp),
        }
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
            cwd=self.workspace,
            env=full_env,
            capture_output=True,
            timeout=self.timeout,
            check=False,
        )
        return StepRun(
            step_id=step.get("id"),
            name=step.get("name", ""),
            script=script,
            env=env,
            exit_code=done.returncode,
            stdout=done.stdout.decode("utf-8", "replace"),
            stderr=done.stderr.decode("utf-8", "replace"),
            outputs=read_output_file(output_file),
            summary=summary_file.read_text(encoding="utf-8"),
        )


def lookup(expression: str, contexts: Mapping[str, Any]) -> str:
    """The value of a context lookup such as ``steps.check.outputs.decision``."""
    match = _LOOKUP.match(expression.strip())
    if match is None:
        raise NotImplementedError(f"expression not supported by the test runner: {expression!r}")
    value: Any = contexts
    for part in [match.group(1), *match.group(2).split(".")[1:]]:
        if not isinstance(value, Mapping):
            return ""
        if value is contexts and part not in contexts:
            raise NotImplementedError(f"unknown context {part!r} in {expression!r}")
        value = value.get(part)
        if value is None:
            return ""
    if isinstance(value, Mapping):
        raise NotImplementedError(f"{expression!r} is an object, not a string")
    return str(value)


def evaluate(template: str, contexts: Mapping[str, Any]) -> str:
    """A string with every ``${{ lookup }}`` replaced by its value."""
    return _EXPRESSION.sub(lambda m: lookup(m.group(1), contexts), template)


def clean_env() -> dict[str, str]:
    """This process's environment without anything a runner would set itself."""
    drop = ("GITHUB_", "RUNNER_", "INPUT_", "COMPLIANCEGATE_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}
