//! Attachments to tips: typing and cleaning uploaded files before they are stored.
pub mod clean;
