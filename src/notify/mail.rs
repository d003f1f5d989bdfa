//! The mail transport, built from `[notify]`: SMTP through lettre (STARTTLS or implicit TLS,
//! authentication, a connection pool, timeouts), or .eml files in a directory (the embedded
//! default, `var_dir/mail`).

use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{MailTransportKind, NotifySettings, SmtpTls};

/// Where messages go.
#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>, PathBuf),
}

/// A failed send, with a message that is safe to store and log (addresses removed).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub message: String,
    /// The server refused for good (5xx); retrying is unlikely to help.
    pub permanent: bool,
}

impl Mailer {
    /// Builds the transport; `mail_dir` is used by the file transport (created if missing).
    pub fn from_settings(settings: &NotifySettings, mail_dir: PathBuf) -> anyhow::Result<Self> {
        match settings.transport {
            MailTransportKind::File => {
                std::fs::create_dir_all(&mail_dir).map_err(|e| {
                    anyhow::anyhow!("creating the mail directory {}: {e}", mail_dir.display())
                })?;
                Ok(Mailer::File(AsyncFileTransport::new(&mail_dir), mail_dir))
            }
            MailTransportKind::Smtp => {
                let smtp = &settings.smtp;
                let mut builder = match smtp.tls {
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)?,
                    SmtpTls::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?
                    }
                    SmtpTls::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
                    }
                };
                builder = builder
                    .port(smtp.port)
                    .timeout(Some(Duration::from_secs(smtp.timeout_seconds)))
                    .pool_config(PoolConfig::new().max_size(smtp.pool_size));
                if let (Some(username), Some(password)) = (&smtp.username, &smtp.password) {
                    builder = builder.credentials(Credentials::new(
                        username.clone(),
                        password.expose_secret().to_owned(),
                    ));
                }
                Ok(Mailer::Smtp(builder.build()))
            }
        }
    }

    /// A short description for the start-up log (no credentials).
    pub fn describe(&self, settings: &NotifySettings) -> String {
        match self {
            Mailer::File(_, dir) => format!("file transport, .eml files in {}", dir.display()),
            Mailer::Smtp(_) => format!(
                "SMTP {}:{} ({:?})",
                settings.smtp.host, settings.smtp.port, settings.smtp.tls
            ),
        }
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Mailer::Smtp(transport) => {
                transport
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| SendError {
                        permanent: e.is_permanent(),
                        message: scrub(&format!("SMTP: {e}")),
                    })
            }
            Mailer::File(transport, _) => {
                transport
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| SendError {
                        permanent: false,
                        message: scrub(&format!("writing the .eml file: {e}")),
                    })
            }
        }
    }
}

/// Removes anything that looks like an email address (a server may echo a recipient in its
/// reply, and a reporter's address must never reach a log or the jobs table).
pub fn scrub(text: &str) -> String {
    let scrubbed: Vec<String> = text
        .split_inclusive(char::is_whitespace)
        .map(|word| {
            if word.contains('@') {
                let trailing: String = word.chars().filter(|c| c.is_whitespace()).collect();
                format!("<address>{trailing}")
            } else {
                word.to_owned()
            }
        })
        .collect();
    let mut out = scrubbed.concat();
    if out.chars().count() > 500 {
        out = out.chars().take(500).collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_addresses() {
        assert_eq!(
            scrub("550 5.1.1 <anna@example.se>: user unknown"),
            "550 5.1.1 <address> user unknown"
        );
        assert_eq!(scrub("connection refused"), "connection refused");
    }
}
