//! Time as the API writes it: milliseconds since the epoch inside, ISO 8601 with `Z` outside.

use time::{macros::format_description, OffsetDateTime};

pub fn now_millis() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn datetime(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `2020-04-21T07:57:11.124Z`.
pub fn format_iso_millis(millis: i64) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    datetime(millis).format(&format).unwrap_or_default()
}

/// `Tue, 21 Apr 2020 07:57:11 GMT` (for `Last-Modified`).
pub fn format_http_date(millis: i64) -> String {
    let secs = u64::try_from(millis / 1000).unwrap_or(0);
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(format_iso_millis(1_587_455_831_124), "2020-04-21T07:57:11.124Z");
        assert_eq!(format_http_date(1_587_455_831_124), "Tue, 21 Apr 2020 07:57:11 GMT");
    }
}
