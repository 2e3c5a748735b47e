//! The house rules of DESIGN.md's module map, checked on the source: a module never imports
//! one above it. The worker and the probes know nothing of the UI; `config` reads the key
//! table through `keymap` (below it and `app`), not through `app` — the config → app →
//! worker → config cycle is gone and must stay gone.
use std::path::Path;

/// (module file or directory under src/, modules it must not import)
const RULES: &[(&str, &[&str])] = &[
    (
        "config",
        &["app", "ui", "tui", "worker", "commands", "watch", "report"],
    ),
    (
        "keymap.rs",
        &["app", "config", "ui", "tui", "worker", "commands"],
    ),
    (
        "worker",
        &["app", "ui", "tui", "commands", "watch", "report", "notify"],
    ),
    (
        "probe",
        &["app", "ui", "tui", "worker", "commands", "watch", "config"],
    ),
    (
        "diagnose",
        &[
            "app", "ui", "tui", "worker", "commands", "watch", "config", "oauth", "store",
        ],
    ),
    (
        "store",
        &["app", "ui", "tui", "worker", "commands", "watch", "config"],
    ),
    (
        "oauth",
        &["app", "ui", "tui", "worker", "commands", "watch", "config"],
    ),
    ("notify", &["app", "ui", "tui", "commands", "watch"]),
    (
        "state",
        &[
            "app", "ui", "tui", "worker", "commands", "watch", "config", "oauth", "store", "probe",
            "report", "notify",
        ],
    ),
    ("watch", &["app", "ui", "tui", "commands"]),
];

/// Every `crate::name` a file uses, `use crate::{a, b::c}` groups included.
fn imports(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.push(name);
            }
        } else {
            out.push(
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    out
}

fn files(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            files(&e.unwrap().path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

#[test]
fn no_module_imports_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    for (module, forbidden) in RULES {
        let mut paths = Vec::new();
        files(&src.join(module), &mut paths);
        if !module.ends_with(".rs") {
            files(&src.join(format!("{module}.rs")), &mut paths);
        }
        assert!(!paths.is_empty(), "no source for {module}");
        for p in paths {
            let text = std::fs::read_to_string(&p).unwrap();
            for name in imports(&text) {
                if forbidden.contains(&name.as_str()) {
                    broken.push(format!(
                        "{} uses crate::{name}",
                        p.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
    }
    broken.sort();
    broken.dedup();
    assert!(
        broken.is_empty(),
        "imports against the layering:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_import_reader_sees_groups_and_paths() {
    assert_eq!(
        imports("use crate::{app::State, worker};\nlet x = crate::ui::format::x();"),
        ["app", "worker", "ui"]
    );
}
