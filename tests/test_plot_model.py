"""kgqa.plot.model: figures of a model's answer, built from hand-made Traces and tensors (no training)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.patches import FancyArrowPatch, Rectangle  # noqa: E402

from kgqa.plot import HIGHLIGHT_COLOR  # noqa: E402
from kgqa.plot.model import (  # noqa: E402
    GOLD_COLOR,
    PEAK_COLOR,
    draw_answer_path,
    followed_path,
    plot_entity_scores,
    plot_hop_attention,
    plot_relation_attention,
    plot_training_curves,
    trace_answer,
)
from kgqa.trace import AnswerTrace, BranchTrace, HopTrace, PathTrace, Scored, Trace  # noqa: E402


def hand_trace(question: str, topics: list[str], answers: list[tuple[str, str, float]],
               relations: list[list[tuple[str, float]]], attention: list[float],
               paths: list[list[str]] = ()) -> Trace:
    """A one-walk Trace as a trained model gives it; ``paths``: the top answer's paths, each as
    entity, relation, entity, ... ids."""
    def path(p: list[str]) -> PathTrace:
        return PathTrace(0, [Scored(e, e, 0.0) for e in p[::2]], list(p[1::2]), 0.1, 1.0 / len(paths))

    hops = [HopTrace(rel, a, []) for rel, a in zip(relations, attention)]
    ranked = [AnswerTrace(i, n, s) for i, n, s in answers]
    if ranked:
        ranked[0].paths = [path(p) for p in paths]
    return Trace(question, "given", "bce", [Scored(t, t, 1.0) for t in topics],
                 [BranchTrace([Scored(t, t, 1.0) for t in topics], hops, [])], ranked)


@pytest.fixture()
def mona_lisa() -> Trace:
    """An answer as a trained model gives it: exhibited_at, then located_in, hop 2 attended."""
    return hand_trace(
        "What city is the Mona Lisa in?", ["mona_lisa"],
        [("paris", "Paris", 0.89), ("louvre_museum", "Louvre Museum", 0.10), ("france", "France", 0.004)],
        [[("exhibited_at", 0.97), ("created^-1", 0.02), ("born_in", 0.01)],
         [("located_in", 0.99), ("born_in", 0.006), ("works_at", 0.004)],
         [("located_in", 0.90), ("capital_of", 0.05), ("located_in^-1", 0.01)]],
        [0.10, 0.89, 0.01],
        [["mona_lisa", "exhibited_at", "louvre_museum", "located_in", "paris"]],
    )


def _bars(ax: Axes) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def _red_arrows(ax: Axes) -> list[FancyArrowPatch]:
    rgba = matplotlib.colors.to_rgba(HIGHLIGHT_COLOR)
    return [p for p in ax.patches if isinstance(p, FancyArrowPatch) and tuple(p.get_edgecolor()) == rgba]


# ---------------------------------------------------------------------------- relation attention
def test_relation_heatmap_from_tensor_keeps_the_top_relations():
    names = [f"r{j}" for j in range(6)]
    rel = torch.tensor([[0.05, 0.70, 0.05, 0.10, 0.05, 0.05],
                        [0.60, 0.05, 0.05, 0.05, 0.20, 0.05]])  # (T=2, R=6)
    ax = plot_relation_attention(rel, names, top=3)
    assert isinstance(ax, Axes)
    matrix = ax.images[0].get_array()
    assert matrix.shape == (2, 3)  # hops x top relations
    cols = [t.get_text() for t in ax.get_xticklabels()]
    assert cols == ["r1", "r0", "r4"]  # each hop's best relation first: the path reads diagonally
    assert [t.get_text() for t in ax.get_yticklabels()] == ["hop 1", "hop 2"]
    cells = sorted(t.get_text() for t in ax.texts)
    assert len(cells) == 6 and "0.70" in cells and "0.60" in cells
    assert math.isclose(float(matrix[0, 0]), 0.70, abs_tol=1e-6)


def test_relation_heatmap_from_answer_blanks_unrecorded_cells(mona_lisa):
    ax = plot_relation_attention(mona_lisa, top=8)
    matrix = ax.images[0].get_array()
    names = [t.get_text() for t in ax.get_xticklabels()]
    assert matrix.shape == (3, len(names)) and len(names) == 7  # every relation the answer recorded
    assert names[:2] == ["exhibited_at", "located_in"]  # the path first
    assert names[2:4] == ["created^-1", "born_in"]  # then by the hop where each peaks
    assert int(matrix.mask.sum()) == 3 * 7 - 9  # 3 recorded weights per hop, the rest blank
    assert len(ax.texts) == 9
    assert "a = 0.89" in ax.get_yticklabels()[1].get_text()  # the hop attention comes along


def test_relation_heatmap_accepts_ax_and_checks_inputs():
    fig, ax = plt.subplots()
    rel = torch.softmax(torch.randn(1, 3, 5), dim=-1)  # (1, T, R) as QAOutput.relations holds it
    assert plot_relation_attention(rel, list("abcde"), top=10, ax=ax, hop_attention=torch.tensor([0.2, 0.3, 0.5])) is ax
    assert ax.images[0].get_array().shape == (3, 5)
    with pytest.raises(ValueError, match="relation names"):
        plot_relation_attention(rel, list("abc"))
    with pytest.raises(ValueError, match="relation names"):
        plot_relation_attention(rel[0])
    with pytest.raises(ValueError, match="hop_attention"):
        plot_relation_attention(rel, list("abcde"), hop_attention=[0.5, 0.5])


# ---------------------------------------------------------------------------- hop attention
def test_hop_attention_one_bar_per_hop_peak_in_red(mona_lisa):
    ax = plot_hop_attention(mona_lisa)
    bars = _bars(ax)
    assert len(bars) == 3
    assert [round(b.get_height(), 2) for b in bars] == [0.10, 0.89, 0.01]
    red = [i for i, b in enumerate(bars) if matplotlib.colors.same_color(b.get_facecolor(), PEAK_COLOR)]
    assert red == [1]
    fig, ax2 = plt.subplots()
    assert plot_hop_attention(torch.tensor([[0.5, 0.5]]), ax=ax2) is ax2
    assert len(_bars(ax2)) == 2
    with pytest.raises(ValueError):
        plot_hop_attention([])


# ---------------------------------------------------------------------------- entity scores
def test_entity_scores_top_k_with_gold_highlighted(toy):
    scores = torch.zeros(toy.num_entities)
    picks = {"paris": 0.6, "louvre_museum": 0.25, "france": 0.1, "vinci": 0.05}
    for e, s in picks.items():
        scores[toy.entity_index(e)] = s
    ax = plot_entity_scores(toy, scores, k=3, gold=["paris"])
    bars = _bars(ax)
    assert len(bars) == 3  # k bars
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["France", "Louvre Museum", "Paris"]  # best on top (barh draws bottom-up)
    green = [labels[i] for i, b in enumerate(bars) if matplotlib.colors.same_color(b.get_facecolor(), GOLD_COLOR)]
    assert green == ["Paris"]
    assert ax.get_legend() is not None


def test_entity_scores_skip_unreached_and_accept_answers(toy, mona_lisa):
    scores = torch.zeros(1, toy.num_entities)  # (1, E)
    scores[0, toy.entity_index("paris")] = 1.0
    ax = plot_entity_scores(toy, scores, k=10)
    assert len(_bars(ax)) == 1 and ax.get_legend() is None  # zeros are not answers
    fig, ax2 = plt.subplots()
    assert plot_entity_scores(toy, mona_lisa, k=2, gold=[toy.entity_index("louvre_museum")], ax=ax2) is ax2
    bars = _bars(ax2)
    assert len(bars) == 2
    assert matplotlib.colors.same_color(bars[0].get_facecolor(), GOLD_COLOR)  # Louvre, second best, is gold
    assert not matplotlib.colors.same_color(bars[1].get_facecolor(), GOLD_COLOR)
    ax3 = plot_entity_scores(toy, torch.zeros(toy.num_entities))
    assert len(_bars(ax3)) == 0 and "no entity reached" in [t.get_text() for t in ax3.texts]
    with pytest.raises(ValueError, match="entities"):
        plot_entity_scores(toy, torch.zeros(5))


def test_entity_scores_label_shared_names_apart(toy):
    scores = torch.zeros(toy.num_entities)
    for i, e in enumerate(["tom_hanks_actor", "tom_hanks_seismologist"]):
        scores[toy.entity_index(e)] = 0.5 - 0.1 * i
    labels = [t.get_text() for t in plot_entity_scores(toy, scores).get_yticklabels()]
    assert len(labels) == 2 and len(set(labels)) == 2


# ---------------------------------------------------------------------------- training curves
def test_training_curves_two_axes_and_kept_epoch():
    history = [{"epoch": 1, "loss": 2.0, "dev_hits@1": 30.0, "seconds": 1.0},
               {"epoch": 2, "loss": 1.0, "dev_hits@1": 50.0, "seconds": 1.0},
               {"epoch": 3, "loss": 0.5, "dev_hits@1": 50.0, "seconds": 1.0}]
    ax = plot_training_curves(history)
    assert isinstance(ax, Axes)
    twin = [a for a in ax.figure.axes if a is not ax]
    assert len(twin) == 1
    (loss_line,) = [ln for ln in ax.lines if ln.get_label() == "training loss"]
    assert list(loss_line.get_ydata()) == [2.0, 1.0, 0.5]
    assert list(twin[0].lines[0].get_ydata()) == [30.0, 50.0, 50.0]
    kept = [ln for ln in ax.lines if ln.get_label().startswith("kept")]
    assert len(kept) == 1 and list(kept[0].get_xdata()) == [3, 3]  # a tie keeps the later epoch
    assert ax.get_legend() is not None


def test_training_curves_accept_a_fit_result_and_ax():
    class Result:  # what FitResult offers: .history
        history = [{"epoch": 1, "loss": 1.0, "dev_hits@1": float("nan")}]

    fig, ax = plt.subplots()
    assert plot_training_curves(Result(), ax=ax) is ax
    assert not [ln for ln in ax.lines if ln.get_label().startswith("kept")]  # no validation split
    with pytest.raises(ValueError):
        plot_training_curves([])


# ---------------------------------------------------------------------------- the followed path
def test_followed_path_is_the_heaviest_path_of_the_top_answer(toy, mona_lisa):
    assert followed_path(mona_lisa) == ["exhibited_at", "located_in"]
    traces = trace_answer(toy, mona_lisa)
    assert len(traces) == 1
    edges = [[(toy.entities[s], toy.entities[o]) for s, o in hop.edges] for hop in traces[0]]
    assert edges == [[("mona_lisa", "louvre_museum")], [("louvre_museum", "paris")]]


def test_draw_answer_path_highlights_the_path(toy, mona_lisa):
    ax = draw_answer_path(toy, mona_lisa, legend=False)
    assert isinstance(ax, Axes)
    assert len(_red_arrows(ax)) == 2  # mona_lisa -> louvre -> paris
    texts = {t.get_text() for t in ax.texts}
    assert {"Mona Lisa", "Louvre Museum", "Paris"} <= texts
    assert "exhibited_at > located_in" in ax.get_title()
    fig, ax2 = plt.subplots()
    assert draw_answer_path(toy, mona_lisa, radius=0, ax=ax2) is ax2
    nodes = [c for c in ax2.collections if isinstance(c, matplotlib.collections.PathCollection)]
    assert len(nodes[0].get_offsets()) == 3  # the path alone


def test_draw_answer_path_keeps_to_the_top_answer(toy):
    writers = hand_trace("Who wrote films starring Tom Hanks?", ["tom_hanks_actor"],
                         [("william_broyles_jr", "William Broyles Jr.", 0.2), ("eric_roth", "Eric Roth", 0.1)],
                         [[("starred_in", 0.98)], [("written_by", 0.99)], [("born_in", 0.4)]], [0.1, 0.85, 0.05],
                         [["tom_hanks_actor", "starred_in", "apollo_13", "written_by", "william_broyles_jr"],
                          ["tom_hanks_actor", "starred_in", "cast_away", "written_by", "william_broyles_jr"]])
    ax = draw_answer_path(toy, writers, max_entities=6)
    # Broyles wrote two Tom Hanks films, Apollo 13 and Cast Away; the other writers are not marked
    assert len(_red_arrows(ax)) == 4
    nodes = [c for c in ax.collections if isinstance(c, matplotlib.collections.PathCollection)]
    assert len(nodes[0].get_offsets()) == 6  # 4 on the path + 2 neighbours: the cap holds
    assert "Eric Roth" not in {t.get_text() for t in ax.texts}
    nothing = hand_trace("?", ["mona_lisa"], [], [[("created^-1", 0.5)]], [1.0])
    ax = draw_answer_path(toy, nothing)
    assert not _red_arrows(ax) and "no entity reached" in ax.get_title()


def test_plot_intersection_rows_columns_and_errors(toy):
    import matplotlib.pyplot as plt
    import torch

    from kgqa.plot.branches import plot_intersection

    a, b = torch.zeros(toy.num_entities), torch.zeros(toy.num_entities)
    shared, only_a, only_b = (toy.entity_index(e) for e in ("padme_amidala", "nina_sayers", "yoda"))
    a[[shared, only_a]] = 0.5
    b[[shared, only_b]] = 0.25
    ax = plot_intersection(toy, torch.stack([a, b]), branch_labels=["Portman", "Episode II"], gold=["padme_amidala"])
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows[0] == toy.label(shared) and set(rows) == {toy.label(i) for i in (shared, only_a, only_b)}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Portman", "Episode II", "min"]
    texts = {t.get_text() for t in ax.texts}
    assert "0.25" in texts and "0.5" in texts  # min(0.5, 0.25) for the shared row
    cells = ax.get_images()[0].get_array()  # the raw scores on one scale, not each column on its own
    assert cells[0].tolist() == [0.5, 0.25, 0.25] and cells.mask[1:, 2].all()  # zeros drawn white
    assert len(ax.figure.axes) == 2  # the colour bar
    plt.close("all")
    ax = plot_intersection(toy, torch.stack([a, b]), torch.stack([a, b]).sum(0) / 1.5)
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "combined"  # given, it is not called a minimum
    ax = plot_intersection(toy, torch.stack([a, b]), a, combined_label="mixed over readings")
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "mixed over readings"
    tiny = torch.zeros(toy.num_entities)
    tiny[[shared, only_a]] = torch.tensor([1.0, 1e-9])
    ax = plot_intersection(toy, torch.stack([tiny, tiny]))
    assert ax.get_images()[0].norm.vmin == pytest.approx(1e-6)  # six decades; 1e-9 is drawn white, written out
    assert "1e-09" in {t.get_text() for t in ax.texts}
    plt.close("all")
    with pytest.raises(ValueError, match="branch_scores must be"):
        plot_intersection(toy, a)
    with pytest.raises(ValueError, match="2 branches"):
        plot_intersection(toy, torch.stack([a, b]), branch_labels=["x"])
    with pytest.raises(ValueError, match="combine"):
        plot_intersection(toy, torch.stack([a, b]), combine="max")


def test_flow_diagrams_draw_every_box_and_reject_bad_ones():
    import matplotlib.pyplot as plt

    from kgqa.plot.diagrams import BOX_COLORS, draw_flow, readings_diagram

    ax = readings_diagram()
    texts = {t.get_text() for t in ax.texts}
    assert {"span scorer\np(s)", "count head\nP(n)", "entity scorer\np(e | s) → x0_k"} <= texts
    learned = [t for t in ax.texts if t.get_bbox_patch() is not None
               and t.get_bbox_patch().get_facecolor()[:3] == matplotlib_rgb(BOX_COLORS["learned"])]
    assert len(learned) == 4  # span scorer, entity scorer, count head, hop relations
    plt.close("all")
    from kgqa.plot import diagrams

    for name, n_learned, must in [("follow_diagram", 0, "follow(x, r)\n(B, E)"),
                                  ("end_to_end_diagram", 3, "hop attention\na = softmax(W_a h)"),
                                  ("resolver_diagram", 3, "span scorer\np(s)"),
                                  ("branches_diagram", 2, "ŷ = min(ŷ^1, ŷ^2)")]:
        ax = getattr(diagrams, name)()
        fills = [t.get_bbox_patch().get_facecolor()[:3] for t in ax.texts if t.get_bbox_patch() is not None]
        assert fills.count(matplotlib_rgb(BOX_COLORS["learned"])) == n_learned, name
        assert must in {t.get_text() for t in ax.texts}, name
        plt.close("all")
    with pytest.raises(ValueError, match="'nowhere', which is not a box"):
        draw_flow({"a": (0, 0, "a", "data")}, [("a", "nowhere", "")])
    with pytest.raises(ValueError, match="box kind must be one of"):
        draw_flow({"a": (0, 0, "a", "weights")}, [])
    plt.close("all")


def matplotlib_rgb(color: str) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return to_rgb(color)
