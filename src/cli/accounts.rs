//! `tipsa user …` and `tipsa audit verify`: inspector accounts and the audit chain from the
//! command line. Changes are written to the audit log with a `cli:` actor.

use anyhow::Context;
use clap::Subcommand;
use diesel_async::AsyncPgConnection;
use serde_json::json;

use crate::audit::{self, AuditAction, Verification};
use crate::auth::accounts::{self, Account, LinkPurpose, NewAccount};
use crate::config::Settings;
use crate::crypto::Crypto;
use crate::triage::TriageRules;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account and print a one-time link where the person chooses a password.
    Add {
        #[arg(long)]
        email: String,
        /// The name shown to colleagues.
        #[arg(long)]
        name: String,
        /// inspector, triage_lead, analyst or admin (repeat for several).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// A team code from config/routing.toml (repeat for several).
        #[arg(long = "team")]
        teams: Vec<String>,
        /// sv or en: the language of the workspace and emails.
        #[arg(long, default_value = "sv")]
        language: String,
    },
    /// List accounts.
    List,
    /// Disable an account and end its sessions.
    Disable { email: String },
    /// Enable a disabled account.
    Enable { email: String },
    /// Print a one-time link to choose a new password (ends the person's sessions when used).
    ResetPassword { email: String },
    /// Remove the second factor; the person enrols again at the next login.
    Reset2fa { email: String },
    /// Replace the roles (and, if given, the teams) of an account.
    SetRole {
        email: String,
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Replaces the teams when given at least once.
        #[arg(long = "team")]
        teams: Vec<String>,
    },
    /// Allow ("on") or refuse ("off") the local password sign-in for one account (single
    /// sign-on accounts start with it off; see auth.oidc.local_login for the global switch).
    SetLocalLogin {
        email: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Link an existing account to its identity at a provider (by the provider's stable subject,
    /// as the token's subject claim carries it), so the next single sign-on signs in as it.
    LinkIdentity {
        email: String,
        /// The provider's id in auth.oidc.providers.
        #[arg(long)]
        provider: String,
        #[arg(long)]
        subject: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of the whole audit log; exit status 1 if it is broken.
    Verify,
}

fn base_url(settings: &Settings) -> String {
    let host = match settings.server.host.as_str() {
        "0.0.0.0" | "::" => "127.0.0.1",
        other => other,
    };
    format!("http://{host}:{}", settings.server.port)
}

async fn find(conn: &mut AsyncPgConnection, email: &str) -> anyhow::Result<Account> {
    accounts::find_by_email(conn, email)
        .await?
        .with_context(|| format!("no account has the email address {email:?}"))
}

async fn record(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    command: &str,
    action: AuditAction,
    detail: serde_json::Value,
) -> anyhow::Result<()> {
    let actor = format!("cli:{command}");
    audit::record(
        conn,
        crypto,
        &audit::Entry {
            actor: &actor,
            action,
            tip_id: None,
            detail,
            request_id: None,
        },
    )
    .await
    .context("writing the audit row")?;
    Ok(())
}

fn field_errors(errors: Vec<crate::domain::FieldError>) -> anyhow::Error {
    let lines: Vec<String> = errors
        .iter()
        .map(|e| format!("--{}: {}", e.field.replace('_', "-"), e.message))
        .collect();
    anyhow::anyhow!("{}", lines.join("\n"))
}

/// Runs one `user` command.
pub async fn run_user(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    rules: &TriageRules,
    settings: &Settings,
    command: UserCommand,
) -> anyhow::Result<()> {
    let known: Vec<&str> = rules.teams.iter().map(|t| t.code.as_str()).collect();
    match command {
        UserCommand::Add {
            email,
            name,
            roles,
            teams,
            language,
        } => {
            let account = NewAccount::parse(&email, &name, &roles, &teams, &language, &known)
                .map_err(field_errors)?;
            let id = accounts::create(conn, &account, None)
                .await
                .map_err(|e| match e {
                    accounts::AccountError::Invalid(errors) => field_errors(errors),
                    other => anyhow::Error::new(other),
                })?;
            let token = accounts::issue_link(
                conn,
                LinkPurpose::Invitation,
                Some(id),
                accounts::INVITATION_LINK_HOURS,
            )
            .await?;
            let roles: Vec<&str> = account.roles.iter().map(|r| r.as_str()).collect();
            record(
                conn,
                crypto,
                "user-add",
                AuditAction::CreateUser,
                json!({ "user": id, "roles": roles, "teams": account.teams }),
            )
            .await?;
            eprintln!(
                "Created {} ({}). Send them this link to choose a password (valid {} hours, once):",
                account.display_name,
                account.email,
                accounts::INVITATION_LINK_HOURS
            );
            println!("{}/inspektor/losenord/{token}", base_url(settings));
        }
        UserCommand::List => {
            println!(
                "{:<32} {:<8} {:<4} {:<28} {:<24} NAME",
                "EMAIL", "STATE", "2FA", "ROLES", "TEAMS"
            );
            for account in accounts::list(conn).await? {
                let roles: Vec<&str> = account.roles.iter().map(|r| r.as_str()).collect();
                println!(
                    "{:<32} {:<8} {:<4} {:<28} {:<24} {}",
                    account.email,
                    if account.active { "active" } else { "disabled" },
                    if account.second_factor { "on" } else { "off" },
                    roles.join(","),
                    account.teams.join(","),
                    account.display_name
                );
            }
        }
        UserCommand::Disable { email } => {
            let account = find(conn, &email).await?;
            accounts::set_active(conn, account.id, false).await?;
            record(
                conn,
                crypto,
                "user-disable",
                AuditAction::ChangeUser,
                json!({ "user": account.id, "active": false }),
            )
            .await?;
            eprintln!("Disabled {email}; their sessions have ended.");
        }
        UserCommand::Enable { email } => {
            let account = find(conn, &email).await?;
            accounts::set_active(conn, account.id, true).await?;
            record(
                conn,
                crypto,
                "user-enable",
                AuditAction::ChangeUser,
                json!({ "user": account.id, "active": true }),
            )
            .await?;
            eprintln!("Enabled {email}.");
        }
        UserCommand::ResetPassword { email } => {
            let account = find(conn, &email).await?;
            let token =
                accounts::issue_link(conn, LinkPurpose::PasswordReset, Some(account.id), 24)
                    .await?;
            record(
                conn,
                crypto,
                "user-reset-password",
                AuditAction::ChangeUser,
                json!({ "user": account.id, "password_reset_link": true }),
            )
            .await?;
            eprintln!("Send {email} this link to choose a new password (valid 24 hours, once):");
            println!("{}/inspektor/losenord/{token}", base_url(settings));
        }
        UserCommand::Reset2fa { email } => {
            let account = find(conn, &email).await?;
            accounts::reset_second_factor(conn, account.id).await?;
            record(
                conn,
                crypto,
                "user-reset-2fa",
                AuditAction::ChangeUser,
                json!({ "user": account.id, "second_factor_reset": true }),
            )
            .await?;
            eprintln!("Removed the second factor of {email}; they enrol again at the next login.");
        }
        UserCommand::SetRole {
            email,
            roles,
            teams,
        } => {
            let account = find(conn, &email).await?;
            let roles = accounts::parse_roles("role", &roles).map_err(|e| field_errors(vec![e]))?;
            let teams = if teams.is_empty() {
                account.teams.clone()
            } else {
                accounts::parse_teams("team", &teams, &known).map_err(|e| field_errors(vec![e]))?
            };
            accounts::set_roles_and_teams(conn, account.id, &roles, &teams).await?;
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            record(
                conn,
                crypto,
                "user-set-role",
                AuditAction::ChangeUser,
                json!({ "user": account.id, "roles": names, "teams": teams }),
            )
            .await?;
            eprintln!(
                "{email}: roles {}, teams {}.",
                names.join(", "),
                teams.join(", ")
            );
        }
        UserCommand::SetLocalLogin { email, state } => {
            let account = find(conn, &email).await?;
            let allowed = state == "on";
            crate::auth::oidc::provisioning::set_local_login(conn, account.id, allowed).await?;
            record(
                conn,
                crypto,
                "user-set-local-login",
                AuditAction::ChangeUser,
                json!({ "user": account.id, "local_login_allowed": allowed }),
            )
            .await?;
            let global = match settings.auth.oidc.local_login {
                crate::config::LocalLogin::All => "",
                crate::config::LocalLogin::BreakGlassOnly
                    if settings.auth.oidc.is_break_glass(&email) =>
                {
                    ""
                }
                crate::config::LocalLogin::BreakGlassOnly => {
                    " (but auth.oidc.local_login = \"break_glass_only\" and the account is not in break_glass_accounts)"
                }
            };
            eprintln!("{email}: local password sign-in {state}{global}.");
        }
        UserCommand::LinkIdentity {
            email,
            provider,
            subject,
        } => {
            let account = find(conn, &email).await?;
            let configured = settings
                .auth
                .oidc
                .providers
                .iter()
                .find(|p| p.id == provider)
                .with_context(|| format!("no provider {provider:?} in auth.oidc.providers"))?;
            let linked = crate::auth::oidc::provisioning::link_identity(
                conn,
                account.id,
                &provider,
                &configured.issuer,
                subject.trim(),
            )
            .await?;
            if !linked {
                anyhow::bail!("that identity at {provider} is already linked to an account");
            }
            record(
                conn,
                crypto,
                "user-link-identity",
                AuditAction::ChangeUser,
                json!({ "user": account.id, "provider": provider, "identity_linked": true }),
            )
            .await?;
            eprintln!("{email} is linked to its identity at {provider}.");
        }
    }
    Ok(())
}

/// Runs one `audit` command; a broken chain is an error (exit status 1).
pub async fn run_audit(
    conn: &mut AsyncPgConnection,
    crypto: &Crypto,
    command: AuditCommand,
) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify => match audit::verify(conn, crypto).await? {
            Verification::Intact { rows } => {
                println!("The audit log is intact: {rows} rows, every hash and link checked.");
                Ok(())
            }
            Verification::Broken { seq, reason } => {
                anyhow::bail!("the audit log is broken at row {seq}: {reason}")
            }
        },
    }
}
