//! README's key table is the dashboard's keymap: every command with exactly its default keys
//! and its description, in keymap order (plus Esc and the mouse, which are not remappable).
use connwatch::app::Keymap;

fn expected() -> Vec<String> {
    let m = Keymap::default();
    let mut rows: Vec<String> = m
        .bindings()
        .map(|(cmd, keys)| {
            let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
            format!(
                "| {} | {} | `{}` |",
                keys.join(", "),
                cmd.description(),
                cmd.name()
            )
        })
        .collect();
    rows.push("| `Esc` | close a popup or the detail pane; clear the filter | |".into());
    rows.push(
        "| mouse | click selects a row, the wheel scrolls (the detail pane or popup under it) | |"
            .into(),
    );
    rows
}

#[test]
fn readme_key_table_matches_the_keymap() {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("\n## Keys\n")
        .expect("README has a Keys section");
    let section = &readme[start + 1..];
    let end = section[3..].find("\n## ").map_or(section.len(), |e| e + 3);
    let rows: Vec<String> = section[..end]
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---") && !l.starts_with("| keys"))
        .map(str::to_owned)
        .collect();
    let want = expected();
    if rows != want {
        panic!(
            "README's key table differs from the keymap; replace its rows with:\n{}",
            want.join("\n")
        );
    }
}
