//! The crate a newcomer meets (the crate docs, "Finding your way"): the root holds the
//! connection, where an operation runs, the error and the stores and loops; everything else is
//! in the module of its layer, and no item is reachable by two public paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The text of a module's file (`name.rs` or `name/mod.rs`) under `dir`.
fn module_file(dir: &Path, name: &str) -> String {
    let flat = dir.join(format!("{name}.rs"));
    let nested = dir.join(name).join("mod.rs");
    std::fs::read_to_string(&flat).or_else(|_| std::fs::read_to_string(&nested)).unwrap()
}

/// Whole statements (`pub use a::{b, c};` may span lines), comments dropped.
fn statements(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in source.lines() {
        let line = line.trim();
        if line.starts_with("//") || line.starts_with("#[") {
            continue;
        }
        let opens = ["pub use ", "pub mod ", "pub(crate) mod ", "mod "].iter().any(|p| line.starts_with(p));
        if current.is_empty() && !opens {
            continue;
        }
        current.push_str(line);
        current.push(' ');
        if line.ends_with(';') || line.ends_with('{') {
            out.push(std::mem::take(&mut current).trim().to_owned());
        }
    }
    out
}

/// The names a `pub use path::{a, b as c};` statement exports, with the path before them.
fn exported(statement: &str) -> Option<(String, Vec<String>)> {
    let body = statement.strip_prefix("pub use ")?.strip_suffix(';')?;
    let (path, names) = match body.find('{') {
        Some(open) => (&body[..open], body[open + 1..body.rfind('}')?].split(',').collect::<Vec<_>>()),
        None => match body.rfind("::") {
            Some(at) => (&body[..at + 2], vec![&body[at + 2..]]),
            None => ("", vec![body]),
        },
    };
    let names = names
        .into_iter()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| name.rsplit(" as ").next().unwrap().trim().to_owned())
        .collect();
    Some((path.trim_end_matches("::").to_owned(), names))
}

fn public_modules(lib: &str) -> Vec<String> {
    statements(lib).iter().filter_map(|s| s.strip_prefix("pub mod ")?.strip_suffix(';').map(str::to_owned)).collect()
}

#[test]
fn no_item_is_reachable_by_two_public_paths() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let modules = public_modules(&lib);
    assert!(
        modules.len() >= 10 && modules.iter().any(|m| m == "projections"),
        "the scan reads the modules: {modules:?}"
    );

    // Where each public name lives: the root's re-exports, then each public module's.
    let mut paths: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in statements(&lib) {
        if let Some((path, names)) = exported(&statement) {
            let first = path.split("::").next().unwrap_or("");
            if modules.iter().any(|m| m == first) {
                // A root re-export out of a public module must go through a module that is not
                // public, or the item would also be at `first::...`.
                let second = path.split("::").nth(1).expect("a root re-export names the defining module");
                let file = module_file(&src(), first);
                assert!(
                    !statements(&file).iter().any(|s| s == &format!("pub mod {second};")),
                    "`{statement}` re-exports from the public module {first}::{second}"
                );
            }
            for name in names.into_iter().filter(|n| !n.starts_with("__")) {
                paths.entry(name.clone()).or_default().push(format!("crate::{name}"));
            }
        }
    }
    for module in &modules {
        let file = module_file(&src(), module);
        for statement in statements(&file) {
            assert!(!statement.starts_with("pub mod "), "{module}: `{statement}` opens a second public level");
            if let Some((_, names)) = exported(&statement) {
                for name in names {
                    paths.entry(name.clone()).or_default().push(format!("{module}::{name}"));
                }
            }
        }
    }
    let twice: Vec<_> = paths.iter().filter(|(_, at)| at.len() > 1).collect();
    assert!(twice.is_empty(), "items reachable by two paths: {twice:?}");
}

#[test]
fn the_root_holds_about_twenty_items() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let root: Vec<String> = statements(&lib)
        .iter()
        .filter_map(|s| exported(s))
        .flat_map(|(_, names)| names)
        .filter(|name| !name.starts_with("__"))
        .collect();
    assert!(root.contains(&"Connection".to_owned()) && root.contains(&"ProjectionRunner".to_owned()), "{root:?}");
    assert!(root.len() <= 22, "{} root exports: {root:?}", root.len());
    // Everything else at the root is a layer module.
    let stores = root.iter().filter(|n| n.ends_with("Store") || n.ends_with("Repository")).count();
    assert!(stores >= 7, "the stores are at the root: {root:?}");
}

#[test]
fn the_crate_docs_table_names_every_public_module() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let mut modules = public_modules(&lib);
    modules.sort();
    let section = &lib[lib.find("//! # Finding your way").expect("the section")..];
    let section = &section[..section[3..].find("//! # ").unwrap() + 3];
    let mut listed: Vec<String> = section
        .lines()
        .filter_map(|line| line.strip_prefix("//! | ")?.split(" | ").next())
        .filter_map(|cell| {
            let name = cell.trim_start_matches("[`").trim_start_matches('`');
            let name = name.split(['`', ' ']).next()?;
            (!name.is_empty() && name != "module" && name != "---|---|---|").then(|| name.to_owned())
        })
        .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    listed.sort();
    assert_eq!(listed, modules, "the \"Finding your way\" table and the public modules");
}
