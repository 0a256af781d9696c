"""The Dockerfile: multi-stage, pinned slim base, locked install, non-root, no build tools.

No Docker engine runs here, so the image is proven by its steps being the install commands that
`make install` runs (and `make test` proves): this test keeps the two in step.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.deploy.k8s import K8S, REPO, split_image

BUILD_TOOLS = re.compile(
    r"\b(apt-get|apt|apk|dnf|yum)\b.*\binstall\b|\b(gcc|g\+\+|clang|make|build-essential|"
    r"python3?-dev|libpq-dev|cargo|rustc)\b|\b(pip|uv)\s+(pip\s+)?(install|sync)\b"
)


@dataclass
class Stage:
    """One FROM ... block of the Dockerfile."""

    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        """Arguments of every instruction of one kind, in order."""
        return [a for i, a in self.instructions if i == instruction]


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        lines.append(current + line)
        current = ""
    return lines


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with ${ARG} in FROM resolved."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(text):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        rest = rest.strip()
        if instruction == "FROM":
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args[m.group(1)], rest.split()[0])
            match = re.search(r"\bAS\s+(\S+)", rest, re.IGNORECASE)
            stages.append(Stage(image=image, name=match.group(1) if match else None))
        elif not stages and instruction == "ARG":
            name, _, default = rest.partition("=")
            global_args[name] = default
        elif stages:
            stages[-1].instructions.append((instruction, rest))
    return global_args, stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile((REPO / "Dockerfile").read_text())[1]


def _stage(stages: list[Stage], name: str) -> Stage:
    (stage,) = [s for s in stages if s.name == name]
    return stage


def _context_sources(stages: list[Stage]) -> set[str]:
    """Every path the build copies from the build context (not from another stage)."""
    return {
        source.rstrip("/")
        for stage in stages
        for copy in stage.args("COPY")
        if not copy.startswith("--from=")
        for source in shlex.split(copy)[:-1]
    }


@pytest.fixture(scope="module")
def pyproject() -> dict[str, object]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _make_install_commands() -> list[str]:
    """The recipe of the Makefile target that installs the locked runtime set."""
    lines = (REPO / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("$(VENV)/.main:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return [line for line in recipe if " pip " in line]


def test_parser_reads_a_small_dockerfile() -> None:
    text = (
        "ARG BASE=python:3.11.9-slim\nFROM ${BASE} AS build\nRUN a \\\n  b\nFROM ${BASE}\nUSER 1\n"
    )
    args, parsed = parse_dockerfile(text)
    assert args == {"BASE": "python:3.11.9-slim"}
    assert [(s.image, s.name) for s in parsed] == [
        ("python:3.11.9-slim", "build"),
        ("python:3.11.9-slim", None),
    ]
    assert parsed[0].args("RUN") == ["a  b"]
    assert parsed[1].args("USER") == ["1"]


def test_multi_stage_on_pinned_slim_bases(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    assert stages[-1].name == "runtime"
    for stage in stages:
        _, tag, digest = split_image(stage.image)
        assert tag is not None or digest is not None, f"{stage.image} is not pinned"
        assert tag != "latest", stage.image
        assert re.fullmatch(r"\d+\.\d+\.\d+-(bookworm-)?slim(-\w+)?", tag or ""), stage.image
    for name in ("builder", "runtime"):
        repository, tag, _ = split_image(_stage(stages, name).image)
        assert repository == "python"
        assert (tag or "").startswith("3.11."), "the image runs the Python the lockfile is for"
    makefile = (REPO / "Makefile").read_text()
    assert "--python-version 3.11" in makefile


def test_builder_installs_the_lockfile_like_make(stages: list[Stage]) -> None:
    builder = _stage(stages, "builder")
    runs = builder.args("RUN")
    make = _make_install_commands()
    assert any("pip sync" in m and "requirements/main.txt" in m for m in make)
    assert any("pip install" in m and "--no-deps" in m for m in make)
    sync = [r for r in runs if re.search(r"\buv pip sync\b", r)]
    assert len(sync) == 1
    assert sync[0].split()[-1] == "requirements/main.txt"
    assert "--require-hashes" in sync[0]
    installs = [r for r in runs if re.search(r"\buv pip install\b", r)]
    tools = [r for r in installs if "requirements/build.txt" in r]
    install = [r for r in installs if r not in tools]
    assert len(tools) == 1 and "--require-hashes" in tools[0], "Cython/setuptools hash-checked"
    assert len(install) == 1
    assert "--no-deps" in install[0]
    assert "--no-build-isolation" in install[0], "built against the locked lxml, not a fresh one"
    assert install[0].split()[-1] == "."
    assert runs.index(sync[0]) < runs.index(tools[0]) < runs.index(install[0])
    assert any("uninstall" in r and "cython" in r for r in runs), "build tools leave the venv"
    uv = [r for r in runs if re.search(r"pip install \"?uv==", r)]
    assert uv, "uv is installed with pip at a pinned version"
    assert not any("uv.lock" in r or "pip compile" in r or "uv lock" in r for r in runs)


def test_builder_copies_the_project(stages: list[Stage], pyproject: dict[str, object]) -> None:
    tool = pyproject["tool"]
    assert isinstance(tool, dict)
    packages = {p.rstrip("*") for p in tool["setuptools"]["packages"]["find"]["include"]}
    expected = packages | {"requirements/main.txt", "pyproject.toml", "README.md", "data"}
    expected |= {"requirements/build.txt", "setup.py"}
    assert expected <= _context_sources([_stage(stages, "builder")])


def test_copied_sources_exist(stages: list[Stage], pyproject: dict[str, object]) -> None:
    project = pyproject["project"]
    assert isinstance(project, dict)
    readme = project["readme"]
    missing = sorted(s for s in _context_sources(stages) if not (REPO / s).exists())
    if missing == [readme]:
        pytest.skip(f"{readme} is not written yet; `docker build` needs it")
    assert not missing, f"docker build would fail: {missing}"


def test_console_assets_come_from_the_npm_lockfile(stages: list[Stage]) -> None:
    if not (REPO / "package-lock.json").exists():
        pytest.skip("no front-end lockfile")
    assets = _stage(stages, "assets")
    assert {"package.json", "package-lock.json"} <= _context_sources([assets])
    (install,) = assets.args("RUN")
    assert install.startswith("npm ci ")
    assert "--omit=dev" in install
    assert "--ignore-scripts" in install
    runtime = _stage(stages, "runtime").args("COPY")
    assert "--from=assets /src/node_modules /app/node_modules" in runtime


def test_final_stage_is_non_root_without_build_tools(stages: list[Stage]) -> None:
    final = stages[-1]
    (user,) = final.args("USER")
    uid = user.split(":")[0]
    assert uid.isdigit(), "numeric USER so runAsNonRoot can verify it"
    assert int(uid) >= 10000
    assert "0" not in user.split(":")
    for run in final.args("RUN"):
        assert not BUILD_TOOLS.search(run), f"build tooling in the final stage: {run}"
    copies = final.args("COPY")
    assert any(c.startswith("--from=builder /opt/venv") for c in copies)
    assert all(c.startswith("--from=") for c in copies), "the final stage copies only build output"


def test_final_stage_uid_matches_the_manifests(stages: list[Stage]) -> None:
    uid = int(stages[-1].args("USER")[0].split(":")[0])
    api = yaml.safe_load_all((K8S / "base" / "api.yaml").read_text())
    deployment = next(d for d in api if d["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == uid


def test_entrypoint_is_the_console_script(
    stages: list[Stage], pyproject: dict[str, object]
) -> None:
    final = stages[-1]
    project = pyproject["project"]
    assert isinstance(project, dict)
    assert "alertcast" in project["scripts"]
    (entrypoint,) = final.args("ENTRYPOINT")
    assert json.loads(entrypoint) == ["alertcast"]
    (cmd,) = final.args("CMD")
    assert json.loads(cmd) == ["serve", "--host", "0.0.0.0", "--port", "8000"]
    env = " ".join(final.args("ENV"))
    assert "ALERTCAST_DATA_DIR=/app/data" in env
    assert "/opt/venv/bin" in env


def test_dockerignore_allows_only_what_the_build_copies(stages: list[Stage]) -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "allow-list: exclude everything, re-include what the build needs"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    for source in _context_sources(stages):
        assert source in allowed, f"{source} is excluded by .dockerignore"
    assert not {".venv", ".git", "var", "tests"} & allowed


def test_lockfile_exists_with_hashes() -> None:
    lock = REPO / "requirements" / "main.txt"
    assert Path(lock).is_file()
    assert "--hash=sha256:" in lock.read_text()
