//! One disposal batch, one transaction: lock the next due tips, re-check what blocks them with
//! a fresh snapshot, remove their content (or the whole tip), mark them disposed, append one
//! audit row per tip and the run's progress — all committed together or not at all, so a run
//! that dies leaves every tip either disposed of completely or untouched.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, Text, Uuid as SqlUuid};
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use uuid::Uuid;

use super::select::{self, DueRules, Locked};
use crate::audit::{self, AuditAction};
use crate::crypto::Crypto;
use crate::db::schema::disposal_runs;
use crate::records::Removal;

/// What a batch did.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Where the next batch starts: the last row locked (`None`: nothing due is left after
    /// the cursor).
    pub next: Option<(DateTime<Utc>, Uuid)>,
    /// (rule, removal) of every tip disposed of. Tips locked but left alone (blocked after
    /// all, or their cluster in use) are left for a later run.
    pub disposed: Vec<(String, Removal)>,
}

/// Who runs the batch and which run it belongs to.
pub struct RunContext<'a> {
    pub run_id: Uuid,
    pub actor: &'a str,
}

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// Disposes of the next `limit` due tips after `after`.
pub async fn batch(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    due: &DueRules,
    after: (DateTime<Utc>, Uuid),
    limit: i64,
    run: &RunContext<'_>,
) -> diesel::QueryResult<BatchOutcome> {
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        let locked = select::lock_batch(conn, due, after, limit).await?;
        let mut outcome = BatchOutcome {
            next: locked.last().map(|t| (t.closed_at, t.id)),
            ..BatchOutcome::default()
        };
        if locked.is_empty() {
            return Ok(outcome);
        }
        let free = still_free(conn, &locked).await?;
        if free.is_empty() {
            return Ok(outcome);
        }
        let referenced = referenced(conn, &free).await?;
        let (whole, content): (Vec<&Locked>, Vec<&Locked>) = free.iter().partition(|t| {
            select::effective_removal(&t.removes, referenced.contains(&t.id)) == Removal::Whole
        });
        remove_content(conn, &content).await?;
        remove_whole(conn, &whole).await?;

        let details: Vec<(Uuid, serde_json::Value, String, Removal)> = content
            .iter()
            .map(|t| (*t, Removal::Content))
            .chain(whole.iter().map(|t| (*t, Removal::Whole)))
            .map(|(t, removes)| {
                let detail = json!({
                    "rule": t.rule,
                    "reference": t.reference,
                    "removes": removes.as_str(),
                    "run": run.run_id,
                });
                (t.id, detail, t.rule.clone(), removes)
            })
            .collect();
        let entries: Vec<audit::Entry<'_>> = details
            .iter()
            .map(|(id, detail, _, _)| audit::Entry {
                actor: run.actor,
                action: AuditAction::DisposeTip,
                tip_id: Some(*id),
                detail: detail.clone(),
                request_id: None,
            })
            .collect();
        // Last: the chain's lock is held from here to the commit, so it is held briefly.
        audit::record_many(conn, crypto, &entries).await?;
        let disposed = i32::try_from(details.len()).unwrap_or(i32::MAX);
        diesel::update(disposal_runs::table.find(run.run_id))
            .set(disposal_runs::disposed.eq(disposal_runs::disposed + disposed))
            .execute(conn)
            .await?;
        outcome.disposed = details
            .into_iter()
            .map(|(_, _, rule, removes)| (rule, removes))
            .collect();
        Ok(outcome)
    })
    .await
}

/// The locked tips that may still go. Their clusters are locked first (`FOR UPDATE`, which a
/// new hold's foreign-key check conflicts with), so a hold placed on a cluster now either
/// committed before the re-check below sees it or waits for this batch; a cluster some other
/// transaction uses is skipped, its tips left for a later run. Holds on the tip itself and
/// records requests covering it reference the tip row, which is already locked.
async fn still_free(
    conn: &mut AsyncPgConnection,
    locked: &[Locked],
) -> diesel::QueryResult<Vec<Locked>> {
    let clusters: Vec<Uuid> = locked
        .iter()
        .filter_map(|t| t.cluster_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut usable: HashSet<Uuid> = HashSet::new();
    if !clusters.is_empty() {
        let rows: Vec<Id> = diesel::sql_query(
            "SELECT id FROM tip_clusters WHERE id = ANY($1) FOR UPDATE SKIP LOCKED",
        )
        .bind::<Array<SqlUuid>, _>(&clusters)
        .load(conn)
        .await?;
        usable.extend(rows.into_iter().map(|r| r.id));
    }
    let ids: Vec<Uuid> = locked.iter().map(|t| t.id).collect();
    let blocked: HashSet<Uuid> = diesel::sql_query(format!(
        "SELECT t.id FROM tips t WHERE t.id = ANY($1) AND ({} OR {})",
        select::HELD,
        select::REQUESTED
    ))
    .bind::<Array<SqlUuid>, _>(&ids)
    .load::<Id>(conn)
    .await?
    .into_iter()
    .map(|r| r.id)
    .collect();
    Ok(locked
        .iter()
        .filter(|t| !blocked.contains(&t.id))
        .filter(|t| t.cluster_id.is_none_or(|c| usable.contains(&c)))
        .cloned()
        .collect())
}

/// The tips among `tips` that other records refer to (see `select::REFERENCED`).
async fn referenced(
    conn: &mut AsyncPgConnection,
    tips: &[Locked],
) -> diesel::QueryResult<HashSet<Uuid>> {
    let whole: Vec<Uuid> = tips
        .iter()
        .filter(|t| t.removes == Removal::Whole.as_str())
        .map(|t| t.id)
        .collect();
    if whole.is_empty() {
        return Ok(HashSet::new());
    }
    let rows: Vec<Id> = diesel::sql_query(format!(
        "SELECT t.id FROM tips t WHERE t.id = ANY($1) AND {}",
        select::REFERENCED
    ))
    .bind::<Array<SqlUuid>, _>(&whole)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Content disposal: the free text, the contact details, messages and files go (files kept in
/// a bucket are queued for deletion there by the `attachments` delete trigger, as every other
/// deletion path does), free text in the tip's history is blanked and notifications not yet
/// sent are dropped; the skeleton (reference, codes, facility, dates, outcome, triage, cluster,
/// receipt hash) stays, so the rollup and the situation report do not change.
async fn remove_content(conn: &mut AsyncPgConnection, tips: &[&Locked]) -> diesel::QueryResult<()> {
    if tips.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = tips.iter().map(|t| t.id).collect();
    let rules: Vec<String> = tips.iter().map(|t| t.rule.clone()).collect();
    for statement in [
        "DELETE FROM attachments WHERE tip_id = ANY($1)",
        "DELETE FROM tip_messages WHERE tip_id = ANY($1)",
        // Reasons typed with a change (and any other free text an event keeps under `reason`).
        "UPDATE tip_events SET data = data || '{\"reason\": null}'::jsonb \
         WHERE tip_id = ANY($1) AND data ->> 'reason' IS NOT NULL",
        // Pending mails would be sent about a tip without content; dead ones could be retried.
        "DELETE FROM notification_jobs WHERE tip_id = ANY($1) AND state IN ('pending', 'dead')",
        "DELETE FROM notification_digest_entries WHERE tip_id = ANY($1)",
    ] {
        diesel::sql_query(statement)
            .bind::<Array<SqlUuid>, _>(&ids)
            .execute(conn)
            .await?;
    }
    diesel::sql_query(
        "UPDATE tips t SET description = '', contact_ciphertext = NULL, contact_key_id = NULL, \
                disposed_at = now(), disposal_rule = d.rule, version = t.version + 1 \
         FROM unnest($1::uuid[], $2::text[]) AS d (id, rule) WHERE t.id = d.id",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Array<Text>, _>(&rules)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whole disposal: the row goes, with everything that cascades from it (history, messages,
/// files, notifications); tips that named it as their original lose the link. The daily rollup
/// keeps counting it: the delete trigger's decrement is added back in the same statement, so
/// the time series and the tile map stay as they were.
async fn remove_whole(conn: &mut AsyncPgConnection, tips: &[&Locked]) -> diesel::QueryResult<()> {
    if tips.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = tips.iter().map(|t| t.id).collect();
    diesel::sql_query(
        "UPDATE tips SET duplicate_of = NULL WHERE duplicate_of = ANY($1) AND NOT (id = ANY($1))",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .execute(conn)
    .await?;
    diesel::sql_query(
        "WITH gone AS (DELETE FROM tips WHERE id = ANY($1) \
                       RETURNING submitted_at, region_code, category, outbreak) \
         INSERT INTO tip_daily_counts AS c (day, region_code, category, outbreak, tips) \
         SELECT (submitted_at AT TIME ZONE 'Europe/Stockholm')::date, region_code, category, \
                coalesce(outbreak, ''), count(*) \
         FROM gone GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 \
         ON CONFLICT (day, region_code, category, outbreak) \
             DO UPDATE SET tips = c.tips + EXCLUDED.tips",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .execute(conn)
    .await?;
    Ok(())
}
