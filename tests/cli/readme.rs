//! The README's conformance tables are generated from the catalog metadata and the proof table
//! (`authbench::checks::markdown_catalog`, `checks::proof::markdown_proof_table`): this test keeps
//! them identical. Each table sits between `<!-- checks-catalog:start -->` / `<!-- checks-catalog:end -->`
//! (and `checks-proof`) markers; regenerate with `cargo test --test cli readme -- --ignored`.

use std::path::Path;

use authbench::checks;

/// A README section name and the function that renders its table.
type Table = (&'static str, fn() -> String);

const TABLES: &[Table] = &[
    ("checks-catalog", checks::markdown_catalog),
    ("checks-proof", checks::proof::markdown_proof_table),
];

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md is readable")
}

/// The byte range between the markers of `name`, or `None` when the README has no such section.
fn span(text: &str, name: &str) -> Option<std::ops::Range<usize>> {
    let start = format!("<!-- {name}:start -->");
    let end = format!("<!-- {name}:end -->");
    let from = text.find(&start)? + start.len();
    let to = from + text[from..].find(&end)?;
    Some(from..to)
}

#[test]
fn readme_tables_match_the_catalog() {
    let text = readme();
    let mut checked = 0;
    for (name, render) in TABLES {
        let Some(range) = span(&text, name) else {
            eprintln!("README.md has no <!-- {name}:start --> section yet: nothing to compare");
            continue;
        };
        assert_eq!(
            text[range].trim(),
            render().trim(),
            "the README's {name} table is out of date; run `cargo test --test cli readme -- --ignored` to rewrite it"
        );
        assert_eq!(text.matches(&format!("<!-- {name}:start -->")).count(), 1);
        checked += 1;
    }
    eprintln!("{checked} README tables checked");
}

/// Rewrites the README's tables from the catalog (run on purpose: `-- --ignored`).
#[test]
#[ignore = "rewrites README.md"]
fn regenerate_readme_tables() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let mut text = readme();
    for (name, render) in TABLES {
        if let Some(range) = span(&text, name) {
            text.replace_range(range, &format!("\n{}", render()));
        }
    }
    std::fs::write(path, text).expect("README.md is writable");
}
