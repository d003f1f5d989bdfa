//! Team digests of normal and low tips. Each such tip is recorded in
//! `notification_digest_entries` in its submission statement; at every configured slot
//! (e.g. 07:00 and 13:00 Europe/Stockholm) the worker turns each team's waiting entries into one
//! digest job. The job's `dedupe_key` (team + slot) makes that idempotent, so any number of
//! workers create each digest once; a slot missed while no worker ran is caught up at start.

use chrono::{DateTime, Days, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::sql_types::{Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// The digest schedule: local times in a time zone.
#[derive(Debug, Clone)]
pub struct DigestSchedule {
    pub times: Vec<NaiveTime>,
    pub timezone: Tz,
}

impl DigestSchedule {
    /// From `notify.digest_times` and `notify.timezone` (checked when settings load).
    pub fn from_settings(settings: &crate::config::NotifySettings) -> anyhow::Result<Self> {
        let timezone: Tz = settings
            .timezone
            .parse()
            .map_err(|_| anyhow::anyhow!("notify.timezone is not an IANA time zone"))?;
        let times = settings
            .digest_times
            .iter()
            .map(|t| NaiveTime::parse_from_str(t, "%H:%M"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DigestSchedule { times, timezone })
    }

    /// The most recent slot at or before `now` (none without configured times). A local time
    /// that does not exist (the spring DST gap) is taken one hour later.
    pub fn latest_slot(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let today = now.with_timezone(&self.timezone).date_naive();
        let mut best: Option<DateTime<Utc>> = None;
        for day in [today.checked_sub_days(Days::new(1)), Some(today)]
            .into_iter()
            .flatten()
        {
            for time in &self.times {
                let local = day.and_time(*time);
                let slot = self
                    .timezone
                    .from_local_datetime(&local)
                    .earliest()
                    .or_else(|| {
                        self.timezone
                            .from_local_datetime(&(local + chrono::Duration::hours(1)))
                            .earliest()
                    })
                    .map(|t| t.with_timezone(&Utc));
                if let Some(slot) = slot
                    && slot <= now
                    && best.is_none_or(|b| slot > b)
                {
                    best = Some(slot);
                }
            }
        }
        best
    }
}

/// Creates one digest job per team for the tips recorded up to `slot` and not yet in a digest,
/// and links those entries to it. Returns how many digests were created (0 when another worker
/// already made this slot's digests or nothing waits).
pub async fn enqueue_for_slot(
    conn: &mut AsyncPgConnection,
    slot: DateTime<Utc>,
) -> diesel::QueryResult<usize> {
    #[derive(diesel::QueryableByName)]
    struct Created {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        #[allow(dead_code)]
        id: uuid::Uuid,
    }
    // One statement: the insert and the linking share a snapshot, and a second worker's insert
    // waits for this one's unique key and then does nothing.
    let created: Vec<Created> = diesel::sql_query(
        "WITH teams AS (SELECT DISTINCT team FROM notification_digest_entries \
             WHERE job_id IS NULL AND created_at <= $1), \
         created AS (INSERT INTO notification_jobs (id, kind, team, payload, dedupe_key) \
             SELECT gen_random_uuid(), 'team_digest', team, jsonb_build_object('slot', $2::text), \
                 'digest:' || team || ':' || $2 FROM teams \
             ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, team), \
         linked AS (UPDATE notification_digest_entries AS entry SET job_id = created.id \
             FROM created WHERE entry.team = created.team AND entry.job_id IS NULL \
                 AND entry.created_at <= $1) \
         SELECT id FROM created",
    )
    .bind::<Timestamptz, _>(slot)
    .bind::<Text, _>(slot.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    .load(conn)
    .await?;
    Ok(created.len())
}

/// Creates the digests of the latest slot, if any are due.
pub async fn enqueue_due(
    conn: &mut AsyncPgConnection,
    schedule: &DigestSchedule,
    now: DateTime<Utc>,
) -> diesel::QueryResult<usize> {
    match schedule.latest_slot(now) {
        Some(slot) => enqueue_for_slot(conn, slot).await,
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(times: &[&str]) -> DigestSchedule {
        DigestSchedule {
            times: times
                .iter()
                .map(|t| NaiveTime::parse_from_str(t, "%H:%M").unwrap())
                .collect(),
            timezone: chrono_tz::Europe::Stockholm,
        }
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn latest_slot_is_the_last_configured_time_before_now() {
        let s = schedule(&["07:00", "13:00"]);
        // Winter (UTC+1): 07:00 local is 06:00 UTC.
        assert_eq!(
            s.latest_slot(utc("2026-11-23T10:00:00Z")),
            Some(utc("2026-11-23T06:00:00Z"))
        );
        assert_eq!(
            s.latest_slot(utc("2026-11-23T12:00:00Z")),
            Some(utc("2026-11-23T12:00:00Z"))
        );
        // Before 07:00: yesterday's 13:00.
        assert_eq!(
            s.latest_slot(utc("2026-11-23T05:59:59Z")),
            Some(utc("2026-11-22T12:00:00Z"))
        );
        // Summer (UTC+2).
        assert_eq!(
            s.latest_slot(utc("2026-07-01T05:30:00Z")),
            Some(utc("2026-07-01T05:00:00Z"))
        );
        assert_eq!(schedule(&[]).latest_slot(utc("2026-07-01T05:30:00Z")), None);
    }

    #[test]
    fn a_slot_in_the_spring_gap_moves_an_hour_later() {
        // 2026-03-29 02:30 does not exist in Stockholm; 03:30 CEST is 01:30 UTC.
        let s = schedule(&["02:30"]);
        assert_eq!(
            s.latest_slot(utc("2026-03-29T02:00:00Z")),
            Some(utc("2026-03-29T01:30:00Z"))
        );
    }
}
