"""Domain type aliases used across the package (one place, so signatures read alike)."""

from __future__ import annotations

from typing import Union

import torch

EntityId = str  # the unique id of an entity, e.g. "tom_hanks_actor" or MetaQA's "Ginger Rogers"
RelationName = str  # e.g. "starred_in" or its inverse "starred_in^-1"
Triple = tuple[str, str, str]  # (subject id, relation name, object id)
EntityKey = Union[int, str]  # an entity index or an entity id
RelationKey = Union[int, str]  # a relation index or a relation name
Tensor = torch.Tensor

__all__ = ["EntityId", "RelationName", "Triple", "EntityKey", "RelationKey", "Tensor"]
