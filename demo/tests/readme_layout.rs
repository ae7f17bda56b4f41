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

/// The number of golden cases the README and the CHANGELOG state is the number of case files.
#[test]
fn the_golden_case_count_stated_is_the_count_on_disk() {
    fn count(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .map(|path| match path.is_dir() {
                true => count(&path),
                false => usize::from(path.extension().is_some_and(|e| e == "json")),
            })
            .sum()
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let golden = root.join("tests/golden");
    // Every file but the data set the cases' `matches` refer to.
    let cases = count(&golden) - usize::from(golden.join("dataset.json").exists());
    assert!(cases > 400, "the corpus was read ({cases})");
    for doc in ["README.md", "CHANGELOG.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        let stated = format!("{cases} golden cases");
        assert!(text.contains(&stated), "{doc} should say \"{stated}\"");
    }
}
