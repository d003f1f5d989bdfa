//! The intake capability: records a validated tip — sealed contact details, receipt-code hash,
//! reference and its first event — inside the caller's transaction. Shared by the REST API and
//! (later) the web form.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use rand::RngCore;
use uuid::Uuid;

use crate::crypto::{Crypto, CryptoError};
use crate::db;
use crate::domain::receipt::RECEIPT_CODE_BYTES;
use crate::domain::{Channel, ReceiptCode, TipSubmission};

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
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("storing the tip failed")]
    Database(#[from] diesel::result::Error),
    #[error("sealing the contact details failed")]
    Crypto(#[from] CryptoError),
}

/// Stores the tip and its `submitted` event with a single statement, so it is atomic even
/// outside a transaction; inside the caller's transaction it commits with the rest.
pub async fn record_tip(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    tip: &TipSubmission,
    submitter: &Submitter,
) -> Result<AcceptedTip, IntakeError> {
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

    let (reference, submitted_at) = db::tips::insert_submitted(
        conn,
        &db::tips::NewTip {
            id,
            channel: submitter.channel.as_str(),
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
            contact_ciphertext: sealed_contact.as_ref().map(|(_, sealed)| sealed.as_slice()),
            contact_key_id: sealed_contact.as_ref().map(|(key_id, _)| key_id.as_str()),
            receipt_code_hash: &receipt_code_hash,
            submitted_by_api_key: submitter.api_key_id,
        },
        &submitter.actor,
    )
    .await?;

    Ok(AcceptedTip {
        id,
        reference,
        receipt_code,
        anonymous: tip.is_anonymous(),
        submitted_at,
    })
}
