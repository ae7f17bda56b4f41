"""The pip package against the legacy pure-Python compiler it replaces, in one process.

    .venv/bin/maturin develop --release -m bindings-python/Cargo.toml
    .venv/bin/python bindings-python/bench/against_legacy.py [LEGACY_CHECKOUT]

LEGACY_CHECKOUT is a checkout of github.com/mgourlis/cqrs-ddd (default: the mirror the project's
tools fetch, /work/.mirror/mgourlis+cqrs-ddd/repo). Its `MongoQueryBuilder` is imported from
there as it is (only the modules it needs: the package's `__init__` would pull in motor), never
copied. Each measurement alternates ours and the legacy compiler round by round and prints the
ratio of each round and their median, so both see the same machine.

Inputs: the reference spec (tests/bench/reference.json) and the golden corpus cases the legacy
compiler compiles without an error (its supported subset: small specs, one or two conditions).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cqrs_mongo_spec import Compiler, compile, compile_json

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 7


def legacy_sources(checkout: Path) -> Path:
    """The checkout's `packages` folder; a bare repository (the fetched mirror) is exported to a
    temporary folder first."""
    if (checkout / "packages").is_dir():
        return checkout / "packages"
    target = Path(tempfile.mkdtemp(prefix="legacy-"))
    wanted = ["packages/core/src", "packages/specifications/src", "packages/persistence/mongo/src"]
    archive = subprocess.run(["git", f"--git-dir={checkout}", "archive", "HEAD", *wanted], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "packages"


def legacy_builder(checkout: Path) -> Any:
    """`MongoQueryBuilder` from the legacy sources, without running the packages' `__init__`."""
    packages = legacy_sources(checkout)
    for name, path in [
        ("cqrs_ddd_core", packages / "core/src/cqrs_ddd_core"),
        ("cqrs_ddd_core.primitives", packages / "core/src/cqrs_ddd_core/primitives"),
        ("cqrs_ddd_specifications", packages / "specifications/src/cqrs_ddd_specifications"),
        ("cqrs_ddd_persistence_mongo", packages / "persistence/mongo/src/cqrs_ddd_persistence_mongo"),
    ]:
        if not path.is_dir():
            sys.exit(f"{path} is missing: pass a checkout of github.com/mgourlis/cqrs-ddd")
        module = types.ModuleType(name)
        module.__path__ = [str(path)]
        sys.modules[name] = module
    from cqrs_ddd_persistence_mongo.query_builder import MongoQueryBuilder

    return MongoQueryBuilder


def per_call(run: Callable[[], Any], calls: int) -> float:
    """Seconds per call of `run` over `calls` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        run()
    return (time.perf_counter() - start) / calls


def compare(name: str, ours: Callable[[], Any], theirs: Callable[[], Any], calls: int, per: int = 1) -> None:
    ratios, our_times, their_times = [], [], []
    per_call(ours, calls // 10)  # warm up both
    per_call(theirs, calls // 10)
    for _ in range(ROUNDS):
        mine = per_call(ours, calls) / per
        legacy = per_call(theirs, calls) / per
        our_times.append(mine)
        their_times.append(legacy)
        ratios.append(legacy / mine)
    print(
        f"{name:<58} ours {statistics.median(our_times) * 1e6:6.2f} µs   legacy "
        f"{statistics.median(their_times) * 1e6:6.2f} µs   legacy / ours: median {statistics.median(ratios):5.2f} "
        f"(rounds {', '.join(f'{r:.2f}' for r in ratios)})"
    )


def main() -> None:
    checkout = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror/mgourlis+cqrs-ddd/repo")
    builder = legacy_builder(checkout)
    text = (ROOT / "tests/bench/reference.json").read_text()
    reference = json.loads(text)
    compiler = Compiler()

    corpus = []
    for path in sorted((ROOT / "tests/golden").rglob("*.json")):
        case = json.loads(path.read_text())
        if path.name == "dataset.json" or "expected" not in case or isinstance(case["spec"], str) or case.get("config"):
            continue
        try:
            builder().build_match(case["spec"])
        except Exception:
            continue
        corpus.append(case["spec"])

    def ours_corpus() -> None:
        for spec in corpus:
            compiler.compile(spec).filter

    def legacy_corpus() -> None:
        for spec in corpus:
            builder().build_match(spec)

    print(f"reference spec: tests/bench/reference.json; corpus: {len(corpus)} golden specs the legacy compiles")
    # The floor of any compiler returning dicts: CPython's C JSON decoder building the same
    # filter (its dicts, lists and strings) from text, with nothing to compile.
    filter_text = json.dumps(compiler.compile(reference).filter, default=str)
    compare("floor: json.loads of the reference filter's text (C)", lambda: json.loads(filter_text),
            lambda: builder().build_match(reference), 20_000)
    compare("reference, Compiler.compile(dict).filter", lambda: compiler.compile(reference).filter,
            lambda: builder().build_match(reference), 20_000)
    compare("reference, compile(dict).filter (the shortcut)", lambda: compile(reference).filter,
            lambda: builder().build_match(reference), 20_000)
    compare("reference, compile_json(text)", lambda: compile_json(text),
            lambda: builder().build_match(reference), 20_000)
    compare("corpus, Compiler.compile(dict).filter, per spec", ours_corpus, legacy_corpus, 100, per=len(corpus))


if __name__ == "__main__":
    main()
