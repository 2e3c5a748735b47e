//! Which rows are shown and in what order: the filter and the sort. The selection follows
//! the connection (by name) whenever the order changes.
use super::State;
use crate::worker::ConnectionView;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// As in the config file.
    #[default]
    Config,
    /// Worst state first.
    Severity,
    /// Soonest access-token expiry first.
    Expiry,
    Name,
}

impl Sort {
    pub fn next(self) -> Sort {
        match self {
            Sort::Config => Sort::Severity,
            Sort::Severity => Sort::Expiry,
            Sort::Expiry => Sort::Name,
            Sort::Name => Sort::Config,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Sort::Config => "config order",
            Sort::Severity => "state severity",
            Sort::Expiry => "expiry soonest",
            Sort::Name => "name",
        }
    }
}

fn matches(r: &ConnectionView, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let hay = |s: &str| s.to_lowercase().contains(needle);
    hay(&r.name)
        || r.account.as_deref().is_some_and(hay)
        || r.realm.as_deref().is_some_and(hay)
        || hay(r.state.as_str())
}

/// Recompute `visible`, keeping the selected connection selected when it is still shown.
pub(super) fn refresh(state: &mut State) {
    // When the filter momentarily hides everything, the last selected name is kept so the
    // selection comes back with the row.
    let keep = state
        .selected_row()
        .map(|r| r.name.clone())
        .or_else(|| state.anchor.clone());
    let needle = state.filter.to_lowercase();
    let mut visible: Vec<usize> = (0..state.rows.len())
        .filter(|&i| matches(&state.rows[i], &needle))
        .collect();
    let rows = &state.rows;
    match state.sort {
        Sort::Config => {}
        Sort::Severity => visible.sort_by(|&a, &b| {
            rows[b]
                .state
                .severity()
                .cmp(&rows[a].state.severity())
                .then_with(|| rows[a].name.cmp(&rows[b].name))
        }),
        Sort::Expiry => visible.sort_by(|&a, &b| {
            let key = |r: &ConnectionView| (r.access_expires_at.is_none(), r.access_expires_at);
            key(&rows[a])
                .cmp(&key(&rows[b]))
                .then_with(|| rows[a].name.cmp(&rows[b].name))
        }),
        Sort::Name => visible.sort_by(|&a, &b| rows[a].name.cmp(&rows[b].name)),
    }
    state.visible = visible;
    match keep {
        Some(name) if state.visible.iter().any(|&i| state.rows[i].name == name) => {
            state.select(&name)
        }
        Some(name) if state.visible.is_empty() => {
            state.selected = 0;
            state.anchor = Some(name);
        }
        _ => state.selected = state.selected.min(state.visible.len().saturating_sub(1)),
    }
}
