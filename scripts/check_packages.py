"""The crates meant for crates.io can be packaged, and their packages hold what they should.

Run from the repository root (scripts/test.sh does): `python scripts/check_packages.py`.

1. `cargo package` of every workspace member that may be published (no `publish = false`),
   together, in one invocation: cargo packages them in dependency order and resolves a
   dependency on another of them to the package just built (a local registry under
   target/package/), so no crate has to be on crates.io first. This checks what `cargo publish`
   checks before uploading: the metadata, and a `version` on every dependency between them.
   `--no-verify`: the dependents' sources are compiled and tested by the workspace build.
2. `cargo package` again, verifying, for the crates that depend on no other workspace crate
   (the compiler): their package is built on its own, as crates.io would build it.
3. Each package's file list: the manifest, a README, the sources under src/ and the documents
   named in `include` only (no tests, benches, fixtures or target directories), and every file
   a packaged source embeds (`include_str!`, `include_bytes!`, `#[path]`) inside the package,
   so the unverified packages compile from what they ship.
"""

from __future__ import annotations

import json
import posixpath
import re
import subprocess
import sys
import tarfile
from pathlib import Path

# What a package may hold besides src/**/*.rs: cargo's own files, the README, and per crate the
# documents its manifest includes.
CARGO_FILES = {".cargo_vcs_info.json", "Cargo.lock", "Cargo.toml", "Cargo.toml.orig", "README.md"}
EXTRA_FILES = {"cqrs-mongo-spec": {"SEMANTICS.md"}}

EMBED = re.compile(r'(?:include_str|include_bytes)!\(\s*"([^"]+)"\s*\)|#\[path\s*=\s*"([^"]+)"\]')


def cargo(*args: str) -> None:
    print("+ cargo", " ".join(args), flush=True)
    subprocess.run(["cargo", *args], check=True)


def publishable() -> tuple[Path, list[dict]]:
    """The target directory, and the members cargo may publish, each with the names of its
    workspace dependencies."""
    out = subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1", "--locked"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    metadata = json.loads(out)
    members = metadata["packages"]
    names = {p["name"] for p in members}
    crates = []
    for p in members:
        if p["publish"] == []:  # publish = false
            continue
        local = sorted({d["name"] for d in p["dependencies"] if d["kind"] is None and d["name"] in names})
        crates.append({"name": p["name"], "version": p["version"], "local": local})
    return Path(metadata["target_directory"]), crates


def check_files(target: Path, crate: dict) -> list[str]:
    name, version = crate["name"], crate["version"]
    path = target / "package" / f"{name}-{version}.crate"
    prefix = f"{name}-{version}/"
    problems = []
    with tarfile.open(path) as tar:
        files = {m.name.removeprefix(prefix): m for m in tar.getmembers() if m.isfile()}
        allowed = CARGO_FILES | EXTRA_FILES.get(name, set())
        for file in sorted(files):
            if file in allowed:
                continue
            if not (file.startswith("src/") and file.endswith(".rs")):
                problems.append(f"{name}: ships {file}")
        for needed in sorted(allowed - {".cargo_vcs_info.json"}):
            if needed not in files:
                problems.append(f"{name}: does not ship {needed}")
        for file, member in files.items():
            if not file.endswith(".rs"):
                continue
            text = tar.extractfile(member).read().decode()
            for match in EMBED.finditer(text):
                target = posixpath.normpath(posixpath.join(posixpath.dirname(file), match[1] or match[2]))
                if target not in files:
                    problems.append(f"{name}: {file} embeds {match[1] or match[2]}, not in the package")
    print(f"ok: {name} {version}: {len(files)} files" if not problems else f"{name}: {len(problems)} problems")
    return problems


def main() -> int:
    target, crates = publishable()
    if not crates:
        print("no publishable crate found", file=sys.stderr)
        return 1
    print("publishable:", ", ".join(f"{c['name']} (needs {', '.join(c['local']) or 'no workspace crate'})" for c in crates))
    selection = [arg for c in crates for arg in ("-p", c["name"])]
    # --allow-dirty: this checks the manifests and file lists, not whether the tree is committed.
    cargo("package", "--locked", "--allow-dirty", "--no-verify", *selection)
    leaves = [arg for c in crates if not c["local"] for arg in ("-p", c["name"])]
    cargo("package", "--locked", "--allow-dirty", *leaves)
    problems = [problem for c in crates for problem in check_files(target, c)]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
