//! Human times: countdowns and "3m ago".
use jiff::Timestamp;

/// "1h 02m", "4m 05s", "59s", or "expired".
pub fn countdown(until: Timestamp, now: Timestamp) -> String {
    let s = until.as_second() - now.as_second();
    if s <= 0 {
        return "expired".into();
    }
    compact(s)
}

/// "3m ago" / "in 3m".
pub fn relative(at: Timestamp, now: Timestamp) -> String {
    let s = at.as_second() - now.as_second();
    if s == 0 {
        // Within the same second: "in 0s" for something that just happened reads wrong.
        "now".to_owned()
    } else if s > 0 {
        format!("in {}", compact(s))
    } else {
        format!("{} ago", compact(-s))
    }
}

fn compact(s: i64) -> String {
    match s {
        ..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    #[test]
    fn countdowns() {
        assert_eq!(countdown(t(0), t(0)), "expired");
        assert_eq!(countdown(t(59), t(0)), "59s");
        assert_eq!(countdown(t(125), t(0)), "2m 05s");
        assert_eq!(countdown(t(3720), t(0)), "1h 02m");
        assert_eq!(countdown(t(90_000), t(0)), "1d 01h");
        assert_eq!(relative(t(0), t(180)), "3m 00s ago");
        assert_eq!(relative(t(5), t(0)), "in 5s");
    }
}
