"""Drop-in replacement for the legacy ``MongoQueryBuilder``.

A Python service switches compilers by changing one import::

    # from cqrs_ddd_persistence_mongo.query_builder import MongoQueryBuilder
    from cqrs_mongo_spec.compat import MongoQueryBuilder

Same methods, same return shapes. One deliberate difference: a dict that is not a specification
(no ``"op"``) is *not* passed through as a raw MongoDB filter, because a browser could send
``{"$where": ...}``. Pass ``allow_raw_filter=True`` to ``build_match`` where raw filters come from
trusted code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import SupportsToDict, compile

__all__ = ["MongoQueryBuilder"]


class MongoQueryBuilder:
    """The legacy query builder's interface over the Rust compiler."""

    def build_match(
        self,
        spec: Mapping[str, Any] | str | SupportsToDict,
        *,
        allow_raw_filter: bool = False,
    ) -> dict[str, Any]:
        """The MongoDB filter of a specification (dict, JSON text or object with ``to_dict()``).

        With ``allow_raw_filter=True`` a mapping without ``"op"`` is returned unchanged, as the
        legacy builder did for every such mapping.
        """
        if allow_raw_filter and isinstance(spec, Mapping) and "op" not in spec:
            return dict(spec)
        filter_: dict[str, Any] = compile(spec).filter
        return filter_

    def build_sort(self, order_by: Sequence[str | Sequence[str]] | None) -> list[tuple[str, int]]:
        """``["-created_at", "name"]`` or ``[["created_at", "desc"], ["name", "asc"]]`` to
        ``[("created_at", -1), ("name", 1)]``."""
        if not order_by:
            return []
        sort = compile({"op": "is_null", "attr": "_id", "val": False}, {"order_by": list(order_by)}).sort
        return list((sort or {}).items())

    def build_project(self, fields: Sequence[str] | None) -> dict[str, int]:
        """``["name", "total"]`` to ``{"name": 1, "total": 1}``."""
        if not fields:
            return {}
        match_all = {"op": "is_null", "attr": "_id", "val": False}
        projection = compile(match_all, {"select_fields": list(fields)}).projection
        return projection or {}
