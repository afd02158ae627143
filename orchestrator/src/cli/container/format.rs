//! Output helpers of the container commands: aligned tables, `--format`
//! templates (`{{.Field}}`, `{{json .}}`, `table ...`), sizes.

use serde_json::Value;

/// Rows under headers, columns three spaces apart (Docker's tabwriter).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            out.push_str(cell);
            if i < last {
                out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 3));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// Looks up `.A.B` in a JSON value.
fn field<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.trim_start_matches('.').split('.').filter(|p| !p.is_empty()).try_fold(value, |v, key| v.get(key))
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "<no value>".into(),
        Value::Array(items) => format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(" ")),
        Value::Object(_) => value.to_string(),
        other => other.to_string(),
    }
}

/// Renders a Go-template subset: `{{.A.B}}`, `{{json .A}}`, `{{.}}`, `\t` and `\n`.
pub fn render(template: &str, value: &Value) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").ok_or_else(|| format!("unclosed action in template {template:?}"))?;
        let action = rest[start + 2..start + end].trim();
        let (json, path) = match action.strip_prefix("json ") {
            Some(path) => (true, path.trim()),
            None => (false, action),
        };
        if !path.starts_with('.') {
            return Err(format!(
                "unsupported template action {{{{{action}}}}}: berth supports {{{{.Field}}}} and {{{{json .Field}}}}"
            ));
        }
        let found = field(value, path).ok_or_else(|| format!("template: no field {path} in {}", short_keys(value)))?;
        out.push_str(&if json { found.to_string() } else { show(found) });
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out.replace("\\t", "\t").replace("\\n", "\n"))
}

fn short_keys(value: &Value) -> String {
    match value {
        Value::Object(map) => map.keys().cloned().collect::<Vec<_>>().join(", "),
        _ => "a non-object".into(),
    }
}

/// Binary units as `docker stats` shows memory: `1.5MiB`, `512KiB`, `0B`.
pub fn binary_size(bytes: u64) -> String {
    scaled(bytes as f64, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB"])
}

/// Decimal units as `docker stats` shows I/O: `1.2kB`, `3.4MB`.
pub fn decimal_size(bytes: u64) -> String {
    scaled(bytes as f64, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB"])
}

/// Four significant digits, trailing zeros dropped (Go's `%.4g`, as Docker's units package).
fn scaled(mut value: f64, base: f64, units: &[&str]) -> String {
    let mut unit = 0;
    while value >= base && unit + 1 < units.len() {
        value /= base;
        unit += 1;
    }
    let integer_digits = if value < 10.0 {
        1
    } else if value < 100.0 {
        2
    } else if value < 1000.0 {
        3
    } else {
        4
    };
    let text = format!("{value:.*}", 4 - integer_digits);
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
    format!("{text}{}", units[unit])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tables_align() {
        let text = table(&["A", "LONGER"], &[vec!["xyz".into(), "1".into()], vec!["q".into(), "22".into()]]);
        assert_eq!(text, "A     LONGER\nxyz   1\nq     22\n");
    }

    #[test]
    fn templates() {
        let value = json!({"State": {"Status": "running", "Pid": 42}, "Name": "/web", "Args": ["a", "b"]});
        assert_eq!(render("{{.State.Status}} {{.State.Pid}}", &value).unwrap(), "running 42");
        assert_eq!(render("{{json .Args}}", &value).unwrap(), "[\"a\",\"b\"]");
        assert_eq!(render("{{.Name}}\\t!", &value).unwrap(), "/web\t!");
        assert!(render("{{.Nope}}", &value).is_err());
        assert!(render("{{if .Name}}", &value).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(binary_size(0), "0B");
        assert_eq!(binary_size(1536 * 1024), "1.5MiB");
        assert_eq!(decimal_size(1200), "1.2kB");
        assert_eq!(decimal_size(999), "999B");
        assert_eq!(binary_size(2_087_000_000), "1.944GiB");
    }
}
