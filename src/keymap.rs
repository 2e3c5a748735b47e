//! The dashboard's keys: defaults in code, overridable per command in the config's `[keys]`
//! table. Every command has a description; the help popup, the footer and README's key table
//! all come from here (a test keeps README in step). Below both `config` (which reads the
//! `[keys]` table) and `app` (which acts on them), so neither imports the other.
use std::fmt;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key can do in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    Down,
    Up,
    Top,
    Bottom,
    PageDown,
    PageUp,
    Details,
    ScrollDown,
    ScrollUp,
    Refresh,
    Probe,
    RefreshAll,
    SignIn,
    SignInBrowser,
    Decode,
    Purge,
    Filter,
    Sort,
    Help,
    Quit,
}

impl Command {
    pub const ALL: [Command; 20] = [
        Command::Down,
        Command::Up,
        Command::Top,
        Command::Bottom,
        Command::PageDown,
        Command::PageUp,
        Command::Details,
        Command::ScrollDown,
        Command::ScrollUp,
        Command::Refresh,
        Command::Probe,
        Command::RefreshAll,
        Command::SignIn,
        Command::SignInBrowser,
        Command::Decode,
        Command::Purge,
        Command::Filter,
        Command::Sort,
        Command::Help,
        Command::Quit,
    ];

    /// The name used in the config's `[keys]` table.
    pub fn name(self) -> &'static str {
        match self {
            Command::Down => "down",
            Command::Up => "up",
            Command::Top => "top",
            Command::Bottom => "bottom",
            Command::PageDown => "page_down",
            Command::PageUp => "page_up",
            Command::Details => "details",
            Command::ScrollDown => "scroll_down",
            Command::ScrollUp => "scroll_up",
            Command::Refresh => "refresh",
            Command::Probe => "probe",
            Command::RefreshAll => "refresh_all",
            Command::SignIn => "sign_in",
            Command::SignInBrowser => "sign_in_browser",
            Command::Decode => "decode",
            Command::Purge => "purge",
            Command::Filter => "filter",
            Command::Sort => "sort",
            Command::Help => "help",
            Command::Quit => "quit",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Command::Down => "select the next connection",
            Command::Up => "select the previous connection",
            Command::Top => "select the first connection",
            Command::Bottom => "select the last connection",
            Command::PageDown => "one screen down",
            Command::PageUp => "one screen up",
            Command::Details => "show or hide the detail pane of the selected connection",
            Command::ScrollDown => "scroll the detail pane down a line (the wheel over it too)",
            Command::ScrollUp => "scroll the detail pane up a line",
            Command::Refresh => "refresh the selected connection's token now",
            Command::Probe => "test the connection with the resource now (IMAP, SMTP, POP, API)",
            Command::RefreshAll => "refresh every connection (bounded concurrency, with progress)",
            Command::SignIn => "re-authorize with a device code (the popup shows the code)",
            Command::SignInBrowser => "re-authorize in the browser (PKCE, loopback redirect)",
            Command::Decode => "decode the access token (claims and findings; no signature check)",
            Command::Purge => "purge the cached tokens (asks first)",
            Command::Filter => "filter by name, account, tenant or state as you type",
            Command::Sort => "cycle the sort: config order, severity, expiry, name",
            Command::Help => "this help",
            Command::Quit => "quit",
        }
    }

    /// Short word for the footer.
    pub fn short(self) -> &'static str {
        match self {
            Command::Down | Command::Up => "select",
            Command::Details => "details",
            Command::ScrollDown | Command::ScrollUp => "scroll",
            Command::Refresh => "refresh",
            Command::Probe => "test",
            Command::RefreshAll => "refresh all",
            Command::SignIn => "re-authorize",
            Command::SignInBrowser => "browser sign-in",
            Command::Decode => "decode",
            Command::Purge => "purge",
            Command::Filter => "filter",
            Command::Sort => "sort",
            Command::Help => "help",
            Command::Quit => "quit",
            Command::Top => "first",
            Command::Bottom => "last",
            Command::PageDown => "page down",
            Command::PageUp => "page up",
        }
    }

    fn default_keys(self) -> &'static [&'static str] {
        match self {
            Command::Down => &["j", "down"],
            Command::Up => &["k", "up"],
            Command::Top => &["g", "home"],
            Command::Bottom => &["G", "end"],
            Command::PageDown => &["pagedown", "ctrl-d"],
            Command::PageUp => &["pageup", "ctrl-u"],
            Command::Details => &["enter", "tab"],
            Command::ScrollDown => &["J"],
            Command::ScrollUp => &["K"],
            Command::Refresh => &["r"],
            Command::Probe => &["t"],
            Command::RefreshAll => &["R"],
            Command::SignIn => &["a"],
            Command::SignInBrowser => &["b"],
            Command::Decode => &["d"],
            Command::Purge => &["p"],
            Command::Filter => &["/"],
            Command::Sort => &["s"],
            Command::Help => &["?"],
            Command::Quit => &["q", "ctrl-c"],
        }
    }

    fn from_name(name: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// One key: a code and its modifiers (shift is part of the character, so `G` not `shift-g`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl Key {
    /// "j", "G", "?", "ctrl-c", "alt-x", "enter", "tab", "esc", "up", "pagedown", "f5", "space".
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = s;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                alt = true;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "enter" => KeyCode::Enter,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "esc" => KeyCode::Esc,
            "space" => KeyCode::Char(' '),
            "backspace" => KeyCode::Backspace,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "delete" => KeyCode::Delete,
            f if f.len() > 1
                && f.starts_with('f')
                && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) =>
            {
                KeyCode::F(f[1..].parse().unwrap_or(1))
            }
            c if c.chars().count() == 1 => KeyCode::Char(c.chars().next().unwrap_or(' ')),
            _ => {
                return Err(format!(
                    "unknown key {s:?} (write a character, or ctrl-/alt- plus one, or enter, tab, esc, space, up, down, left, right, home, end, pageup, pagedown, f1–f12)"
                ));
            }
        };
        Ok(Key { code, ctrl, alt })
    }

    fn of(ev: &KeyEvent) -> Key {
        Key {
            code: ev.code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("Ctrl-")?;
        }
        if self.alt {
            f.write_str("Alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) if self.ctrl || self.alt => write!(f, "{}", c.to_ascii_uppercase()),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("Shift-Tab"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Backspace => f.write_str("Backspace"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::Delete => f.write_str("Del"),
            KeyCode::F(n) => write!(f, "F{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Every command with its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    bindings: Vec<(Command, Vec<Key>)>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap {
            bindings: Command::ALL
                .into_iter()
                .map(|c| {
                    let keys = c
                        .default_keys()
                        .iter()
                        .map(|k| Key::parse(k).expect("default keys parse"))
                        .collect();
                    (c, keys)
                })
                .collect(),
        }
    }
}

impl Keymap {
    /// The defaults with the config's `[keys]` entries replacing a command's keys. Errors name
    /// the entry: an unknown command, an unknown key, or a key bound to two commands.
    pub fn with_overrides(overrides: &[(String, Vec<String>)]) -> Result<Keymap, (usize, String)> {
        let mut map = Keymap::default();
        for (i, (name, keys)) in overrides.iter().enumerate() {
            let Some(cmd) = Command::from_name(name) else {
                let names: Vec<&str> = Command::ALL.iter().map(|c| c.name()).collect();
                return Err((
                    i,
                    format!(
                        "unknown command {name:?} in [keys]; the commands are {}",
                        names.join(", ")
                    ),
                ));
            };
            if keys.is_empty() {
                return Err((i, format!("[keys] {name} has no key")));
            }
            let parsed = keys
                .iter()
                .map(|k| Key::parse(k))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| (i, e))?;
            if let Some(slot) = map.bindings.iter_mut().find(|(c, _)| *c == cmd) {
                slot.1 = parsed;
            }
        }
        // A key that does two things would silently do only one of them.
        for (a, (ca, ka)) in map.bindings.iter().enumerate() {
            for (cb, kb) in &map.bindings[a + 1..] {
                if let Some(k) = ka.iter().find(|k| kb.contains(k)) {
                    let at = overrides
                        .iter()
                        .position(|(n, _)| n == ca.name() || n == cb.name())
                        .unwrap_or(0);
                    return Err((
                        at,
                        format!(
                            "key {k} is bound to both {} and {}; give one of them another key",
                            ca.name(),
                            cb.name()
                        ),
                    ));
                }
            }
        }
        Ok(map)
    }

    pub fn command(&self, ev: &KeyEvent) -> Option<Command> {
        let key = Key::of(ev);
        self.bindings
            .iter()
            .find(|(_, keys)| keys.contains(&key))
            .map(|(c, _)| *c)
    }

    pub fn keys(&self, cmd: Command) -> &[Key] {
        self.bindings
            .iter()
            .find(|(c, _)| *c == cmd)
            .map_or(&[], |(_, k)| k.as_slice())
    }

    /// "j/↓" — how the help and the footer write a command's keys.
    pub fn label(&self, cmd: Command) -> String {
        self.keys(cmd)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("/")
    }

    pub fn bindings(&self) -> impl Iterator<Item = (Command, &[Key])> {
        self.bindings.iter().map(|(c, k)| (*c, k.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn defaults_cover_vim_arrows_and_ctrl_c() {
        let m = Keymap::default();
        assert_eq!(
            m.command(&ev(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Command::Down)
        );
        assert_eq!(
            m.command(&ev(KeyCode::Down, KeyModifiers::NONE)),
            Some(Command::Down)
        );
        assert_eq!(
            m.command(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Command::Bottom)
        );
        assert_eq!(
            m.command(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Command::Quit)
        );
        assert_eq!(m.command(&ev(KeyCode::Char('c'), KeyModifiers::NONE)), None);
        assert_eq!(m.label(Command::Down), "j/↓");
        assert_eq!(m.label(Command::Quit), "q/Ctrl-C");
    }

    #[test]
    fn overrides_replace_and_errors_name_the_entry() {
        let m = Keymap::with_overrides(&[("refresh".into(), vec!["f5".into(), "ctrl-r".into()])])
            .unwrap();
        assert_eq!(
            m.command(&ev(KeyCode::F(5), KeyModifiers::NONE)),
            Some(Command::Refresh)
        );
        assert_eq!(m.command(&ev(KeyCode::Char('r'), KeyModifiers::NONE)), None);
        let e = Keymap::with_overrides(&[("refrsh".into(), vec!["x".into()])]).unwrap_err();
        assert!(e.1.contains("unknown command \"refrsh\""), "{e:?}");
        let e = Keymap::with_overrides(&[("refresh".into(), vec!["hyper-x".into()])]).unwrap_err();
        assert!(e.1.contains("unknown key \"hyper-x\""), "{e:?}");
        let e = Keymap::with_overrides(&[("refresh".into(), vec!["q".into()])]).unwrap_err();
        assert!(e.1.contains("bound to both refresh and quit"), "{e:?}");
    }
}
