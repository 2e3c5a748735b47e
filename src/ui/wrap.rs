//! Wrapping a label/value line to a column width, continuing under the value column (not
//! under the label), so long values — a trace id, a summary, a claim — stay readable.
use ratatui::text::{Line, Span};

/// Word-wrap one line to `width`, continuing under the value column (not under the label),
/// so a long trace id or summary stays readable in a narrow pane.
pub fn wrap(line: Line<'static>, width: usize, indent: usize) -> Vec<Line<'static>> {
    let total: usize = line.spans.iter().map(|s| s.content.chars().count()).sum();
    if total <= width {
        return vec![line];
    }
    let mut out: Vec<Line<'static>> = Vec::new();
    let mut cur: Vec<Span<'static>> = Vec::new();
    let mut used = 0usize;
    let pad = " ".repeat(indent);
    for span in line.spans {
        let style = span.style;
        // Words with their trailing space, so joins need no extra logic.
        for word in span.content.split_inclusive(' ') {
            let mut word = word.to_owned();
            loop {
                let len = word.chars().count();
                if used + len <= width {
                    used += len;
                    cur.push(Span::styled(word, style));
                    break;
                }
                if used > indent {
                    out.push(Line::from(std::mem::take(&mut cur)));
                    cur.push(Span::raw(pad.clone()));
                    used = indent;
                    continue;
                }
                // A word longer than the whole column: cut it.
                let room = width - used;
                let head: String = word.chars().take(room).collect();
                word = word.chars().skip(room).collect();
                cur.push(Span::styled(head, style));
                out.push(Line::from(std::mem::take(&mut cur)));
                cur.push(Span::raw(pad.clone()));
                used = indent;
            }
        }
    }
    if cur.iter().any(|s| !s.content.trim().is_empty()) {
        out.push(Line::from(cur));
    }
    out
}
