//! The housekeeping settings (`[housekeeping]`): how often expired rows are purged, and in
//! batches of how many.

use anyhow::bail;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HousekeepingSettings {
    /// Seconds between rounds (in every process that runs the worker; one at a time runs).
    pub interval_seconds: u64,
    /// Rows deleted per statement, so a large backlog never holds long locks.
    pub batch_rows: i64,
    /// Used or expired one-time links (invitations, password resets) are kept this many days
    /// after they expire, so an admin can still see that one was sent.
    pub account_token_days: i64,
}

impl HousekeepingSettings {
    pub(super) fn check(&self) -> anyhow::Result<()> {
        if self.interval_seconds == 0 {
            bail!("housekeeping.interval_seconds must be at least 1");
        }
        if !(1..=100_000).contains(&self.batch_rows) {
            bail!("housekeeping.batch_rows must be 1 to 100000");
        }
        if self.account_token_days < 0 {
            bail!("housekeeping.account_token_days must not be negative");
        }
        Ok(())
    }
}
