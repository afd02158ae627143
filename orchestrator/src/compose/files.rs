//! Which compose files make up the project: `-f` flags, else `COMPOSE_FILE`
//! (or `BERTH_FILE`), else the default names found in the working directory
//! or the nearest parent that has one, with its override file.

use std::path::{Path, PathBuf};

/// The files, in merge order, and the project directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub files: Vec<PathBuf>,
    pub project_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error(
        "no configuration file provided: none of {} found in {} or its parents",
        DEFAULT_NAMES.join(", "),
        .0.display()
    )]
    NotFound(PathBuf),
    #[error("compose file {} does not exist", .0.display())]
    Missing(PathBuf),
}

/// The names compose looks for, in order of preference.
pub const DEFAULT_NAMES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];
const OVERRIDE_NAMES: [&str; 4] =
    ["compose.override.yaml", "compose.override.yml", "docker-compose.override.yaml", "docker-compose.override.yml"];

pub fn find_files(
    explicit: &[PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
    cwd: &Path,
    project_directory: Option<&Path>,
) -> Result<Source, FilesError> {
    let from_env = || {
        let value = env("BERTH_FILE").or_else(|| env("COMPOSE_FILE")).filter(|v| !v.is_empty())?;
        let separator = env("COMPOSE_PATH_SEPARATOR").unwrap_or_else(|| ":".into());
        Some(value.split(separator.as_str()).filter(|f| !f.is_empty()).map(PathBuf::from).collect::<Vec<_>>())
    };
    let files = if !explicit.is_empty() {
        explicit.to_vec()
    } else if let Some(files) = from_env() {
        files
    } else {
        let start = project_directory.map_or_else(|| cwd.to_path_buf(), |d| cwd.join(d));
        defaults(&start)?
    };
    let files: Vec<PathBuf> = files.into_iter().map(|f| cwd.join(f)).collect();
    if let Some(missing) = files.iter().find(|f| !f.is_file()) {
        return Err(FilesError::Missing(missing.clone()));
    }
    let project_dir = match project_directory {
        Some(dir) => cwd.join(dir),
        None => files[0].parent().map_or_else(|| cwd.to_path_buf(), Path::to_path_buf),
    };
    Ok(Source { files, project_dir })
}

/// The first default-named file in `dir` or its nearest parent, plus its override file.
fn defaults(dir: &Path) -> Result<Vec<PathBuf>, FilesError> {
    for candidate in dir.ancestors() {
        let Some(main) = DEFAULT_NAMES.iter().map(|n| candidate.join(n)).find(|p| p.is_file()) else { continue };
        let others: Vec<_> =
            DEFAULT_NAMES.iter().map(|n| candidate.join(n)).filter(|p| p.is_file() && *p != main).collect();
        if !others.is_empty() {
            tracing::warn!(
                "Found multiple config files with supported names: {}; using {}",
                others.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
                main.display()
            );
        }
        let mut files = vec![main];
        files.extend(OVERRIDE_NAMES.iter().map(|n| candidate.join(n)).find(|p| p.is_file()));
        return Ok(files);
    }
    Err(FilesError::NotFound(dir.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn default_names_override_and_parent_search() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("docker-compose.yml"), "services: {}").unwrap();
        std::fs::write(dir.path().join("compose.override.yaml"), "services: {}").unwrap();
        let sub = dir.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        let source = find_files(&[], &no_env, &sub, None).unwrap();
        assert_eq!(source.files, [dir.path().join("docker-compose.yml"), dir.path().join("compose.override.yaml")]);
        assert_eq!(source.project_dir, dir.path());
    }

    #[test]
    fn compose_yaml_is_preferred() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("docker-compose.yml"), "").unwrap();
        std::fs::write(dir.path().join("compose.yaml"), "").unwrap();
        let source = find_files(&[], &no_env, dir.path(), None).unwrap();
        assert_eq!(source.files, [dir.path().join("compose.yaml")]);
    }

    #[test]
    fn explicit_files_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.yaml", "b.yaml", "compose.yaml"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let explicit = [PathBuf::from("b.yaml")];
        let env: HashMap<&str, &str> = [("COMPOSE_FILE", "a.yaml:b.yaml")].into();
        let lookup = |k: &str| env.get(k).map(|v| v.to_string());
        assert_eq!(find_files(&explicit, &lookup, dir.path(), None).unwrap().files, [dir.path().join("b.yaml")]);
        assert_eq!(
            find_files(&[], &lookup, dir.path(), None).unwrap().files,
            [dir.path().join("a.yaml"), dir.path().join("b.yaml")]
        );
    }

    #[test]
    fn missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = find_files(&[], &no_env, dir.path(), None).unwrap_err();
        assert!(err.to_string().starts_with("no configuration file provided"), "{err}");
        let err = find_files(&[PathBuf::from("nope.yaml")], &no_env, dir.path(), None).unwrap_err();
        assert!(err.to_string().contains("nope.yaml"), "{err}");
    }
}
