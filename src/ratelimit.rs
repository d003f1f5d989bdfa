//! In-memory rate limits for the public, anonymous routes (tip submission, receipt-code
//! attempts). Counters are keyed by a salted hash of the client address; the salt is random,
//! lives only in memory and is replaced every window, so no address — nor anything that could
//! be matched back to one later — is ever written anywhere.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// What is being limited; each has its own budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    SubmitTip,
    ReceiptCodeAttempt,
    /// An inspector's password or second-factor attempt (per source; per account is in the
    /// database).
    LoginAttempt,
}

impl Action {
    /// The metric label (`tipsa_rate_limit_refusals_total{limit}`).
    fn label(self) -> &'static str {
        match self {
            Action::SubmitTip => "submit_tip",
            Action::ReceiptCodeAttempt => "receipt_code",
            Action::LoginAttempt => "login",
        }
    }
}

/// Attempts allowed per window for each action.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub submit_tip: u32,
    pub receipt_code_attempt: u32,
    pub login_attempt: u32,
    pub window: Duration,
}

struct Window {
    started: Instant,
    salt: [u8; 32],
    counts: HashMap<(Action, [u8; 16]), u32>,
}

pub struct RateLimiter {
    limits: Limits,
    window: Mutex<Window>,
}

/// Refused: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

/// Bound on remembered keys, so a flood of addresses cannot exhaust memory.
const MAX_KEYS: usize = 200_000;

fn fresh_salt() -> [u8; 32] {
    let mut salt = [0u8; 32];
    rand::rng().fill_bytes(&mut salt);
    salt
}

impl RateLimiter {
    pub fn new(limits: Limits) -> Self {
        RateLimiter {
            limits,
            window: Mutex::new(Window {
                started: Instant::now(),
                salt: fresh_salt(),
                counts: HashMap::new(),
            }),
        }
    }

    /// Counts one attempt from `address`; refuses once the window's budget is spent.
    pub fn check(&self, action: Action, address: Option<IpAddr>) -> Result<(), RetryAfter> {
        let budget = match action {
            Action::SubmitTip => self.limits.submit_tip,
            Action::ReceiptCodeAttempt => self.limits.receipt_code_attempt,
            Action::LoginAttempt => self.limits.login_attempt,
        };
        let now = Instant::now();
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if now.duration_since(window.started) >= self.limits.window
            || window.counts.len() >= MAX_KEYS
        {
            // A new window forgets every counter and the salt that made their keys.
            *window = Window {
                started: now,
                salt: fresh_salt(),
                counts: HashMap::new(),
            };
        }
        let key = address_key(&window.salt, address);
        let count = window.counts.entry((action, key)).or_insert(0);
        if *count >= budget {
            crate::monitoring::rate_limited(action.label());
            let remaining = self
                .limits
                .window
                .saturating_sub(now.duration_since(window.started));
            return Err(RetryAfter(remaining.max(Duration::from_secs(1))));
        }
        *count += 1;
        Ok(())
    }
}

fn address_key(salt: &[u8; 32], address: Option<IpAddr>) -> [u8; 16] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(salt)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    match address {
        Some(IpAddr::V4(v4)) => mac.update(&v4.octets()),
        // An IPv6 client controls its whole /64, so that is what is counted.
        Some(IpAddr::V6(v6)) => mac.update(&v6.octets()[..8]),
        None => mac.update(b"unknown"),
    }
    let digest = mac.finalize().into_bytes();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(window: Duration) -> RateLimiter {
        RateLimiter::new(Limits {
            submit_tip: 3,
            receipt_code_attempt: 2,
            login_attempt: 10,
            window,
        })
    }

    #[test]
    fn each_address_and_action_has_its_own_budget() {
        let limiter = limiter(Duration::from_secs(600));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(limiter.check(Action::SubmitTip, Some(a)).is_ok());
        }
        let refused = limiter.check(Action::SubmitTip, Some(a)).unwrap_err();
        assert!(refused.0 <= Duration::from_secs(600) && refused.0 >= Duration::from_secs(1));
        assert!(limiter.check(Action::SubmitTip, Some(b)).is_ok());
        assert!(limiter.check(Action::ReceiptCodeAttempt, Some(a)).is_ok());
    }

    #[test]
    fn ipv6_addresses_in_one_64_share_a_budget() {
        let limiter = limiter(Duration::from_secs(600));
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:2::ffff".parse().unwrap();
        assert!(limiter.check(Action::ReceiptCodeAttempt, Some(one)).is_ok());
        assert!(
            limiter
                .check(Action::ReceiptCodeAttempt, Some(other))
                .is_ok()
        );
        assert!(
            limiter
                .check(Action::ReceiptCodeAttempt, Some(one))
                .is_err()
        );
    }

    #[test]
    fn a_new_window_starts_over_with_a_new_salt() {
        let limiter = limiter(Duration::from_millis(30));
        let a: IpAddr = "198.51.100.7".parse().unwrap();
        let salt_before = limiter.window.lock().unwrap().salt;
        assert!(limiter.check(Action::ReceiptCodeAttempt, Some(a)).is_ok());
        assert!(limiter.check(Action::ReceiptCodeAttempt, Some(a)).is_ok());
        assert!(limiter.check(Action::ReceiptCodeAttempt, Some(a)).is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(limiter.check(Action::ReceiptCodeAttempt, Some(a)).is_ok());
        assert_ne!(limiter.window.lock().unwrap().salt, salt_before);
    }
}
