//! The variables interpolation sees: the process environment over the project's
//! `.env` (or the `--env-file`s that replace it), as Docker Compose resolves them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::dotenv;
use super::error::{Error, ErrorKind};
use super::node::Span;

#[derive(Clone, Debug, Default)]
pub struct Environment {
    vars: HashMap<String, String>,
}

impl Environment {
    /// The process environment only.
    pub fn from_process(vars: HashMap<String, String>) -> Self {
        Environment { vars }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    /// Adds the variables of env files (`--env-file`, repeatable; later files win),
    /// or of `<project_dir>/.env` when none is given. The process environment
    /// keeps precedence over every file, as in Compose.
    pub fn with_env_files(&self, explicit: &[PathBuf], project_dir: &Path) -> Result<Self, Error> {
        let default = project_dir.join(".env");
        let files: Vec<(&Path, bool)> = if explicit.is_empty() {
            vec![(default.as_path(), false)]
        } else {
            explicit.iter().map(|f| (f.as_path(), true)).collect()
        };
        let mut from_files: HashMap<String, String> = HashMap::new();
        for (file, required) in files {
            let text = match std::fs::read_to_string(file) {
                Ok(text) => text,
                Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(Error::new(ErrorKind::Io { path: file.to_path_buf(), source }));
                }
            };
            let lookup = |name: &str| self.vars.get(name).or_else(|| from_files.get(name)).cloned();
            let entries = dotenv::parse(&text, &lookup).map_err(|e| {
                let span = Span::new(file.display().to_string().into(), e.line as u32, 1);
                Error::at_span(&span, "", ErrorKind::Invalid(e.message.clone()))
            })?;
            for (name, value) in entries {
                // `KEY` alone in an env file takes KEY from the environment.
                let value = value.or_else(|| self.vars.get(&name).cloned()).unwrap_or_default();
                from_files.insert(name, value);
            }
        }
        from_files.extend(self.vars.clone());
        Ok(Environment { vars: from_files })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_process(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn dot_env_fills_in_and_process_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "A=from-file\nB=from-file\nC=${B}-x\n").unwrap();
        let env = env(&[("A", "from-process")]).with_env_files(&[], dir.path()).unwrap();
        assert_eq!(env.get("A").as_deref(), Some("from-process"));
        assert_eq!(env.get("B").as_deref(), Some("from-file"));
        assert_eq!(env.get("C").as_deref(), Some("from-file-x"));
    }

    #[test]
    fn explicit_env_files_replace_dot_env_and_later_ones_win() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "A=dotenv\n").unwrap();
        let one = dir.path().join("one.env");
        let two = dir.path().join("two.env");
        std::fs::write(&one, "A=one\nB=one\n").unwrap();
        std::fs::write(&two, "B=two\n").unwrap();
        let env = env(&[]).with_env_files(&[one, two], dir.path()).unwrap();
        assert_eq!(env.get("A").as_deref(), Some("one"));
        assert_eq!(env.get("B").as_deref(), Some("two"));
    }

    #[test]
    fn a_missing_explicit_env_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = env(&[]).with_env_files(&[dir.path().join("nope.env")], dir.path()).unwrap_err();
        assert!(err.to_string().contains("nope.env"), "{err}");
    }
}
