"""environment.yml and pyproject.toml name the same dependencies; the Makefile pins the CPU torch."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_environment_yml_installs_the_package_with_every_extra():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert env["name"] == "kgqa" and "conda-forge" in env["channels"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert any(d.startswith("python=3.11") for d in conda) and "pip" in conda
    # no conda package other than the interpreter: pyproject.toml is the one list of dependencies
    assert [d for d in conda if not d.startswith(("python", "pip"))] == []
    (editable,) = [p for p in pip if p.startswith("-e")]
    extras = set(re.search(r"\[(.*)\]", editable).group(1).split(","))
    assert extras == set(_pyproject()["project"]["optional-dependencies"])


def test_pyproject_pins_cpu_torch_and_design_card_packages():
    deps = _pyproject()["project"]["dependencies"]
    assert "torch==2.13.0" in deps
    names = {re.split(r"[<>=!\[ ]", d)[0].lower() for d in deps}
    extras = _pyproject()["project"]["optional-dependencies"]
    names |= {re.split(r"[<>=!\[ ]", d)[0].lower() for group in extras.values() for d in group}
    for pkg in ("torch", "transformers", "networkx", "matplotlib", "ipywidgets", "nbval", "jupyterlab"):
        assert pkg in names, pkg


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text() and "make demo" in (ROOT / "README.md").read_text()
