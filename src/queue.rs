//! The triage queue as a capability shared by the REST API and the inspector pages: its
//! parameters (parsed with field-level errors), the principal's scope, and one page.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use diesel_async::AsyncPgConnection;

use crate::auth::{Principal, TipScope, policy};
use crate::db::queue::{self, Cursor, OPEN_STATUSES, QueueFilter, QueueRow};
use crate::domain::{FieldError, Priority, TipStatus};
use crate::state::AppState;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// A parsed request for one page.
#[derive(Debug, Clone)]
pub struct QueueRequest {
    pub filter: QueueFilter,
    pub cursor: Option<Cursor>,
    pub limit: i64,
}

/// One page, already limited to what the principal may see.
pub struct Page {
    pub rows: Vec<QueueRow>,
    pub next_cursor: Option<String>,
}

/// Reads one page for `principal`: tips outside their scope are never listed.
pub async fn page_for(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    request: &QueueRequest,
    now: DateTime<Utc>,
) -> diesel::QueryResult<Page> {
    let mut filter = request.filter.clone();
    match policy::tip_scope(principal) {
        TipScope::All => {}
        TipScope::Teams(teams) => filter.teams = Some(teams),
        TipScope::None => filter.teams = Some(Vec::new()),
    }
    let (rows, more) =
        queue::page(conn, &filter, request.cursor.as_ref(), request.limit, now).await?;
    let next_cursor = if more {
        rows.last().map(|r| encode_cursor(&r.cursor()))
    } else {
        None
    };
    Ok(Page { rows, next_cursor })
}

pub fn encode_cursor(cursor: &Cursor) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}|{}|{}|{}",
        cursor.priority_rank,
        cursor.due_at.timestamp_micros(),
        cursor.submitted_at.timestamp_micros(),
        cursor.id
    ))
}

pub fn decode_cursor(text: &str) -> Option<Cursor> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
    let mut parts = raw.split('|');
    let priority_rank = parts.next()?.parse().ok()?;
    let due_at = DateTime::from_timestamp_micros(parts.next()?.parse().ok()?)?;
    let submitted_at = DateTime::from_timestamp_micros(parts.next()?.parse().ok()?)?;
    let id = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some(Cursor {
        priority_rank,
        due_at,
        submitted_at,
        id,
    })
}

/// Start of a Swedish calendar day, in UTC.
fn swedish_midnight(date: NaiveDate) -> Option<DateTime<Utc>> {
    chrono_tz::Europe::Stockholm
        .from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Parses and checks the query string; every problem is reported on its parameter.
pub fn parse(
    state: &AppState,
    pairs: &[(String, String)],
) -> Result<QueueRequest, Vec<FieldError>> {
    let mut filter = QueueFilter {
        statuses: OPEN_STATUSES.iter().map(|s| s.to_string()).collect(),
        ..QueueFilter::default()
    };
    let mut cursor = None;
    let mut limit = DEFAULT_LIMIT;
    let mut errors = Vec::new();
    let taxonomy = &state.taxonomy;
    let mut seen = std::collections::HashSet::new();
    for (key, value) in pairs {
        if !seen.insert(key.as_str()) {
            errors.push(FieldError::new(
                key.clone(),
                "repeated",
                "give each parameter once",
            ));
            continue;
        }
        let unknown = |what: &str| {
            FieldError::new(
                key.clone(),
                "unknown_code",
                format!("is not a known {what}"),
            )
        };
        match key.as_str() {
            "team" if state.triage.team(value).is_some() => filter.team = Some(value.clone()),
            "team" => errors.push(unknown("team")),
            "region_code" if taxonomy.has_region(value) => filter.region_code = Some(value.clone()),
            "region_code" => errors.push(unknown("region code")),
            "category" if taxonomy.has_category(value) => filter.category = Some(value.clone()),
            "category" => errors.push(unknown("category")),
            "care_sector" if taxonomy.has_care_sector(value) => {
                filter.care_sector = Some(value.clone())
            }
            "care_sector" => errors.push(unknown("care sector")),
            "priority" if Priority::parse(value).is_some() => filter.priority = Some(value.clone()),
            "priority" => errors.push(unknown("priority (critical, high, normal, low)")),
            "status" => {
                let mut statuses = Vec::new();
                for part in value.split(',') {
                    match part.trim() {
                        "open" => statuses.extend(OPEN_STATUSES.iter().map(|s| s.to_string())),
                        "all" => statuses.extend(
                            ["new", "in_review", "awaiting_reporter", "closed"].map(String::from),
                        ),
                        s if TipStatus::parse(s).is_some() => statuses.push(s.to_owned()),
                        _ => errors.push(unknown(
                            "status (new, in_review, awaiting_reporter, closed, open, all)",
                        )),
                    }
                }
                statuses.sort();
                statuses.dedup();
                if !statuses.is_empty() {
                    filter.statuses = statuses;
                }
            }
            "overdue" => match value.as_str() {
                "true" => filter.overdue = Some(true),
                "false" => filter.overdue = Some(false),
                _ => errors.push(FieldError::new(
                    key.clone(),
                    "invalid_type",
                    "must be true or false",
                )),
            },
            "cluster" => match value.parse() {
                Ok(id) => filter.cluster = Some(id),
                Err(_) => errors.push(FieldError::new(
                    key.clone(),
                    "invalid_type",
                    "must be a cluster id (UUID)",
                )),
            },
            "submitted_from" | "submitted_to" => {
                let parsed = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok();
                let bound = match (key.as_str(), parsed) {
                    ("submitted_from", Some(date)) => {
                        swedish_midnight(date).map(|t| filter.submitted_from = Some(t))
                    }
                    (_, Some(date)) => date
                        .succ_opt()
                        .and_then(swedish_midnight)
                        .map(|t| filter.submitted_before = Some(t)),
                    _ => None,
                };
                if bound.is_none() {
                    errors.push(FieldError::new(
                        key.clone(),
                        "invalid_date",
                        "must be a date written YYYY-MM-DD",
                    ));
                }
            }
            "q" => {
                let text = value.trim();
                if text.is_empty() || text.chars().count() > 200 || text.contains('\0') {
                    errors.push(FieldError::new(
                        key.clone(),
                        "invalid",
                        "must be 1 to 200 characters",
                    ));
                } else {
                    filter.text = Some(text.to_owned());
                }
            }
            "limit" => match value.parse::<i64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => limit = n,
                _ => errors.push(FieldError::new(
                    key.clone(),
                    "out_of_range",
                    format!("must be 1 to {MAX_LIMIT}"),
                )),
            },
            "cursor" => match decode_cursor(value) {
                Some(c) => cursor = Some(c),
                None => errors.push(FieldError::new(
                    key.clone(),
                    "invalid",
                    "is not a cursor from a previous page",
                )),
            },
            _ => errors.push(FieldError::new(
                key.clone(),
                "unknown_field",
                "is not a parameter of this request",
            )),
        }
    }
    if let (Some(from), Some(before)) = (filter.submitted_from, filter.submitted_before)
        && before <= from
    {
        errors.push(FieldError::new(
            "submitted_to",
            "before_from",
            "must not be before submitted_from",
        ));
    }
    if errors.is_empty() {
        Ok(QueueRequest {
            filter,
            cursor,
            limit,
        })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = Cursor {
            priority_rank: 1,
            due_at: DateTime::from_timestamp_micros(1_795_000_000_123_456).unwrap(),
            submitted_at: DateTime::from_timestamp_micros(1_794_000_000_000_001).unwrap(),
            id: Uuid::now_v7(),
        };
        assert_eq!(decode_cursor(&encode_cursor(&cursor)), Some(cursor));
        for bad in ["", "abc", "MXwyfDN8NA", "not base64!"] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }
}
