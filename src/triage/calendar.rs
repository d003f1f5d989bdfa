//! Calendar arithmetic for triage deadlines: Swedish public holidays, working days and the
//! moment a deadline falls due, all in Europe/Stockholm wall time.
//!
//! Pure functions only: no I/O and no clock. The caller passes the submission instant, so the
//! same input always gives the same deadline and the rules can be tested against real dates.

use chrono::offset::LocalResult;
use chrono::{
    DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Europe::Stockholm;

/// Working-day deadlines end when the office closes, not at midnight, so a case handler has the
/// whole of the last day but no more.
const CLOSE_OF_BUSINESS: NaiveTime = match NaiveTime::from_hms_opt(17, 0, 0) {
    Some(time) => time,
    // Evaluated at compile time: a bad constant fails the build rather than a request.
    None => panic!("17:00:00 is a valid time of day"),
};

/// Swedish public holidays (röda dagar) and the de-facto non-working eves, for one year.
///
/// Sorted by date, with Swedish names. Eves such as Midsommarafton and Julafton are not
/// statutory holidays, but the inspectorate's staff do not work on them, so a deadline must not
/// land on one. When two holidays share a date (Kristi himmelsfärdsdag falls on 1 May in some
/// years) both are listed, so every named day is always present. Dates that cannot be
/// represented (years at the edge of chrono's range) are left out rather than guessed.
pub fn holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    const FIXED: [(u32, u32, &str); 8] = [
        (1, 1, "Nyårsdagen"),
        (1, 6, "Trettondedag jul"),
        (5, 1, "Första maj"),
        (6, 6, "Sveriges nationaldag"),
        (12, 24, "Julafton"),
        (12, 25, "Juldagen"),
        (12, 26, "Annandag jul"),
        (12, 31, "Nyårsafton"),
    ];
    // Days counted from Easter Sunday.
    const MOVABLE: [(i64, &str); 6] = [
        (-2, "Långfredagen"),
        (-1, "Påskafton"),
        (0, "Påskdagen"),
        (1, "Annandag påsk"),
        (39, "Kristi himmelsfärdsdag"),
        (49, "Pingstdagen"),
    ];
    // The first given weekday on or after a date: each falls within a fixed seven-day window.
    const FLOATING: [(u32, u32, Weekday, &str); 3] = [
        (6, 19, Weekday::Fri, "Midsommarafton"),
        (6, 20, Weekday::Sat, "Midsommardagen"),
        (10, 31, Weekday::Sat, "Alla helgons dag"),
    ];

    let mut days: Vec<(NaiveDate, &'static str)> = FIXED
        .iter()
        .filter_map(|&(month, day, name)| Some((NaiveDate::from_ymd_opt(year, month, day)?, name)))
        .collect();
    if let Some(easter) = easter_sunday(year) {
        days.extend(MOVABLE.iter().filter_map(|&(offset, name)| {
            Some((
                easter.checked_add_signed(TimeDelta::try_days(offset)?)?,
                name,
            ))
        }));
    }
    days.extend(FLOATING.iter().filter_map(|&(month, day, weekday, name)| {
        let window_start = NaiveDate::from_ymd_opt(year, month, day)?;
        Some((first_on_or_after(window_start, weekday)?, name))
    }));
    // Stable sort, so holidays sharing a date keep the order of the tables above.
    days.sort_by_key(|&(date, _)| date);
    days
}

/// True for Monday–Friday that is not in `holidays(year)`.
pub fn is_working_day(date: NaiveDate) -> bool {
    WorkingCalendar::default().is_working_day(date)
}

/// Easter Sunday (Gregorian computus) for a year.
///
/// Uses the anonymous Gregorian algorithm (Meeus/Jones/Butcher), applied proleptically to years
/// before 1583 as chrono's calendar is. `None` only when the date is outside chrono's range.
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    // Euclidean division keeps the algorithm valid for negative (proleptic) years too.
    let y = i64::from(year);
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let n = h + l - 7 * m + 114;
    let month = u32::try_from(n.div_euclid(31)).ok()?;
    let day = u32::try_from(n.rem_euclid(31) + 1).ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// How long a deadline runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Span {
    /// Calendar hours from the moment of submission (used for critical tips: the clock never stops).
    Hours(u32),
    /// Ends at 17:00 Europe/Stockholm on the Nth working day after the day of submission (local date).
    WorkingDays(u32),
    /// Calendar days from the moment of submission.
    Days(u32),
    /// Calendar months from the moment of submission (same day-of-month, clamped to the month's last day), local time kept.
    Months(u32),
}

/// The moment a deadline of `span` falls due for something submitted at `start`.
///
/// A deadline too far in the future for chrono to represent saturates to
/// `DateTime::<Utc>::MAX_UTC`: it is effectively "never", and panicking or wrapping around to
/// an early date would be worse for a case waiting in the queue.
pub fn due(start: DateTime<Utc>, span: Span) -> DateTime<Utc> {
    let deadline = match span {
        Span::Hours(hours) => {
            TimeDelta::try_hours(i64::from(hours)).and_then(|d| start.checked_add_signed(d))
        }
        Span::Days(days) => {
            TimeDelta::try_days(i64::from(days)).and_then(|d| start.checked_add_signed(d))
        }
        Span::WorkingDays(count) => {
            let local = start.with_timezone(&Stockholm);
            nth_working_day(local.date_naive(), local.time(), count)
                .and_then(|date| stockholm_to_utc(date.and_time(CLOSE_OF_BUSINESS)))
        }
        // Zero months is the start itself. Going through local time would move an instant in
        // the repeated autumn hour to its first occurrence.
        Span::Months(0) => Some(start),
        Span::Months(months) => start
            .with_timezone(&Stockholm)
            .naive_local()
            // Clamps to the last day of a shorter month (31 Jan + 1 month = 28/29 Feb).
            .checked_add_months(Months::new(months))
            .and_then(stockholm_to_utc),
    };
    deadline.unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The local date on which a `WorkingDays(count)` deadline ends, for a submission at
/// `date`/`time` local time.
fn nth_working_day(date: NaiveDate, time: NaiveTime, count: u32) -> Option<NaiveDate> {
    let mut calendar = WorkingCalendar::default();
    // Zero working days means "by close of business today", which is only possible if today is
    // a working day and the office has not closed yet; otherwise it is the next working day.
    if count == 0 && calendar.is_working_day(date) && time < CLOSE_OF_BUSINESS {
        return Some(date);
    }
    // The submission day never counts: a tip arriving at 08:00 still gets the full N days after.
    let mut day = date;
    let mut counted = 0;
    while counted < count.max(1) {
        day = day.succ_opt()?;
        if calendar.is_working_day(day) {
            counted += 1;
        }
    }
    Some(day)
}

/// Stockholm wall time to a UTC instant.
///
/// When the clocks go back the wall time happens twice; the earlier instant is used, so a
/// deadline is never later than the wall time promised. When the clocks go forward the wall time
/// does not exist; it is read with the offset in force before the jump, which gives the later
/// valid instant the same distance past the gap (02:30 on the spring-forward night becomes
/// 03:30 summer time), so a deadline is never moved earlier.
fn stockholm_to_utc(local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match Stockholm.from_local_datetime(&local) {
        LocalResult::Single(instant) => Some(instant.to_utc()),
        LocalResult::Ambiguous(earliest, _) => Some(earliest.to_utc()),
        LocalResult::None => {
            // A day earlier is safely before the transition, and Stockholm changes offset at
            // most twice a year, so this is the offset that applied just before the gap.
            let before_gap = local.checked_sub_signed(TimeDelta::try_days(1)?)?;
            let offset = Stockholm.offset_from_utc_datetime(&before_gap).fix();
            Some(local.checked_sub_offset(offset)?.and_utc())
        }
    }
}

/// The first `weekday` on or after `date`.
fn first_on_or_after(date: NaiveDate, weekday: Weekday) -> Option<NaiveDate> {
    let ahead = (7 + weekday.num_days_from_monday() - date.weekday().num_days_from_monday()) % 7;
    date.checked_add_days(Days::new(u64::from(ahead)))
}

/// Working-day test that keeps one year's holidays, so stepping through many days does not
/// rebuild the list for every day.
#[derive(Default)]
struct WorkingCalendar {
    year: Option<(i32, Vec<NaiveDate>)>,
}

impl WorkingCalendar {
    fn is_working_day(&mut self, date: NaiveDate) -> bool {
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            return false;
        }
        let year = date.year();
        let holidays = match &mut self.year {
            Some((cached, dates)) if *cached == year => dates,
            slot => {
                let dates = holidays(year).into_iter().map(|(d, _)| d).collect();
                &mut slot.insert((year, dates)).1
            }
        };
        !holidays.contains(&date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// An unambiguous Stockholm wall time as a UTC instant.
    fn sthlm(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Stockholm
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
            .to_utc()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap()
    }

    #[test]
    fn easter_sunday_matches_known_dates() {
        let cases = [
            (2024, date(2024, 3, 31)),
            (2025, date(2025, 4, 20)),
            (2026, date(2026, 4, 5)),
            (2027, date(2027, 3, 28)),
            (2038, date(2038, 4, 25)),
            // The earliest possible Easter (22 March) and a year ending in 00.
            (2285, date(2285, 3, 22)),
            (2000, date(2000, 4, 23)),
        ];
        for (year, expected) in cases {
            assert_eq!(easter_sunday(year), Some(expected), "Easter {year}");
            assert_eq!(expected.weekday(), Weekday::Sun);
        }
    }

    #[test]
    fn easter_sunday_outside_chrono_range_is_none() {
        assert_eq!(easter_sunday(i32::MAX), None);
        assert!(holidays(i32::MAX).is_empty());
    }

    #[test]
    fn holidays_2026() {
        let days = holidays(2026);
        assert_eq!(days.len(), 17);
        assert!(days.windows(2).all(|w| w[0].0 <= w[1].0), "sorted");
        let expected = [
            (date(2026, 1, 1), "Nyårsdagen"),
            (date(2026, 1, 6), "Trettondedag jul"),
            (date(2026, 4, 3), "Långfredagen"),
            (date(2026, 4, 4), "Påskafton"),
            (date(2026, 4, 5), "Påskdagen"),
            (date(2026, 4, 6), "Annandag påsk"),
            (date(2026, 5, 1), "Första maj"),
            (date(2026, 5, 14), "Kristi himmelsfärdsdag"),
            (date(2026, 5, 24), "Pingstdagen"),
            (date(2026, 6, 6), "Sveriges nationaldag"),
            (date(2026, 6, 19), "Midsommarafton"),
            (date(2026, 6, 20), "Midsommardagen"),
            (date(2026, 10, 31), "Alla helgons dag"),
            (date(2026, 12, 24), "Julafton"),
            (date(2026, 12, 25), "Juldagen"),
            (date(2026, 12, 26), "Annandag jul"),
            (date(2026, 12, 31), "Nyårsafton"),
        ];
        assert_eq!(days, expected);
    }

    #[test]
    fn holidays_2027_floating_days() {
        let days = holidays(2027);
        assert_eq!(days.len(), 17);
        for entry in [
            (date(2027, 6, 25), "Midsommarafton"),
            (date(2027, 6, 26), "Midsommardagen"),
            (date(2027, 11, 6), "Alla helgons dag"),
            (date(2027, 3, 26), "Långfredagen"),
        ] {
            assert!(days.contains(&entry), "{entry:?} missing");
        }
    }

    #[test]
    fn holidays_sharing_a_date_are_both_listed() {
        // Easter 2008 was 23 March, so Ascension Day fell on 1 May.
        let days = holidays(2008);
        assert_eq!(days.len(), 17);
        let may_first: Vec<_> = days
            .iter()
            .filter(|(d, _)| *d == date(2008, 5, 1))
            .collect();
        assert_eq!(
            may_first,
            [
                &(date(2008, 5, 1), "Första maj"),
                &(date(2008, 5, 1), "Kristi himmelsfärdsdag")
            ]
        );
    }

    #[test]
    fn working_days() {
        let cases = [
            (date(2026, 11, 17), true, "ordinary Tuesday"),
            (date(2026, 11, 20), true, "ordinary Friday"),
            (date(2026, 11, 21), false, "Saturday"),
            (date(2026, 11, 22), false, "Sunday"),
            (date(2026, 4, 3), false, "Långfredagen"),
            (date(2026, 4, 6), false, "Annandag påsk"),
            (date(2026, 5, 14), false, "Kristi himmelsfärdsdag"),
            (date(2026, 6, 19), false, "Midsommarafton"),
            (date(2026, 12, 24), false, "Julafton"),
            (date(2026, 12, 31), false, "Nyårsafton"),
            (date(2027, 1, 6), false, "Trettondedag jul"),
            (date(2027, 1, 7), true, "Thursday after Trettondedag jul"),
        ];
        for (day, expected, what) in cases {
            assert_eq!(is_working_day(day), expected, "{day} ({what})");
        }
    }

    #[test]
    fn due_working_days() {
        let cases = [
            (
                "Friday afternoon: the weekend is skipped",
                sthlm(2026, 11, 20, 15, 0),
                1,
                sthlm(2026, 11, 23, 17, 0),
            ),
            (
                "Thursday before Easter: Good Friday to Easter Monday skipped",
                sthlm(2026, 4, 2, 10, 0),
                1,
                sthlm(2026, 4, 7, 17, 0),
            ),
            (
                "23 December: 24, 25, 26 Dec and the weekend skipped",
                sthlm(2026, 12, 23, 9, 0),
                1,
                sthlm(2026, 12, 28, 17, 0),
            ),
            (
                "a working week from Monday morning: the submission day does not count",
                sthlm(2026, 11, 16, 8, 0),
                5,
                sthlm(2026, 11, 23, 17, 0),
            ),
            // Saturday is not a working day and the submission day never counts anyway; the
            // first working day after it is Monday, which is day 1.
            (
                "Saturday submission: Monday is day 1",
                sthlm(2026, 11, 21, 11, 0),
                1,
                sthlm(2026, 11, 23, 17, 0),
            ),
            (
                "Thursday before midsummer: Midsommarafton and the weekend skipped",
                sthlm(2026, 6, 18, 12, 0),
                1,
                sthlm(2026, 6, 22, 17, 0),
            ),
            (
                "across New Year: Nyårsafton, Nyårsdagen, the weekend and Trettondedag skipped",
                sthlm(2026, 12, 30, 10, 0),
                3,
                sthlm(2027, 1, 7, 17, 0),
            ),
            // 00:30 Tuesday in Stockholm is still Monday in UTC; the local date decides.
            (
                "just after local midnight: the local date is the submission day",
                sthlm(2026, 11, 17, 0, 30),
                1,
                sthlm(2026, 11, 18, 17, 0),
            ),
        ];
        for (what, start, n, expected) in cases {
            assert_eq!(due(start, Span::WorkingDays(n)), expected, "{what}");
        }
    }

    #[test]
    fn due_zero_working_days_means_close_of_business() {
        let cases = [
            (
                "working day, morning",
                sthlm(2026, 11, 17, 10, 0),
                sthlm(2026, 11, 17, 17, 0),
            ),
            (
                "working day, one minute before closing",
                sthlm(2026, 11, 17, 16, 59),
                sthlm(2026, 11, 17, 17, 0),
            ),
            (
                "working day, at closing",
                sthlm(2026, 11, 17, 17, 0),
                sthlm(2026, 11, 18, 17, 0),
            ),
            (
                "Friday evening",
                sthlm(2026, 11, 20, 18, 0),
                sthlm(2026, 11, 23, 17, 0),
            ),
            (
                "Saturday",
                sthlm(2026, 11, 21, 9, 0),
                sthlm(2026, 11, 23, 17, 0),
            ),
            (
                "Julafton morning",
                sthlm(2026, 12, 24, 9, 0),
                sthlm(2026, 12, 28, 17, 0),
            ),
        ];
        for (what, start, expected) in cases {
            assert_eq!(due(start, Span::WorkingDays(0)), expected, "{what}");
        }
    }

    #[test]
    fn due_working_days_keeps_wall_time_across_dst() {
        // Clocks go back on Sunday 25 October 2026: submitted at 12:00 summer time (10:00 UTC),
        // due at 17:00 winter time, which is 16:00 UTC rather than 15:00.
        let start = sthlm(2026, 10, 23, 12, 0);
        assert_eq!(start, utc(2026, 10, 23, 10, 0));
        let deadline = due(start, Span::WorkingDays(1));
        assert_eq!(deadline, utc(2026, 10, 26, 16, 0));
        assert_eq!(deadline.with_timezone(&Stockholm).time(), CLOSE_OF_BUSINESS);

        // Clocks go forward on Sunday 29 March 2026: 17:00 summer time is 15:00 UTC.
        let deadline = due(sthlm(2026, 3, 27, 12, 0), Span::WorkingDays(1));
        assert_eq!(deadline, utc(2026, 3, 30, 15, 0));
    }

    #[test]
    fn due_hours_is_elapsed_time() {
        // Clocks go forward at 01:00 UTC on 29 March 2026; four real hours are still four hours,
        // although the Stockholm wall clock moves five (01:30 -> 06:30).
        let start = utc(2026, 3, 29, 0, 30);
        let deadline = due(start, Span::Hours(4));
        assert_eq!(deadline, utc(2026, 3, 29, 4, 30));
        assert_eq!(deadline - start, TimeDelta::hours(4));
        assert_eq!(
            deadline.with_timezone(&Stockholm).naive_local(),
            date(2026, 3, 29).and_hms_opt(6, 30, 0).unwrap()
        );
        assert_eq!(due(start, Span::Hours(0)), start);
    }

    #[test]
    fn due_days_is_elapsed_time() {
        let start = sthlm(2026, 11, 20, 15, 0);
        assert_eq!(due(start, Span::Days(7)), sthlm(2026, 11, 27, 15, 0));
        // Across the spring change the span stays 7 × 24 h, so the wall time moves an hour.
        let start = utc(2026, 3, 25, 12, 0);
        let deadline = due(start, Span::Days(7));
        assert_eq!(deadline, utc(2026, 4, 1, 12, 0));
        assert_eq!(deadline - start, TimeDelta::days(7));
    }

    #[test]
    fn due_months_keeps_local_wall_time() {
        let cases = [
            (
                "clamped to the end of February",
                sthlm(2026, 11, 30, 10, 15),
                3,
                sthlm(2027, 2, 28, 10, 15),
            ),
            (
                "31 January + 1 month in a leap year",
                sthlm(2028, 1, 31, 9, 0),
                1,
                sthlm(2028, 2, 29, 9, 0),
            ),
            (
                "leap day + 12 months",
                sthlm(2028, 2, 29, 9, 0),
                12,
                sthlm(2029, 2, 28, 9, 0),
            ),
            (
                "winter to summer time: wall time kept, UTC moves",
                sthlm(2026, 1, 15, 9, 0),
                3,
                utc(2026, 4, 15, 7, 0),
            ),
            (
                "into the spring-forward gap: the later valid instant (03:30 summer time)",
                sthlm(2026, 1, 29, 2, 30),
                2,
                utc(2026, 3, 29, 1, 30),
            ),
            (
                "into the repeated autumn hour: the earlier instant (02:30 summer time)",
                sthlm(2026, 9, 25, 2, 30),
                1,
                utc(2026, 10, 25, 0, 30),
            ),
        ];
        for (what, start, n, expected) in cases {
            assert_eq!(due(start, Span::Months(n)), expected, "{what}");
        }
    }

    #[test]
    fn due_zero_months_is_the_start_even_in_the_repeated_hour() {
        // 02:30 winter time on 25 October 2026, the second time the clock shows 02:30.
        let start = utc(2026, 10, 25, 1, 30);
        assert_eq!(due(start, Span::Months(0)), start);
    }

    #[test]
    fn due_saturates_when_out_of_range() {
        let start = utc(2026, 1, 1, 0, 0);
        for span in [
            Span::Hours(u32::MAX),
            Span::Days(u32::MAX),
            Span::Months(u32::MAX),
        ] {
            assert_eq!(due(start, span), DateTime::<Utc>::MAX_UTC, "{span:?}");
        }
    }

    #[test]
    fn span_serde_uses_snake_case() {
        let json = serde_json::to_string(&Span::WorkingDays(5)).unwrap();
        assert_eq!(json, r#"{"working_days":5}"#);
        let back: Span = serde_json::from_str(r#"{"hours":4}"#).unwrap();
        assert_eq!(back, Span::Hours(4));
    }
}
