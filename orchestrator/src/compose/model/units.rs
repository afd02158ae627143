//! Durations (`1m30s`) and byte sizes (`512m`) as compose files write them.

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A duration in Go's syntax (`10s`, `1m30s`, `1.5h`, `100ms`), as compose uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub fn parse(text: &str) -> Result<Self, String> {
        let error = || format!("invalid duration {text:?}: expected a number with a unit, like 10s, 1m30s or 500ms");
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(error());
        }
        if rest == "0" {
            return Ok(Duration(std::time::Duration::ZERO));
        }
        let mut total: u128 = 0;
        while !rest.is_empty() {
            let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(error)?;
            let (number, after) = rest.split_at(number_len);
            let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
            let (unit, after) = after.split_at(unit_len);
            let nanos_per: u128 = match unit {
                "ns" => 1,
                "us" | "µs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                _ => return Err(error()),
            };
            let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
            if (whole.is_empty() && fraction.is_empty()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
                return Err(error());
            }
            let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| error())? };
            let mut nanos = whole.checked_mul(nanos_per).ok_or_else(error)?;
            let mut scale = nanos_per;
            for digit in fraction.bytes().take(18) {
                scale /= 10;
                nanos += u128::from(digit - b'0') * scale;
            }
            total = total.checked_add(nanos).ok_or_else(error)?;
            rest = after;
        }
        let total = u64::try_from(total).map_err(|_| error())?;
        Ok(Duration(std::time::Duration::from_nanos(total)))
    }
}

impl fmt::Display for Duration {
    /// Go's `time.Duration.String()`, so `compose config` output matches compose's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        let trim = |whole: u128, frac: u128, width: usize| {
            let frac = format!("{frac:0width$}");
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() { whole.to_string() } else { format!("{whole}.{frac}") }
        };
        if nanos < 1_000 {
            return write!(f, "{nanos}ns");
        }
        if nanos < 1_000_000 {
            return write!(f, "{}µs", trim(nanos / 1_000, nanos % 1_000, 3));
        }
        if nanos < 1_000_000_000 {
            return write!(f, "{}ms", trim(nanos / 1_000_000, nanos % 1_000_000, 6));
        }
        let hours = nanos / 3_600_000_000_000;
        let minutes = nanos / 60_000_000_000 % 60;
        let seconds = nanos % 60_000_000_000;
        if hours > 0 {
            write!(f, "{hours}h{minutes}m")?;
        } else if minutes > 0 {
            write!(f, "{minutes}m")?;
        }
        write!(f, "{}s", trim(seconds / 1_000_000_000, seconds % 1_000_000_000, 9))
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Duration::parse(&text).map_err(de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^(0|([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$",
            "description": "A duration such as 10s, 1m30s or 500ms."
        })
    }
}

/// A size in bytes: an integer, or a number with a unit (`b`, `k`, `m`, `g`,
/// optionally followed by `b`; case-insensitive), as compose accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Bytes(pub u64);

impl Bytes {
    pub fn parse(text: &str) -> Result<Self, String> {
        let error =
            || format!("invalid size {text:?}: expected a number of bytes, or a number with a unit like 512m or 1g");
        let lower = text.trim().to_ascii_lowercase();
        let split = lower.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(lower.len());
        let (number, unit) = lower.split_at(split);
        let multiplier: u64 = match unit.trim() {
            "" | "b" => 1,
            "k" | "kb" | "kib" => 1 << 10,
            "m" | "mb" | "mib" => 1 << 20,
            "g" | "gb" | "gib" => 1 << 30,
            "t" | "tb" | "tib" => 1 << 40,
            _ => return Err(error()),
        };
        let value: f64 = number.parse().map_err(|_| error())?;
        let bytes = value * multiplier as f64;
        if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
            return Err(error());
        }
        Ok(Bytes(bytes as u64))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as 1024, 512m or 1g")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bytes, E> {
                u64::try_from(v).map(Bytes).map_err(|_| E::custom(format!("invalid size {v}: it must not be negative")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bytes, E> {
                Bytes::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl JsonSchema for Bytes {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Bytes".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["integer", "string"],
            "description": "A size in bytes, or with a unit: 512m, 1g, 100k."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> std::time::Duration {
        Duration::parse(text).unwrap().0
    }

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(d("1m30s"), std::time::Duration::from_secs(90));
        assert_eq!(d("1.5s"), std::time::Duration::from_millis(1500));
        assert_eq!(d("100ms"), std::time::Duration::from_millis(100));
        assert_eq!(d("2h"), std::time::Duration::from_secs(7200));
        assert_eq!(d("0"), std::time::Duration::ZERO);
        for bad in ["", "10", "1x", "s", "1m30", "-1s", "1..5s"] {
            assert!(Duration::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_print_like_go() {
        for (text, printed) in [
            ("90s", "1m30s"),
            ("1.5s", "1.5s"),
            ("100ms", "100ms"),
            ("1h", "1h0m0s"),
            ("0s", "0s"),
            ("1500us", "1.5ms"),
        ] {
            assert_eq!(Duration::parse(text).unwrap().to_string(), printed);
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(Bytes::parse("512m").unwrap(), Bytes(512 << 20));
        assert_eq!(Bytes::parse("1G").unwrap(), Bytes(1 << 30));
        assert_eq!(Bytes::parse("1.5k").unwrap(), Bytes(1536));
        assert_eq!(Bytes::parse("100").unwrap(), Bytes(100));
        assert_eq!(Bytes::parse("64mb").unwrap(), Bytes(64 << 20));
        for bad in ["", "m", "12x", "-1m"] {
            assert!(Bytes::parse(bad).is_err(), "{bad:?}");
        }
    }
}
