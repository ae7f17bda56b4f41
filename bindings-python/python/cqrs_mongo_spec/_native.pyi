"""Type stubs of the native module ``cqrs_mongo_spec._native`` (src/lib.rs, src/error.rs).

Values inside ``filter``/``pipeline`` are what pymongo sends: ``str``, ``int``, ``float``,
``bool``, ``None``, ``dict``, ``list``, ``datetime`` (UTC, tz-aware), ``uuid.UUID`` and, with
pymongo installed, ``bson.Int64``/``ObjectId``/``Decimal128``/``Binary`` (without pymongo:
``int``, ``str``, ``decimal.Decimal``, ``bytes``), hence ``Any``.
"""

from typing import Any, final

__all__ = [
    "CompiledQuery",
    "Compiler",
    "DecompileError",
    "MatchError",
    "Matcher",
    "SpecError",
    "decompile",
    "decompile_json",
    "operators",
    "querybuilder_fields_json",
]

class SpecError(ValueError):
    """A specification error: ``code`` is stable across Rust, JS and Python; ``path`` points at
    the node (object keys and list indexes from the root; option errors start with
    ``"options"``, setting errors with ``"settings"``)."""

    code: str
    path: list[str | int]

class DecompileError(ValueError):
    """A filter that cannot be turned into a specification: ``code`` is stable across Rust, JS
    and Python (``invalid_json``, ``invalid_extended_json``, ``invalid_filter``,
    ``unsupported_filter``, ``too_deep``); ``path`` points into the filter (keys and list indexes
    from its root)."""

    code: str
    path: list[str | int]

class MatchError(ValueError):
    """A compiled filter that cannot be evaluated in memory: ``code`` is stable across Rust, JS
    and Python (``needs_server``, ``unknown_operator``, ``invalid_filter``, ``invalid_regex``,
    ``unsupported_regex``, ``regex_too_complex``); ``path`` points into the compiled filter."""

    code: str
    path: list[str | int]

@final
class CompiledQuery:
    """A compiled query: the find plan and the equivalent aggregation pipeline. Read-only;
    created only by :func:`compile`."""

    @property
    def filter(self) -> dict[str, Any]: ...
    @property
    def sort(self) -> dict[str, int] | None: ...
    @property
    def skip(self) -> int | None: ...
    @property
    def limit(self) -> int | None: ...
    @property
    def projection(self) -> dict[str, int] | None: ...
    @property
    def pipeline(self) -> list[dict[str, Any]]: ...
    def to_dict(self) -> dict[str, Any]:
        """The result as a dict with the keys that are set (``filter`` and ``pipeline`` always)."""

@final
class Compiler:
    """A compiler prepared once from its settings (a dict; refused settings raise
    ``SpecError`` with ``invalid_option`` at ``["settings", name]``).

    ``settings`` keys: ``allowed_fields``, ``max_depth`` (at most 45), ``max_nodes``, ``max_list_len``,
    ``allowed_operators``, ``denied_operators``, ``regex`` (``enabled``, ``max_len``,
    ``allow_backtracking``), ``max_string_len``, ``max_spec_len``, ``schema`` (``None`` values are
    ignored; any other key is an ``invalid_option`` error)."""

    def __new__(cls, settings: dict[str, Any] | None = None) -> Compiler: ...
    def compile(self, spec: object, options: object | None = None) -> CompiledQuery:
        """Compiles a spec (dict/list/… or JSON text) and optional options (dict or JSON text)."""
    def compile_json(self, spec_json: object, options_json: object | None = None) -> str:
        """JSON text in, canonical Extended JSON text out (anything but a ``str`` is an
        ``invalid_json`` error)."""
    def validate(self, spec: object, options: object | None = None) -> list[dict[str, Any]]:
        """Every error of a spec and its options as ``{"code", "path", "message"}`` dicts."""
    def matches(self, spec: object, document: object) -> bool:
        """Whether ``find`` with the spec's filter would return the document (a dict)."""
    def filter(self, spec: object, documents: object) -> list[Any]:
        """The documents (a list or tuple of dicts) the spec's filter keeps, in order."""
    def matcher(self, spec: object) -> Matcher:
        """The spec compiled and its filter prepared once, for any number of documents."""
    def querybuilder_fields_json(self) -> str:
        """The compiler's schema as react-querybuilder's ``fields`` (JSON text)."""

@final
class Matcher:
    """A spec's filter prepared once (made by ``Compiler.matcher``). Immutable."""

    def matches(self, document: object) -> bool:
        """Whether ``find`` with the filter would return the document (a dict)."""
    def filter(self, documents: object) -> list[Any]:
        """The documents (a list or tuple of dicts) the filter keeps, in order."""

def querybuilder_fields_json(schema: object) -> str:
    """A field schema (dict or JSON text) as react-querybuilder's ``fields`` (JSON text)."""

def decompile(filter: object) -> dict[str, Any]:
    """A filter (a dict in Extended JSON, with the values ``compile`` reads, or JSON text) as a
    specification dict."""

def decompile_json(filter_json: object) -> str:
    """Filter JSON text to the specification's JSON text (anything but a ``str`` is an
    ``invalid_json`` error)."""

def operators() -> list[dict[str, Any]]:
    """Metadata of every operator: ``name``, ``family``, ``value_shape``, ``aliases``,
    ``supported``, ``description``."""
