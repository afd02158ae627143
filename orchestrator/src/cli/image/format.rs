//! Sizes and ages as Docker prints them.

/// Decimal units, three significant digits: `4.26MB`, `812kB`, `0B`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let digits = if value >= 100.0 || unit == 0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    let text = format!("{value:.digits$}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text };
    format!("{text}{}", UNITS[unit])
}

/// `4 weeks ago`, `About an hour ago`, `Less than a second ago`.
pub fn ago(seconds: i64) -> String {
    let s = seconds.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    let text = match s {
        0 => "Less than a second".to_owned(),
        1 => "1 second".to_owned(),
        2..60 => format!("{s} seconds"),
        60..120 => "About a minute".to_owned(),
        120..3600 => format!("{m} minutes"),
        3600..7200 => "About an hour".to_owned(),
        _ if h < 48 => format!("{h} hours"),
        _ if d < 14 => format!("{d} days"),
        _ if d < 60 => format!("{} weeks", d / 7),
        _ if d < 365 * 2 => format!("{} months", d / 30),
        _ => format!("{} years", d / 365),
    };
    format!("{text} ago")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(0), "0B");
        assert_eq!(size(999), "999B");
        assert_eq!(size(4_261_000), "4.26MB");
        assert_eq!(size(12_300_000), "12.3MB");
        assert_eq!(size(812_000), "812kB");
        assert_eq!(size(1_000_000), "1MB");
    }

    #[test]
    fn ages() {
        assert_eq!(ago(0), "Less than a second ago");
        assert_eq!(ago(90), "About a minute ago");
        assert_eq!(ago(3 * 3600), "3 hours ago");
        assert_eq!(ago(30 * 86400), "4 weeks ago");
    }
}
