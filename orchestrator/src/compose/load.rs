//! The loader's front door: compose files on disk → a validated [`Project`].
//!
//! Each file is parsed, interpolated, rewritten to the long syntax and has its
//! `extends` and `include` resolved on its own; then the files are merged in
//! order, the project is named, profiles are applied, `env_file`s and defaults
//! are filled in, and the result is typed and validated.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::canonical::{self, Context};
use super::error::{Error, ErrorKind};
use super::interpolate::{self, Unset};
use super::model::Project;
use super::node::{Key, Node, Span, Value};
use super::yaml::{self, Limits};
use super::{
    de, environment::Environment, extends, files, include, merge, normalize, profiles, project_name, validate,
};

/// What the user asked for on the command line, and the process environment.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `-f` files, in order; empty means `COMPOSE_FILE` or the default names.
    pub files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--project-directory`.
    pub project_directory: Option<PathBuf>,
    /// `--env-file`, repeatable; replaces the project's `.env`.
    pub env_files: Vec<PathBuf>,
    /// `--profile`, repeatable; added to `COMPOSE_PROFILES`.
    pub profiles: Vec<String>,
    /// False for `--no-interpolate`.
    pub interpolate: bool,
    /// The process environment (passed in, so tests need not mutate their own).
    pub env: HashMap<String, String>,
    /// The working directory relative paths are resolved against.
    pub cwd: PathBuf,
}

impl LoadOptions {
    /// Options for the current process: its environment and working directory.
    pub fn from_process() -> std::io::Result<Self> {
        Ok(LoadOptions {
            interpolate: true,
            env: std::env::vars().collect(),
            cwd: std::env::current_dir()?,
            ..Default::default()
        })
    }
}

/// A loaded project and what the user should be told about it.
#[derive(Debug)]
pub struct Loaded {
    pub project: Project,
    /// The merged long-form tree the project was typed from (it keeps `x-` extensions and spans).
    pub tree: Node,
    /// Variables that were used but not set; each became an empty string.
    pub unset: Vec<Unset>,
    /// Every profile named by any service, enabled or not.
    pub all_profiles: BTreeSet<String>,
    pub files: Vec<PathBuf>,
    pub project_dir: PathBuf,
}

pub fn load(options: &LoadOptions) -> Result<Loaded, Error> {
    let process = Environment::from_process(options.env.clone());
    let source = files::find_files(
        &options.files,
        &|name| process.get(name),
        &options.cwd,
        options.project_directory.as_deref(),
    )
    .map_err(|e| Error::new(ErrorKind::Files(e.to_string())))?;
    let env_files: Vec<PathBuf> = options.env_files.iter().map(|f| options.cwd.join(f)).collect();
    let env = process.with_env_files(&env_files, &source.project_dir)?;
    let mut loader = Loader::new(options, &env);

    let mut merged: Option<Node> = None;
    for file in &source.files {
        let tree = loader.load_project_file(file, &source.project_dir, &env)?;
        merged = Some(match merged {
            None => tree,
            Some(base) => merge::merge(base, tree),
        });
    }
    let mut tree = merged.ok_or_else(|| Error::new(ErrorKind::Files("no compose file to load".into())))?;

    let declared_name = tree.get_path(&["name"]).and_then(Node::scalar_text);
    let name = project_name::project_name(
        options.project_name.as_deref(),
        env.get("COMPOSE_PROJECT_NAME").as_deref(),
        declared_name.as_deref(),
        &source.project_dir,
    )
    .map_err(|e| Error::new(ErrorKind::Invalid(e.to_string())))?;
    set_top_level(&mut tree, "name", Node::string(name.clone(), Span::synthetic("project name")));

    let all_profiles = profiles::all(&tree);
    profiles::apply(&mut tree, &profiles::active(&options.profiles, &env))?;
    normalize::normalize(&mut tree, &name, &env)?;
    let project: Project = de::from_node(&tree)?;
    validate::validate(&tree)?;

    Ok(Loaded {
        project,
        tree,
        unset: loader.unset,
        all_profiles,
        files: source.files,
        project_dir: source.project_dir,
    })
}

fn set_top_level(tree: &mut Node, key: &str, value: Node) {
    if let Some(map) = tree.as_map_mut() {
        let span = value.span.clone();
        match map.get_mut(key) {
            Some(existing) => *existing = value,
            None => {
                map.shift_insert(0, Key::new(key, span), value);
            }
        }
    }
}

/// Loads single files; shared by the top level, `extends` and `include`.
pub(super) struct Loader {
    interpolate: bool,
    home: Option<PathBuf>,
    cwd: PathBuf,
    pub(super) unset: Vec<Unset>,
    /// How many `include`s deep we are, to stop include cycles.
    pub(super) include_depth: usize,
}

/// Files including files including files: deeper than this is a cycle.
pub(super) const MAX_INCLUDE_DEPTH: usize = 10;

impl Loader {
    fn new(options: &LoadOptions, env: &Environment) -> Self {
        Loader {
            interpolate: options.interpolate,
            home: env.get("HOME").map(PathBuf::from),
            cwd: options.cwd.clone(),
            unset: Vec::new(),
            include_depth: 0,
        }
    }

    /// A file as the project sees it: long syntax, with `extends` and `include` resolved.
    pub(super) fn load_project_file(&mut self, file: &Path, base_dir: &Path, env: &Environment) -> Result<Node, Error> {
        let mut tree = self.load_file(file, base_dir, env)?;
        extends::resolve(&mut tree, file, self, env)?;
        include::resolve(&mut tree, self, env)?;
        Ok(tree)
    }

    /// One file: parsed, interpolated and rewritten to the long syntax.
    pub(super) fn load_file(&mut self, file: &Path, base_dir: &Path, env: &Environment) -> Result<Node, Error> {
        let text = read_bounded(file, Limits::default().max_bytes)?;
        let display: Arc<str> = self.display(file).into();
        let mut tree = yaml::parse(&text, display.clone(), Limits::default())?;
        match &tree.value {
            Value::Map(_) => {}
            Value::Null => {
                return Err(Error::at_span(&tree.span, "", ErrorKind::Invalid("the compose file is empty".into())));
            }
            other => {
                return Err(Error::at_span(
                    &tree.span,
                    "",
                    ErrorKind::InvalidType {
                        expected: "a mapping at the top of the file".into(),
                        found: other.kind().into(),
                    },
                ));
            }
        }
        let lookup = |name: &str| env.get(name);
        if self.interpolate {
            interpolate::interpolate_tree(&mut tree, &lookup, &mut self.unset)?;
        }
        let context = Context { base_dir, home: self.home.as_deref(), lookup: &lookup };
        canonical::canonicalize(&mut tree, &context)?;
        Ok(tree)
    }

    /// File names in messages as the user would write them: relative to the working directory.
    fn display(&self, file: &Path) -> String {
        file.strip_prefix(&self.cwd).unwrap_or(file).display().to_string()
    }
}

/// Reads a file, refusing one larger than `limit` before reading it.
fn read_bounded(file: &Path, limit: usize) -> Result<String, Error> {
    let io = |source| Error::new(ErrorKind::Io { path: file.to_path_buf(), source });
    let size = std::fs::metadata(file).map_err(io)?.len();
    if size > limit as u64 {
        return Err(Error::new(ErrorKind::Limit(format!(
            "{} is {size} bytes, more than the {limit} bytes a compose file may have",
            file.display()
        ))));
    }
    std::fs::read_to_string(file).map_err(io)
}
