"""The book's widgets in a real browser: JupyterLab serving the chapters, chromium driven by
Playwright. What a learner does — open a chapter, run it, drag a slider, type a question — and
what must come back from the kernel. Screenshots land in build/browser (``KGQA_ARTIFACTS``)."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.browser

IDLE = '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status="idle"]'


def open_notebook(page, lab, name: str) -> None:
    page.goto(lab.url(name))
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)


def run_all(page, timeout_s: float) -> None:
    """Run every cell from the Run menu and wait until the last code cell has run and the kernel
    is idle. The first cell prints the quick-mode flag: it must say True (the kernel's own run)."""
    page.locator(".jp-NotebookPanel .jp-Cell").first.click()  # the notebook has the focus
    page.click('.lm-MenuBar-itemLabel:text-is("Run")')
    page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')
    page.wait_for_selector('.jp-InputPrompt:has-text("[*]")', timeout=30_000)  # the run has started
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.locator('.jp-InputPrompt:has-text("[*]")').count() == 0 and page.locator(IDLE).count():
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"the notebook did not finish within {timeout_s:.0f} s")
    assert page.locator(".jp-OutputArea-output:has-text('quick mode: True')").count() >= 1, "not run in quick mode"
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                        ":has-text('Traceback')").count() == 0, "a cell raised"


def dirty(page) -> bool:
    return page.locator(".lm-TabBar-tab.jp-mod-dirty").count() > 0


def test_every_committed_chapter_opens_unmodified(page, lab):
    """JupyterLab rewrites notebook metadata it disagrees with on opening, which marks the
    notebook as modified although nobody edited it; no committed chapter may be so marked, nor
    show a widget as its text repr."""
    modified = []
    for path in sorted(lab.root.glob("*.ipynb")):
        open_notebook(page, lab, path.name)
        time.sleep(2)  # the kernel has connected and JupyterLab has read its language_info
        if dirty(page):
            modified.append(path.name)
        assert page.locator(".jp-OutputArea-output:has-text('VBox(children=')").count() == 0, path.name
    assert not modified, f"opening marked these as modified: {modified}"


def test_chapter_3_slider_reaches_the_kernel(page, lab):
    open_notebook(page, lab, "03_differentiable_follow.ipynb")
    run_all(page, timeout_s=120)
    live = page.locator(".jupyter-widgets .kgqa-weights").first
    live.wait_for()
    live.scroll_into_view_if_needed()
    assert "0.70 exhibited_at" in live.text_content()
    readout = page.locator(".jupyter-widgets .widget-readout").first
    readout.scroll_into_view_if_needed()
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("0.9")
    page.keyboard.press("Enter")
    # the widget's HTML is recomputed by the kernel from the new value
    page.wait_for_function("""() => [...document.querySelectorAll('.jupyter-widgets .kgqa-weights')]
        .some(e => e.textContent.includes('0.90 exhibited_at') && e.textContent.includes('0.900'))""", timeout=20_000)
    toggle = page.locator('.jupyter-widgets button:has-text("product")').first
    toggle.scroll_into_view_if_needed()
    toggle.click()
    page.wait_for_function("""() => [...document.querySelectorAll('.jupyter-widgets .kgqa-weights')]
        .some(e => e.textContent.includes('product of the two') && e.textContent.includes('0.480'))""", timeout=20_000)
    page.locator('.jupyter-widgets .kgqa-weights:has-text("product of the two")').scroll_into_view_if_needed()


def test_chapter_10_explorer_answers_a_typed_question(page, lab, artifacts):
    open_notebook(page, lab, "10_explorer.ipynb")
    run_all(page, timeout_s=240)
    box = page.locator(".jupyter-widgets input[type='text']").first
    box.scroll_into_view_if_needed()
    question = "Who directed films starring Tom Hanks?"
    box.fill(question)
    start = time.monotonic()
    box.press("Enter")
    page.wait_for_function("""q => [...document.querySelectorAll('.jupyter-widgets .kgqa-question')]
        .some(e => e.textContent === q)""", arg=question, timeout=20_000)
    elapsed = time.monotonic() - start
    (artifacts / "explorer_latency.txt").write_text(f"{elapsed:.2f} s from Enter to the rendered trace\n")
    panel = page.locator(".jupyter-widgets .kgqa-trace").filter(has_text=question).first
    panel.scroll_into_view_if_needed()
    # a span with its score, the Tom Hanks candidates, a relation table and an answer with its score
    tips = panel.locator(".kgqa-mention").evaluate_all("els => els.map(e => e.title)")
    assert tips and all(t.startswith("p = ") for t in tips)
    assert any("tom_hanks_actor" in t for t in tips)
    assert panel.locator(".kgqa-walk th").filter(has_text="hop 1").count() >= 1
    scores = panel.locator(".kgqa-answers tr td:nth-child(3)").all_text_contents()
    assert scores and all(float(x) >= 0 for x in scores)
    # the graph of the carrying paths: pointing at an answer dims the paths that do not carry it,
    # clicking an entity sends its id to the kernel
    graph = page.locator(".jupyter-widgets svg.kgqa-paths").first
    graph.scroll_into_view_if_needed()
    answers = graph.locator(".kgqa-answer")
    assert answers.count() >= 1
    answers.first.hover()
    assert graph.locator("[data-answers]").evaluate_all("els => els.some(e => e.style.opacity === '0.15')") or \
        answers.count() == 1
    chosen = answers.first.get_attribute("data-id")
    answers.first.click()
    # ask the kernel: a new cell at the end prints what the widget sent back
    page.locator(".jp-Notebook .jp-Cell").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type("print('selected:', toy_explorer.graph.selected)")
    page.keyboard.press("Shift+Enter")
    page.locator(f".jp-OutputArea-output:has-text('selected: {chosen}')").wait_for(timeout=20_000)
