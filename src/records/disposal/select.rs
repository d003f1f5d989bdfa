//! Which tips are due for disposal at an instant, in SQL: the first-matching rule of every
//! (channel, outcome) pair is decided in Rust with `RecordsRules::rule_for` (so "first match
//! wins" has one implementation), and the pairs owned by a dispose rule are handed to one
//! static statement as arrays, with each pair's latest closure time that is due.
//!
//! Blocked from disposal (never selected): an active legal hold on the tip or its cluster, or
//! a public-records request covering the tip that is not yet decided.

use chrono::{DateTime, TimeZone, Utc};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::domain::{Channel, Outcome};
use crate::records::{RecordsRules, Removal, RuleAction};

/// The rule that decides a tip, by its (channel, outcome) key, as arrays for the SQL.
#[derive(Debug, Clone, Default)]
pub struct DueRules {
    /// `channel:outcome` of every pair a dispose rule owns.
    pub keys: Vec<String>,
    /// The latest closure that is due, per key.
    pub cutoffs: Vec<DateTime<Utc>>,
    /// The owning rule's name, per key.
    pub rules: Vec<String>,
    /// What the owning rule removes (`content` or `whole`), per key.
    pub removes: Vec<String>,
}

impl DueRules {
    /// What is due `as_of`: for every (channel, outcome) pair whose first matching rule
    /// disposes, that rule and its cut-off. Pairs a keep rule matches first are left out.
    pub fn at(rules: &RecordsRules, as_of: DateTime<Utc>) -> Self {
        let mut due = DueRules::default();
        for channel in Channel::ALL {
            for outcome in Outcome::ALL {
                let Some(rule) = rules.rule_for(outcome, channel.as_str()) else {
                    continue;
                };
                let RuleAction::Dispose { removes, .. } = rule.action else {
                    continue;
                };
                let Some(cutoff) = rule.closed_before(as_of) else {
                    continue;
                };
                due.keys
                    .push(format!("{}:{}", channel.as_str(), outcome.as_str()));
                due.cutoffs.push(cutoff);
                due.rules.push(rule.name.clone());
                due.removes.push(removes.as_str().to_owned());
            }
        }
        due
    }

    /// The latest cut-off of all: bounds the scan of the candidates' index.
    pub fn max_cutoff(&self) -> Option<DateTime<Utc>> {
        self.cutoffs.iter().max().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Closed, not disposed, and due under its own rule. `$1` max cut-off, `$2` keys, `$3` cut-offs.
/// The first condition lets the planner range-scan `tips_disposal_candidates_idx`.
pub const DUE: &str = "t.status = 'closed' AND t.disposed_at IS NULL AND t.closed_at <= $1 \
     AND t.closed_at <= ($3::timestamptz[])[array_position($2::text[], t.channel || ':' || t.outcome)]";
/// The owning rule's name (`$4`) and removal (`$5`) of a due tip.
pub const RULE: &str = "($4::text[])[array_position($2::text[], t.channel || ':' || t.outcome)]";
pub const REMOVES: &str = "($5::text[])[array_position($2::text[], t.channel || ':' || t.outcome)]";
/// An active legal hold on the tip or on its cluster.
pub const HELD: &str = "EXISTS (SELECT 1 FROM legal_holds h WHERE h.lifted_at IS NULL \
     AND (h.tip_id = t.id OR h.cluster_id = t.cluster_id))";
/// A public-records request covering the tip and not yet decided.
pub const REQUESTED: &str = "EXISTS (SELECT 1 FROM records_request_tips rt \
     JOIN records_requests r ON r.id = rt.request_id \
     WHERE rt.tip_id = t.id AND r.status <> 'decided')";
/// Whole disposal would delete a row another record refers to (a request, decided or not, and
/// its copy are records themselves; a lifted hold is the history of the hold): such tips are
/// disposed of by content instead.
pub const REFERENCED: &str = "(EXISTS (SELECT 1 FROM records_request_tips rt WHERE rt.tip_id = t.id) \
     OR EXISTS (SELECT 1 FROM legal_holds h WHERE h.tip_id = t.id))";

/// Where a keyset scan starts: before every possible closure.
pub fn scan_start() -> (DateTime<Utc>, Uuid) {
    (
        Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
        Uuid::nil(),
    )
}

/// Binds `$1`–`$5` of the fragments above.
pub fn bind_due(
    query: diesel::query_builder::SqlQuery,
    due: &DueRules,
    max_cutoff: DateTime<Utc>,
) -> diesel::query_builder::BoxedSqlQuery<'static, diesel::pg::Pg, diesel::query_builder::SqlQuery>
{
    query
        .into_boxed()
        .bind::<Timestamptz, _>(max_cutoff)
        .bind::<Array<Text>, _>(due.keys.clone())
        .bind::<Array<Timestamptz>, _>(due.cutoffs.clone())
        .bind::<Array<Text>, _>(due.rules.clone())
        .bind::<Array<Text>, _>(due.removes.clone())
}

/// Per rule: due and free to go, held, requested (a tip both held and requested counts as
/// held).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleCounts {
    pub rule: String,
    pub due: i64,
    pub held: i64,
    pub requested: i64,
}

#[derive(diesel::QueryableByName)]
struct CountRow {
    #[diesel(sql_type = Text)]
    rule: String,
    #[diesel(sql_type = BigInt)]
    due: i64,
    #[diesel(sql_type = BigInt)]
    held: i64,
    #[diesel(sql_type = BigInt)]
    requested: i64,
}

/// What is due, and what is blocked, per rule (rules with nothing due are absent).
pub async fn count(
    conn: &mut AsyncPgConnection,
    due: &DueRules,
) -> diesel::QueryResult<Vec<RuleCounts>> {
    let Some(max_cutoff) = due.max_cutoff() else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "SELECT rule, count(*) FILTER (WHERE NOT held AND NOT requested) AS due, \
                count(*) FILTER (WHERE held) AS held, \
                count(*) FILTER (WHERE requested AND NOT held) AS requested \
         FROM (SELECT {RULE} AS rule, {HELD} AS held, {REQUESTED} AS requested \
               FROM tips t WHERE {DUE}) d \
         GROUP BY rule ORDER BY rule"
    );
    let rows: Vec<CountRow> = bind_due(diesel::sql_query(sql), due, max_cutoff)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| RuleCounts {
            rule: r.rule,
            due: r.due,
            held: r.held,
            requested: r.requested,
        })
        .collect())
}

/// A due tip as a dry run lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTip {
    pub id: Uuid,
    pub reference: String,
    pub rule: String,
    pub closed_at: DateTime<Utc>,
    /// What disposal would remove (a whole-removal rule's tip that other records refer to is
    /// disposed of by content).
    pub removes: Removal,
}

#[derive(diesel::QueryableByName)]
struct DueRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    reference: String,
    #[diesel(sql_type = Text)]
    rule: String,
    #[diesel(sql_type = Timestamptz)]
    closed_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    removes: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    referenced: bool,
}

/// Up to `limit` due tips that are free to go, in closure order after `after` (a keyset page).
pub async fn due_page(
    conn: &mut AsyncPgConnection,
    due: &DueRules,
    after: (DateTime<Utc>, Uuid),
    limit: i64,
) -> diesel::QueryResult<Vec<DueTip>> {
    let Some(max_cutoff) = due.max_cutoff() else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "SELECT t.id, t.reference, {RULE} AS rule, t.closed_at, {REMOVES} AS removes, \
                {REFERENCED} AS referenced \
         FROM tips t WHERE {DUE} AND (t.closed_at, t.id) > ($6, $7) \
           AND NOT {HELD} AND NOT {REQUESTED} \
         ORDER BY t.closed_at, t.id LIMIT $8"
    );
    let rows: Vec<DueRow> = bind_due(diesel::sql_query(sql), due, max_cutoff)
        .bind::<Timestamptz, _>(after.0)
        .bind::<SqlUuid, _>(after.1)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| DueTip {
            removes: effective_removal(&r.removes, r.referenced),
            id: r.id,
            reference: r.reference,
            rule: r.rule,
            closed_at: r.closed_at,
        })
        .collect())
}

/// What a due tip's disposal removes: its rule's removal, but content only where whole
/// removal would delete what another record refers to.
pub fn effective_removal(rule_removes: &str, referenced: bool) -> Removal {
    if rule_removes == Removal::Whole.as_str() && !referenced {
        Removal::Whole
    } else {
        Removal::Content
    }
}

/// A due, unblocked tip locked for disposal.
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct Locked {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub reference: String,
    #[diesel(sql_type = Timestamptz)]
    pub closed_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub cluster_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    pub rule: String,
    #[diesel(sql_type = Text)]
    pub removes: String,
}

/// Locks the next `limit` due, unblocked tips after `after`, skipping rows another
/// transaction holds (they are left for a later run: a run never waits on a tip in use).
pub async fn lock_batch(
    conn: &mut AsyncPgConnection,
    due: &DueRules,
    after: (DateTime<Utc>, Uuid),
    limit: i64,
) -> diesel::QueryResult<Vec<Locked>> {
    let Some(max_cutoff) = due.max_cutoff() else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "SELECT t.id, t.reference, t.closed_at, t.cluster_id, {RULE} AS rule, {REMOVES} AS removes \
         FROM tips t WHERE {DUE} AND (t.closed_at, t.id) > ($6, $7) \
           AND NOT {HELD} AND NOT {REQUESTED} \
         ORDER BY t.closed_at, t.id LIMIT $8 FOR UPDATE OF t SKIP LOCKED"
    );
    bind_due(diesel::sql_query(sql), due, max_cutoff)
        .bind::<Timestamptz, _>(after.0)
        .bind::<SqlUuid, _>(after.1)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await
}
