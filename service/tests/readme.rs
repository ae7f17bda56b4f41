//! The README's excerpt of the handler code is the code: every line of it is in the sources.

#[test]
fn the_readme_excerpt_is_taken_from_the_handlers() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let section = &readme[readme.find("## A web service you can copy").expect("the README section")..];
    let start = section.find("```rust,ignore\n").expect("the excerpt") + "```rust,ignore\n".len();
    let excerpt = &section[start..start + section[start..].find("```").unwrap()];
    let sources: String = ["orders.rs", "search.rs"]
        .iter()
        .map(|file| std::fs::read_to_string(format!("{root}/service/src/{file}")).unwrap())
        .collect();
    let source_lines: Vec<&str> = sources.lines().map(str::trim).collect();
    let lines: Vec<&str> = excerpt.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    assert!((12..=20).contains(&lines.len()), "about 15 lines, got {}", lines.len());
    for line in lines {
        assert!(source_lines.contains(&line), "README line not in service/src: {line}");
    }
}
