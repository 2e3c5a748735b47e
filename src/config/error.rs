//! Config errors that point at the file, line, column and key, rendered by miette.
use std::path::{Path, PathBuf};

use miette::{Diagnostic, NamedSource, SourceSpan};

#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{message}")]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The offending key, when one can be named (e.g. `connection[1].refresh_before`).
    pub key: Option<String>,
    pub message: String,
    #[source_code]
    source_code: NamedSource<String>,
    #[label("{}", key.as_deref().unwrap_or("here"))]
    span: Option<SourceSpan>,
    #[help]
    help: Option<String>,
}

impl ConfigError {
    pub fn at(
        path: &Path,
        text: &str,
        span: Option<std::ops::Range<usize>>,
        key: Option<String>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Self {
        let start = span.as_ref().map_or(0, |s| s.start.min(text.len()));
        let (line, column) = line_col(text, start);
        ConfigError {
            path: path.to_path_buf(),
            line,
            column,
            key,
            message: message.into(),
            source_code: NamedSource::new(path.display().to_string(), text.to_owned()),
            span: span.map(|s| {
                let s0 = s.start.min(text.len());
                (s0, s.end.min(text.len()).saturating_sub(s0)).into()
            }),
            help,
        }
    }

    /// `file:line:column: message`, the form editors and grep understand.
    pub fn one_line(&self) -> String {
        format!(
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )
    }

    /// An error about the file as a whole (missing, unreadable).
    pub fn file(path: &Path, message: impl Into<String>, help: Option<String>) -> Self {
        Self::at(path, "", None, None, message, help)
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::line_col;

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_col("abc", 0), (1, 1));
        assert_eq!(line_col("a\nbc", 3), (2, 2));
        assert_eq!(line_col("a\n", 2), (2, 1));
    }
}
