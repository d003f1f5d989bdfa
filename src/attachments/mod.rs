//! Attachments to tips: every file is scanned for malware before an inspector can open it.

pub mod scan;
