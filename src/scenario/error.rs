//! A scenario error with its place: `file:line:col: message`.

use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{col}: {message}", file.display())]
pub struct ScenarioError {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl ScenarioError {
    /// An error at a byte span of the file's text (1-based line and column of the span's start).
    pub fn at(
        file: &Path,
        text: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let (line, col) = span.map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        ScenarioError { file: file.to_path_buf(), line, col, message: message.into() }
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_columns() {
        let t = "a = 1\nbb = \"x\"\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 11), (2, 6));
        assert_eq!(line_col(t, 999), (3, 1));
    }

    #[test]
    fn displays_file_line_col() {
        let e = ScenarioError::at(Path::new("s.toml"), "x\ny = 2", Some(2..3), "bad y");
        assert_eq!(e.to_string(), "s.toml:2:1: bad y");
    }
}
