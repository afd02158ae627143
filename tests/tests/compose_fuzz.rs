//! Random and mutated compose files fed to the whole loader: it may reject
//! them, but it must never panic, loop or blow up (bounded by the file-size,
//! depth and node limits of the YAML reader).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use berth::compose::{LoadOptions, load};
use proptest::prelude::*;

/// Valid files from the shared corpus, as seeds to mutate.
fn seeds() -> Vec<String> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/compose-corpus");
    let mut seeds = Vec::new();
    for source in ["awesome-compose", "compose-e2e", "compose-go-loader"] {
        let Ok(cases) = std::fs::read_dir(corpus.join(source)) else { continue };
        for case in cases.flatten() {
            if let Ok(text) = std::fs::read_to_string(case.path().join("compose.yaml")) {
                seeds.push(text);
            }
        }
    }
    seeds.sort();
    assert!(seeds.len() > 20, "the corpus is beside the repository");
    seeds
}

/// Loads `text` as the project's only file; the outcome does not matter, only that there is one.
fn load_text(dir: &Path, text: &str) {
    std::fs::write(dir.join("compose.yaml"), text).unwrap();
    let options = LoadOptions {
        files: vec![PathBuf::from("compose.yaml")],
        interpolate: true,
        env: HashMap::from([("HOME".to_string(), "/root".to_string()), ("TAG".to_string(), "1".to_string())]),
        cwd: dir.to_path_buf(),
        ..Default::default()
    };
    let _ = load(&options);
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: &'static str },
    DuplicateLine { line: usize },
    Swap { a: usize, b: usize },
}

/// Fragments that exercise the loader's corners: YAML structure, anchors, tags, interpolation, short syntaxes.
const FRAGMENTS: &[&str] = &[
    ":",
    "- ",
    "\n  ",
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "*a",
    "<<: *a\n",
    "!reset ",
    "!override ",
    "${",
    "${TAG:-x}",
    "$$",
    "\"",
    "'",
    "#",
    "\t",
    "---\n",
    "8080:80",
    "./x:/y:ro",
    "1m30s",
    "~",
    "null",
    "depends_on: [x]\n",
    "extends: x\n",
    "- -",
    "? ",
    "|\n",
    ">-\n",
    "\u{feff}",
    "\\",
    "services:\n",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), prop::sample::select(FRAGMENTS)).prop_map(|(at, text)| Mutation::Insert { at, text }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap { a, b }),
    ]
}

/// Applies a mutation at character boundaries, so the text stays UTF-8.
fn apply(text: &str, mutation: &Mutation) -> String {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len().max(1);
    match mutation {
        Mutation::Delete { at, len } => {
            let start = at % n;
            let end = (start + len).min(chars.len());
            chars[..start.min(chars.len())].iter().chain(&chars[end..]).collect()
        }
        Mutation::Insert { at, text: fragment } => {
            let at = (at % n).min(chars.len());
            chars[..at].iter().collect::<String>() + fragment + &chars[at..].iter().collect::<String>()
        }
        Mutation::DuplicateLine { line } => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let i = line % lines.len();
                lines.insert(i, lines[i]);
            }
            lines.join("\n")
        }
        Mutation::Swap { a, b } => {
            let mut chars = chars;
            if !chars.is_empty() {
                let (a, b) = (a % chars.len(), b % chars.len());
                chars.swap(a, b);
            }
            chars.into_iter().collect()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_corpus_files_never_panic(seed in any::<prop::sample::Index>(), mutations in prop::collection::vec(mutation(), 1..8)) {
        let seeds = seeds();
        let mut text = seeds[seed.index(seeds.len())].clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        let dir = tempfile::tempdir().unwrap();
        load_text(dir.path(), &text);
    }

    #[test]
    fn random_yaml_like_text_never_panics(pieces in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..60), words in "[a-z0-9_.:/ -]{0,40}") {
        let dir = tempfile::tempdir().unwrap();
        load_text(dir.path(), &(pieces.concat() + &words));
    }
}

#[test]
fn hostile_files_are_refused_in_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    // "Billion laughs": each alias level multiplies the tree tenfold.
    let mut bomb = String::from("x-a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..15 {
        let p = i - 1;
        bomb.push_str(&format!(
            "x-a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    bomb.push_str("services: {web: {image: x}}\n");
    std::fs::write(dir.path().join("compose.yaml"), &bomb).unwrap();
    let options = LoadOptions { interpolate: true, cwd: dir.path().to_path_buf(), ..Default::default() };
    let err = load(&options).unwrap_err();
    assert!(err.to_string().contains("expands to more than"), "{err}");

    let deep: String = (0..500).map(|d| format!("{}a:\n", " ".repeat(d))).collect();
    std::fs::write(dir.path().join("compose.yaml"), deep).unwrap();
    let err = load(&options).unwrap_err();
    assert!(err.to_string().contains("nesting deeper than"), "{err}");

    let huge = "#".repeat(17 << 20);
    std::fs::write(dir.path().join("compose.yaml"), huge).unwrap();
    let err = load(&options).unwrap_err();
    assert!(err.to_string().contains("more than the"), "{err}");
}
