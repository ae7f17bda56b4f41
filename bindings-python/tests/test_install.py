"""The package as users get it: the release wheel installed into a fresh venv without pymongo,
its types checked with ``mypy --strict`` and its stub checked against the runtime with stubtest.

The tools (maturin, mypy) come from the environment running pytest (the project venv).
Slow-ish: one release build (incremental) and one venv, shared by the module's tests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest

from cqrs_mongo_spec import SpecError, compile_json
from golden_support import load_cases

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # bindings-python/
TESTS = PACKAGE_ROOT / "tests"
BIN = Path(sys.executable).parent
MATURIN = BIN / "maturin"
MYPY = BIN / "mypy"


def run(
    args: list[str | Path], cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def clean_env() -> dict[str, str]:
    """The environment without anything that would leak the project's packages into a venv."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run([MATURIN, "build", "--release", "-o", out], cwd=PACKAGE_ROOT)
    wheels = list(out.glob("cqrs_mongo_spec-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def fresh_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with only the wheel installed (no pymongo, no dependencies)."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    run([sys.executable, "-m", "venv", venv], cwd=venv.parent, env=clean_env())
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", wheel], cwd=venv.parent, env=clean_env())
    return python


def test_wheel_contents(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("__init__.py", "compat.py", "_native.pyi", "py.typed"):
        assert f"cqrs_mongo_spec/{name}" in names
    assert any(re.fullmatch(r"cqrs_mongo_spec/_native\.(abi3\.so|pyd)", n) for n in names), names
    assert "abi3" in wheel.name
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Provides-Extra: pymongo" in text
    assert re.search(r"^Requires-Dist: pymongo ?>= ?4 ?; extra == ['\"]pymongo['\"]$", text, re.M), text[:800]
    assert "pip install cqrs-mongo-spec" in text  # the README is the long description


SMOKE = textwrap.dedent(
    r'''
    import datetime, decimal, importlib.util, json, sys, uuid
    import cqrs_mongo_spec
    from cqrs_mongo_spec import DecompileError, MatchError, SpecError, compile, compile_json, decompile, filter, matcher, matches, validate
    from cqrs_mongo_spec.compat import MongoQueryBuilder

    assert importlib.util.find_spec("bson") is None, "pymongo must not be installed here"
    assert cqrs_mongo_spec.__file__.startswith(sys.prefix), cqrs_mongo_spec.__file__

    def eq(val, **extra):
        return compile({"op": "=", "attr": "a", "val": val, **extra}).filter["a"]["$eq"]

    def same(value, kind, expected):
        assert type(value) is kind, (value, kind)
        assert value == expected, (value, expected)

    # Without pymongo the plain-Python fallbacks are returned.
    same(eq(7), int, 7)
    same(eq(2**40), int, 2**40)                               # Int64 -> int
    same(eq({"$numberLong": "5"}), int, 5)
    same(eq({"$oid": "65e1a2b3c4d5e6f708091a2b"}), str, "65e1a2b3c4d5e6f708091a2b")  # ObjectId -> str
    same(eq(decimal.Decimal("1.10")), decimal.Decimal, decimal.Decimal("1.10"))      # Decimal128 -> Decimal
    assert str(eq({"$numberDecimal": "-0.50"})) == "-0.50"
    same(eq(b"\x00ab"), bytes, b"\x00ab")                     # Binary -> bytes
    same(eq({"$binary": {"base64": "eHl6", "subType": "05"}}), bytes, b"xyz")
    u = uuid.UUID("123e4567-e89b-12d3-a456-426614174000")
    same(eq(u), uuid.UUID, u)
    utc = datetime.timezone.utc
    same(eq(datetime.datetime(2024, 3, 1, 12, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))),
         datetime.datetime, datetime.datetime(2024, 3, 1, 10, tzinfo=utc))
    same(eq(datetime.date(2024, 1, 1)), datetime.datetime, datetime.datetime(2024, 1, 1, tzinfo=utc))
    same(eq(1.5), float, 1.5)
    same(eq(True), bool, True)

    query = compile({"op": "=", "attr": "a", "val": 1}, {"limit": 3000000000, "order_by": ["-a"]})
    same(query.limit, int, 3000000000)
    same(query.pipeline[-1]["$limit"], int, 3000000000)
    assert query.sort == {"a": -1}

    try:
        compile({"op": "betwen", "attr": "a", "val": [1, 2]})
    except SpecError as err:
        assert isinstance(err, ValueError) and (err.code, err.path) == ("unknown_operator", ["op"])
    else:
        raise AssertionError("no SpecError")
    assert validate({"op": "=", "attr": "a"})[0]["code"] == "missing_field"
    assert MongoQueryBuilder().build_sort(["-a"]) == [("a", -1)]

    # decompile reads what compile returns without pymongo too (Int64 is then a plain int).
    dated = compile({"op": "<", "attr": "at", "val": {"$date": "2024-01-01T00:00:00Z"}}).filter
    assert decompile(dated) == {"op": "<", "attr": "at", "val": {"$date": "2024-01-01T00:00:00Z"}}
    try:
        decompile({"$where": "1"})
    except DecompileError as err:
        assert isinstance(err, ValueError) and (err.code, err.path) == ("unsupported_filter", ["$where"])
    else:
        raise AssertionError("no DecompileError")

    # matches / filter read what pymongo-free code holds (naive datetimes are UTC).
    docs = [{"at": datetime.datetime(2024, 1, 1), "n": 2**40}, {"at": datetime.datetime(2025, 1, 1), "n": 1}]
    spec = {"op": "<", "attr": "at", "val": {"$date": "2024-06-01T00:00:00Z"}}
    assert filter(spec, docs) == [docs[0]] and matches(spec, docs[0])
    assert matcher(spec).filter(docs) == [docs[0]] and not matcher(spec).matches(docs[1])
    try:
        matches({"op": "fts", "attr": "t", "val": "x"}, {})
    except MatchError as err:
        assert isinstance(err, ValueError) and (err.code, err.path) == ("needs_server", ["$text"])
    else:
        raise AssertionError("no MatchError")

    # Every golden case through compile_json, for comparison with the development build.
    results = {}
    for name, spec_text, options_text, settings in json.load(sys.stdin):
        try:
            results[name] = compile_json(spec_text, options_text, **settings)
        except SpecError as err:
            results[name] = [err.code, err.path]
    print(json.dumps(results))
    '''
)


def _golden_inputs() -> list[list[Any]]:
    return [[case.name, case.spec_text, case.options_text, case.settings] for case in load_cases()]


def test_fresh_venv_without_pymongo(fresh_python: Path, tmp_path: Path) -> None:
    inputs = _golden_inputs()
    result = subprocess.run(
        [str(fresh_python), "-c", SMOKE],
        cwd=tmp_path,
        env=clean_env(),
        input=json.dumps(inputs),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    installed = json.loads(result.stdout)

    # The release wheel gives the same canonical output and errors as the build under test.
    assert len(installed) == len(inputs)
    for name, spec_text, options_text, settings in inputs:
        try:
            expected: Any = compile_json(spec_text, options_text, **settings)
        except SpecError as err:
            expected = [err.code, err.path]
        assert installed[name] == expected, name


def test_typed_usage_runs_in_fresh_venv(fresh_python: Path, tmp_path: Path) -> None:
    result = run([fresh_python, TESTS / "typed_usage.py"], cwd=tmp_path, env=clean_env())
    assert "typed usage ok" in result.stdout


def _mypy(args: list[str | Path], cache: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([MYPY, "--strict", "--no-error-summary", "--cache-dir", cache, *args], cwd=cache.parent, check=check)


def test_mypy_strict_typed_usage(tmp_path: Path) -> None:
    # Against the development install in this environment ...
    _mypy([TESTS / "typed_usage.py"], tmp_path / "cache-dev")
    # ... and the package sources themselves.
    _mypy([PACKAGE_ROOT / "python" / "cqrs_mongo_spec"], tmp_path / "cache-src")


def test_mypy_strict_against_installed_wheel(fresh_python: Path, tmp_path: Path) -> None:
    # The wheel ships py.typed and _native.pyi: a user's mypy sees the same types.
    _mypy(["--python-executable", fresh_python, TESTS / "typed_usage.py"], tmp_path / "cache-wheel")


BAD_USAGE = """\
from cqrs_mongo_spec import SpecError, compile, compile_json, decompile, decompile_json, matches, validate
from cqrs_mongo_spec.compat import MongoQueryBuilder

query = compile({"op": "=", "attr": "a", "val": 1})
limit: str = query.limit
sort: dict[str, int] = query.sort
query.filter = {}
compile_json({"op": "="})
code: int = SpecError("x").code
errors: list[str] = validate({})
compile({}, max_node=3)
sorted_: dict[str, int] = MongoQueryBuilder().build_sort(["a"])
decompile_json({"a": 1})
spec_text: dict[str, object] = decompile_json("{}")
hit: str = matches({}, {})
"""


def test_mypy_rejects_wrong_usage(tmp_path: Path) -> None:
    """The stubs are in effect (not Any): each wrong line is reported."""
    bad = tmp_path / "bad_usage.py"
    bad.write_text(BAD_USAGE)
    result = _mypy([bad], tmp_path / "cache-bad", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = {int(m.group(1)) for m in re.finditer(r"bad_usage\.py:(\d+): error", result.stdout)}
    assert lines == set(range(5, 16)), result.stdout


def test_stubtest(tmp_path: Path) -> None:
    # cwd outside the source tree, so mypy finds the package only once (through the install).
    allowlist = ["--allowlist", PACKAGE_ROOT / "stubtest-allowlist.txt"]
    for module, extra in (("cqrs_mongo_spec._native", []), ("cqrs_mongo_spec", allowlist)):
        result = run(
            [sys.executable, "-m", "mypy.stubtest", "--mypy-config-file", PACKAGE_ROOT / "pyproject.toml", *extra, module],
            cwd=tmp_path,
        )
        assert "Success" in result.stdout, result.stdout
