//! The submission statement for several tips at once: every tip, its `submitted` event and its
//! notification jobs or digest entry, in one statement whose parameters are one array per
//! column. The statement text does not depend on how many tips there are, so it is prepared
//! once per connection like the single-tip form (`tips::InsertSubmitted`).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{
    Array, Bool, Bytea, Date, Integer, Jsonb, Nullable, SmallInt, Text, Timestamptz,
    Uuid as SqlUuid,
};
use uuid::Uuid;

use super::tips::NewTip;

/// The columns of the tips to insert, one array each, in insertion order.
pub struct InsertSubmittedMany<'a> {
    id: Vec<Uuid>,
    channel: Vec<&'a str>,
    category: Vec<&'a str>,
    care_sector: Vec<&'a str>,
    region_code: Vec<&'a str>,
    municipality_code: Vec<Option<&'a str>>,
    facility_name: Vec<Option<&'a str>>,
    care_provider: Vec<Option<&'a str>>,
    occurred_on: Vec<Option<NaiveDate>>,
    ongoing: Vec<bool>,
    description: Vec<&'a str>,
    reporter_role: Vec<&'a str>,
    outbreak: Vec<Option<&'a str>>,
    language: Vec<&'a str>,
    anonymous: Vec<bool>,
    contact_ciphertext: Vec<Option<&'a [u8]>>,
    contact_key_id: Vec<Option<&'a str>>,
    receipt_code_hash: Vec<&'a [u8]>,
    submitted_by_api_key: Vec<Option<Uuid>>,
    submitted_at: Vec<DateTime<Utc>>,
    priority: Vec<&'a str>,
    priority_rank: Vec<i16>,
    triage_score: Vec<i32>,
    team: Vec<&'a str>,
    due_at: Vec<DateTime<Utc>>,
    acknowledgement_due_at: Vec<Option<DateTime<Utc>>>,
    feedback_due_at: Vec<DateTime<Utc>>,
    triage: Vec<&'a serde_json::Value>,
    triage_config_version: Vec<&'a str>,
    facility_key: Vec<Option<&'a str>>,
    cluster_id: Vec<Option<Uuid>>,
    actor: Vec<&'a str>,
    urgent_job: Vec<Option<Uuid>>,
    acknowledgement_job: Vec<Option<Uuid>>,
    digest: Vec<bool>,
}

impl<'a> InsertSubmittedMany<'a> {
    /// `tips` and `actors` pair up by position; rows are inserted in that order.
    pub fn new(tips: &'a [NewTip<'a>], actors: &[&'a str]) -> Self {
        InsertSubmittedMany {
            id: tips.iter().map(|t| t.id).collect(),
            channel: tips.iter().map(|t| t.channel).collect(),
            category: tips.iter().map(|t| t.category).collect(),
            care_sector: tips.iter().map(|t| t.care_sector).collect(),
            region_code: tips.iter().map(|t| t.region_code).collect(),
            municipality_code: tips.iter().map(|t| t.municipality_code).collect(),
            facility_name: tips.iter().map(|t| t.facility_name).collect(),
            care_provider: tips.iter().map(|t| t.care_provider).collect(),
            occurred_on: tips.iter().map(|t| t.occurred_on).collect(),
            ongoing: tips.iter().map(|t| t.ongoing).collect(),
            description: tips.iter().map(|t| t.description).collect(),
            reporter_role: tips.iter().map(|t| t.reporter_role).collect(),
            outbreak: tips.iter().map(|t| t.outbreak).collect(),
            language: tips.iter().map(|t| t.language).collect(),
            anonymous: tips.iter().map(|t| t.anonymous).collect(),
            contact_ciphertext: tips.iter().map(|t| t.contact_ciphertext).collect(),
            contact_key_id: tips.iter().map(|t| t.contact_key_id).collect(),
            receipt_code_hash: tips.iter().map(|t| t.receipt_code_hash).collect(),
            submitted_by_api_key: tips.iter().map(|t| t.submitted_by_api_key).collect(),
            submitted_at: tips.iter().map(|t| t.submitted_at).collect(),
            priority: tips.iter().map(|t| t.triage.priority).collect(),
            priority_rank: tips.iter().map(|t| t.triage.priority_rank).collect(),
            triage_score: tips.iter().map(|t| t.triage.triage_score).collect(),
            team: tips.iter().map(|t| t.triage.team).collect(),
            due_at: tips.iter().map(|t| t.triage.due_at).collect(),
            acknowledgement_due_at: tips
                .iter()
                .map(|t| t.triage.acknowledgement_due_at)
                .collect(),
            feedback_due_at: tips.iter().map(|t| t.triage.feedback_due_at).collect(),
            triage: tips.iter().map(|t| &t.triage.hits).collect(),
            triage_config_version: tips.iter().map(|t| t.triage.config_version).collect(),
            facility_key: tips.iter().map(|t| t.triage.facility_key).collect(),
            cluster_id: tips.iter().map(|t| t.triage.cluster_id).collect(),
            actor: actors.to_vec(),
            urgent_job: tips.iter().map(|t| t.notifications.urgent_job).collect(),
            acknowledgement_job: tips
                .iter()
                .map(|t| t.notifications.acknowledgement_job)
                .collect(),
            digest: tips.iter().map(|t| t.notifications.digest).collect(),
        }
    }
}

impl QueryId for InsertSubmittedMany<'_> {
    type QueryId = InsertSubmittedMany<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for InsertSubmittedMany<'_> {
    /// Per tip: id, reference, submission time.
    type SqlType = (SqlUuid, Text, Timestamptz);
}

/// Binds one array and the separator after it.
macro_rules! bind_array {
    ($out:ident, $sql_type:ty, $values:expr) => {
        $out.push_bind_param::<Array<$sql_type>, _>($values)?;
        $out.push_sql(", ");
    };
}

impl QueryFragment<Pg> for InsertSubmittedMany<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH input AS (SELECT * FROM unnest(");
        bind_array!(out, SqlUuid, &self.id);
        bind_array!(out, Text, &self.channel);
        bind_array!(out, Text, &self.category);
        bind_array!(out, Text, &self.care_sector);
        bind_array!(out, Text, &self.region_code);
        bind_array!(out, Nullable<Text>, &self.municipality_code);
        bind_array!(out, Nullable<Text>, &self.facility_name);
        bind_array!(out, Nullable<Text>, &self.care_provider);
        bind_array!(out, Nullable<Date>, &self.occurred_on);
        bind_array!(out, Bool, &self.ongoing);
        bind_array!(out, Text, &self.description);
        bind_array!(out, Text, &self.reporter_role);
        bind_array!(out, Nullable<Text>, &self.outbreak);
        bind_array!(out, Text, &self.language);
        bind_array!(out, Bool, &self.anonymous);
        bind_array!(out, Nullable<Bytea>, &self.contact_ciphertext);
        bind_array!(out, Nullable<Text>, &self.contact_key_id);
        bind_array!(out, Bytea, &self.receipt_code_hash);
        bind_array!(out, Nullable<SqlUuid>, &self.submitted_by_api_key);
        bind_array!(out, Timestamptz, &self.submitted_at);
        bind_array!(out, Text, &self.priority);
        bind_array!(out, SmallInt, &self.priority_rank);
        bind_array!(out, Integer, &self.triage_score);
        bind_array!(out, Text, &self.team);
        bind_array!(out, Timestamptz, &self.due_at);
        bind_array!(out, Nullable<Timestamptz>, &self.acknowledgement_due_at);
        bind_array!(out, Timestamptz, &self.feedback_due_at);
        bind_array!(out, Jsonb, &self.triage);
        bind_array!(out, Text, &self.triage_config_version);
        bind_array!(out, Nullable<Text>, &self.facility_key);
        bind_array!(out, Nullable<SqlUuid>, &self.cluster_id);
        bind_array!(out, Text, &self.actor);
        bind_array!(out, Nullable<SqlUuid>, &self.urgent_job);
        bind_array!(out, Nullable<SqlUuid>, &self.acknowledgement_job);
        out.push_bind_param::<Array<Bool>, _>(&self.digest)?;
        out.push_sql(
            ") WITH ORDINALITY AS i (id, channel, category, care_sector, region_code, \
             municipality_code, facility_name, care_provider, occurred_on, ongoing, description, \
             reporter_role, outbreak, language, anonymous, contact_ciphertext, contact_key_id, \
             receipt_code_hash, submitted_by_api_key, submitted_at, priority, priority_rank, \
             triage_score, team, due_at, acknowledgement_due_at, feedback_due_at, triage, \
             triage_config_version, facility_key, cluster_id, actor, urgent_job, \
             acknowledgement_job, digest, position)), \
             new_tip AS (INSERT INTO tips (id, reference, channel, category, care_sector, \
             region_code, municipality_code, facility_name, care_provider, occurred_on, ongoing, \
             description, reporter_role, outbreak, language, anonymous, contact_ciphertext, \
             contact_key_id, receipt_code_hash, submitted_by_api_key, submitted_at, priority, \
             priority_rank, triage_score, team, due_at, acknowledgement_due_at, feedback_due_at, \
             triage, triage_config_version, facility_key, cluster_id) \
             SELECT id, next_tip_reference(now()), channel, category, care_sector, region_code, \
             municipality_code, facility_name, care_provider, occurred_on, ongoing, description, \
             reporter_role, outbreak, language, anonymous, contact_ciphertext, contact_key_id, \
             receipt_code_hash, submitted_by_api_key, submitted_at, priority, priority_rank, \
             triage_score, team, due_at, acknowledgement_due_at, feedback_due_at, triage, \
             triage_config_version, facility_key, cluster_id FROM input ORDER BY position \
             RETURNING id, reference, submitted_at, channel, priority, team), \
             submitted_event AS (INSERT INTO tip_events (tip_id, kind, actor, data) \
             SELECT n.id, 'submitted', i.actor, \
             jsonb_build_object('channel', n.channel, 'priority', n.priority, 'team', n.team) \
             FROM new_tip n JOIN input i ON i.id = n.id ORDER BY i.position), \
             jobs AS (INSERT INTO notification_jobs (id, kind, tip_id, team) \
             SELECT job.id, job.kind, n.id, n.team FROM new_tip n JOIN input i ON i.id = n.id \
             CROSS JOIN LATERAL (VALUES (i.urgent_job, 'urgent_tip'), \
             (i.acknowledgement_job, 'reporter_ack')) AS job (id, kind) \
             WHERE job.id IS NOT NULL), \
             digest_entry AS (INSERT INTO notification_digest_entries (tip_id, team) \
             SELECT n.id, n.team FROM new_tip n JOIN input i ON i.id = n.id WHERE i.digest) \
             SELECT id, reference, submitted_at FROM new_tip",
        );
        Ok(())
    }
}
