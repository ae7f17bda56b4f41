//! What the golden runners share: where the corpus is, its case files in a stable order, a
//! case's name, and the typed comparison of filters. Each test crate uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use bson::Bson;

/// The shared corpus, `tests/golden/` at the workspace root.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden")
}

/// Every case file below the corpus (its sub-folders; `dataset.json` and other files at the
/// root are not cases), sorted.
pub fn case_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).expect("golden dir").map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "json") && path.parent() != Some(root) {
                out.push(path);
            }
        }
    }
    let root = golden_dir();
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files
}

/// A case's name: its path below the corpus without `.json` (`string/ilike_percent_urgent`).
pub fn case_name(path: &Path) -> String {
    path.strip_prefix(golden_dir()).unwrap().with_extension("").to_string_lossy().replace('\\', "/")
}

/// Typed equality with key order significant (bson's own `==` ignores key order) and doubles
/// compared bit for bit (`-0.0` is not `0.0`).
pub fn same(a: &Bson, b: &Bson) -> bool {
    match (a, b) {
        (Bson::Document(x), Bson::Document(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        (Bson::Array(x), Bson::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(va, vb)| same(va, vb)),
        (Bson::Double(x), Bson::Double(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}
