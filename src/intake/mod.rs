//! The intake capability: triages and records a validated tip — sealed contact details,
//! receipt-code hash, reference, triage result, its first event and its notification jobs. Shared by the REST API and
//! the web form. `batch` stores tips that arrive together in one transaction.

pub mod batch;

use chrono::{DateTime, Utc};
use diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncPgConnection, RunQueryDsl, TransactionManager,
};
use rand::RngCore;
use uuid::Uuid;

use crate::crypto::{Crypto, CryptoError};
use crate::db;
use crate::domain::receipt::RECEIPT_CODE_BYTES;
use crate::domain::{Channel, ReceiptCode, TipSubmission};
use crate::notify;
use crate::triage::{self, TriageInput, TriageResult, TriageRules};
/// Who submitted the tip.
pub struct Submitter {
    pub channel: Channel,
    /// The API key used, for API submissions.
    pub api_key_id: Option<Uuid>,
    /// How the submitter appears in the tip's event history.
    pub actor: String,
}

/// What the submitter gets back. `receipt_code` exists only here, never in storage.
pub struct AcceptedTip {
    pub id: Uuid,
    pub reference: String,
    pub receipt_code: ReceiptCode,
    pub anonymous: bool,
    pub submitted_at: DateTime<Utc>,
    pub triage: TriageResult,
    /// Jobs due now were enqueued with the tip: once the tip is committed the caller wakes the
    /// notification workers (`notify::wake`).
    pub enqueued_due_jobs: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("storing the tip failed")]
    Database(#[from] diesel::result::Error),
    #[error("sealing the contact details failed")]
    Crypto(#[from] CryptoError),
    #[error("no database connection: {0}")]
    Unavailable(String),
}

/// A validated tip with everything that needs no database: its id, receipt code and hash,
/// sealed contact details and facility key. Made by the request handler, stored by
/// `record_tip` or by the intake queue.
pub struct PreparedTip {
    tip: TipSubmission,
    submitter: Submitter,
    id: Uuid,
    receipt_code: ReceiptCode,
    receipt_code_hash: Vec<u8>,
    sealed_contact: Option<(String, Vec<u8>)>,
    facility_key: Option<String>,
    reporter_gave_email: bool,
}

impl PreparedTip {
    pub fn new(
        crypto: &Crypto,
        tip: TipSubmission,
        submitter: Submitter,
    ) -> Result<Self, IntakeError> {
        let id = Uuid::now_v7();
        let mut random = [0u8; RECEIPT_CODE_BYTES];
        rand::rng().fill_bytes(&mut random);
        let receipt_code = ReceiptCode::from_random_bytes(random);
        let receipt_code_hash = crypto.receipt_code_hash(&receipt_code);
        let sealed_contact = match &tip.reporter {
            Some(contact) => {
                let plaintext = serde_json::to_vec(contact).map_err(|_| CryptoError::Damaged)?;
                Some(crypto.seal(&plaintext, id.as_bytes())?)
            }
            None => None,
        };
        let reporter_gave_email = tip
            .reporter
            .as_ref()
            .is_some_and(|contact| contact.email.is_some());
        let facility_key = triage::rules::facility_key(
            tip.facility_name.as_deref(),
            tip.municipality_code.as_deref(),
        );
        Ok(PreparedTip {
            tip,
            submitter,
            id,
            receipt_code,
            receipt_code_hash,
            sealed_contact,
            facility_key,
            reporter_gave_email,
        })
    }

    /// The normalised facility name plus municipality, when the tip names a facility.
    pub fn facility_key(&self) -> Option<&str> {
        self.facility_key.as_deref()
    }

    /// What the rules see, given the time of storing and the facility's earlier tips.
    fn triage_input(
        &self,
        submitted_at: DateTime<Utc>,
        earlier_tips_at_facility: u32,
    ) -> TriageInput<'_> {
        let tip = &self.tip;
        TriageInput {
            category: &tip.category,
            care_sector: &tip.care_sector,
            region_code: &tip.region_code,
            description: &tip.description,
            facility_name: tip.facility_name.as_deref(),
            ongoing: tip.ongoing,
            identified: !tip.is_anonymous(),
            submitted_at,
            earlier_tips_at_facility,
        }
    }

    /// The row to insert, with its triage result and notification jobs.
    fn row<'a>(
        &'a self,
        result: &'a TriageResult,
        cluster_id: Option<Uuid>,
        submitted_at: DateTime<Utc>,
    ) -> db::tips::NewTip<'a> {
        let tip = &self.tip;
        db::tips::NewTip {
            id: self.id,
            channel: self.submitter.channel.as_str(),
            category: &tip.category,
            care_sector: &tip.care_sector,
            region_code: &tip.region_code,
            municipality_code: tip.municipality_code.as_deref(),
            facility_name: tip.facility_name.as_deref(),
            care_provider: tip.care_provider.as_deref(),
            occurred_on: tip.occurred_on,
            ongoing: tip.ongoing,
            description: &tip.description,
            reporter_role: &tip.reporter_role,
            outbreak: tip.outbreak.as_deref(),
            language: tip.language.as_str(),
            anonymous: tip.is_anonymous(),
            contact_ciphertext: self
                .sealed_contact
                .as_ref()
                .map(|(_, sealed)| sealed.as_slice()),
            contact_key_id: self
                .sealed_contact
                .as_ref()
                .map(|(key_id, _)| key_id.as_str()),
            receipt_code_hash: &self.receipt_code_hash,
            submitted_by_api_key: self.submitter.api_key_id,
            submitted_at,
            triage: new_triage(result, self.facility_key.as_deref(), cluster_id),
            notifications: notify::outbox::plan_for_tip(result.priority, self.reporter_gave_email),
        }
    }

    /// The submitter's answer once the tip is committed.
    fn accept(
        self,
        reference: String,
        submitted_at: DateTime<Utc>,
        triage: TriageResult,
    ) -> AcceptedTip {
        AcceptedTip {
            id: self.id,
            reference,
            receipt_code: self.receipt_code,
            anonymous: self.tip.is_anonymous(),
            submitted_at,
            enqueued_due_jobs: notify::outbox::plan_has_due_jobs(
                triage.priority,
                self.reporter_gave_email,
            ),
            triage,
        }
    }
}

/// Triages the tip and stores it with its `submitted` event. Without a facility name this is a
/// single statement, atomic on its own; with one, a transaction (a savepoint inside the caller's)
/// holds a per-facility lock while earlier tips are counted for the repeat signal.
pub async fn record_tip(
    conn: &mut AsyncPgConnection,
    rules: &TriageRules,
    prepared: PreparedTip,
) -> Result<AcceptedTip, IntakeError> {
    let submitted_at = Utc::now();
    let actor = prepared.submitter.actor.as_str();
    let (result, (reference, submitted_at)) = match prepared.facility_key() {
        None => {
            let result = triage::rules::evaluate(rules, &prepared.triage_input(submitted_at, 0));
            let row = prepared.row(&result, None, submitted_at);
            let stored = db::tips::insert_submitted(conn, &row, actor).await?;
            (result, stored)
        }
        Some(key) if inside_transaction(conn) => {
            // Within the caller's transaction (Idempotency-Key): a savepoint, step by step.
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                let since = triage::apply::window_start(submitted_at, rules.repeat.window_days);
                let history =
                    triage::apply::lock_and_read_facility(conn, key, since, rules.repeat.threshold)
                        .await?;
                let input = prepared.triage_input(submitted_at, saturate(history.recent));
                let result = triage::rules::evaluate(rules, &input);
                let joins = result.forms_cluster.then_some(history.cluster_id).flatten();
                let row = prepared.row(&result, joins, submitted_at);
                let stored = db::tips::insert_submitted(conn, &row, actor).await?;
                if result.forms_cluster && history.cluster_id.is_none() {
                    triage::apply::start_cluster(conn, key, since).await?;
                }
                Ok((result, stored))
            })
            .await?
        }
        Some(key) => {
            let since = triage::apply::window_start(submitted_at, rules.repeat.window_days);
            let outcome = async {
                let history = triage::apply::begin_lock_and_read_facility(
                    conn,
                    key,
                    since,
                    rules.repeat.threshold,
                )
                .await?;
                let input = prepared.triage_input(submitted_at, saturate(history.recent));
                let result = triage::rules::evaluate(rules, &input);
                // Once a facility's cluster exists, every later tip in the window joins it on
                // insert (the lock serialises them), so only the first crossing of the
                // threshold has earlier tips to link.
                let joins = result.forms_cluster.then_some(history.cluster_id).flatten();
                let row = prepared.row(&result, joins, submitted_at);
                let stored = if result.forms_cluster && history.cluster_id.is_none() {
                    let stored = db::tips::insert_submitted(conn, &row, actor).await?;
                    triage::apply::start_cluster(conn, key, since).await?;
                    diesel::sql_query("COMMIT").execute(conn).await?;
                    stored
                } else {
                    // The insert and the commit travel together; if the insert fails, the
                    // server turns the commit into a rollback.
                    let shared: &AsyncPgConnection = conn;
                    let (mut first, mut second) = (shared, shared);
                    let insert =
                        db::tips::InsertSubmitted { tip: &row, actor }
                            .get_result::<(String, DateTime<Utc>)>(&mut first);
                    let commit = diesel::sql_query("COMMIT").execute(&mut second);
                    futures_util::future::try_join(insert, commit).await?.0
                };
                Ok::<_, diesel::result::Error>((result, stored))
            }
            .await;
            match outcome {
                Ok(done) => done,
                Err(error) => {
                    // Never hand the connection back inside a transaction.
                    let _ = diesel::sql_query("ROLLBACK").execute(conn).await;
                    return Err(error.into());
                }
            }
        }
    };
    Ok(prepared.accept(reference, submitted_at, result))
}

pub(crate) fn saturate(count: i64) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// True inside a transaction opened through diesel (the idempotent API path).
fn inside_transaction(conn: &mut AsyncPgConnection) -> bool {
    matches!(
        AnsiTransactionManager::transaction_manager_status_mut(conn).transaction_depth(),
        Ok(Some(_))
    )
}

/// The columns a triage result is stored in.
pub fn new_triage<'a>(
    result: &'a TriageResult,
    facility_key: Option<&'a str>,
    cluster_id: Option<Uuid>,
) -> db::tips::NewTriage<'a> {
    db::tips::NewTriage {
        priority: result.priority.as_str(),
        priority_rank: result.priority.rank(),
        triage_score: i32::try_from(result.score).unwrap_or(i32::MAX),
        team: &result.team,
        due_at: result.due_at,
        acknowledgement_due_at: result.acknowledgement_due_at,
        feedback_due_at: result.feedback_due_at,
        hits: serde_json::to_value(&result.hits).unwrap_or_default(),
        config_version: &result.config_version,
        facility_key,
        cluster_id,
    }
}
