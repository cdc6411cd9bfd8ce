"""plot: KG drawings, neighbourhoods and relation counts (headless, Agg backend)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402

from kgqa.errors import UnknownEntityError, UnknownRelationError  # noqa: E402
from kgqa.plot import (  # noqa: E402
    HIGHLIGHT_COLOR,
    draw_kg,
    neighbourhood,
    plot_relation_counts,
)
from kgqa.traverse import trace_path  # noqa: E402


def _node_count(ax: Axes) -> int:
    nodes = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(nodes) == 1  # all nodes are drawn in one call
    return len(nodes[0].get_offsets())


def _edge_arrows(ax: Axes, color: str) -> list:
    rgba = matplotlib.colors.to_rgba(color)
    return [p for p in ax.patches if isinstance(p, matplotlib.patches.FancyArrowPatch)
            and tuple(p.get_edgecolor()) == rgba]


def test_neighbourhood_counts_by_hand(tiny):
    assert neighbourhood(tiny, "louvre", 0) == {"louvre"}
    assert neighbourhood(tiny, "louvre", 1) == {"louvre", "mona_lisa", "paris"}
    assert neighbourhood(tiny, "louvre", 2) == {"louvre", "mona_lisa", "paris", "france"}
    assert neighbourhood(tiny, "moma", 5) == {"moma", "starry_night", "new_york"}
    with pytest.raises(UnknownEntityError):
        neighbourhood(tiny, "lovre")


def test_neighbourhood_ignores_direction_without_inverses():
    from kgqa.kg import KnowledgeGraph

    kg = KnowledgeGraph.from_triples([("a", "r", "b"), ("c", "r", "b")])
    assert neighbourhood(kg, "b") == {"a", "b", "c"}
    assert neighbourhood(kg, "a", 2) == {"a", "b", "c"}


def test_draw_whole_graph_returns_axes(tiny):
    ax = draw_kg(tiny)
    assert isinstance(ax, Axes)
    assert _node_count(ax) == tiny.num_entities
    texts = {t.get_text() for t in ax.texts}
    assert "Mona Lisa" in texts and "exhibited_at" in texts
    assert not any(t.endswith("^-1") for t in texts)  # inverse facts are not drawn
    assert ax.get_legend() is not None


def test_draw_subgraph_into_given_axes(tiny):
    fig, ax = plt.subplots()
    out = draw_kg(tiny, entities=["mona_lisa", "louvre", "paris"], ax=ax, legend=False)
    assert out is ax
    assert _node_count(ax) == 3
    assert len(ax.patches) == 2  # exhibited_at and located_in
    assert ax.get_legend() is None


def test_shared_names_stay_distinguishable(toy):
    ids = ["tom_hanks_actor", "tom_hanks_seismologist", "tom_hanks_theologian"]
    ax = draw_kg(toy, entities=ids)
    labels = [t.get_text() for t in ax.texts if t.get_text().startswith("Tom Hanks")]
    assert len(labels) == 3 and len(set(labels)) == 3
    assert all(any(i in lab for lab in labels) for i in ids)


def test_highlight_tuples_and_hops(toy):
    ents = neighbourhood(toy, "mona_lisa", 2)
    ax = draw_kg(toy, entities=ents, highlight=[("mona_lisa", "exhibited_at", "louvre_museum")])
    assert len(_edge_arrows(ax, HIGHLIGHT_COLOR)) == 1

    hops = trace_path(toy, "mona_lisa", ["exhibited_at", "located_in", "located_in"])
    ax = draw_kg(toy, entities=["mona_lisa"], highlight=hops)  # endpoints are added
    assert _node_count(ax) == 4
    assert len(_edge_arrows(ax, HIGHLIGHT_COLOR)) == 3


def test_highlight_inverse_hop_is_drawn_the_way_it_was_followed(toy):
    hops = trace_path(toy, "star_wars_episode_ii", ["appears_in^-1"], keep={toy.entity_index("padme_amidala")})
    pos = {"star_wars_episode_ii": (0.0, 0.0), "padme_amidala": (1.0, 0.0)}
    ax = draw_kg(toy, entities=["padme_amidala", "star_wars_episode_ii"], highlight=[hops], pos=pos)
    arrows = _edge_arrows(ax, HIGHLIGHT_COLOR)
    assert len(arrows) == 1 and len(ax.patches) == 1  # the fact it mirrors is not drawn as well
    (x_from, _), (x_to, _) = arrows[0]._posA_posB  # noqa: SLF001 - where the arrow starts and ends
    assert (x_from, x_to) == (0.0, 1.0)  # from the film to the character: the direction followed
    red = [t.get_text() for t in ax.texts if matplotlib.colors.same_color(t.get_color(), HIGHLIGHT_COLOR)]
    assert red == ["appears_in⁻¹"]
    ax = draw_kg(toy, entities=["padme_amidala", "star_wars_episode_ii"], pos=pos)  # nothing followed: the fact
    assert [t.get_text() for t in ax.texts if t.get_text().startswith("appears")] == ["appears_in"]
    plt.close("all")


def test_hop_layout_puts_each_hop_on_its_own_ring(toy):
    import math

    from kgqa.plot import hop_layout, legend_handles
    from kgqa.traverse import walk_path

    path = ["starred_in", "written_by"]
    hops = trace_path(toy, "tom_hanks_actor", path, keep=walk_path(toy, ["tom_hanks_actor"], path))
    pos = hop_layout(toy, hops)
    assert pos["tom_hanks_actor"] == (0.0, 0.0)
    films = {toy.entities[o] for _, o in hops[0].edges}
    writers = {toy.entities[o] for _, o in hops[1].edges} - films
    assert all(math.isclose(math.hypot(*pos[f]), 1.0) for f in films)
    assert all(math.isclose(math.hypot(*pos[w]), 2.0) for w in writers)
    assert len({tuple(round(c, 6) for c in pos[e]) for e in films | writers}) == len(films | writers)  # no overlap
    ax = draw_kg(toy, entities=["tom_hanks_actor"], highlight=hops, pos=pos)
    assert _node_count(ax) == 1 + len(films | writers)
    with pytest.raises(ValueError, match="at least one hop"):
        hop_layout(toy, [])
    labels = [h.get_label() for h in legend_handles(toy, ["person", "film", "film"])]
    assert labels == ["film", "person"]
    plt.close("all")


def test_unknown_names_raise(toy):
    with pytest.raises(UnknownEntityError, match="mona_lisa"):
        draw_kg(toy, entities=["mona_lisa", "mona_lissa"])
    with pytest.raises(UnknownEntityError):
        draw_kg(toy, entities=["mona_lisa"], highlight=[("mona_lisa", "exhibited_at", "louvre")])
    with pytest.raises(UnknownRelationError):
        draw_kg(toy, entities=["mona_lisa"], highlight=[("mona_lisa", "shown_at", "louvre_museum")])
    with pytest.raises(TypeError):
        draw_kg(toy, highlight=["mona_lisa"])


def test_relation_counts_one_bar_per_base_relation(toy):
    ax = plot_relation_counts(toy)
    base = [r for r in toy.relations if not toy.is_inverse(r)]
    assert len(ax.patches) == len(base) == 16
    widths = {t.get_text(): p.get_width() for t, p in zip(ax.get_yticklabels(), ax.patches)}
    assert widths["starred_in"] == 30 and widths["field"] == 2
    assert max(widths, key=widths.get) == ax.get_yticklabels()[-1].get_text()  # largest on top
    fig, ax2 = plt.subplots()
    assert plot_relation_counts(toy, ax=ax2) is ax2


def test_followed_relation_is_red_and_parallel_fact_stays_grey(toy):
    # The Green Mile was both written and directed by Frank Darabont; only written_by is followed
    hops = trace_path(toy, "the_green_mile", ["written_by"])
    ax = draw_kg(toy, entities=["the_green_mile", "frank_darabont"], highlight=hops)
    colors = {t.get_text(): t.get_color() for t in ax.texts if t.get_text() in ("written_by", "directed_by")}
    assert matplotlib.colors.same_color(colors["written_by"], HIGHLIGHT_COLOR)
    assert not matplotlib.colors.same_color(colors["directed_by"], HIGHLIGHT_COLOR)


def test_components_are_laid_out_apart(toy):
    ents = ["mona_lisa", "louvre_museum", "the_starry_night", "museum_of_modern_art"]
    ax = draw_kg(toy, entities=ents, node_labels=False)
    xy = [c for c in ax.collections if isinstance(c, PathCollection)][0].get_offsets()
    dist = min(((xy[i] - xy[j]) ** 2).sum() ** 0.5 for i in range(4) for j in range(i + 1, 4))
    assert dist > 0.5  # no two nodes on top of each other
