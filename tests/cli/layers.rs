//! The crate doc's layer map (`src/lib.rs`) is true: a library module uses only modules in lower
//! layers (no cycles, no upward arrows). Read from the `crate::` paths in the sources.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layer map of the crate doc in `src/lib.rs`, lowest first: the lines of the `text` block
/// after "lowest first:", each `a, b   what they are`, up to the binary's line. Modules on one
/// line share a layer and may not use each other.
fn layers(lib_rs: &str) -> Vec<Vec<String>> {
    let doc: Vec<&str> = lib_rs
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(str::trim)
        .collect();
    let start = doc
        .iter()
        .position(|l| l.ends_with("lowest first:"))
        .expect("the crate doc has a layer map introduced by `lowest first:`");
    doc[start + 1..]
        .iter()
        .skip_while(|l| !l.starts_with("```"))
        .skip(1)
        .take_while(|l| !l.starts_with("```") && !l.starts_with("(binary)"))
        .map(|l| {
            let names = l.split("  ").next().unwrap_or("");
            names.split(',').map(|m| m.trim().to_string()).collect()
        })
        .collect()
}

fn layer_of(layers: &[Vec<String>], module: &str) -> Option<usize> {
    layers.iter().position(|l| l.iter().any(|m| m == module))
}

fn lib_rs() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules `crate::NAME` names in `text`, outside comments.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + 7..];
            // `crate::{a, b::c}` names several modules.
            let names = match rest.strip_prefix('{') {
                Some(group) => group.split('}').next().unwrap_or("").split(',').collect(),
                None => vec![rest],
            };
            for n in names {
                let name: String = n
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    refs.insert(name);
                }
            }
        }
    }
    refs
}

#[test]
fn every_library_module_uses_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = lib_rs();
    let layers = layers(&lib);
    let mut problems = Vec::new();
    for layer in &layers {
        for module in layer {
            assert!(
                lib.contains(&format!("pub mod {module};")),
                "lib.rs does not declare `{module}`"
            );
            let mut files = Vec::new();
            let dir = src.join(module);
            if dir.is_dir() {
                rust_files(&dir, &mut files);
            }
            let file = src.join(format!("{module}.rs"));
            if file.is_file() {
                files.push(file);
            }
            assert!(!files.is_empty(), "no source for `{module}`");
            let own = layer_of(&layers, module).unwrap();
            for f in files {
                let text = std::fs::read_to_string(&f).unwrap();
                for used in crate_refs(&text) {
                    if used == *module {
                        continue;
                    }
                    match layer_of(&layers, &used) {
                        Some(l) if l < own => {}
                        Some(_) => problems.push(format!(
                            "{} ({module}) uses crate::{used}, which is not in a lower layer",
                            f.strip_prefix(&src).unwrap_or(&f).display()
                        )),
                        None => problems.push(format!(
                            "{} uses crate::{used}, which is in no layer of the map",
                            f.display()
                        )),
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_crate_doc_lists_every_layer() {
    let lib = lib_rs();
    let map = layers(&lib);
    for declared in lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';'))
    {
        assert!(
            layer_of(&map, declared).is_some(),
            "`{declared}` is declared in lib.rs but missing from its layer map"
        );
    }
    for module in map.iter().flatten() {
        assert!(
            lib.contains(&format!("[`{module}`]")),
            "the crate doc does not describe `{module}`"
        );
    }
    let parsed = layers(
        "//! lowest first:\n//!\n//! ```text\n//! a, b   x y\n//! c      z\n//! (binary) w\n//! ```\n",
    );
    assert_eq!(parsed, [vec!["a", "b"], vec!["c"]]);
    let refs = crate_refs("use crate::a::b; // crate::c\nx(crate::d); use crate::{e::f, g};");
    assert_eq!(refs.into_iter().collect::<Vec<_>>(), ["a", "d", "e", "g"]);
}
