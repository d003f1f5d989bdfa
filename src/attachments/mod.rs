//! Attachments: typing and cleaning files (clean) and scanning them with ClamAV (scan).

pub mod clean;
pub mod scan;
