//! The domain: tips, their classification and the receipt code, as types that can only hold
//! valid values. Pure code: no HTTP, no database, no clock or randomness it is not handed.

pub mod field_error;
pub mod personnummer;
pub mod priority;
pub mod receipt;
pub mod status;
pub mod taxonomy;
pub mod text;
pub mod tip;

pub use field_error::FieldError;
pub use priority::Priority;
pub use receipt::ReceiptCode;
pub use status::{Outcome, ReporterStatus, TipStatus};
pub use taxonomy::Taxonomy;
pub use tip::{Channel, Language, ReporterContact, TipDraft, TipSubmission};
