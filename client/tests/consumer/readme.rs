//! Every Rust block of the README is code that runs in the test suite: each must stand, line
//! for line (indentation aside), in an example of `client/examples/` or a test of this
//! binary, which the other modules run.

use std::path::Path;

/// Where the README's Rust blocks may come from, relative to the client crate.
const SOURCES: [&str; 2] = ["examples", "tests/consumer"];

/// The ```rust blocks of a Markdown text, each as its lines.
fn rust_blocks(markdown: &str) -> Vec<Vec<&str>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in markdown.lines() {
        match current.as_mut() {
            None if line.trim_start().starts_with("```rust") => current = Some(Vec::new()),
            Some(_) if line.trim_start().starts_with("```") => {
                blocks.extend(current.take());
            }
            Some(block) => block.push(line),
            None => {}
        }
    }
    blocks
}

/// Whether `block`'s lines stand consecutively in `source`, compared without indentation.
fn stands_in(block: &[&str], source: &str) -> bool {
    let block: Vec<&str> = block.iter().map(|line| line.trim()).collect();
    let source: Vec<&str> = source.lines().map(str::trim).collect();
    !block.is_empty() && source.windows(block.len()).any(|window| window == block)
}

#[test]
fn every_rust_block_of_the_readme_is_run_by_the_tests() {
    let client = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(client.join("../README.md")).expect("README.md");
    let mut sources = Vec::new();
    for dir in SOURCES {
        for entry in std::fs::read_dir(client.join(dir)).expect("a source folder") {
            let path = entry.expect("a folder entry").path();
            if path.extension().is_some_and(|e| e == "rs") {
                sources.push(std::fs::read_to_string(&path).expect("a source file"));
            }
        }
    }
    let blocks = rust_blocks(&readme);
    assert!(!blocks.is_empty(), "the README has Rust blocks");
    for block in blocks {
        assert!(
            sources.iter().any(|source| stands_in(&block, source)),
            "this README block is not code of client/examples or client/tests/consumer, so \
             no test runs it; copy it from there:\n{}",
            block.join("\n")
        );
    }
}

#[test]
fn blocks_are_found_and_matched_line_for_line() {
    let markdown = "text\n```rust\nlet a = 1;\n    a + 1\n```\n```sh\nls\n```\n";
    let blocks = rust_blocks(markdown);
    assert_eq!(blocks, [vec!["let a = 1;", "    a + 1"]]);
    assert!(stands_in(
        &blocks[0],
        "fn f() {\n    let a = 1;\n    a + 1\n}\n"
    ));
    assert!(!stands_in(&blocks[0], "let a = 1;\nlet b = 2;\na + 1\n"));
}
