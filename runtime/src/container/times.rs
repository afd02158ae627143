//! Times as Docker's CLI takes and shows them.

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};

/// Parses `--since`/`--until`: RFC 3339 (`2024-01-02T03:04:05Z`, with or
/// without zone, date only), Unix seconds (`1700000000.5`), or a duration
/// before `now` (`10m`, `1h30m`, `45s`).
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let invalid = || format!("invalid time {text:?}: want RFC 3339, Unix seconds or a duration such as 10m");
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Utc.from_utc_datetime(&naive));
        }
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).ok_or_else(invalid)?));
    }
    if let Ok(seconds) = text.parse::<f64>() {
        let nanos = (seconds.fract() * 1e9) as u32;
        return Utc.timestamp_opt(seconds.trunc() as i64, nanos).single().ok_or_else(invalid);
    }
    parse_duration(text).map(|d| now - d).ok_or_else(invalid)
}

/// Go-style durations: `1h30m`, `45s`, `500ms`, `2h`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::zero();
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += Duration::nanoseconds((number * nanos_per_unit) as i64);
    }
    Some(total)
}

/// Docker's `units.HumanDuration`: "Less than a second", "5 seconds", "About a minute", "3 hours", ...
pub fn human_duration(duration: Duration) -> String {
    let seconds = duration.num_seconds();
    let minutes = duration.num_minutes();
    let hours = duration.num_hours();
    match () {
        _ if seconds < 1 => "Less than a second".into(),
        _ if seconds == 1 => "1 second".into(),
        _ if seconds < 60 => format!("{seconds} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_like_docker() {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        assert_eq!(parse_time("2024-05-01T11:00:00Z", now).unwrap(), now - Duration::hours(1));
        assert_eq!(parse_time("2024-05-01", now).unwrap(), Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap());
        assert_eq!(parse_time("1714564800", now).unwrap(), now);
        assert_eq!(parse_time("10m", now).unwrap(), now - Duration::minutes(10));
        assert_eq!(parse_time("1h30m", now).unwrap(), now - Duration::minutes(90));
        assert!(parse_time("yesterday", now).is_err());
    }

    #[test]
    fn durations_read_like_dockers() {
        assert_eq!(human_duration(Duration::milliseconds(300)), "Less than a second");
        assert_eq!(human_duration(Duration::seconds(5)), "5 seconds");
        assert_eq!(human_duration(Duration::seconds(70)), "About a minute");
        assert_eq!(human_duration(Duration::minutes(5)), "5 minutes");
        assert_eq!(human_duration(Duration::minutes(65)), "About an hour");
        assert_eq!(human_duration(Duration::hours(5)), "5 hours");
        assert_eq!(human_duration(Duration::days(3)), "3 days");
    }
}
