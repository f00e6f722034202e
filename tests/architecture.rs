//! The layering of `src/`, checked from the source: no import cycle between top-level modules,
//! and the pure modules use only what they may. Reads `crate::…` paths (in `use` lines, groups
//! included, and inline), leaving out comments and `#[cfg(test)]` modules, whose helpers may
//! reach anywhere.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// module → module → the files that make the edge.
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// The modules that are pure (no I/O layer), and all they may use.
const PURE: [(&str, &[&str]); 3] =
    [("domain", &[]), ("media", &["domain"]), ("imaging", &["domain", "media", "metrics"])];

/// What `app` (the capabilities) must never reach: everything that uses it.
const ABOVE_APP: [&str; 7] = ["api", "jobs", "uploads", "cleanup", "serve", "cli", "fuzzing"];

#[test]
fn top_level_modules_form_no_cycle() {
    let graph = module_graph();
    assert!(graph.len() > 10, "read too few modules: {:?}", graph.keys());
    let cycles = cycles(&graph);
    let described: Vec<String> = cycles.iter().map(|cycle| describe(&graph, cycle)).collect();
    assert!(described.is_empty(), "import cycles between top-level modules:\n{}", described.join("\n"));
}

#[test]
fn pure_modules_use_only_what_they_may() {
    let graph = module_graph();
    for (module, allowed) in PURE {
        for (used, files) in graph.get(module).into_iter().flatten() {
            assert!(allowed.contains(&used.as_str()), "{module} may not use {used} (in {files:?})");
        }
    }
    for (used, files) in graph.get("app").into_iter().flatten() {
        assert!(!ABOVE_APP.contains(&used.as_str()), "app may not use {used} (in {files:?})");
    }
}

#[test]
fn the_reader_sees_groups_inline_paths_and_skips_comments_and_tests() {
    let source = "use crate::{a::X, b::{self, Y}, c};\n// crate::d::Z\nfn f() { crate::e::g(); }\n\
                  #[cfg(test)]\nmod tests {\n    use crate::h::I;\n}\n";
    let used: BTreeSet<String> = used_modules(source).into_iter().collect();
    assert_eq!(used, ["a", "b", "c", "e"].into_iter().map(String::from).collect());
}

fn module_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = Graph::new();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).unwrap();
        let top =
            relative.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let source = fs::read_to_string(&file).unwrap();
        let edges = graph.entry(top.clone()).or_default();
        for used in used_modules(&source) {
            if used != top {
                edges.entry(used).or_default().insert(relative.display().to_string());
            }
        }
    }
    graph
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The top-level modules a file names after `crate::`.
fn used_modules(source: &str) -> Vec<String> {
    let code = without_test_modules(&without_comments(source));
    let mut used = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            used.extend(group_heads(group));
        } else {
            used.push(identifier(rest).to_owned());
        }
    }
    used.retain(|name| !name.is_empty() && name != "self");
    used
}

/// The first segment of each item of a `{…}` group (`{a::X, b::{Y, Z}, c}` → a, b, c).
fn group_heads(group: &str) -> Vec<String> {
    let (mut heads, mut depth, mut at_item_start) = (Vec::new(), 1, true);
    let mut chars = group.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => at_item_start = true,
            c if depth == 1 && at_item_start && (c.is_alphanumeric() || c == '_') => {
                let name = identifier(&group[i..]);
                heads.push(name.to_owned());
                at_item_start = false;
                for _ in 1..name.len() {
                    chars.next();
                }
            }
            _ => {}
        }
    }
    heads
}

fn identifier(text: &str) -> &str {
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(text.len());
    &text[..end]
}

fn without_comments(source: &str) -> String {
    source.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// Drops every `#[cfg(test)]` item (a test module, a test-only helper) up to its closing brace.
fn without_test_modules(code: &str) -> String {
    let mut kept = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        kept.push_str(&rest[..at]);
        let item = &rest[at..];
        let Some(open) = item.find(['{', ';']) else { return kept };
        if item.as_bytes()[open] == b';' {
            rest = &item[open + 1..];
            continue;
        }
        let mut depth = 0;
        let mut end = item.len();
        for (i, c) in item[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    kept.push_str(rest);
    kept
}

/// The strongly connected components with more than one module (Tarjan's algorithm).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, module: &'g str) {
            let n = self.index.len();
            self.index.insert(module, n);
            self.low.insert(module, n);
            self.stack.push(module);
            for used in self.graph.get(module).into_iter().flat_map(|edges| edges.keys()) {
                if !self.index.contains_key(used.as_str()) {
                    self.visit(used);
                    let low = self.low[module].min(self.low[used.as_str()]);
                    self.low.insert(module, low);
                } else if self.stack.contains(&used.as_str()) {
                    let low = self.low[module].min(self.index[used.as_str()]);
                    self.low.insert(module, low);
                }
            }
            if self.low[module] == self.index[module] {
                let mut component = Vec::new();
                while let Some(top) = self.stack.pop() {
                    component.push(top.to_owned());
                    if top == module {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk { graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), found: Vec::new() };
    for module in graph.keys() {
        if !walk.index.contains_key(module.as_str()) {
            walk.visit(module);
        }
    }
    walk.found
}

/// A cycle's modules and, for each edge inside it, the files that make it.
fn describe(graph: &Graph, cycle: &[String]) -> String {
    let mut lines = vec![format!("  {}", cycle.join(" ↔ "))];
    for from in cycle {
        for (to, files) in &graph[from] {
            if cycle.contains(to) {
                lines.push(format!("    {from} → {to}: {}", files.iter().cloned().collect::<Vec<_>>().join(", ")));
            }
        }
    }
    lines.join("\n")
}
