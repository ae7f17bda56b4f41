//! The README's Layout names paths that exist: the first column of each line of its block.

#[test]
fn every_path_the_layout_names_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = &readme[readme.find("## Layout").expect("a Layout section")..];
    let start = section.find("```text\n").expect("the layout block") + "```text\n".len();
    let block = &section[start..start + section[start..].find("```").unwrap()];
    let mut checked = 0;
    for line in block.lines().filter(|line| !line.trim().is_empty()) {
        let path = line.split_whitespace().next().unwrap();
        assert!(root.join(path).exists(), "the README's Layout names {path}, which does not exist");
        checked += 1;
    }
    assert!(checked >= 30, "the block was read ({checked} paths)");
}
