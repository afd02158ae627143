//! `.env` and `env_file` files, in the format Compose reads: `KEY=VALUE`
//! lines, `export` prefixes, `#` comments, single quotes (literal), double
//! quotes (escapes, several lines, interpolation), unquoted values (trimmed,
//! ` #` comments cut, interpolation), and `KEY` alone (taken from the environment).

use super::interpolate::interpolate;

/// A line of a dotenv file that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DotenvError {
    pub line: usize,
    pub message: String,
}

/// The entries in order; `None` for a bare `KEY`. Variables in values are
/// resolved against earlier entries of the same file, then `lookup`.
pub fn parse(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, Option<String>)>, DotenvError> {
    let mut entries: Vec<(String, Option<String>)> = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let number = index + 1;
        let error = |message: String| DotenvError { line: number, message };
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let trimmed = trimmed.strip_prefix("export ").map_or(trimmed, str::trim_start);
        let (key, raw) = match trimmed.split_once('=') {
            Some((key, raw)) => (key.trim_end(), Some(raw)),
            None => (trimmed.trim_end(), None),
        };
        if key.is_empty() || key.chars().any(|c| c.is_whitespace()) {
            return Err(error(format!("{:?} is not a variable name; lines are KEY=VALUE", key)));
        }
        let value = match raw {
            None => None,
            Some(raw) => {
                let own = |name: &str| {
                    entries.iter().rev().find(|(k, _)| k == name).and_then(|(_, v)| v.clone()).or_else(|| lookup(name))
                };
                let mut ignored = Vec::new();
                let raw = raw.trim_start();
                let value = if let Some(body) = raw.strip_prefix('\'') {
                    let (body, _) = quoted(body, '\'', &mut lines)
                        .ok_or_else(|| error(format!("the value of {key} opens a ' that is never closed")))?;
                    body
                } else if let Some(body) = raw.strip_prefix('"') {
                    let (body, _) = quoted(body, '"', &mut lines)
                        .ok_or_else(|| error(format!("the value of {key} opens a \" that is never closed")))?;
                    interpolate(&unescape(&body), &own, &mut ignored).map_err(|e| error(e.to_string()))?
                } else {
                    let value = match raw.find(" #") {
                        Some(comment) => &raw[..comment],
                        None => raw,
                    };
                    interpolate(value.trim_end(), &own, &mut ignored).map_err(|e| error(e.to_string()))?
                };
                Some(value)
            }
        };
        entries.push((key.to_string(), value));
    }
    Ok(entries)
}

/// Reads a quoted value up to its closing quote, continuing on the next lines
/// if needed. Returns the body and what follows the quote.
fn quoted<'a>(
    first: &'a str,
    quote: char,
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
) -> Option<(String, &'a str)> {
    let mut body = String::new();
    let mut current = first;
    loop {
        if let Some(end) = find_unescaped(current, quote) {
            body.push_str(&current[..end]);
            return Some((body, &current[end + 1..]));
        }
        body.push_str(current);
        body.push('\n');
        current = lines.next()?.1;
    }
}

/// The first `quote` not preceded by a backslash (single quotes have no escapes).
fn find_unescaped(s: &str, quote: char) -> Option<usize> {
    if quote == '\'' {
        return s.find('\'');
    }
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            c if c == quote && !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other @ ('"' | '\\' | '$')) => out.push(other),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<(String, Option<String>)> {
        let lookup = |name: &str| (name == "HOST_VAR").then(|| "from-host".to_string());
        parse(text, &lookup).unwrap()
    }

    fn pairs(list: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        list.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect()
    }

    #[test]
    fn the_forms_compose_reads() {
        let text = "# comment\n\nA=1\nexport B = two \nC='${A} literal'\nD=\"line\\nnext ${A}\"\nE=x # comment\nF=a#b\nG\nH=\nI=${HOST_VAR}\n";
        assert_eq!(
            read(text),
            pairs(&[
                ("A", Some("1")),
                ("B", Some("two")),
                ("C", Some("${A} literal")),
                ("D", Some("line\nnext 1")),
                ("E", Some("x")),
                ("F", Some("a#b")),
                ("G", None),
                ("H", Some("")),
                ("I", Some("from-host")),
            ])
        );
    }

    #[test]
    fn quoted_values_span_lines() {
        assert_eq!(read("K=\"a\nb\"\nL=1\n"), pairs(&[("K", Some("a\nb")), ("L", Some("1"))]));
        assert_eq!(read("K='a\n b'\n"), pairs(&[("K", Some("a\n b"))]));
    }

    #[test]
    fn errors_name_the_line() {
        let lookup = |_: &str| None;
        let err = parse("A=1\nB=\"open\n", &lookup).unwrap_err();
        assert_eq!(err.line, 2);
        let err = parse("A=1\nnot a key=1\n", &lookup).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("not a key"), "{}", err.message);
    }
}
