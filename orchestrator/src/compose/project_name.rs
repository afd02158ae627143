//! The project name: `-p`, else `COMPOSE_PROJECT_NAME`, else the top-level
//! `name:`, else the project directory's name, normalised as Compose does.

use std::path::Path;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error(
        "{0:?} is not a valid project name ({1}): use lowercase letters, digits, dashes and underscores, starting with a letter or digit"
    )]
    Invalid(String, &'static str),
    #[error("cannot derive a project name from the directory {0}: set one with -p or a top-level `name:`")]
    NoDirectoryName(String),
}

/// Lowercases and drops what a project name may not hold (the directory case).
pub fn normalize(name: &str) -> String {
    let lower = name.to_lowercase();
    let kept: String =
        lower.chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_').collect();
    kept.trim_start_matches(['-', '_']).to_string()
}

fn is_valid(name: &str) -> bool {
    !name.is_empty() && normalize(name) == name
}

pub fn project_name(
    flag: Option<&str>,
    env: Option<&str>,
    declared: Option<&str>,
    project_dir: &Path,
) -> Result<String, NameError> {
    let explicit = [(flag, "from -p"), (env, "from COMPOSE_PROJECT_NAME"), (declared, "from the top-level `name:`")];
    if let Some((name, origin)) = explicit.into_iter().find_map(|(n, o)| n.filter(|n| !n.is_empty()).map(|n| (n, o))) {
        return if is_valid(name) { Ok(name.to_string()) } else { Err(NameError::Invalid(name.to_string(), origin)) };
    }
    let dir_name = project_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name = normalize(&dir_name);
    if name.is_empty() {
        return Err(NameError::NoDirectoryName(project_dir.display().to_string()));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        let dir = Path::new("/srv/My App");
        assert_eq!(project_name(Some("flag"), Some("env"), Some("file"), dir).unwrap(), "flag");
        assert_eq!(project_name(None, Some("env"), Some("file"), dir).unwrap(), "env");
        assert_eq!(project_name(None, None, Some("file"), dir).unwrap(), "file");
        assert_eq!(project_name(None, None, None, dir).unwrap(), "myapp");
    }

    #[test]
    fn directory_names_are_normalised_and_explicit_names_checked() {
        assert_eq!(normalize("_My.Project-2"), "myproject-2");
        let err = project_name(Some("Bad Name"), None, None, Path::new("/x")).unwrap_err();
        assert!(err.to_string().contains("from -p"), "{err}");
        assert!(project_name(None, None, None, Path::new("/")).is_err());
    }
}
