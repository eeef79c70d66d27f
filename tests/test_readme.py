"""The README's promises that a test can keep honest."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    test_command = next(b.strip() for b in blocks if "pytest" in b)
    assert test_command in (ROOT / ".ci" / "run").read_text()


def _cli_rows() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Command line", 1)[1].split("\n\n", 2)[1]
    rows = {}
    for line in table.splitlines():
        found = re.match(r"\| `archive (\w+)", line)
        if found:
            rows[found.group(1)] = line
    return rows


def test_the_cli_table_lists_every_command_and_option() -> None:
    import argparse

    from archive.cli import parser

    rows = _cli_rows()
    commands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        assert name in rows, f"`archive {name}` is not in the README's command table"
        for action in command._actions:
            for option in action.option_strings:
                if option in ("-h", "--help", "--database-url", "--log-level"):
                    continue
                assert option in rows[name], f"`archive {name} {option}` is not in the table"
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices:
                    assert f"`{sub}" in rows[name] or f" {sub} " in rows[name], (name, sub)


def test_every_shell_variable_the_readme_uses_is_set_before() -> None:
    readme = (ROOT / "README.md").read_text()
    code = "\n".join(re.findall(r"```sh\n(.*?)```", readme, re.S))
    defined: set[str] = set()
    for line in code.splitlines():
        for used in re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", line):
            assert used in defined, f"${used} is used before the README sets it: {line}"
        defined |= set(re.findall(r"(?:^|\s|export\s)([A-Z_][A-Z0-9_]*)=", line))


def test_the_readme_says_how_to_serve_a_classroom() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "archive serve --host 0.0.0.0" in readme


def test_the_build_requires_a_setuptools_that_reads_the_license_field() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert isinstance(project["project"]["license"], str)  # an SPDX expression (PEP 639)
    requires = project["build-system"]["requires"]
    setuptools = next(r for r in requires if r.startswith("setuptools"))
    found = re.match(r"setuptools>=(\d+)", setuptools)
    # setuptools reads PEP 639's `license = "MIT"` from version 77 on
    assert found and int(found.group(1)) >= 77, setuptools
