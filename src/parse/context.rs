//! What a captured line says around a record: when it was logged and which function logged it.
//! Timestamps come from the prefix tools put before a message (`aws logs tail`, `sam logs`,
//! `pulumi logs`, console CSV), from a JSON event's `timestamp`/`time`, or from Insights'
//! `@timestamp`; the function comes from a log group (`/aws/lambda/NAME`) or a `[name]` prefix.
//! Both feed grouping and the observed invocation rate; neither is required.

/// Milliseconds since the Unix epoch of the first timestamp in `s`: ISO-8601 (`2024-01-02T03:04:05.678Z`,
/// `2024-01-02 03:04:05`, with or without an offset; no offset means UTC) or a 13-digit epoch-ms
/// number.
pub fn find_timestamp(s: &[u8]) -> Option<i64> {
    if s.len() < 13 {
        return None;
    }
    let mut i = 0;
    while i + 13 <= s.len() {
        if s[i].is_ascii_digit() && (i == 0 || !s[i - 1].is_ascii_digit()) {
            if let Some(t) = iso_at(&s[i..]) {
                return Some(t);
            }
            let mut j = i;
            while j < s.len() && s[j].is_ascii_digit() {
                j += 1;
            }
            if j - i == 13
                && let Ok(v) = std::str::from_utf8(&s[i..j]).unwrap_or("").parse::<i64>()
            {
                return Some(v);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    None
}

/// The timestamp of the event that ends `prefix` (the text before a record on its line): the
/// first timestamp after the last `{`, since a compact JSON line holds many events each with its
/// own; otherwise the first on the line, where `aws logs tail`, `sam logs` and console exports
/// put it.
pub fn find_event_timestamp(prefix: &[u8]) -> Option<i64> {
    let start = memchr::memrchr(b'{', prefix).unwrap_or(0);
    find_timestamp(&prefix[start..])
}

fn num(s: &[u8], at: usize, len: usize) -> Option<i64> {
    let d = s.get(at..at + len)?;
    let mut v = 0i64;
    for &b in d {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(b - b'0');
    }
    Some(v)
}

/// Parses `YYYY-MM-DD[T ]HH:MM:SS[.fff][Z|±HH:MM|±HHMM]` at the start of `s`.
fn iso_at(s: &[u8]) -> Option<i64> {
    if s.len() < 19 || s[4] != b'-' || s[7] != b'-' || !matches!(s[10], b'T' | b' ') {
        return None;
    }
    if s[13] != b':' || s[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(s, 0, 4)?, num(s, 5, 2)?, num(s, 8, 2)?);
    let (h, mi, sec) = (num(s, 11, 2)?, num(s, 14, 2)?, num(s, 17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if s.get(i) == Some(&b'.') {
        i += 1;
        let mut scale = 100;
        while let Some(b) = s.get(i).filter(|b| b.is_ascii_digit()) {
            millis += i64::from(b - b'0') * scale;
            scale /= 10;
            i += 1;
        }
    }
    let mut offset_min = 0i64;
    match s.get(i) {
        Some(b'+') | Some(b'-') => {
            let sign = if s[i] == b'-' { -1 } else { 1 };
            let oh = num(s, i + 1, 2);
            let om = if s.get(i + 3) == Some(&b':') {
                num(s, i + 4, 2)
            } else {
                num(s, i + 3, 2)
            };
            if let (Some(oh), Some(om)) = (oh, om) {
                offset_min = sign * (oh * 60 + om);
            }
        }
        _ => {}
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) - offset_min * 60) * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (the inverse of
/// [`days_from_civil`], Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD` of an epoch-millisecond timestamp (UTC).
pub fn date_of(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The function named by a log group (`/aws/lambda/NAME`) or by a `[name] ` right before the
/// message, as `pulumi logs` prints it. Stream names such as `[$LATEST]abc` or `[56]abc` are not
/// function names and are skipped.
pub fn find_function(prefix: &[u8]) -> Option<&str> {
    const GROUP: &[u8] = b"/aws/lambda/";
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(GROUP));
    if let Some(at) = FINDER.find(prefix) {
        let start = at + GROUP.len();
        let mut end = start;
        while end < prefix.len() && is_name_byte(prefix[end]) {
            end += 1;
        }
        if end > start {
            return std::str::from_utf8(&prefix[start..end]).ok();
        }
    }
    // `...-07:00[    mylambda-d719650] ` directly before the message.
    let trimmed = trim_end(prefix);
    if trimmed.last() == Some(&b']') {
        let close = trimmed.len() - 1;
        let open = trimmed[..close].iter().rposition(|&b| b == b'[')?;
        let name = trim_start(&trimmed[open + 1..close]);
        if !name.is_empty()
            && name.iter().all(|&b| is_name_byte(b))
            && !name.iter().all(|b| b.is_ascii_digit())
        {
            return std::str::from_utf8(name).ok();
        }
    }
    None
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn trim_end(s: &[u8]) -> &[u8] {
    let mut e = s.len();
    while e > 0 && matches!(s[e - 1], b' ' | b'\t') {
        e -= 1;
    }
    &s[..e]
}

fn trim_start(s: &[u8]) -> &[u8] {
    let mut b = 0;
    while b < s.len() && matches!(s[b], b' ' | b'\t') {
        b += 1;
    }
    &s[b..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_with_offsets_and_epoch_ms() {
        let utc = find_timestamp(b"2020-12-02T08:58:39.747Z x").unwrap();
        let plus1 = find_timestamp(b"    2020-12-02T09:58:39.747+01:00[  thumb] REPORT").unwrap();
        assert_eq!(utc, plus1);
        assert_eq!(utc, 1_606_899_519_747);
        assert_eq!(
            find_timestamp(b"2023/07/05/[56]374cd 2023-07-05T10:16:34.013000 REPORT"),
            Some(1_688_552_194_013)
        );
        assert_eq!(
            find_timestamp(b"1606899519747,\"REPORT"),
            Some(1_606_899_519_747)
        );
        assert_eq!(find_timestamp(b"REPORT RequestId: 12345678901234"), None);
        assert_eq!(
            find_event_timestamp(br#"[{"timestamp": 1714557600000, "message": "x"}, {"timestamp": 1714557601250, "message": ""#),
            Some(1_714_557_601_250)
        );
        assert_eq!(
            find_event_timestamp(b"2024-05-01T10:00:00.000000+00:00 2024/05/01/[$LATEST]abc "),
            Some(1_714_557_600_000)
        );
        assert_eq!(find_timestamp(b"2024-13-01T00:00:00Z padding"), None);
    }

    #[test]
    fn dates_round_trip() {
        for days in [-1, 0, 59, 60, 11_016, 19_844, 20_790] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(date_of(1_714_557_600_000), "2024-05-01");
    }

    #[test]
    fn function_from_group_or_pulumi_prefix_not_stream() {
        assert_eq!(
            find_function(b"123456789012:/aws/lambda/brand-api,"),
            Some("brand-api")
        );
        assert_eq!(
            find_function(b"    2018-03-21T18:25:02.267-07:00[    mylambda-d719650] "),
            Some("mylambda-d719650")
        );
        assert_eq!(find_function(b"2024/01/01/[$LATEST]abcdef "), None);
        assert_eq!(find_function(b"2023/07/05/[56] "), None);
    }
}
