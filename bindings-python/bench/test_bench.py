"""Compile speed from Python, conversion both ways included (pytest-benchmark).

    .venv/bin/maturin develop --release -m bindings-python/Cargo.toml
    .venv/bin/python -m pytest bindings-python/bench -q --benchmark-columns=mean,median,ops

The reference spec is tests/bench/reference.json (the file the Rust and Node benchmarks time).
Baselines measured in the same run: the C `json.loads` of the reference text and
`copy.deepcopy` of the parsed spec (building as many Python objects as the spec has).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import cqrs_mongo_spec as cms

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_TEXT = (ROOT / "tests/bench/reference.json").read_text()
REFERENCE = json.loads(REFERENCE_TEXT)


def _corpus() -> list[tuple[Any, Any, dict[str, Any]]]:
    cases = []
    for path in sorted((ROOT / "tests/golden").rglob("*.json")):
        if path.name == "dataset.json":
            continue
        case = json.loads(path.read_text())
        if "expected" in case and not isinstance(case["spec"], str):
            config = case.get("config", {})
            cases.append((case["spec"], case.get("options"), config))
    return cases


CORPUS = _corpus()


def test_reference_compile_filter(benchmark: Any) -> None:
    """`compile(spec).filter`: dict in, dict out."""
    result = benchmark(lambda: cms.compile(REFERENCE).filter)
    assert "$and" in result


def test_reference_compile_filter_and_pipeline(benchmark: Any) -> None:
    benchmark(lambda: cms.compile(REFERENCE).pipeline)


def test_reference_compile_json(benchmark: Any) -> None:
    result = benchmark(cms.compile_json, REFERENCE_TEXT)
    assert result.startswith('{"filter"')


def test_corpus_compile(benchmark: Any) -> None:
    """Every compiling golden case once per round (divide the mean by the case count)."""

    def run() -> None:
        for spec, options, config in CORPUS:
            cms.compile(spec, options, **config).filter

    benchmark.extra_info["cases"] = len(CORPUS)
    benchmark(run)


def test_baseline_json_loads(benchmark: Any) -> None:
    benchmark(json.loads, REFERENCE_TEXT)


def test_baseline_deepcopy(benchmark: Any) -> None:
    benchmark(copy.deepcopy, REFERENCE)


@pytest.fixture(scope="session", autouse=True)
def _print_corpus_size() -> None:
    print(f"\ngolden corpus: {len(CORPUS)} compiling cases")
