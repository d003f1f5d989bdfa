//! Which tips an export takes — closed in the period, not disposed of, and kept (bevaras) by
//! the first matching rule in `records.toml`, or by no rule at all — and everything stored
//! about each of them.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::attachments::AttachmentInfo;
use crate::db::messages::MessageRow;
use crate::db::schema::{api_keys, tips, users};
use crate::db::tips::EventRow;
use crate::domain::Outcome;
use crate::records::{RecordsRules, Rule, RuleAction};

/// A tip the export keeps, and by which rule.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: Uuid,
    /// `None`: no rule matched, and a tip no rule matches is kept.
    pub rule: Option<String>,
    /// Whether the rule keeps the reporter's contact details in the archive.
    pub archive_contact: bool,
}

/// The first rule that decides a closed tip. A tip closed without an outcome (only possible
/// in data from before outcomes were required) is decided by the first rule naming no
/// outcomes.
fn deciding_rule<'a>(
    rules: &'a RecordsRules,
    outcome: Option<&str>,
    channel: &str,
) -> Option<&'a Rule> {
    match outcome.and_then(Outcome::parse) {
        Some(outcome) => rules.rule_for(outcome, channel),
        None => rules.rules.iter().find(|rule| {
            rule.outcomes.is_empty()
                && (rule.channels.is_empty() || rule.channels.iter().any(|c| c == channel))
        }),
    }
}

/// Whether a tip decided by `rule` is kept, and with the reporter's contact details or not.
fn kept_by(rule: Option<&Rule>) -> Option<bool> {
    match rule.map(|r| r.action) {
        None => Some(false),
        Some(RuleAction::Keep { archive_contact }) => Some(archive_contact),
        Some(RuleAction::Dispose { .. }) => None,
    }
}

/// The tips to export: closed in `[from, to)` (UTC instants), not disposed of, kept by the
/// rules; in order of closure.
pub async fn candidates(
    conn: &mut AsyncPgConnection,
    rules: &RecordsRules,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<Candidate>> {
    let rows: Vec<(Uuid, Option<String>, String)> = tips::table
        .filter(tips::status.eq("closed"))
        .filter(tips::disposed_at.is_null())
        .filter(tips::closed_at.ge(from))
        .filter(tips::closed_at.lt(to))
        .order((tips::closed_at.asc(), tips::reference.asc()))
        .select((tips::id, tips::outcome, tips::channel))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, outcome, channel)| {
            let rule = deciding_rule(rules, outcome.as_deref(), &channel);
            kept_by(rule).map(|archive_contact| Candidate {
                id,
                rule: rule.map(|r| r.name.clone()),
                archive_contact,
            })
        })
        .collect())
}

/// The stored tip, as the record needs it.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = tips)]
pub struct TipRow {
    pub id: Uuid,
    pub reference: String,
    pub channel: String,
    pub category: String,
    pub care_sector: String,
    pub region_code: String,
    pub municipality_code: Option<String>,
    pub facility_name: Option<String>,
    pub care_provider: Option<String>,
    pub occurred_on: Option<NaiveDate>,
    pub ongoing: bool,
    pub description: String,
    pub reporter_role: String,
    pub outbreak: Option<String>,
    pub language: String,
    pub anonymous: bool,
    pub contact_ciphertext: Option<Vec<u8>>,
    pub contact_key_id: Option<String>,
    pub status: String,
    pub outcome: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub priority: String,
    pub team: String,
    pub assignee: Option<String>,
    pub duplicate_of: Option<Uuid>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// Everything about one tip that goes into its record.
pub struct TipRecord {
    pub tip: TipRow,
    pub messages: Vec<MessageRow>,
    pub events: Vec<EventRow>,
    pub attachments: Vec<AttachmentInfo>,
    /// The reference of the tip this one duplicates, if any.
    pub duplicate_of: Option<String>,
    /// Names for the actors stored with events and messages: inspectors (`user:<id>`) by their
    /// display name, integrating systems (`api_key:<id>`) by their key's name.
    pub people: HashMap<String, String>,
}

impl TipRecord {
    /// A name for an actor as stored (`user:<id>`, `api_key:<id>`, `reporter`), else the
    /// actor itself (`cli:…`, a key or account since deleted).
    pub fn name_of<'a>(&'a self, actor: &'a str) -> &'a str {
        if actor == "reporter" {
            return "Uppgiftslämnaren";
        }
        self.people.get(actor).map_or(actor, String::as_str)
    }
}

pub async fn load(conn: &mut AsyncPgConnection, id: Uuid) -> anyhow::Result<TipRecord> {
    let tip: TipRow = tips::table
        .find(id)
        .select(TipRow::as_select())
        .first(conn)
        .await
        .with_context(|| format!("reading tip {id}"))?;
    let messages = crate::db::messages::for_tip(conn, id).await?;
    let events = crate::db::tips::events(conn, id).await?;
    let attachments = crate::attachments::store::list_for_tip(conn, id).await?;
    let duplicate_of = match tip.duplicate_of {
        Some(other) => tips::table
            .find(other)
            .select(tips::reference)
            .first(conn)
            .await
            .optional()?,
        None => None,
    };
    let mut actors: Vec<&str> = events.iter().map(|e| e.actor.as_str()).collect();
    actors.extend(messages.iter().filter_map(|m| m.author.as_deref()));
    actors.extend(tip.assignee.as_deref());
    let ids = |prefix: &str| -> Vec<Uuid> {
        actors
            .iter()
            .filter_map(|actor| actor.strip_prefix(prefix))
            .filter_map(|id| id.parse().ok())
            .collect()
    };
    let (user_ids, key_ids) = (ids("user:"), ids("api_key:"));
    let mut people: HashMap<String, String> = users::table
        .filter(users::id.eq_any(&user_ids))
        .select((users::id, users::display_name))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .map(|(id, name)| (format!("user:{id}"), name))
        .collect();
    let systems = api_keys::table
        .filter(api_keys::id.eq_any(&key_ids))
        .select((api_keys::id, api_keys::name))
        .load::<(Uuid, String)>(conn)
        .await?;
    people.extend(
        systems
            .into_iter()
            .map(|(id, name)| (format!("api_key:{id}"), format!("{name} (API)"))),
    );
    Ok(TipRecord {
        tip,
        messages,
        events,
        attachments,
        duplicate_of,
        people,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> RecordsRules {
        RecordsRules::parse(&format!(
            "[disposal]\nscheduled = false\ninterval_minutes = 5\nbatch_tips = 10\n{text}\n\
             [disclosure]\nrequire_second_approval = false\nreporter_ground = \"X\"\n\
             [[disclosure.ground]]\ncode = \"X\"\nsv = \"x\"\nen = \"x\"\n"
        ))
        .unwrap()
    }

    #[test]
    fn the_first_matching_rule_decides_and_unmatched_tips_are_kept() {
        let rules = rules(
            "[[disposal.rule]]\nname = \"api_cases\"\noutcomes = [\"case_opened\"]\n\
             channels = [\"api\"]\naction = \"keep\"\narchive_contact = true\n\
             [[disposal.rule]]\nname = \"cases\"\noutcomes = [\"case_opened\"]\naction = \"keep\"\n\
             [[disposal.rule]]\nname = \"no_action\"\noutcomes = [\"no_action\"]\n\
             action = \"dispose\"\nretain_months = 24\n",
        );
        let decide = |outcome: Option<&str>, channel: &str| {
            let rule = deciding_rule(&rules, outcome, channel);
            (rule.map(|r| r.name.as_str()), kept_by(rule))
        };
        assert_eq!(
            decide(Some("case_opened"), "api"),
            (Some("api_cases"), Some(true))
        );
        assert_eq!(
            decide(Some("case_opened"), "web"),
            (Some("cases"), Some(false))
        );
        assert_eq!(decide(Some("no_action"), "web"), (Some("no_action"), None));
        assert_eq!(decide(Some("referred"), "web"), (None, Some(false)));
        assert_eq!(decide(None, "web"), (None, Some(false)));
    }
}
