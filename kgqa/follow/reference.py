"""Eq. (1) as written, with the three incidence matrices: the oracle of every ``follow`` kernel.

    follow(x, r) = ((x M_subjᵀ) ⊙ (r M_relᵀ)) M_obj

``x M_subjᵀ (B, T)`` is the weight of each fact's subject, ``r M_relᵀ (B, T)`` the weight of its
relation; their product is what each fact hands on, and ``· M_obj`` adds it into the objects. Three
sparse-dense products and an element-wise product, differentiable by autograd in ``x``, ``r`` and
the fact weights. It builds ``(T, B)`` intermediates, which the kernels avoid: use it to check them
(tests, benchmarks, chapter 3), not to answer questions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ..types import Tensor

if TYPE_CHECKING:  # ReifiedKG.incidence builds its matrices here
    from .reified import ReifiedKG

__all__ = ["follow_reference", "incidence_matrices"]

Matrices = tuple[Tensor, Tensor, Tensor]


def incidence_matrices(triples: Tensor, num_entities: int, num_relations: int,
                       dtype: torch.dtype = torch.float32) -> Matrices:
    """``(M_subj (T, E), M_rel (T, R), M_objᵀ (E, T))`` of ``triples (T, 3)``: coalesced sparse COO,
    0/1 entries, facts in the given order — what :func:`follow_reference` multiplies by (``M_obj``
    kept transposed, the side a sparse-dense product takes). Build once to call it many times."""
    T = triples.shape[0]
    facts, ones = torch.arange(T, device=triples.device), torch.ones(T, dtype=dtype, device=triples.device)

    def coo(rows: Tensor, cols: Tensor, size: tuple[int, int]) -> Tensor:
        return torch.sparse_coo_tensor(torch.stack([rows, cols]), ones, size, check_invariants=False).coalesce()

    s, k, o = triples.to(torch.int64).unbind(1)
    return (coo(facts, s, (T, num_entities)), coo(facts, k, (T, num_relations)),
            coo(o, facts, (num_entities, T)))


def follow_reference(kb: ReifiedKG | None, x: Tensor, r: Tensor, fact_weights: Tensor | None = None, *,
                     matrices: Matrices | None = None) -> Tensor:
    """Eq. (1) for ``x (B, E)`` (dense or sparse COO) and ``r (B, R)`` or ``(1, R)``; ``fact_weights
    (T,)`` scale the facts (default: the graph's stored weights, else 1). ``matrices``: the
    :func:`incidence_matrices` in the promoted dtype, when already built (``kb`` may then be
    ``None``: an unweighted graph given by its matrices alone). Returns dense ``(B, E)`` in the
    promoted dtype of ``x`` and ``r``. No input checks: an oracle for inputs already checked."""
    x = x.to_dense() if x.is_sparse else x
    dtype = torch.promote_types(x.dtype, r.dtype)
    if matrices is None:
        matrices = incidence_matrices(kb.triples.to(x.device), kb.num_entities, kb.num_relations, dtype)
    m_subj, m_rel, m_obj_t = matrices
    r = r.expand(x.shape[0], -1) if r.shape[0] == 1 else r
    subj_w = torch.sparse.mm(m_subj, x.to(dtype).t())  # (T, B) = (x M_subjᵀ)ᵀ
    rel_w = torch.sparse.mm(m_rel, r.to(dtype).t())  # (T, B) = (r M_relᵀ)ᵀ
    per_fact = subj_w * rel_w
    w = fact_weights if fact_weights is not None or kb is None else kb.fact_weights
    if w is not None:
        per_fact = per_fact * w.to(dtype)[:, None]
    return torch.sparse.mm(m_obj_t, per_fact).t()  # (B, E) = (...) M_obj
