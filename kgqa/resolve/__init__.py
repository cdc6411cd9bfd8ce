"""Entity resolution learned from answers (Oliya et al. 2021): from the question's text to the start
vector ``x_0`` of the walk.

- :mod:`.candidates`: the name index — a mention's top-K candidate entities with match features;
- :mod:`.spans`: every span of the question as a possible mention, and its score;
- :mod:`.resolver`: :class:`EntityResolver`, which scores spans and candidates into ``x_0``;
- :mod:`.mentions`: several entities from the text — mention slots, how many, and which to intersect;
- :mod:`.metrics`: span accuracy, entity accuracy, candidate recall and reading accuracy, against
  annotations training never reads.
"""

from .resolver import CandidateCache, EntityResolver, EntityScorer, ResolverConfig, ResolverOutput, relation_profile

__all__ = ["ResolverConfig", "ResolverOutput", "EntityResolver", "EntityScorer", "CandidateCache", "relation_profile"]
