//! Key paths such as `services.web.ports[1]`, built without allocating while
//! the loader walks the tree, and rendered only when an error needs one.

use std::fmt;

#[derive(Clone, Copy, Debug)]
pub enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    pub fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }

    pub fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }

    /// The last key of the path (`ports` for `services.web.ports[1]`'s parent).
    pub fn last_key(&self) -> Option<&'a str> {
        match *self {
            Path::Root => None,
            Path::Key(_, key) => Some(key),
            Path::Index(parent, _) => parent.last_key(),
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_keys_and_indices() {
        let root = Path::Root;
        let services = root.key("services");
        let web = services.key("web");
        let ports = web.key("ports");
        let first = ports.index(1);
        assert_eq!(first.to_string(), "services.web.ports[1]");
        assert_eq!(first.last_key(), Some("ports"));
        assert_eq!(root.to_string(), "");
    }
}
