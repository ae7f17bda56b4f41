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

from . import SupportsToDict, _raised, compile

__all__ = ["MongoQueryBuilder"]


def _items(values: object, what: str) -> object:
    """``values`` as a list (a string too, as the legacy builder iterated it); what cannot be
    listed is passed on for the compiler to refuse."""
    try:
        return list(values)  # type: ignore[call-overload]
    except TypeError:
        return values
    except Exception as err:
        raise _raised("invalid_option", ["options", what], f"reading {what}", err) from err


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
        if allow_raw_filter:
            try:
                if isinstance(spec, Mapping) and "op" not in spec:
                    return dict(spec)
            except Exception as err:
                raise _raised("invalid_node", [], "reading the raw filter", err) from err
        filter_: dict[str, Any] = compile(spec).filter
        return filter_

    def build_sort(self, order_by: Sequence[str | Sequence[str]] | None) -> list[tuple[str, int]]:
        """``["-created_at", "name"]`` or ``[["created_at", "desc"], ["name", "asc"]]`` to
        ``[("created_at", -1), ("name", 1)]``."""
        items = _items(order_by, "order_by")
        if order_by is None or (type(items) is list and not items):
            return []
        sort = compile({"op": "is_null", "attr": "_id", "val": False}, {"order_by": items}).sort
        return list((sort or {}).items())

    def build_project(self, fields: Sequence[str] | None) -> dict[str, int]:
        """``["name", "total"]`` to ``{"name": 1, "total": 1}``."""
        items = _items(fields, "select_fields")
        if fields is None or (type(items) is list and not items):
            return {}
        match_all = {"op": "is_null", "attr": "_id", "val": False}
        projection = compile(match_all, {"select_fields": items}).projection
        return projection or {}
