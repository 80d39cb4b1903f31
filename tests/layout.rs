//! The layout rule of the workspace: no import cycles between the top-level modules of a crate
//! (dependencies point one way). For each crate this test reads every `src/**/*.rs` file, finds
//! its `crate::<module>` references (`use crate::a::B`, `use crate::{a, b::C}`, paths in code,
//! `$crate::` in macros; names re-exported at the crate root are traced to their module), builds
//! the graph of top-level modules and fails naming each cycle with the lines that make it.
//! Comments and string literals are skipped; `super::` is not followed (the code reaches other
//! top-level modules through `crate::`). Unit tests are exempt (`#[cfg(test)] mod … { … }` blocks,
//! files named `tests.rs` or `*_tests.rs` and `tests/` directories): they are compiled only into
//! the crate's own test build, where a store test may well build its blocks with the producer.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The crates of the workspace: (name, directory of `src`, root file).
const CRATES: &[(&str, &str, &str)] = &[
    ("hobbits-codec", "codec/src", "lib.rs"),
    ("hobbits-chain", "chain/src", "lib.rs"),
    ("hobbits-actors", "actors/src", "lib.rs"),
    ("hobbits-tools", "tools/src", "lib.rs"),
    ("hobbits-testnet", "testnet/src", "lib.rs"),
    ("hobbits-node", "src", "main.rs"),
];

/// One `crate::` reference: the module it reaches, where it is written.
#[derive(Debug, Clone)]
struct Reference {
    target: String,
    file: PathBuf,
    line: usize,
}

/// Source text with comments and the contents of string and char literals blanked (newlines kept,
/// so line numbers stay right).
fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&b, i) {
            // Raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match b.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| b.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some(_) => j += 1,
                }
            }
            out.extend(b[i..j.min(b.len())].iter().map(|c| blank(*c)));
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && (b.get(i + 2) == Some(&'\'') || next == Some('\\')) {
            // A char literal ('a', '\n', '\''); a lifetime ('a) has no closing quote.
            let mut j = i + 1;
            if b.get(j) == Some(&'\\') {
                j += 2;
            } else {
                j += 1;
            }
            while j < b.len() && b[j] != '\'' {
                j += 1;
            }
            out.extend(b[i..(j + 1).min(b.len())].iter().map(|c| blank(*c)));
            i = j + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn ident_before(b: &[char], i: usize) -> bool {
    i > 0 && is_ident(b[i - 1])
}

fn ident_at(b: &[char], mut i: usize) -> (String, usize) {
    while i < b.len() && b[i].is_whitespace() {
        i += 1;
    }
    let start = i;
    while i < b.len() && is_ident(b[i]) {
        i += 1;
    }
    (b[start..i].iter().collect(), i)
}

/// `code` with every `#[cfg(test)] mod name { … }` block blanked (newlines kept).
fn without_test_modules(code: &str) -> String {
    let mut b: Vec<char> = code.chars().collect();
    let marker: Vec<char> = "#[cfg(test)]".chars().collect();
    let mut i = 0;
    while i + marker.len() <= b.len() {
        if b[i..i + marker.len()] != marker[..] {
            i += 1;
            continue;
        }
        let (mut word, mut j) = ident_at(&b, i + marker.len());
        if word == "pub" {
            (word, j) = ident_at(&b, j);
        }
        let (_, mut j) = ident_at(&b, j);
        while j < b.len() && b[j].is_whitespace() {
            j += 1;
        }
        if word != "mod" || b.get(j) != Some(&'{') {
            i += marker.len();
            continue;
        }
        let mut depth = 0;
        let mut k = j;
        while k < b.len() {
            match b[k] {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            k += 1;
        }
        let end = (k + 1).min(b.len());
        for c in &mut b[i..end] {
            if *c != '\n' {
                *c = ' ';
            }
        }
        i = end;
    }
    b.into_iter().collect()
}

/// Whether a file holds unit tests only (by the naming the crates use).
fn is_test_file(rel: &Path) -> bool {
    let stem = rel
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    stem == "tests"
        || stem.ends_with("_tests")
        || rel.components().any(|c| c.as_os_str() == "tests")
}

/// The first segment of every path a `crate::` reference names: `crate::a::B` gives `a`,
/// `crate::{a, b::C}` gives `a` and `b`, with the line of the `crate` keyword.
fn crate_paths(code: &str) -> Vec<(String, usize)> {
    let b: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < b.len() {
        if b[i] == '\n' {
            line += 1;
        }
        let at_word = !ident_before(&b, i) || (i > 0 && b[i - 1] == '$');
        if at_word && b[i..].starts_with(&['c', 'r', 'a', 't', 'e', ':', ':']) {
            let mut j = i + 7;
            while j < b.len() && b[j].is_whitespace() {
                j += 1;
            }
            if b.get(j) == Some(&'{') {
                // A group: the first segment of each entry at depth 1.
                let mut depth = 0;
                let mut expect_entry = true;
                while j < b.len() {
                    match b[j] {
                        '{' => {
                            depth += 1;
                            if depth == 1 {
                                expect_entry = true;
                            }
                            j += 1;
                        }
                        '}' => {
                            depth -= 1;
                            j += 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        ',' if depth == 1 => {
                            expect_entry = true;
                            j += 1;
                        }
                        c if depth == 1 && expect_entry && is_ident(c) => {
                            let (name, end) = ident_at(&b, j);
                            out.push((name, line));
                            expect_entry = false;
                            j = end;
                        }
                        _ => j += 1,
                    }
                }
            } else {
                let (name, _) = ident_at(&b, j);
                if !name.is_empty() {
                    out.push((name, line));
                }
            }
            i += 7;
            continue;
        }
        i += 1;
    }
    out
}

/// The top-level modules declared in the root file, and the names it re-exports from them
/// (`pub use a::{B, c::D}` maps `B` and `D` to `a`).
fn root_modules(root: &str) -> (BTreeSet<String>, BTreeMap<String, String>) {
    let code = code_only(root);
    let mut modules = BTreeSet::new();
    let mut reexports = BTreeMap::new();
    for stmt in code.split(';') {
        let words: Vec<&str> = stmt.split_whitespace().collect();
        let Some(pos) = words.iter().position(|w| *w == "mod" || *w == "use") else {
            continue;
        };
        let rest = words[pos + 1..].join(" ");
        if words[pos] == "mod" {
            if rest.chars().all(is_ident) && !rest.is_empty() {
                modules.insert(rest);
            }
            continue;
        }
        // `use a::...`: every name brought in is attributed to `a`.
        let Some((first, tail)) = rest.split_once("::") else {
            continue;
        };
        let module = first.trim().to_string();
        for name in tail
            .split(|c: char| !is_ident(c))
            .filter(|n| !n.is_empty() && *n != "self" && *n != "as")
        {
            reexports.entry(name.to_string()).or_insert(module.clone());
        }
    }
    (modules, reexports)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module graph of one crate: for each top-level module, the modules it references and
/// where.
fn module_graph(src: &Path, root_file: &str) -> BTreeMap<String, BTreeMap<String, Reference>> {
    let root_text = fs::read_to_string(src.join(root_file)).expect("crate root");
    let (modules, reexports) = root_modules(&root_text);
    let mut graph: BTreeMap<String, BTreeMap<String, Reference>> = BTreeMap::new();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let first = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        let owner = first.trim_end_matches(".rs").to_string();
        if !modules.contains(&owner) || is_test_file(rel) {
            continue; // the root file, a file no module declares, or unit tests
        }
        let text = fs::read_to_string(&file).expect("read source");
        for (name, line) in crate_paths(&without_test_modules(&code_only(&text))) {
            let target = if modules.contains(&name) {
                name
            } else if let Some(m) = reexports.get(&name) {
                m.clone()
            } else {
                continue;
            };
            if target == owner || !modules.contains(&target) {
                continue;
            }
            graph
                .entry(owner.clone())
                .or_default()
                .entry(target.clone())
                .or_insert(Reference {
                    target,
                    file: file.clone(),
                    line,
                });
        }
    }
    graph
}

/// Every cycle (one per strongly connected component of two or more modules), as a closed path.
fn cycles(graph: &BTreeMap<String, BTreeMap<String, Reference>>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = graph
        .keys()
        .chain(graph.values().flat_map(|m| m.keys()))
        .collect();
    let reaches = |from: &String, to: &String| -> Option<Vec<String>> {
        // Breadth-first path from `from` to `to`.
        let mut prev: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([from.clone()]);
        let mut seen = BTreeSet::from([from.clone()]);
        while let Some(n) = queue.pop_front() {
            for next in graph.get(&n).into_iter().flat_map(|m| m.keys()) {
                if next == to {
                    let mut path = vec![to.clone(), n.clone()];
                    let mut cur = n.clone();
                    while let Some(p) = prev.get(&cur) {
                        path.push(p.clone());
                        cur = p.clone();
                    }
                    path.reverse();
                    return Some(path);
                }
                if seen.insert(next.clone()) {
                    prev.insert(next.clone(), n.clone());
                    queue.push_back(next.clone());
                }
            }
        }
        None
    };
    let mut found = Vec::new();
    let mut covered: BTreeSet<String> = BTreeSet::new();
    for n in nodes {
        if covered.contains(n) {
            continue;
        }
        if let Some(path) = reaches(n, n) {
            covered.extend(path.iter().cloned());
            found.push(path);
        }
    }
    found
}

fn describe(
    krate: &str,
    cycle: &[String],
    graph: &BTreeMap<String, BTreeMap<String, Reference>>,
) -> String {
    let mut s = format!("{krate}: {}", cycle.join(" -> "));
    for pair in cycle.windows(2) {
        if let Some(r) = graph.get(&pair[0]).and_then(|m| m.get(&pair[1])) {
            s.push_str(&format!(
                "\n    {} -> {}: {}:{}",
                pair[0],
                r.target,
                r.file.display(),
                r.line
            ));
        }
    }
    s
}

#[test]
fn no_import_cycle_between_the_top_level_modules_of_a_crate() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    let mut edges = 0;
    for (krate, src, root) in CRATES {
        let graph = module_graph(&workspace.join(src), root);
        edges += graph.values().map(BTreeMap::len).sum::<usize>();
        // The graph, for `cargo test --test layout -- --nocapture`.
        for (module, uses) in &graph {
            let uses: Vec<&str> = uses.keys().map(String::as_str).collect();
            println!("{krate}: {module} -> {}", uses.join(", "));
        }
        for cycle in cycles(&graph) {
            problems.push(describe(krate, &cycle, &graph));
        }
    }
    assert!(edges > 20, "the scan found only {edges} module references");
    assert!(
        problems.is_empty(),
        "modules import each other in a circle:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_scan_sees_groups_paths_and_reexports_and_skips_comments() {
    let code = code_only(
        "use crate::{a, b::C, d::{E, F}};\n// crate::commented\nlet s = \"crate::quoted\";\nlet x = crate::g::h();\nlet c = '\"'; crate::i::J;\n$crate::k::L",
    );
    let names: Vec<(String, usize)> = crate_paths(&code);
    let names: Vec<(&str, usize)> = names.iter().map(|(n, l)| (n.as_str(), *l)).collect();
    assert_eq!(
        names,
        [("a", 1), ("b", 1), ("d", 1), ("g", 4), ("i", 5), ("k", 6)]
    );
    let tests = without_test_modules(&code_only(
        "use crate::a;\n#[cfg(test)]\nmod tests {\n    use crate::b::{C, D};\n}\nuse crate::e;",
    ));
    let names: Vec<String> = crate_paths(&tests).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["a", "e"]);
    assert!(is_test_file(Path::new("gossip/router_tests.rs")));
    assert!(is_test_file(Path::new("sync/tests/range.rs")));
    assert!(!is_test_file(Path::new("sync/range.rs")));
    let (modules, reexports) = root_modules(
        "pub mod a;\n#[cfg(feature = \"x\")]\npub mod b;\nmod c;\npub use a::{Thing, deep::Other};\npub use c::Third as Renamed;",
    );
    assert_eq!(
        modules.into_iter().collect::<Vec<_>>(),
        ["a", "b", "c"].map(String::from)
    );
    assert_eq!(reexports.get("Thing").map(String::as_str), Some("a"));
    assert_eq!(reexports.get("Other").map(String::as_str), Some("a"));
    assert_eq!(reexports.get("Renamed").map(String::as_str), Some("c"));
}

#[test]
fn a_cycle_is_found_and_named() {
    let r = |t: &str| Reference {
        target: t.to_string(),
        file: PathBuf::from("x.rs"),
        line: 1,
    };
    let mut graph: BTreeMap<String, BTreeMap<String, Reference>> = BTreeMap::new();
    graph
        .entry("a".into())
        .or_default()
        .insert("b".into(), r("b"));
    graph
        .entry("b".into())
        .or_default()
        .insert("c".into(), r("c"));
    graph
        .entry("c".into())
        .or_default()
        .insert("a".into(), r("a"));
    graph
        .entry("d".into())
        .or_default()
        .insert("a".into(), r("a"));
    let found = cycles(&graph);
    assert_eq!(found, vec![["a", "b", "c", "a"].map(String::from).to_vec()]);
    graph.get_mut("c").expect("c").clear();
    assert!(cycles(&graph).is_empty());
}
