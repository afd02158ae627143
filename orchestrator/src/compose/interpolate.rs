//! Variable interpolation, as the Compose Specification defines it:
//! `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`,
//! `${VAR?err}`, `${VAR:+alt}`, `${VAR+alt}`, nested inside defaults, and
//! `$$` for a literal `$`. Unset variables become empty strings (and are
//! reported, so the CLI can warn as compose does).

use super::error::{Error, ErrorKind};
use super::node::{Node, Span, Value};
use super::path::Path;

/// A variable that was used but not set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unset {
    pub name: String,
    pub span: Span,
}

/// Why a string could not be interpolated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InterpolationError {
    #[error("invalid interpolation format in {text:?}: {reason}; use $$ for a literal $")]
    Syntax { text: String, reason: &'static str },
    #[error("required variable {name} is missing a value: {message}")]
    Required { name: String, message: String },
}

/// Interpolates every string value of the tree (keys are left alone, as in Compose).
pub fn interpolate_tree(
    tree: &mut Node,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<Unset>,
) -> Result<(), Error> {
    walk(tree, &Path::Root, lookup, unset)
}

fn walk(
    node: &mut Node,
    path: &Path<'_>,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<Unset>,
) -> Result<(), Error> {
    match &mut node.value {
        Value::String(text) if text.contains('$') => {
            let mut missing = Vec::new();
            let result = interpolate(text, lookup, &mut missing)
                .map_err(|e| Error::at_span(&node.span, path, ErrorKind::Interpolation(e.to_string())))?;
            for name in missing {
                if !unset.iter().any(|u| u.name == name) {
                    unset.push(Unset { name, span: node.span.clone() });
                }
            }
            *text = result;
        }
        Value::Seq(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                walk(item, &path.index(index), lookup, unset)?;
            }
        }
        Value::Map(map) => {
            for (key, value) in map.iter_mut() {
                walk(value, &path.key(&key.name), lookup, unset)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Interpolates one string; the names of unset variables used are pushed to `unset`.
pub fn interpolate(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = closing_brace(body).ok_or_else(|| syntax(text, "a ${ is never closed"))?;
            out.push_str(&braced(&body[..end], text, lookup, unset)?);
            rest = &body[end + 1..];
        } else {
            let len = name_len(after);
            if len == 0 {
                // `$` before anything else is kept as written, as compose does ("5$", "$1").
                out.push('$');
                rest = after;
            } else {
                out.push_str(&value_of(&after[..len], lookup, unset));
                rest = &after[len..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn syntax(text: &str, reason: &'static str) -> InterpolationError {
    InterpolationError::Syntax { text: text.to_string(), reason }
}

/// The length of the variable name at the start of `s` (`[_A-Za-z][_A-Za-z0-9]*`).
fn name_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    if bytes.first().is_none_or(|b| !(b.is_ascii_alphabetic() || *b == b'_')) {
        return 0;
    }
    bytes.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count()
}

/// The index of the `}` that closes a `${`, skipping nested `${...}` in defaults.
fn closing_brace(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn value_of(name: &str, lookup: &dyn Fn(&str) -> Option<String>, unset: &mut Vec<String>) -> String {
    lookup(name).unwrap_or_else(|| {
        if !unset.iter().any(|n| n == name) {
            unset.push(name.to_string());
        }
        String::new()
    })
}

/// The inside of `${...}`: a name, optionally followed by an operator and a word.
fn braced(
    body: &str,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<String, InterpolationError> {
    let len = name_len(body);
    if len == 0 {
        return Err(syntax(text, "${...} must start with a variable name"));
    }
    let (name, rest) = body.split_at(len);
    if rest.is_empty() {
        return Ok(value_of(name, lookup, unset));
    }
    let (colon, rest) = match rest.strip_prefix(':') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let mut chars = rest.chars();
    let operator = chars.next().ok_or_else(|| syntax(text, "`:` must be followed by -, ?, or +"))?;
    let word = chars.as_str();
    let value = lookup(name);
    // With `:`, an empty value counts as unset; without, only an unset one does.
    let is_set = value.as_deref().is_some_and(|v| !colon || !v.is_empty());
    match operator {
        '-' if is_set => Ok(value.unwrap_or_default()),
        '-' => interpolate(word, lookup, unset),
        '+' if is_set => interpolate(word, lookup, unset),
        '+' => Ok(String::new()),
        '?' if is_set => Ok(value.unwrap_or_default()),
        '?' => Err(InterpolationError::Required { name: name.to_string(), message: interpolate(word, lookup, unset)? }),
        _ => Err(syntax(text, "a variable name must be followed by }, :-, -, :?, ?, :+ or +")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn run(text: &str) -> Result<(String, Vec<String>), InterpolationError> {
        let env: HashMap<&str, &str> = [("A", "alpha"), ("EMPTY", ""), ("N", "3")].into();
        let lookup = |name: &str| env.get(name).map(|v| v.to_string());
        let mut unset = Vec::new();
        interpolate(text, &lookup, &mut unset).map(|s| (s, unset))
    }

    fn ok(text: &str) -> String {
        run(text).unwrap().0
    }

    #[test]
    fn plain_and_braced_names() {
        assert_eq!(ok("$A-${A}.$N"), "alpha-alpha.3");
        assert_eq!(ok("x${A}y"), "xalphay");
    }

    #[test]
    fn defaults_with_and_without_colon() {
        assert_eq!(ok("${MISSING:-d}"), "d");
        assert_eq!(ok("${MISSING-d}"), "d");
        assert_eq!(ok("${EMPTY:-d}"), "d");
        assert_eq!(ok("${EMPTY-d}"), "");
        assert_eq!(ok("${A:-d}"), "alpha");
    }

    #[test]
    fn alternatives() {
        assert_eq!(ok("${A:+alt}"), "alt");
        assert_eq!(ok("${EMPTY:+alt}"), "");
        assert_eq!(ok("${EMPTY+alt}"), "alt");
        assert_eq!(ok("${MISSING+alt}"), "");
    }

    #[test]
    fn required_variables() {
        assert_eq!(ok("${A:?need it}"), "alpha");
        assert_eq!(ok("${EMPTY?need it}"), "");
        let err = run("${EMPTY:?need it}").unwrap_err();
        assert_eq!(err.to_string(), "required variable EMPTY is missing a value: need it");
        let err = run("${MISSING?set MISSING to ${A}}").unwrap_err();
        assert_eq!(err.to_string(), "required variable MISSING is missing a value: set MISSING to alpha");
    }

    #[test]
    fn nested_defaults() {
        assert_eq!(ok("${MISSING:-${ALSO:-${A}}}"), "alpha");
        assert_eq!(ok("${MISSING:-a ${N} b}"), "a 3 b");
    }

    #[test]
    fn dollar_escapes_and_lone_dollars() {
        assert_eq!(ok("$$A costs 5$ or $1"), "$A costs 5$ or $1");
        assert_eq!(ok("${MISSING:-$$}"), "$");
        assert_eq!(ok("end$"), "end$");
    }

    #[test]
    fn unset_variables_become_empty_and_are_reported_once() {
        let (text, unset) = run("${X}$X${Y}").unwrap();
        assert_eq!(text, "");
        assert_eq!(unset, ["X", "Y"]);
    }

    #[test]
    fn syntax_errors() {
        for bad in ["${A", "${}", "${1A}", "${A:}", "${A:x}", "${A!}"] {
            assert!(matches!(run(bad), Err(InterpolationError::Syntax { .. })), "{bad}");
        }
    }
}
