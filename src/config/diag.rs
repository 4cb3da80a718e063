//! Diagnostics for configuration files: every error names the file, line and column.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// An error found in a configuration file (profile, keymap or theme).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line; 0 when the error concerns the whole file (unreadable, ...).
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    pub message: String,
}

impl ConfigError {
    pub fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        ConfigError { file: file.to_path_buf(), line: 0, col: 0, message: message.into() }
    }

    /// An error at a byte span of `source`.
    pub fn at(file: &Path, source: &str, span: Option<Range<usize>>, message: impl Into<String>) -> Self {
        let (line, col) = match span {
            Some(span) => line_col(source, span.start),
            None => (0, 0),
        };
        ConfigError { file: file.to_path_buf(), line, col, message: message.into() }
    }

    /// Convert a toml/serde error into a located error.
    pub fn from_toml(file: &Path, source: &str, err: &toml::de::Error) -> Self {
        let mut message = err.message().trim().to_string();
        if message.starts_with("missing field") {
            message.push_str(" (required)");
        }
        ConfigError::at(file, source, err.span(), message)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.col, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Several errors found in one pass (semantic checks report them all at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

/// 1-based (line, column) of a byte offset; column counts characters.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let s = "a = 1\nbb = 2\n";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 6), (2, 1));
        assert_eq!(line_col(s, 9), (2, 4));
    }
}
