//! Durations as `lull.toml` writes them: `"500ms"`, `"10s"`, `"2m"`, `"1h"`.

/// Milliseconds in a duration string: a whole number followed by `ms`, `s`, `m` or `h`.
pub fn parse_duration_ms(raw: &str) -> Result<u64, String> {
    let s = raw.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = s.split_at(digits);
    let expected =
        || format!("expected a duration such as \"500ms\", \"10s\", \"2m\" or \"1h\", got {raw:?}");
    if number.is_empty() {
        return Err(expected());
    }
    let n: u64 = number.parse().map_err(|_| expected())?;
    let scale = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(expected()),
    };
    n.checked_mul(scale).ok_or_else(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_scale_to_milliseconds() {
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("10s"), Ok(10_000));
        assert_eq!(parse_duration_ms("2m"), Ok(120_000));
        assert_eq!(parse_duration_ms("1h"), Ok(3_600_000));
        assert_eq!(parse_duration_ms(" 3 s "), Ok(3_000));
        assert_eq!(parse_duration_ms("0s"), Ok(0));
    }

    #[test]
    fn anything_else_is_refused_with_the_expectation() {
        for bad in [
            "",
            "10",
            "s",
            "1.5s",
            "-1s",
            "10 sec",
            "99999999999999999999h",
        ] {
            let err = parse_duration_ms(bad).unwrap_err();
            assert!(err.contains("expected a duration"), "{bad}: {err}");
        }
    }
}
