//! AWS cron expressions (aws-behaviour §5.2, EventBridge cron reference R-EB-CRON).
//!
//! `cron(Minutes Hours Day-of-month Month Day-of-week Year)`, with `, - * /` in
//! every field, `?` `L` `W` in day-of-month, `?` `L` `#` in day-of-week,
//! `JAN`–`DEC` and `SUN`–`SAT` (1 = SUN), ranges that wrap (`20-2`), and
//! exactly one of the two day fields set to `?`. Application Auto Scaling also
//! accepts a leading seconds field (R-AAS-CRON); AWS does not guarantee the
//! second, and neither do we: a 7-field expression fires at minute resolution.
//!
//! This module matches *civil* (wall-clock) times only; time zones and DST are
//! the caller's business (`schedule::Schedule`).

use jiff::civil::{Date, DateTime, Weekday};

/// A parsed cron expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    months: u16,
    years: [u64; 4],
    day_of_month: DayOfMonth,
    day_of_week: DayOfWeek,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum DayOfMonth {
    Any,
    Days(u32),
    Last,
    NearestWeekday(u8),
    LastWeekday,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum DayOfWeek {
    Any,
    /// Bit `d` set for AWS day number `d` (1 = SUN … 7 = SAT).
    Days(u8),
    /// `6L`: the last given weekday of the month.
    Last(u8),
    /// `3#2`: the nth given weekday of the month.
    Nth(u8, u8),
}

/// Why a cron expression was rejected. The text names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(pub String);

const FIRST_YEAR: i16 = 1970;
const LAST_YEAR: i16 = 2199;

const MONTH_NAMES: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// Whether a range may wrap past the maximum (`20-2` hours, `FRI-MON`):
    /// every field but the year is a cycle.
    cyclic: bool,
}

const MINUTES: FieldSpec = FieldSpec { name: "minutes", min: 0, max: 59, names: &[], cyclic: true };
const HOURS: FieldSpec = FieldSpec { name: "hours", min: 0, max: 23, names: &[], cyclic: true };
const DOM: FieldSpec = FieldSpec { name: "day-of-month", min: 1, max: 31, names: &[], cyclic: true };
const MONTHS: FieldSpec = FieldSpec { name: "month", min: 1, max: 12, names: &MONTH_NAMES, cyclic: true };
const DOW: FieldSpec = FieldSpec { name: "day-of-week", min: 1, max: 7, names: &DAY_NAMES, cyclic: true };
const YEARS: FieldSpec =
    FieldSpec { name: "year", min: FIRST_YEAR as u32, max: LAST_YEAR as u32, names: &[], cyclic: false };
const SECONDS: FieldSpec = FieldSpec { name: "seconds", min: 0, max: 59, names: &[], cyclic: true };

impl Cron {
    /// Parses the fields inside `cron(...)`.
    ///
    /// # Errors
    /// [`CronError`] naming the field and the rule it breaks.
    pub fn parse(fields: &str) -> Result<Self, CronError> {
        let parts: Vec<&str> = fields.split_whitespace().collect();
        let parts: &[&str] = match parts.len() {
            6 => &parts,
            7 => {
                // Leading seconds (R-AAS-CRON): validated, then not used.
                values(parts[0], &SECONDS)?;
                &parts[1..]
            }
            n => {
                return Err(CronError(format!(
                    "cron needs 6 fields (minutes hours day-of-month month day-of-week year), found {n}"
                )))
            }
        };
        let (dom_text, dow_text) = (parts[2], parts[4]);
        match (dom_text == "?", dow_text == "?") {
            (true, true) => {
                return Err(CronError(
                    "day-of-month and day-of-week are both `?`: exactly one of them must be `?`".into(),
                ))
            }
            (false, false) => {
                return Err(CronError(format!(
                "day-of-month `{dom_text}` and day-of-week `{dow_text}` are both set: exactly one of them must be `?`"
            )))
            }
            _ => {}
        }
        let minutes = to_bits64(&values(parts[0], &MINUTES)?);
        let hours = to_bits64(&values(parts[1], &HOURS)?) as u32;
        let months = to_bits64(&values(parts[3], &MONTHS)?) as u16;
        let mut years = [0u64; 4];
        for year in values(parts[5], &YEARS)? {
            let offset = (year - FIRST_YEAR as u32) as usize;
            years[offset / 64] |= 1 << (offset % 64);
        }
        Ok(Self {
            minutes,
            hours,
            months,
            years,
            day_of_month: parse_dom(dom_text)?,
            day_of_week: parse_dow(dow_text)?,
        })
    }

    /// Whether the civil minute `t` matches (seconds are ignored).
    #[must_use]
    pub fn matches(&self, t: DateTime) -> bool {
        self.has_year(t.year())
            && self.months & (1 << t.month()) != 0
            && self.day_matches(t.date())
            && self.hours & (1 << t.hour()) != 0
            && self.minutes & (1 << t.minute()) != 0
    }

    /// The first civil minute `>= from` that matches, or `None` past 2199.
    #[must_use]
    pub fn next_civil(&self, from: DateTime) -> Option<DateTime> {
        let (mut year, mut month, mut day) = (from.year(), from.month(), from.day());
        let (mut hour, mut minute) = (from.hour(), from.minute());
        if from.second() != 0 || from.subsec_nanosecond() != 0 {
            minute += 1;
        }
        loop {
            // Normalise carries from the previous step.
            if minute > 59 {
                minute = 0;
                hour += 1;
            }
            if hour > 23 {
                hour = 0;
                day += 1;
            }
            if day > days_in_month(year, month) {
                day = 1;
                month += 1;
            }
            if month > 12 {
                month = 1;
                year += 1;
            }
            if year > LAST_YEAR {
                return None;
            }
            if !self.has_year(year) {
                (year, month, day, hour, minute) = (year + 1, 1, 1, 0, 0);
                continue;
            }
            if self.months & (1 << month) == 0 {
                (month, day, hour, minute) = (month + 1, 1, 0, 0);
                continue;
            }
            let date = Date::new(year, month, day).ok()?;
            if !self.day_matches(date) {
                (day, hour, minute) = (day + 1, 0, 0);
                continue;
            }
            if self.hours & (1 << hour) == 0 {
                (hour, minute) = (hour + 1, 0);
                continue;
            }
            if self.minutes & (1 << minute) == 0 {
                minute += 1;
                continue;
            }
            return DateTime::new(year, month, day, hour, minute, 0, 0).ok();
        }
    }

    fn has_year(&self, year: i16) -> bool {
        if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
            return false;
        }
        let offset = (year - FIRST_YEAR) as usize;
        self.years[offset / 64] & (1 << (offset % 64)) != 0
    }

    fn day_matches(&self, date: Date) -> bool {
        let last = date.last_of_month().day();
        let dom_ok = match &self.day_of_month {
            DayOfMonth::Any => true,
            DayOfMonth::Days(bits) => bits & (1 << date.day()) != 0,
            DayOfMonth::Last => date.day() == last,
            DayOfMonth::NearestWeekday(n) => {
                // `nW` never crosses into another month; a day past the end of
                // a short month (31W in April) means its last day.
                let target = (*n as i8).min(last);
                nearest_weekday(date, target) == date.day()
            }
            DayOfMonth::LastWeekday => nearest_weekday(date, last) == date.day(),
        };
        let dow = aws_day_number(date.weekday());
        let dow_ok = match &self.day_of_week {
            DayOfWeek::Any => true,
            DayOfWeek::Days(bits) => bits & (1 << dow) != 0,
            DayOfWeek::Last(d) => dow == *d && date.day() + 7 > last,
            DayOfWeek::Nth(d, n) => dow == *d && (date.day() - 1) / 7 + 1 == *n as i8,
        };
        dom_ok && dow_ok
    }
}

/// The day of `date`'s month nearest to `target` that is Monday–Friday,
/// without leaving the month.
fn nearest_weekday(date: Date, target: i8) -> i8 {
    let Ok(day) = date.with().day(target).build() else {
        return target;
    };
    let last = date.last_of_month().day();
    match day.weekday() {
        Weekday::Saturday if target == 1 => 3,
        Weekday::Saturday => target - 1,
        Weekday::Sunday if target == last => target - 2,
        Weekday::Sunday => target + 1,
        _ => target,
    }
}

fn aws_day_number(weekday: Weekday) -> u8 {
    weekday.to_sunday_one_offset() as u8
}

fn days_in_month(year: i16, month: i8) -> i8 {
    Date::new(year, month, 1).map(|d| d.days_in_month()).unwrap_or(31)
}

fn to_bits64(values: &[u32]) -> u64 {
    values.iter().fold(0u64, |bits, v| bits | (1u64 << v))
}

fn parse_dom(text: &str) -> Result<DayOfMonth, CronError> {
    match text {
        "?" => return Ok(DayOfMonth::Any),
        "L" => return Ok(DayOfMonth::Last),
        "LW" => return Ok(DayOfMonth::LastWeekday),
        _ => {}
    }
    if let Some(number) = text.strip_suffix('W') {
        let day = parse_number(number, &DOM)?;
        return Ok(DayOfMonth::NearestWeekday(day as u8));
    }
    if text.contains('L') || text.contains('W') || text.contains('#') {
        return Err(CronError(format!(
            "day-of-month `{text}`: `L` stands alone (or as `LW`), `W` follows a single day (`15W`), `#` belongs to day-of-week"
        )));
    }
    let bits = to_bits64(&values(text, &DOM)?) as u32;
    Ok(DayOfMonth::Days(bits))
}

fn parse_dow(text: &str) -> Result<DayOfWeek, CronError> {
    match text {
        "?" => return Ok(DayOfWeek::Any),
        // `L` alone is the last day of the week: Saturday (7).
        "L" => return Ok(DayOfWeek::Days(1 << 7)),
        _ => {}
    }
    if let Some((day, nth)) = text.split_once('#') {
        let day = parse_number(day, &DOW)?;
        let nth: u8 = nth.parse().ok().filter(|n| (1..=5).contains(n)).ok_or_else(|| {
            CronError(format!(
                "day-of-week `{text}`: the number after `#` must be 1 to 5 (only one `#` expression is allowed)"
            ))
        })?;
        return Ok(DayOfWeek::Nth(day as u8, nth));
    }
    if let Some(day) = text.strip_suffix('L') {
        let day = parse_number(day, &DOW)?;
        return Ok(DayOfWeek::Last(day as u8));
    }
    if text.contains('L') || text.contains('W') {
        return Err(CronError(format!(
            "day-of-week `{text}`: `L` stands alone or follows a single day (`6L`); `W` belongs to day-of-month"
        )));
    }
    let bits = to_bits64(&values(text, &DOW)?) as u8;
    Ok(DayOfWeek::Days(bits))
}

/// Expands one field (lists, ranges, wrapping ranges, steps, `*`) to values.
fn values(text: &str, spec: &FieldSpec) -> Result<Vec<u32>, CronError> {
    if text.is_empty() {
        return Err(CronError(format!("{} field is empty", spec.name)));
    }
    let mut out = Vec::new();
    for item in text.split(',') {
        if item == "?" {
            return Err(CronError(format!(
                "{} `{text}`: `?` is only allowed in day-of-month or day-of-week, alone",
                spec.name
            )));
        }
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    CronError(format!(
                        "{} `{item}`: the increment after `/` must be a positive whole number",
                        spec.name
                    ))
                })?;
                (range, Some(step))
            }
            None => (item, None),
        };
        let (start, end) = if range == "*" {
            (spec.min, spec.max)
        } else if let Some((a, b)) = range.split_once('-') {
            (parse_number(a, spec)?, parse_number(b, spec)?)
        } else {
            let start = parse_number(range, spec)?;
            // `5/15` runs from 5 to the field's maximum; a bare value is itself.
            (start, if step.is_some() { spec.max } else { start })
        };
        if end < start && !spec.cyclic {
            return Err(CronError(format!(
                "{} range `{range}`: the end is before the start (only cyclic fields such as hours wrap)",
                spec.name
            )));
        }
        let span = spec.max - spec.min + 1;
        // A range whose end is before its start wraps (`20-2` hours).
        let count = if end >= start { end - start + 1 } else { span - start + end + 1 };
        let step = step.unwrap_or(1);
        let mut offset = 0;
        while offset < count {
            let value = spec.min + (start - spec.min + offset) % span;
            out.push(value);
            offset += step;
        }
    }
    Ok(out)
}

fn parse_number(text: &str, spec: &FieldSpec) -> Result<u32, CronError> {
    if let Some(index) = spec.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(index as u32 + spec.min);
    }
    let value: u32 = text.parse().map_err(|_| {
        let names = if spec.names.is_empty() {
            String::new()
        } else {
            format!(" or {}–{}", spec.names[0], spec.names[spec.names.len() - 1])
        };
        CronError(format!("{} `{text}` is not a number{names}", spec.name))
    })?;
    if !(spec.min..=spec.max).contains(&value) {
        return Err(CronError(format!("{} value {value} is out of range {}–{}", spec.name, spec.min, spec.max)));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::datetime;

    fn next(expr: &str, from: DateTime) -> DateTime {
        Cron::parse(expr).unwrap().next_civil(from).unwrap()
    }

    #[test]
    fn documented_aas_examples_parse() {
        // R-AAS-CRON examples (aws-behaviour §5.2).
        for e in [
            "0 10 * * ? *",
            "15 12 * * ? *",
            "0 18 ? * MON-FRI *",
            "0 8 1 * ? *",
            "0/15 * * * ? *",
            "0/10 * ? * MON-FRI *",
            "0/5 8-17 ? * MON-FRI *",
        ] {
            Cron::parse(e).unwrap_or_else(|err| panic!("{e}: {err}"));
        }
    }

    #[test]
    fn every_five_minutes_in_business_hours_ends_at_17_55() {
        let c = Cron::parse("0/5 8-17 ? * MON-FRI *").unwrap();
        // 2026-11-20 is a Friday.
        assert_eq!(c.next_civil(datetime(2026, 11, 20, 17, 56, 0, 0)).unwrap(), datetime(2026, 11, 23, 8, 0, 0, 0));
        assert!(c.matches(datetime(2026, 11, 20, 17, 55, 0, 0)));
    }

    #[test]
    fn wrapping_hour_range_covers_midnight() {
        let c = Cron::parse("0 20-2 * * ? *").unwrap();
        for h in [20, 21, 22, 23, 0, 1, 2] {
            assert!(c.matches(datetime(2026, 1, 5, h, 0, 0, 0)), "hour {h}");
        }
        assert!(!c.matches(datetime(2026, 1, 5, 3, 0, 0, 0)));
    }

    #[test]
    fn last_friday_nth_weekday_and_nearest_weekday() {
        // 6L: last Friday of November 2026 is the 27th.
        assert_eq!(next("0 9 ? * 6L *", datetime(2026, 11, 1, 0, 0, 0, 0)), datetime(2026, 11, 27, 9, 0, 0, 0));
        // 3#2: second Tuesday of December 2026 is the 8th.
        assert_eq!(next("0 9 ? * 3#2 *", datetime(2026, 12, 1, 0, 0, 0, 0)), datetime(2026, 12, 8, 9, 0, 0, 0));
        // 1W in August 2026: the 1st is a Saturday, so Monday the 3rd.
        assert_eq!(next("0 9 1W * ? *", datetime(2026, 8, 1, 0, 0, 0, 0)), datetime(2026, 8, 3, 9, 0, 0, 0));
        // 15W in November 2026: the 15th is a Sunday, so Monday the 16th.
        assert_eq!(next("0 9 15W * ? *", datetime(2026, 11, 1, 0, 0, 0, 0)), datetime(2026, 11, 16, 9, 0, 0, 0));
        // L: last day of February 2028 (leap year).
        assert_eq!(next("0 0 L * ? *", datetime(2028, 2, 1, 0, 0, 0, 0)), datetime(2028, 2, 29, 0, 0, 0, 0));
        // LW: last weekday of May 2026 (the 31st is a Sunday) is Friday the 29th.
        assert_eq!(next("0 0 LW * ? *", datetime(2026, 5, 1, 0, 0, 0, 0)), datetime(2026, 5, 29, 0, 0, 0, 0));
    }

    #[test]
    fn steps_and_names_and_year_bounds() {
        assert_eq!(next("1/10 * * * ? *", datetime(2026, 1, 1, 0, 2, 0, 0)), datetime(2026, 1, 1, 0, 11, 0, 0));
        assert_eq!(next("0 0 1 jan,Jul ? 2027", datetime(2026, 3, 1, 0, 0, 0, 0)), datetime(2027, 1, 1, 0, 0, 0, 0));
        assert!(Cron::parse("0 0 1 1 ? 2100").unwrap().next_civil(datetime(2100, 1, 1, 0, 1, 0, 0)).is_none());
        // Seconds in `from` round up to the next minute.
        assert_eq!(next("* * * * ? *", datetime(2026, 1, 1, 0, 0, 30, 0)), datetime(2026, 1, 1, 0, 1, 0, 0));
    }

    #[test]
    fn seven_field_form_with_seconds_is_accepted() {
        assert_eq!(Cron::parse("0 0 10 * * ? *").unwrap(), Cron::parse("0 10 * * ? *").unwrap());
    }

    #[test]
    fn invalid_expressions_name_the_field_and_rule() {
        let cases = [
            ("0 10 * * * *", "exactly one of them must be `?`"),
            ("0 10 ? * ? *", "both `?`"),
            ("60 10 * * ? *", "minutes value 60 is out of range 0–59"),
            ("0 24 * * ? *", "hours value 24"),
            ("0 10 * 13 ? *", "month value 13"),
            ("0 10 ? * 8 *", "day-of-week value 8"),
            ("0 10 ? * MON-FRI 2200", "year value 2200"),
            ("0 10 * * ? 2026-2020", "year range `2026-2020`: the end is before the start"),
            ("0 10 * * ?", "needs 6 fields"),
            ("0/0 10 * * ? *", "increment after `/` must be a positive"),
            ("0 10 ? * 3#6 *", "after `#` must be 1 to 5"),
            ("x 10 * * ? *", "minutes `x` is not a number"),
            ("0 10 ? FOO * *", "month `FOO` is not a number or JAN–DEC"),
            ("0 10 L# * ? *", "day-of-month `L#`"),
        ];
        for (expr, want) in cases {
            let err = Cron::parse(expr).unwrap_err().to_string();
            assert!(err.contains(want), "{expr}: got {err:?}, want {want:?}");
        }
    }
}
