"""Compile CQRS/DDD specifications (the legacy JSON filter AST) to MongoDB filters.

The compiler is the Rust crate ``cqrs-mongo-spec``, shared with the Rust services and the npm
package, so every runtime produces the same filter for the same spec::

    from cqrs_mongo_spec import compile

    query = compile({"op": ">=", "attr": "total", "val": 100}, {"order_by": ["-total"], "limit": 10})
    collection.find(query.filter, sort=list(query.sort.items()), limit=query.limit)

Whatever the input, the functions raise only :class:`SpecError` (``code`` from the stable list,
``path`` pointing at the value); an exception raised by the input itself while it is read (a
``to_dict()`` or ``__str__`` that fails) becomes one too, with the original as ``__cause__``.
:func:`decompile` turns a MongoDB filter back into a specification and raises only
:class:`DecompileError` (its ``path`` points into the filter). :func:`matches` and :func:`filter`
evaluate a spec's filter on documents in memory, and :meth:`Compiler.matcher` prepares it once for
many documents (a :class:`Matcher`); a filter only the server can evaluate raises
:class:`MatchError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, TypedDict, runtime_checkable

if TYPE_CHECKING:
    from typing_extensions import Unpack

from ._native import CompiledQuery, DecompileError, MatchError, SpecError
from ._native import Compiler as _NativeCompiler
from ._native import Matcher as _NativeMatcher
from ._native import decompile as _decompile
from ._native import decompile_json as _decompile_json
from ._native import operators as _operators
from ._native import querybuilder_fields_json as _querybuilder_fields_json

__all__ = [
    "CompiledQuery",
    "Compiler",
    "DecompileError",
    "DecompileErrorCode",
    "ErrorCode",
    "EvalErrorCode",
    "FieldDef",
    "FieldSchema",
    "FieldType",
    "MatchError",
    "Matcher",
    "RegexPolicy",
    "SpecError",
    "Settings",
    "SupportsToDict",
    "compile",
    "compile_json",
    "decompile",
    "decompile_json",
    "matcher",
    "matches",
    "operators",
    "querybuilder_fields",
    "validate",
]

_OPTION_FIELDS = ("limit", "offset", "order_by", "select_fields", "distinct", "group_by")


ErrorCode: TypeAlias = Literal[
    "invalid_json",
    "invalid_node",
    "missing_field",
    "unknown_key",
    "unknown_operator",
    "unsupported_operator",
    "empty_group",
    "invalid_value",
    "invalid_cast",
    "unknown_value_type",
    "invalid_extended_json",
    "invalid_field_path",
    "field_not_allowed",
    "invalid_regex",
    "invalid_text_search",
    "too_deep",
    "too_many_nodes",
    "list_too_long",
    "invalid_option",
    "operator_not_allowed",
    "regex_not_allowed",
    "regex_too_long",
    "unsafe_regex",
    "string_too_long",
    "spec_too_large",
    "value_type_mismatch",
    "value_not_allowed",
    "invalid_field_comparison",
]
"""The stable ``code`` of a :class:`SpecError` (the same in Rust and JavaScript; a Rust test holds
this list to the compiler's)."""

DecompileErrorCode: TypeAlias = Literal[
    "invalid_json",
    "invalid_extended_json",
    "invalid_filter",
    "unsupported_filter",
    "too_deep",
]
"""The stable ``code`` of a :class:`DecompileError` (the same in Rust and JavaScript)."""

EvalErrorCode: TypeAlias = Literal[
    "needs_server",
    "unknown_operator",
    "invalid_filter",
    "invalid_regex",
    "unsupported_regex",
    "regex_too_complex",
    "invalid_document",
]
"""The stable ``code`` of a :class:`MatchError` (the same in Rust and JavaScript;
``invalid_document``, BSON bytes that do not decode, comes from Rust's ``matches_raw`` only)."""

FieldType: TypeAlias = Literal[
    "string",
    "integer",
    "decimal",
    "double",
    "bool",
    "date",
    "datetime",
    "uuid",
    "object_id",
    "geo_point",
    "geo_shape",
    "array",
    "object",
]
"""The ``type`` of a :class:`FieldDef` (checked against the compiler's by a Rust test)."""


class RegexPolicy(TypedDict, total=False):
    """What ``regex`` / ``iregex`` may do: ``enabled`` (default True), ``max_len`` (bytes,
    default 4096), ``allow_backtracking`` (default False: patterns that can backtrack
    catastrophically, such as ``(a+)+``, are ``unsafe_regex``)."""

    enabled: bool
    max_len: int
    allow_backtracking: bool


class _FieldDefRequired(TypedDict):
    name: str
    type: FieldType


class FieldDef(_FieldDefRequired, total=False):
    """One field of a :class:`FieldSchema`: ``name`` (what specs use in ``attr``), ``type``
    (``string``, ``integer``, ``decimal``, ``double``, ``bool``, ``date``, ``datetime``, ``uuid``,
    ``object_id``, ``geo_point``, ``geo_shape``, ``array``, ``object``), and optionally ``items``
    (an array's item type), ``operators``, ``values``, ``path`` (stored path) and ``label``."""

    items: FieldType
    operators: list[str]
    values: list[Any]
    path: str
    label: str


class FieldSchema(TypedDict):
    """The fields specs may use (the same document in Rust, JavaScript and Python)."""

    fields: list[FieldDef]


@runtime_checkable
class SupportsToDict(Protocol):
    """A legacy specification object: anything with ``to_dict()``."""

    def to_dict(self) -> Mapping[str, Any]: ...


def _describe(err: BaseException) -> str:
    """``TypeError: message``, without trusting the exception's own ``__str__``."""
    try:
        text = str(err)
    except Exception:
        text = ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _raised(code: str, path: list[str | int], what: str, err: Exception) -> SpecError:
    """The :class:`SpecError` for an exception the input raised while ``what`` was read."""
    where = "".join(f"[{segment}]" if isinstance(segment, int) else f".{segment}" for segment in path)
    error = SpecError(f"at <root>{where}: {what} raised {_describe(err)}")
    error.code = code
    error.path = path
    return error


_LISTS = ("allowed_fields", "allowed_operators", "denied_operators")


def _settings(**settings: object) -> dict[str, Any] | None:
    """The keyword settings as the one object the compiler reads (``None`` values unset)."""
    given = {key: value for key, value in settings.items() if value is not None}
    if not given:
        return None
    for key in _LISTS:
        value = given.get(key)
        # A single string stays a string (the native side rejects it as ``invalid_option``):
        # ``list("status")`` would silently whitelist the fields "s", "t", "a" and "u" instead.
        if value is not None and not isinstance(value, (str, Mapping)):
            try:
                given[key] = list(value)  # type: ignore[call-overload]
            except Exception as err:
                raise _raised("invalid_option", ["settings", key], f"reading {key}", err) from err
    return given


def _spec_value(spec: object) -> object:
    """A dict, list or JSON string as is; a legacy specification object through ``to_dict()``."""
    try:
        return _legacy_spec_value(spec)
    except Exception as err:
        raise _raised("invalid_node", [], "reading the specification", err) from err


def _legacy_spec_value(spec: object) -> object:
    if isinstance(spec, (str, dict)):
        return spec
    if isinstance(spec, Mapping):
        return dict(spec)
    to_dict = getattr(spec, "to_dict", None)
    if callable(to_dict):
        spec = to_dict()
        return dict(spec) if isinstance(spec, Mapping) and not isinstance(spec, dict) else spec
    return spec


def _document_value(document: object, path: list[str | int]) -> object:
    """A dict as is; another Mapping as a dict (a document is read from dicts)."""
    if isinstance(document, Mapping) and not isinstance(document, dict):
        try:
            return dict(document)
        except Exception as err:
            raise _raised("invalid_value", path, "reading the document", err) from err
    return document


def _options_value(options: object) -> object:
    """A dict or JSON string as is; a legacy ``QueryOptions`` object through its attributes."""
    try:
        return _legacy_options_value(options)
    except Exception as err:
        raise _raised("invalid_option", ["options"], "reading the options", err) from err


def _legacy_options_value(options: object) -> object:
    if options is None or isinstance(options, (str, dict)):
        return options
    if isinstance(options, Mapping):
        return dict(options)
    if any(hasattr(options, name) for name in _OPTION_FIELDS):
        values = {name: getattr(options, name, None) for name in _OPTION_FIELDS}
        # Unset legacy fields are None or an empty list/tuple (``group_by: []`` is an error).
        return {name: value for name, value in values.items() if not _unset(value)}
    return options


def _unset(value: object) -> bool:
    return value is None or (isinstance(value, (list, tuple)) and len(value) == 0)


class Settings(TypedDict, total=False):
    """The settings of a :class:`Compiler` (and the keyword arguments of the shortcuts); a
    setting given as ``None`` keeps its default."""

    allowed_fields: Sequence[str] | None
    max_depth: int | None
    max_nodes: int | None
    max_list_len: int | None
    allowed_operators: Sequence[str] | None
    denied_operators: Sequence[str] | None
    regex: RegexPolicy | None
    max_string_len: int | None
    max_spec_len: int | None
    schema: FieldSchema | Mapping[str, Any] | None


_SETTING_NAMES = frozenset(Settings.__annotations__)


class Compiler:
    """A compiler prepared once from its settings, then used for any number of specs (the
    field schema's index, the operator sets and the regex policy are built here, not per call).
    Immutable and safe to share between threads::

        compiler = Compiler(schema=schema, max_nodes=200)
        query = compiler.compile({"op": "=", "attr": "status", "val": "paid"})

    Settings: ``allowed_fields``, ``max_depth``, ``max_nodes``, ``max_list_len``,
    ``allowed_operators``, ``denied_operators``, ``regex`` (a :class:`RegexPolicy`),
    ``max_string_len``, ``max_spec_len`` and ``schema`` (a :class:`FieldSchema`); ``None``
    leaves a setting at its default. Settings the compiler refuses raise :class:`SpecError`
    (``invalid_option`` at ``["settings", name]``) here.
    """

    __slots__ = ("_native",)

    def __init__(self, **settings: Unpack[Settings]) -> None:
        unknown = settings.keys() - _SETTING_NAMES
        if unknown:
            raise TypeError(f"Compiler() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
        self._native = _NativeCompiler(_settings(**settings))

    def compile(
        self,
        spec: Mapping[str, Any] | str | SupportsToDict | None = None,
        options: Mapping[str, Any] | str | object | None = None,
    ) -> CompiledQuery:
        """Compile a spec (a dict, JSON text or an object with ``to_dict()``) and optional query
        options (a dict, JSON text or a legacy ``QueryOptions``-like object).

        When ``spec`` is omitted, ``options.specification`` is used (the legacy ``QueryOptions``
        carries its specification). Raises :class:`SpecError` with ``code`` and ``path``.
        """
        if type(spec) is dict and (options is None or type(options) is dict):
            return self._native.compile(spec, options)
        if spec is None:
            try:
                spec = getattr(options, "specification", None)
            except Exception as err:
                raise _raised("invalid_node", [], "reading options.specification", err) from err
        return self._native.compile(_spec_value(spec), _options_value(options))

    def compile_json(self, spec_json: str, options_json: str | None = None) -> str:
        """JSON text in, canonical Extended JSON text out: ``{"filter", "sort"?, "skip"?,
        "limit"?, "projection"?, "pipeline"}``. Anything but a ``str`` is ``invalid_json``."""
        return self._native.compile_json(spec_json, options_json)

    def validate(
        self,
        spec: Mapping[str, Any] | str | SupportsToDict | object,
        options: Mapping[str, Any] | str | object | None = None,
    ) -> list[dict[str, Any]]:
        """Every error of a spec and its options as ``{"code", "path", "message"}`` (empty if
        valid)."""
        return self._native.validate(_spec_value(spec), _options_value(options))

    def matches(self, spec: Mapping[str, Any] | str | SupportsToDict, document: Mapping[str, Any]) -> bool:
        """Whether ``find`` with the spec's filter would return ``document`` (a dict in Extended
        JSON holding the values :meth:`compile` reads; a naive ``datetime`` is UTC), evaluated in
        memory with the server's semantics. Raises :class:`SpecError` for the spec or the
        document (``path`` starting with ``"document"``) and :class:`MatchError` for a filter
        only the server can evaluate (``needs_server`` for a text search)."""
        return self._native.matches(_spec_value(spec), _document_value(document, ["document"]))

    def filter(
        self, spec: Mapping[str, Any] | str | SupportsToDict, documents: Sequence[Mapping[str, Any]]
    ) -> list[Any]:
        """The documents the spec's filter keeps, in their order: the very objects given (see
        :meth:`matches`; the spec is compiled once). ``documents`` is a list or tuple."""
        return self._native.filter(_spec_value(spec), documents)

    def matcher(self, spec: Mapping[str, Any] | str | SupportsToDict) -> Matcher:
        """The spec compiled and its filter prepared once (regular expressions included), for any
        number of documents: ``compiler.matcher(spec).filter(documents)``. Raises what
        :meth:`matches` raises for the spec."""
        return Matcher._wrap(self._native.matcher(_spec_value(spec)))

    def querybuilder_fields(self) -> list[dict[str, Any]]:
        """This compiler's ``schema`` as react-querybuilder's ``fields`` array (see
        :func:`querybuilder_fields`); a compiler without a schema raises :class:`SpecError`
        (``invalid_option`` at ``["settings", "schema"]``)."""
        fields: list[dict[str, Any]] = json.loads(self._native.querybuilder_fields_json())
        return fields


class Matcher:
    """A spec's filter prepared once, made by :meth:`Compiler.matcher` or :func:`matcher`:
    :meth:`matches` and :meth:`filter` then only read the documents. Immutable and safe to
    share between threads::

        paid = compiler.matcher({"op": "=", "attr": "status", "val": "paid"})
        kept = paid.filter(orders)
    """

    __slots__ = ("_native",)
    _native: _NativeMatcher

    def __init__(self) -> None:
        raise TypeError("a Matcher comes from Compiler.matcher(spec) or matcher(spec)")

    @classmethod
    def _wrap(cls, native: _NativeMatcher) -> Matcher:
        matcher = object.__new__(cls)
        matcher._native = native
        return matcher

    def matches(self, document: Mapping[str, Any]) -> bool:
        """Whether ``find`` with the filter would return ``document`` (see
        :meth:`Compiler.matches`)."""
        return self._native.matches(_document_value(document, ["document"]))

    def filter(self, documents: Sequence[Mapping[str, Any]]) -> list[Any]:
        """The documents the filter keeps, in their order: the very objects given (a list or
        tuple)."""
        return self._native.filter(documents)


_DEFAULT = Compiler()


def _compiler(settings: Settings) -> Compiler:
    """The default compiler, or one prepared for these keyword settings."""
    if not settings or all(value is None for value in settings.values()):
        return _DEFAULT
    return Compiler(**settings)


def compile(
    spec: Mapping[str, Any] | str | SupportsToDict | None = None,
    options: Mapping[str, Any] | str | object | None = None,
    **settings: Unpack[Settings],
) -> CompiledQuery:
    """``Compiler(**settings).compile(spec, options)``: prefer a :class:`Compiler` built once
    when the settings are used more than once."""
    return _compiler(settings).compile(spec, options)


def compile_json(spec_json: str, options_json: str | None = None, **settings: Unpack[Settings]) -> str:
    """``Compiler(**settings).compile_json(spec_json, options_json)``."""
    return _compiler(settings).compile_json(spec_json, options_json)


def validate(
    spec: Mapping[str, Any] | str | SupportsToDict | object,
    options: Mapping[str, Any] | str | object | None = None,
    **settings: Unpack[Settings],
) -> list[dict[str, Any]]:
    """``Compiler(**settings).validate(spec, options)``."""
    return _compiler(settings).validate(spec, options)


def matches(
    spec: Mapping[str, Any] | str | SupportsToDict, document: Mapping[str, Any], **settings: Unpack[Settings]
) -> bool:
    """``Compiler(**settings).matches(spec, document)``."""
    return _compiler(settings).matches(spec, document)


def filter(
    spec: Mapping[str, Any] | str | SupportsToDict, documents: Sequence[Mapping[str, Any]], **settings: Unpack[Settings]
) -> list[Any]:
    """``Compiler(**settings).filter(spec, documents)``. Not in ``__all__``, so a star import
    does not hide the built-in ``filter``."""
    return _compiler(settings).filter(spec, documents)


def matcher(spec: Mapping[str, Any] | str | SupportsToDict, **settings: Unpack[Settings]) -> Matcher:
    """``Compiler(**settings).matcher(spec)``."""
    return _compiler(settings).matcher(spec)


def querybuilder_fields(schema: FieldSchema | Mapping[str, Any] | str) -> list[dict[str, Any]]:
    """A field schema as react-querybuilder's ``fields`` array (``name``, ``label``,
    ``inputType``, ``valueEditorType``, ``operators``, ``values``), so a UI offers exactly what
    the compiler with the same ``schema=`` accepts. Raises :class:`SpecError`
    (``invalid_option`` at ``["schema", ...]``) for a document that is not a usable schema."""
    fields: list[dict[str, Any]] = json.loads(_querybuilder_fields_json(schema))
    return fields


def decompile(filter: Mapping[str, Any] | str) -> dict[str, Any]:
    """A MongoDB filter back into a specification (the legacy JSON shape, its typed values as
    Extended JSON wrappers such as ``{"$numberLong": "5"}``), which compiles back to the same
    filter for every filter :func:`compile` makes, and to an equivalent one for the usual
    hand-written forms (``{"a": 1}``, several fields or operators in one document, ``$exists``,
    ``$nor``, ...).

    The filter is a dict in Extended JSON (canonical or relaxed), holding the Python values
    :func:`compile` reads (``datetime``, ``bson.Int64``, ``ObjectId``, ``Decimal128``, ``UUID``,
    ``bytes``), so ``decompile(compile(spec).filter)`` works; or its JSON text. A filter a
    specification cannot express raises :class:`DecompileError` with ``code`` and ``path``."""
    if isinstance(filter, Mapping) and not isinstance(filter, dict):
        try:
            filter = dict(filter)
        except Exception as err:
            error = DecompileError(f"at <filter>: reading the filter raised {_describe(err)}")
            error.code, error.path = "invalid_filter", []
            raise error from err
    spec: dict[str, Any] = _decompile(filter)
    return spec


def decompile_json(filter_json: str) -> str:
    """Filter JSON text (Extended JSON, canonical or relaxed) to the specification's JSON text;
    anything but a ``str`` is ``invalid_json``. Raises :class:`DecompileError`."""
    return _decompile_json(filter_json)


def operators() -> list[dict[str, Any]]:
    """Every operator with its ``family``, ``value_shape``, ``aliases``, ``supported`` flag and
    ``description``, for building operator pickers."""
    return _operators()
