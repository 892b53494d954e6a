//! Calendar dates and the Netherlands' clock: the one home of civil-date
//! arithmetic. Instants travel as milliseconds since the Unix epoch (UTC);
//! people read them as dates and times in Europe/Amsterdam, so quarters, days
//! and every date shown are reckoned there.
//!
//! Europe/Amsterdam keeps Central European Time (UTC+1) and, from the last
//! Sunday of March to the last Sunday of October, summer time (UTC+2); both
//! changes happen at 01:00 UTC (the EU rule, in force since 1996).

use std::fmt;

/// Milliseconds in a day of 24 hours.
pub const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// A day of the proleptic Gregorian calendar, checked to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u32,
    day: u32,
}

impl Date {
    /// The date, if it exists.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Self> {
        ((1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day))
            .then_some(Date { year, month, day })
    }

    /// Reads exactly `YYYY-MM-DD` (four, two and two digits).
    pub fn parse_iso(input: &str) -> Option<Self> {
        let bytes = input.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let number = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| s.parse::<u32>().ok())
                .flatten()
        };
        let year = number(&input[0..4])?;
        Date::new(
            i32::try_from(year).ok()?,
            number(&input[5..7])?,
            number(&input[8..10])?,
        )
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    pub fn day(self) -> u32 {
        self.day
    }

    /// The quarter of the year the date is in, 1 to 4.
    pub fn quarter(self) -> u32 {
        (self.month - 1) / 3 + 1
    }

    /// The first day of quarter `q` (1 to 4) of `year`.
    pub fn quarter_start(year: i32, q: u32) -> Option<Self> {
        (1..=4).contains(&q).then(|| Date {
            year,
            month: (q - 1) * 3 + 1,
            day: 1,
        })
    }

    /// Days since 1970-01-01 (Howard Hinnant's days-from-civil).
    pub fn days_since_epoch(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01 (Howard Hinnant's civil-from-days).
    pub fn from_days_since_epoch(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// The date `days` later (earlier when negative).
    pub fn plus_days(self, days: i64) -> Self {
        Date::from_days_since_epoch(self.days_since_epoch() + days)
    }

    /// The date in Europe/Amsterdam at the instant `utc_ms`.
    pub fn in_amsterdam(utc_ms: i64) -> Self {
        Date::from_days_since_epoch((utc_ms + amsterdam_offset_ms(utc_ms)).div_euclid(DAY_MS))
    }

    /// The instant (UTC milliseconds) at which this day begins in Europe/Amsterdam.
    pub fn amsterdam_midnight(self) -> i64 {
        let local = self.days_since_epoch() * DAY_MS;
        // Clocks change at 02:00 or 03:00 local time, so the offset an hour
        // before local midnight (read as UTC) is the one in force at midnight.
        local - amsterdam_offset_ms(local - HOUR_MS)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The number of days in `month` (1 to 12) of `year`.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// How far Europe/Amsterdam's clocks are ahead of UTC at the instant `utc_ms`.
pub fn amsterdam_offset_ms(utc_ms: i64) -> i64 {
    let year = Date::from_days_since_epoch(utc_ms.div_euclid(DAY_MS)).year;
    let change = |month: u32| last_sunday(year, month).days_since_epoch() * DAY_MS + HOUR_MS;
    if (change(3)..change(10)).contains(&utc_ms) {
        2 * HOUR_MS
    } else {
        HOUR_MS
    }
}

/// An instant as Europe/Amsterdam's wall clock reads it: `YYYY-MM-DD HH:MM`.
pub fn amsterdam_minute(utc_ms: i64) -> (Date, u32, u32) {
    let local = utc_ms + amsterdam_offset_ms(utc_ms);
    let minute_of_day = local.rem_euclid(DAY_MS) / 60_000;
    (
        Date::from_days_since_epoch(local.div_euclid(DAY_MS)),
        (minute_of_day / 60) as u32,
        (minute_of_day % 60) as u32,
    )
}

/// The instant at which Europe/Amsterdam's wall clock shows `date` `hour`:`minute`.
/// In the hour skipped in spring it reads the clock as winter time; in the hour
/// repeated in autumn it takes the first (summer) one.
pub fn amsterdam_instant(date: Date, hour: u32, minute: u32) -> i64 {
    let local =
        date.days_since_epoch() * DAY_MS + i64::from(hour) * HOUR_MS + i64::from(minute) * 60_000;
    let summer = local - 2 * HOUR_MS;
    if amsterdam_offset_ms(summer) == 2 * HOUR_MS {
        summer
    } else {
        local - HOUR_MS
    }
}

fn last_sunday(year: i32, month: u32) -> Date {
    let last = Date::new(year, month, days_in_month(year, month)).expect("the month's last day");
    // 1970-01-01 was a Thursday: weekday 0 is Monday.
    let weekday = (last.days_since_epoch() + 3).rem_euclid(7);
    last.plus_days(-((weekday + 1) % 7))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        Date::parse_iso(s).unwrap()
    }

    #[test]
    fn days_round_trip_across_four_centuries() {
        assert_eq!(date("1970-01-01").days_since_epoch(), 0);
        assert_eq!(date("2000-02-29").days_since_epoch(), 11_016);
        assert_eq!(Date::from_days_since_epoch(-1), date("1969-12-31"));
        for days in (-146_097..146_097).step_by(97) {
            assert_eq!(Date::from_days_since_epoch(days).days_since_epoch(), days);
        }
    }

    #[test]
    fn only_real_dates_are_read() {
        assert_eq!(date("2012-02-29").to_string(), "2012-02-29");
        for bad in [
            "2013-02-29",
            "2000-13-01",
            "2000-04-31",
            "2000-00-10",
            "01-02-2000",
            "2000-1-01",
            "+200-01-01",
            "2000-01-01 ",
        ] {
            assert_eq!(Date::parse_iso(bad), None, "{bad}");
        }
    }

    #[test]
    fn amsterdam_changes_its_clocks_on_the_last_sundays_of_march_and_october() {
        // 2026: summer time from Sunday 29 March 01:00 UTC to Sunday 25 October 01:00 UTC.
        let spring = date("2026-03-29").days_since_epoch() * DAY_MS + HOUR_MS;
        let autumn = date("2026-10-25").days_since_epoch() * DAY_MS + HOUR_MS;
        assert_eq!(amsterdam_offset_ms(spring - 1), HOUR_MS);
        assert_eq!(amsterdam_offset_ms(spring), 2 * HOUR_MS);
        assert_eq!(amsterdam_offset_ms(autumn - 1), 2 * HOUR_MS);
        assert_eq!(amsterdam_offset_ms(autumn), HOUR_MS);
        assert_eq!(last_sunday(2027, 3), date("2027-03-28"));
        assert_eq!(last_sunday(2027, 10), date("2027-10-31"));
    }

    #[test]
    fn a_day_in_amsterdam_begins_before_it_does_in_utc() {
        // Winter: midnight is 23:00 UTC the day before; summer: 22:00.
        assert_eq!(
            date("2026-01-01").amsterdam_midnight(),
            date("2025-12-31").days_since_epoch() * DAY_MS + 23 * HOUR_MS
        );
        assert_eq!(
            date("2026-07-01").amsterdam_midnight(),
            date("2026-06-30").days_since_epoch() * DAY_MS + 22 * HOUR_MS
        );
        // On the days the clocks change, too.
        for d in ["2026-03-29", "2026-03-30", "2026-10-25", "2026-10-26"] {
            let midnight = date(d).amsterdam_midnight();
            assert_eq!(Date::in_amsterdam(midnight), date(d), "{d}");
            assert_eq!(
                Date::in_amsterdam(midnight - 1),
                date(d).plus_days(-1),
                "{d}"
            );
            assert_eq!(amsterdam_minute(midnight), (date(d), 0, 0), "{d}");
        }
        // New Year's Eve at 23:30 UTC is already the next year in Amsterdam.
        let eve = date("2026-12-31").days_since_epoch() * DAY_MS + 23 * HOUR_MS + 30 * 60_000;
        assert_eq!(Date::in_amsterdam(eve), date("2027-01-01"));
    }

    #[test]
    fn wall_clock_times_round_trip() {
        for (d, h, m) in [
            ("2026-01-15", 9, 30),
            ("2026-07-15", 23, 59),
            ("2026-10-25", 1, 0),
        ] {
            let at = amsterdam_instant(date(d), h, m);
            assert_eq!(amsterdam_minute(at), (date(d), h, m), "{d} {h}:{m}");
        }
        // 02:30 on the spring day does not exist; it reads as 03:30 summer time.
        let skipped = amsterdam_instant(date("2026-03-29"), 2, 30);
        assert_eq!(amsterdam_minute(skipped), (date("2026-03-29"), 3, 30));
    }

    #[test]
    fn quarters() {
        assert_eq!(date("2026-03-31").quarter(), 1);
        assert_eq!(date("2026-04-01").quarter(), 2);
        assert_eq!(date("2026-12-31").quarter(), 4);
        assert_eq!(Date::quarter_start(2026, 2), Some(date("2026-04-01")));
        assert_eq!(Date::quarter_start(2026, 5), None);
    }
}
