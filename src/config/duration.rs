//! Durations in `lull.toml`: `"30s"`, `"500ms"`, `"1.5s"`, `"5m"`, `"2h"`, `"1d"`, or a bare
//! integer meaning seconds. Kept as written and parsed during validation, so a bad value is
//! reported with its key (serde would only point at a line).

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// A duration as written in the file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum DurationValue {
    Text(String),
    Seconds(i64),
}

impl fmt::Display for DurationValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationValue::Text(s) => write!(f, "{s:?}"),
            DurationValue::Seconds(n) => write!(f, "{n}"),
        }
    }
}

impl DurationValue {
    /// The duration, or what was expected.
    pub fn parse(&self) -> Result<Duration, String> {
        let expected =
            || format!("expected a duration like \"30s\", \"500ms\" or \"5m\", got {self}");
        match self {
            DurationValue::Seconds(n) => u64::try_from(*n)
                .map(Duration::from_secs)
                .map_err(|_| expected()),
            DurationValue::Text(s) => parse_text(s.trim()).ok_or_else(expected),
        }
    }

    /// The duration checked against an inclusive range, in the words of the key it belongs to.
    pub fn parse_within(&self, min: Duration, max: Duration) -> Result<Duration, String> {
        let d = self.parse()?;
        if d < min || d > max {
            return Err(format!(
                "expected a duration from {} to {}, got {self}",
                show(min),
                show(max)
            ));
        }
        Ok(d)
    }
}

fn parse_text(s: &str) -> Option<Duration> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let unit_ms = match unit.trim() {
        "ms" => 1.0,
        "s" | "" => 1_000.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    let ms = value * unit_ms;
    (ms.is_finite() && ms < u64::MAX as f64).then(|| Duration::from_millis(ms.round() as u64))
}

/// A duration the way a person would write it: `500ms`, `30s`, `15m`, `12h`, `14d`.
pub fn show(d: Duration) -> String {
    let ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> DurationValue {
        DurationValue::Text(s.into())
    }

    #[test]
    fn units_and_bare_seconds_parse() {
        assert_eq!(text("30s").parse(), Ok(Duration::from_secs(30)));
        assert_eq!(text("500ms").parse(), Ok(Duration::from_millis(500)));
        assert_eq!(text("1.5s").parse(), Ok(Duration::from_millis(1500)));
        assert_eq!(text("5m").parse(), Ok(Duration::from_secs(300)));
        assert_eq!(text("2h").parse(), Ok(Duration::from_secs(7200)));
        assert_eq!(text("1d").parse(), Ok(Duration::from_secs(86_400)));
        assert_eq!(text("0").parse(), Ok(Duration::ZERO));
        assert_eq!(
            DurationValue::Seconds(20).parse(),
            Ok(Duration::from_secs(20))
        );
    }

    #[test]
    fn nonsense_is_refused_with_what_was_expected() {
        for bad in ["", "s", "abc", "10 parsecs", "-1s", ".5s", "1.s", "1e3s"] {
            let e = text(bad).parse().unwrap_err();
            assert!(e.contains("expected a duration"), "{bad}: {e}");
        }
        assert!(DurationValue::Seconds(-1).parse().is_err());
    }

    #[test]
    fn ranges_name_their_bounds() {
        let e = text("13h")
            .parse_within(Duration::ZERO, Duration::from_secs(43_200))
            .unwrap_err();
        assert_eq!(e, "expected a duration from 0s to 12h, got \"13h\"");
    }
}
