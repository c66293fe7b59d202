//! House rules that no compiler checks, kept as ordinary tests: module docs, `// SAFETY:`
//! comments, `#[should_panic]` with an expected message, and the crate graph of API.md.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

fn members() -> Vec<String> {
    let manifest: toml::Table = fs::read_to_string(root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    manifest["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for member in members() {
        rust_files(&root().join(member), &mut files);
    }
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let text = fs::read_to_string(&f).unwrap();
            (f, text)
        })
        .collect()
}

#[test]
fn every_module_opens_with_a_doc_comment() {
    let mut missing = Vec::new();
    for (file, text) in sources() {
        let opening = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("#![") && !l.starts_with("// "));
        if !opening.is_some_and(|l| l.starts_with("//!")) {
            missing.push(file.display().to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "modules without a `//!` doc: {missing:#?}"
    );
}

/// Whether `line` opens an `unsafe` block (not an `unsafe fn`, `unsafe impl` or `unsafe extern`).
fn opens_unsafe_block(line: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    code.match_indices("unsafe").any(|(at, _)| {
        let before = &code[..at];
        let after = code[at + "unsafe".len()..].trim_start();
        let word_start = before
            .chars()
            .last()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        word_start && after.starts_with('{') && before.matches('"').count().is_multiple_of(2)
    })
}

#[test]
fn every_unsafe_block_says_why_it_is_sound() {
    let mut undocumented = Vec::new();
    for (file, text) in sources() {
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            if !opens_unsafe_block(line) {
                continue;
            }
            let window = &lines[index.saturating_sub(8)..=index];
            if !window.iter().any(|l| l.contains("SAFETY:")) {
                undocumented.push(format!("{}:{}", file.display(), index + 1));
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "`unsafe` blocks without a `// SAFETY:` comment: {undocumented:#?}"
    );
}

#[test]
fn should_panic_names_the_expected_message() {
    let mut bare = Vec::new();
    for (file, text) in sources() {
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with("#[should_panic") && !line.contains("expected") {
                bare.push(format!("{}:{}", file.display(), index + 1));
            }
        }
    }
    assert!(
        bare.is_empty(),
        "#[should_panic] without expected: {bare:#?}"
    );
}

/// Workspace crates a manifest depends on, in any dependency table (dev and target ones too).
fn workspace_dependencies(
    manifest: &toml::Table,
    workspace: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut tables = Vec::new();
    for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
        tables.extend(manifest.get(key).and_then(|t| t.as_table()));
    }
    if let Some(targets) = manifest.get("target").and_then(|t| t.as_table()) {
        for target in targets.values().filter_map(|t| t.as_table()) {
            for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
                tables.extend(target.get(key).and_then(|t| t.as_table()));
            }
        }
    }
    tables
        .into_iter()
        .flat_map(|t| t.keys())
        .filter(|name| workspace.contains(*name))
        .cloned()
        .collect()
}

#[test]
fn the_crate_graph_is_the_one_of_api_md() {
    let allowed: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("thread-audit", &[][..]),
        ("thread-hooks", &["thread-audit"][..]),
        ("thread-core", &["thread-audit", "thread-hooks"][..]),
        ("thread-lock", &["thread-core"][..]),
        (
            "conformance",
            &["thread-audit", "thread-hooks", "thread-core", "thread-lock"][..],
        ),
        ("xtask", &[][..]),
        (
            "thread-py",
            &["thread-audit", "thread-hooks", "thread-core", "thread-lock"][..],
        ),
    ]);
    let members = members();
    let workspace: BTreeSet<String> = members.iter().cloned().collect();
    for member in &members {
        let manifest: toml::Table = fs::read_to_string(root().join(member).join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
        let Some(allowed) = allowed.get(member.as_str()) else {
            panic!("{member} is not in API.md's crate graph");
        };
        let allowed: BTreeSet<String> = allowed.iter().map(|s| s.to_string()).collect();
        let actual = workspace_dependencies(&manifest, &workspace);
        let extra: Vec<_> = actual.difference(&allowed).collect();
        assert!(extra.is_empty(), "{member} must not depend on {extra:?}");
    }
}

#[test]
fn every_crate_takes_the_workspace_lints() {
    for member in members() {
        let manifest: toml::Table = fs::read_to_string(root().join(&member).join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
        let inherits = manifest
            .get("lints")
            .and_then(|l| l.get("workspace"))
            .and_then(|w| w.as_bool());
        assert_eq!(
            inherits,
            Some(true),
            "{member} lacks `[lints] workspace = true`"
        );
    }
}

/// The clause report knows a test's target by the name of its binary, which cargo takes from the
/// file name: two crates with a `tests/fork.rs` would mix their results.
#[test]
fn integration_test_names_are_unique_across_the_workspace() {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut clashes = Vec::new();
    for member in members() {
        let Ok(entries) = fs::read_dir(root().join(&member).join("tests")) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            let name = if path.is_dir() {
                path.file_name().map(|n| n.to_string_lossy().into_owned())
            } else if path.extension().is_some_and(|e| e == "rs") {
                path.file_stem().map(|n| n.to_string_lossy().into_owned())
            } else {
                None
            };
            let Some(name) = name else { continue };
            if let Some(other) = seen.insert(name.clone(), member.clone()) {
                clashes.push(format!("tests/{name} in {other} and {member}"));
            }
        }
    }
    assert!(clashes.is_empty(), "test targets named twice: {clashes:#?}");
}
