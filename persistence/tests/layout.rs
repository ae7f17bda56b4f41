//! The crate root a newcomer meets: no type is reachable both from the root and through a
//! public module (`aggregates::AggregateStore` is the one path to the aggregate store).

#[test]
fn no_root_export_repeats_a_public_module() {
    let lib = include_str!("../src/lib.rs");
    let public_modules: Vec<&str> =
        lib.lines().filter_map(|line| line.trim().strip_prefix("pub mod ")?.strip_suffix(';')).collect();
    assert!(public_modules.contains(&"aggregates"), "the scan reads the module list: {public_modules:?}");
    let repeated: Vec<&str> = lib
        .lines()
        .map(str::trim)
        .filter(|line| public_modules.iter().any(|module| line.starts_with(&format!("pub use {module}::"))))
        .collect();
    assert!(repeated.is_empty(), "types reachable by two paths: {repeated:?}");
}
