"""The docs site: the generated configuration reference, and every documented command.

Commands are taken from the fenced ```bash / ```console blocks of README.md and docs/ (and from
inline code that starts with `.venv/bin/` or `make `), then run through a shell the way a reader
would after `make install`: from the project directory, with `.venv/bin` NOT on PATH. The quick
registry commands run for real on a temporary registry; flows, benchmarks and long-running
servers are checked with `--help` (the executable resolves, the script exists and parses the
documented options); `make` targets with `make -n`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import types
import typing
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, Field

from tasks.config import Config
from tests.helpers import register_demo_champions
from tests.processes import scaled

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCS = REPO_ROOT / "docs"
DOC_FILES = sorted([REPO_ROOT / "README.md", *DOCS.rglob("*.md")])
HOOK_PATH = DOCS / "hooks" / "config_reference.py"
VENV_BIN = REPO_ROOT / ".venv" / "bin"
HELP_RUNNER = REPO_ROOT / "tests" / "help_runner.py"
SHELL_FENCES = {"bash", "sh", "shell", "console"}
# Registry commands are quick and harmless on a temporary registry: run them for real.
RUN_FOR_REAL = re.compile(r"^\.venv/bin/(python -m tasks\.cli\.registry|autoretrain registry) ")
TIMEOUT = scaled(120)  # per command: 120 s, times xdist workers per core


def load_hook() -> types.ModuleType:
    """docs/hooks/config_reference.py, imported the way mkdocs imports a hook."""
    spec = importlib.util.spec_from_file_location("config_reference_hook", HOOK_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------
# The configuration reference


def _nested_models(annotation: Any) -> Iterator[tuple[str, type[BaseModel]]]:
    """Models inside an annotation, with the key segment they add ('' or '<column>.')."""
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield "", annotation
    elif origin is dict:
        for suffix, model in _nested_models(typing.get_args(annotation)[1]):
            yield f"<column>.{suffix}", model
    elif origin in (typing.Union, types.UnionType, list):
        for argument in typing.get_args(annotation):
            yield from _nested_models(argument)


def config_fields(
    model: type[BaseModel] = Config, prefix: str = ""
) -> Iterator[tuple[str, str, Any]]:
    """(key path, model.field, FieldInfo) of every field reachable from the root Config."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        yield path, f"{model.__name__}.{name}", info
        for suffix, nested in _nested_models(info.annotation):
            yield from config_fields(nested, f"{path}.{suffix}")


def test_every_config_field_has_a_description() -> None:
    fields = list(config_fields())
    missing = sorted({owner for _, owner, info in fields if not (info.description or "").strip()})
    assert len(fields) > 80  # the walk reaches the nested models, not only the top level
    assert missing == [], f"add Field(description=...) to {missing}"


def test_the_generated_reference_lists_every_key_path() -> None:
    page = load_hook().render_reference()
    paths = {path for path, _, _ in config_fields()}
    assert {"data.source.url", "policy.column_drift.<column>.threshold"} <= paths
    absent = sorted(path for path in paths if f"`{path}`" not in page)
    assert absent == [], f"the configuration reference misses {absent}"


def test_the_reference_shows_nested_defaults_and_demo_values() -> None:
    rows = {row.path: row for row in load_hook().walk(Config)}
    # ConfirmationsConfig's default instance is 2 of 3, not ConfirmationConfig's own 1 of 1
    assert rows["policy.confirmation.drift.breaches"].default == "`2`"
    assert rows["policy.confirmation.drift.runs"].default == "`3`"
    assert rows["policy.cooldown"].default == "`30d`"
    assert rows["orchestration.mode"].allowed == "`auto`, `inline`, `events`"
    assert rows["windows.current"].default == "required"
    page = load_hook().render_reference()
    assert "| `policy.cooldown` | duration |" in page and "| `120d` |" in page  # demo value
    sql_url = next(line for line in page.splitlines() if line.startswith("| `data.source.url`"))
    assert "(kind: sql)" in sql_url


def test_a_field_without_a_description_stops_the_reference() -> None:
    hook = load_hook()

    class Inner(BaseModel):
        documented: int = Field(default=1, description="Has one.")
        undocumented: int = 2

    class Outer(BaseModel):
        inner: Inner = Field(default=Inner(), description="Nested.")

    with pytest.raises(hook.MissingDescriptionError, match=r"Inner\.undocumented"):
        hook.walk(Outer)


def test_the_configuration_page_keeps_its_marker() -> None:
    hook = load_hook()
    source = (DOCS / hook.PAGE).read_text()
    assert source.count(hook.MARKER) == 1


@pytest.mark.slow  # starts processes
def test_mkdocs_builds_the_site_strictly_with_the_generated_reference(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [str(VENV_BIN / "mkdocs"), "build", "--strict", "--quiet", "--site-dir", str(site)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr
    html = (site / "configuration" / "index.html").read_text()
    assert "policy.confirmation.min_spacing" in html
    assert load_hook().MARKER not in html  # the marker was replaced


# ---------------------------------------------------------------------------------------------
# Documented commands


@dataclass(frozen=True)
class DocCommand:
    source: str  # file:line
    line: str  # the command as written


def extract_commands(markdown: str, name: str = "doc") -> list[DocCommand]:
    """Shell lines of fenced bash/console blocks, and inline `.venv/bin/...` or `make ...`."""
    commands = []
    fence: str | None = None
    pending = ""
    for number, raw in enumerate(markdown.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("```"):
            fence = None if fence is not None else (stripped[3:].strip().split() or [""])[0]
            continue
        if fence is None:
            for code in re.findall(r"(?<!`)`([^`]+)`(?!`)", raw):
                if code.startswith((".venv/bin/", "make ")):
                    commands.append(DocCommand(f"{name}:{number}", code))
            continue
        if fence not in SHELL_FENCES:
            continue
        if fence == "console":
            if not (stripped.startswith("$ ") or pending):
                continue
            stripped = stripped.removeprefix("$ ")
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        commands.append(DocCommand(f"{name}:{number}", pending + stripped))
        pending = ""
    return commands


def documented_commands() -> list[DocCommand]:
    commands = []
    for path in DOC_FILES:
        commands += extract_commands(path.read_text(), str(path.relative_to(REPO_ROOT)))
    return commands


def reader_environment(home: Path) -> dict[str, str]:
    """A shell after `make install`: .venv/bin not on PATH, no Prefect server configured."""
    path = [
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and Path(entry).resolve() != VENV_BIN.resolve() and ".venv" not in entry
    ]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PREFECT_", "VIRTUAL_ENV", "AUTORETRAIN_"))
    }
    return {
        **env,
        "PATH": os.pathsep.join(path),
        "PREFECT_HOME": str(home / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "NO_MKDOCS_2_WARNING": "1",
    }


def make_project(root: Path) -> Path:
    """A copy of the project directory: links to the repo, its own config and registry."""
    root.mkdir(parents=True, exist_ok=True)
    for entry in REPO_ROOT.iterdir():
        if entry.name not in {"config.yaml", ".autoretrain", ".git", "build"}:
            (root / entry.name).symlink_to(entry)
    (root / "config.yaml").write_text((REPO_ROOT / "config.yaml").read_text())
    registry_path = yaml.safe_load((root / "config.yaml").read_text())["registry"]["path"]
    registry = register_demo_champions(root / registry_path, 1, reason="docs test")
    # What a promotion writes beside the champion (`registry card` prints it).
    registry.save_card("v0001", "# Model card: seattle-weather v0001\n", {})
    return root


def _run(argv: list[str] | str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv,
        shell=isinstance(argv, str),
        executable="/bin/bash" if isinstance(argv, str) else None,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def _script_of(tokens: list[str], project: Path) -> Path | None:
    """The Python file a `python SCRIPT` or `python -m MODULE` command runs."""
    if len(tokens) < 2:
        return None
    if tokens[1] == "-m":
        spec = importlib.util.find_spec(tokens[2])
        return Path(spec.origin) if spec and spec.origin else None
    return project / tokens[1]


@dataclass(frozen=True)
class HelpCheck:
    """A documented line to run with `--help` appended: it parses its options and exits 0
    without doing the work."""

    where: str
    tokens: list[str]  # the line's words, VAR=value prefixes dropped

    @property
    def argv(self) -> list[str]:
        return [*self.tokens, "--help"]

    def judge(self, code: int, stdout: str, stderr: str) -> str | None:
        if code != 0:
            return f"{self.where}: `--help` exits {code}: {stderr.strip()[-500:]}"
        options = [token.split("=")[0] for token in self.tokens[1:] if token.startswith("--")]
        unknown = [
            option
            for option in options
            if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", stdout)
        ]
        return f"{self.where}: options not in its --help: {unknown}" if unknown else None


def precheck(command: DocCommand, project: Path, env: dict[str, str]) -> str | HelpCheck | None:
    """What is wrong with the documented line, None when it ran as written, or the --help run
    that decides (servers and flows included)."""
    where = f"{command.source}: `{command.line}`"
    try:
        tokens = shlex.split(command.line, comments=True)
    except ValueError as error:
        return f"{where}: not a shell line ({error})"
    while tokens and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", tokens[0]):
        tokens = tokens[1:]  # VAR=value prefixes
    if not tokens:
        return f"{where}: no command"
    program = tokens[0]
    if program == "export":
        result = _run(command.line, project, env)
        return None if result.returncode == 0 else f"{where}: exit {result.returncode}"
    resolved = _run(f"command -v {shlex.quote(program)}", project, env)
    if resolved.returncode != 0:
        return f"{where}: `{program}` is not found from the project directory after make install"
    if program == "make":
        result = _run(["make", "-n", *tokens[1:]], project, env)
        return None if result.returncode == 0 else f"{where}: {result.stderr.strip()}"
    if RUN_FOR_REAL.match(command.line):
        result = _run(command.line, project, env)
        if result.returncode != 0:
            return f"{where}: exit {result.returncode}: {result.stderr.strip()}"
        return None
    if Path(program).name.startswith("python"):
        script = _script_of(tokens, project)
        if script is None or not script.is_file():
            return f"{where}: no such script or module"
        source = script.read_text()
        # A program without options (parse_args, or a flow script's launch: tasks/cli/scripts.py)
        # would run on --help: only compile it.
        if "parse_args(" not in source and "sys.exit(launch(" not in source:
            compiled = _run([program, "-m", "py_compile", str(script)], project, env)
            if compiled.returncode != 0:
                return f"{where}: does not compile: {compiled.stderr.strip()}"
            extra = tokens[3:] if tokens[1] == "-m" else tokens[2:]
            return f"{where}: takes no arguments, documented with {extra}" if extra else None
    return HelpCheck(where, tokens)


def _runner_line(check: HelpCheck, project: Path) -> list[str] | None:
    """The line for tests/help_runner.py when the project's Python runs the program (a
    `.venv/bin/python SCRIPT|-m MODULE` line, or a console script of .venv/bin); else None."""
    program, *args = check.argv
    if program == ".venv/bin/python":
        return ["module", *args[1:]] if args[0] == "-m" else ["path", *args]
    path = project / program
    if not (program.startswith(".venv/bin/") and path.is_file()):
        return None
    with path.open("rb") as file:
        first = file.readline()
    return ["path", program, *args] if first.startswith(b"#!") and b"python" in first else None


def run_help_checks(
    checks: list[HelpCheck], project: Path, env: dict[str, str], threads: int
) -> list[str | None]:
    """The verdicts of checks, in order: the lines of one Python program in one
    tests/help_runner.py process (the program's imports paid once, not once a line), any other
    program's line in a process of its own."""
    results: list[str | None] = [None] * len(checks)
    by_program: dict[str, list[tuple[int, list[str]]]] = {}
    alone: list[int] = []
    for index, check in enumerate(checks):
        line = _runner_line(check, project)
        if line is None:
            alone.append(index)
        else:
            by_program.setdefault(check.tokens[0], []).append((index, line))

    def run_program(group: list[tuple[int, list[str]]]) -> None:
        verdicts = _run_runner([line for _, line in group], project, env)
        for (index, _), verdict in zip(group, verdicts, strict=True):
            results[index] = (
                checks[index].judge(*verdict) if isinstance(verdict, tuple) else verdict
            )

    def run_alone(index: int) -> None:
        result = _run(checks[index].argv, project, env)
        results[index] = checks[index].judge(result.returncode, result.stdout, result.stderr)

    # The largest groups first, so that the last thread to finish is not the longest one.
    jobs = [partial(run_program, group) for group in sorted(by_program.values(), key=len)[::-1]]
    jobs += [partial(run_alone, index) for index in alone]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda job: job(), jobs))
    return results


def _run_runner(
    lines: list[list[str]], project: Path, env: dict[str, str]
) -> list[tuple[int, str, str] | str]:
    """tests/help_runner.py over lines: (exit code, stdout, stderr) of each, or what went wrong
    with the runner itself."""
    with tempfile.TemporaryDirectory() as directory:
        output = Path(directory) / "results.json"
        result = subprocess.run(
            [".venv/bin/python", str(HELP_RUNNER), str(output)],
            input=json.dumps(lines),
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT + 10 * len(lines),
        )
        if result.returncode != 0 or not output.exists():
            failure = f"tests/help_runner.py exits {result.returncode}: {result.stderr[-500:]}"
            return [failure] * len(lines)
        return [tuple(verdict) for verdict in json.loads(output.read_text())]


WRONG_COMMANDS = [
    ("prefect server start", "not found"),  # Prefect lives in .venv/bin
    ("mkdocs serve", "not found"),
    (".venv/bin/python flows/no_such_flow.py --config config.yaml", "no such script"),
    (".venv/bin/python -m tasks.no_such_module", "no such script"),
    (".venv/bin/python flows/monitor.py --as-of 2014-07-01 --no-such-option", "not in its --help"),
    (".venv/bin/prefect server begin", "exits"),
    (".venv/bin/prefect server start --no-such-option 1", "not in its --help"),
    (".venv/bin/python -m tasks.cli.registry listing --config config.yaml", "exit 2"),
    (".venv/bin/python benchmarks/backtest.py --step 30d", "not in its --help"),
    (".venv/bin/python tasks/core/windows.py --step 30d", "takes no arguments"),
    ("make no-such-target", "No rule"),
]


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """What is wrong with every documented and every wrong example line (None: nothing).

    Each check starts a process (2-7 s on a busy machine, most of it imports): run them a few
    at a time, once, and let the tests below read the results. The --help runs of one Python
    program share a process (tests/help_runner.py).
    """
    base = tmp_path_factory.mktemp("reader")
    project, env = make_project(base / "project"), reader_environment(base)
    commands = documented_commands() + [
        DocCommand("example.md:1", line) for line, _ in WRONG_COMMANDS
    ]
    # A line documented in several places (40 of 140) is checked once: the results are by line.
    unique: dict[str, DocCommand] = {}
    for command in commands:
        unique.setdefault(command.line, command)
    commands = list(unique.values())
    with ThreadPoolExecutor(max_workers=3) as pool:
        found = list(pool.map(lambda command: precheck(command, project, env), commands))
    helps = [check for check in found if isinstance(check, HelpCheck)]
    verdicts = iter(run_help_checks(helps, project, env, threads=3))
    return {
        command.line: next(verdicts) if isinstance(result, HelpCheck) else result
        for command, result in zip(commands, found, strict=True)
    }


def test_the_docs_document_the_commands_a_reader_needs() -> None:
    lines = [command.line for command in documented_commands()]
    for expected in (
        "make demo",
        "make test",
        ".venv/bin/prefect server start",
        ".venv/bin/prefect worker start --pool autoretrain",
        ".venv/bin/autoretrain registry list --config config.yaml",
    ):
        assert any(line.startswith(expected) for line in lines), expected
    assert any(line.startswith("PREFECT_UI_API_URL=") for line in lines)
    assert any("flows/backtest.py" in line and "--step 30d" in line for line in lines)


@pytest.mark.slow  # starts processes
@pytest.mark.parametrize("command", documented_commands(), ids=lambda c: f"{c.source} {c.line}")
def test_a_documented_command_runs_as_written(
    command: DocCommand, checked: dict[str, str | None]
) -> None:
    assert checked[command.line] is None


@pytest.mark.slow  # starts processes
@pytest.mark.parametrize(("line", "problem"), WRONG_COMMANDS)
def test_a_wrong_documented_command_is_caught(
    line: str, problem: str, checked: dict[str, str | None]
) -> None:
    found = checked[line]
    assert found is not None and problem in found, found


def test_commands_are_taken_from_shell_blocks_and_inline_code_only() -> None:
    markdown = "\n".join(
        [
            "Run `.venv/bin/python flows/monitor.py --help` or `python flows/monitor.py` (prose).",
            "```bash",
            "# a comment",
            "export A=1        # trailing comment",
            ".venv/bin/prefect deploy \\",
            "  --all",
            "```",
            "```text",
            "not a command",
            "```",
            "```console",
            "$ make demo",
            "output line",
            "```",
        ]
    )
    lines = [command.line for command in extract_commands(markdown)]
    assert lines == [
        ".venv/bin/python flows/monitor.py --help",
        "export A=1        # trailing comment",
        ".venv/bin/prefect deploy --all",
        "make demo",
    ]


def test_the_tests_the_docs_cite_exist() -> None:
    cited = set()
    for path in DOC_FILES:
        cited |= set(re.findall(r"(tests/(?:\w+/)?test_\w+\.py)(?:::(\w+))?", path.read_text()))
    assert len(cited) > 10
    missing = []
    for file, name in sorted(cited):
        source = REPO_ROOT / file
        if not source.is_file():
            missing.append(file)
        elif name and not re.search(rf"^def {name}", source.read_text(), re.MULTILINE):
            missing.append(f"{file}::{name}")
    assert missing == [], f"the docs cite tests that do not exist: {missing}"


def test_the_modules_the_design_page_names_exist() -> None:
    """Each row of the layer table names modules of its package; none may be gone or renamed."""
    rows = list(_design_rows().items())
    assert len(rows) >= 8
    missing = []
    for package, text in rows:
        for name in re.findall(r"`(\w+\.py|\w+/)`", text):
            if not any((REPO_ROOT / package).rglob(name.rstrip("/"))):
                missing.append(f"{package}{name}")
    assert missing == [], f"docs/design.md names modules that are not in the tree: {missing}"


def _design_rows() -> dict[str, str]:
    """The layer table of docs/design.md: package (`flows/`, `tasks/core/`, ...) -> its text."""
    rows = re.findall(
        r"^\| `((?:flows|tasks/\w+)/)` \|(.*)\|$", (DOCS / "design.md").read_text(), re.M
    )
    return dict(rows)


def test_the_design_page_names_every_module() -> None:
    """Every module of flows/ and tasks/ is named on the design page: in its package's row of the
    layer table (by its path inside the package, `registry/_files.py` or `_files.py`), or by its
    path (`tasks/errors.py`); a new module without a line there fails here."""
    page = (DOCS / "design.md").read_text()
    rows = _design_rows()
    named = {package: set(re.findall(r"`([\w/]+\.py)`", text)) for package, text in rows.items()}
    unnamed = []
    for module in sorted([*REPO_ROOT.glob("flows/**/*.py"), *REPO_ROOT.glob("tasks/**/*.py")]):
        relative = module.relative_to(REPO_ROOT).as_posix()
        if module.name == "__init__.py" or f"`{relative}`" in page:
            continue
        package = next((p for p in rows if relative.startswith(p)), None)
        inside = relative.removeprefix(package) if package else relative
        names = named.get(package or "", set())
        if inside not in names and module.name not in names:
            unnamed.append(relative)
    assert unnamed == [], f"docs/design.md does not name these modules: {unnamed}"


def _text_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```text\n(.*?)^```$", markdown, re.M | re.S)


@pytest.mark.parametrize("name", ["demo-first-run.txt", "demo-second-run.txt"])
def test_the_readme_shows_the_demo_output_the_docs_include(name: str) -> None:
    """docs/index.md includes the demo's sample outputs from docs/snippets/ (which
    tests/flows/test_cli.py compares with a real run); the README, which cannot include,
    carries the same text."""
    sample = (DOCS / "snippets" / name).read_text()
    assert f'--8<-- "{name}"' in (DOCS / "index.md").read_text()
    assert sample in _text_blocks((REPO_ROOT / "README.md").read_text())
