"""Fixtures of the browser tests: a JupyterLab server over copies of the chapters and a chromium
page driven by Playwright. Without chromium or Playwright every test here is skipped, saying why;
``.ci/run`` installs chromium (Debian's package) when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab import Lab, chromium_binary, copy_notebooks

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_binary()
    if path is None:
        pytest.skip("no chromium binary (apt-get install chromium, or set KGQA_CHROMIUM): browser tests skipped")
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright): browser tests skipped")
    return path


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go: ``KGQA_ARTIFACTS``, else build/browser."""
    out = Path(os.environ.get("KGQA_ARTIFACTS", ROOT / "build" / "browser"))
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="session")
def lab(chromium, tmp_path_factory):
    """JupyterLab on 127.0.0.1 over copies of every chapter (the committed ones are never touched),
    quick mode in its kernels."""
    root = tmp_path_factory.mktemp("lab") / "notebooks"
    copy_notebooks(NOTEBOOKS, root, [p.name for p in NOTEBOOKS.glob("*.ipynb")])
    env = {"KGQA_QUICK": "1", "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    with Lab(root, env) as server:
        yield server


@pytest.fixture(scope="session")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture()
def page(browser, artifacts, request):
    """A fresh page; its screenshot is saved as ``<test name>.png`` whether the test passes or not."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    try:
        pg.screenshot(path=str(artifacts / f"{request.node.name}.png"), full_page=False)
    finally:
        context.close()
