//! `config/records.toml`: the disposal rules (which closed tips are kept, which are disposed
//! of after how long, and what disposal removes) and the disclosure settings (the legal
//! grounds for withholding a passage, and whether a decision needs a second person).

use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, Months, Utc};
use serde::Deserialize;

use crate::domain::{Channel, Outcome};

const DEFAULT_RECORDS: &str = include_str!("../../config/records.toml");

/// Everything `records.toml` says, checked.
#[derive(Debug, Clone)]
pub struct RecordsRules {
    pub disposal: DisposalSettings,
    pub rules: Vec<Rule>,
    pub disclosure: DisclosureSettings,
    pub archive: ArchiveSettings,
}

/// `[archive]`: who the archive export names as the creator of its packages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveSettings {
    /// The authority (arkivbildare), e.g. "Inspektionen för vård och omsorg"; unset: "Tipsa".
    pub creator: Option<String>,
    /// Its organisation number (organisationsnummer), e.g. "202100-6255".
    pub creator_id: Option<String>,
    /// The submission agreement (leveransöverenskommelse) the packages are delivered under.
    pub submission_agreement: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DisposalSettings {
    /// Whether the worker runs disposal on a schedule.
    pub scheduled: bool,
    pub interval_minutes: u64,
    /// Tips disposed of per transaction.
    pub batch_tips: i64,
    /// A pause between batches (milliseconds), to leave the database to intake on a busy
    /// machine; 0 (the default) runs batches back to back.
    pub pause_ms: u64,
}

/// What a rule decides for the closed tips it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleAction {
    /// Kept (bevaras): never disposed of; included in archive exports.
    Keep { archive_contact: bool },
    /// Disposed of this many months after closure.
    Dispose {
        retain_months: u32,
        removes: Removal,
    },
}

/// What disposal removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Removal {
    /// Free text, contact details, attachments and messages; a skeleton record stays.
    Content,
    /// The whole tip.
    Whole,
}

impl Removal {
    pub fn as_str(self) -> &'static str {
        match self {
            Removal::Content => "content",
            Removal::Whole => "whole",
        }
    }
}

/// One disposal rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    /// Empty: every outcome.
    pub outcomes: Vec<Outcome>,
    /// Empty: every channel.
    pub channels: Vec<String>,
    pub action: RuleAction,
}

impl Rule {
    pub fn matches(&self, outcome: Outcome, channel: &str) -> bool {
        (self.outcomes.is_empty() || self.outcomes.contains(&outcome))
            && (self.channels.is_empty() || self.channels.iter().any(|c| c == channel))
    }

    /// A tip closed at `closed_at` is due for disposal at this instant (`None`: never).
    pub fn due_at(&self, closed_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.action {
            RuleAction::Keep { .. } => None,
            RuleAction::Dispose { retain_months, .. } => {
                closed_at.checked_add_months(Months::new(retain_months))
            }
        }
    }

    /// The latest closure time that is due at `now` (for querying candidates).
    pub fn closed_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.action {
            RuleAction::Keep { .. } => None,
            RuleAction::Dispose { retain_months, .. } => {
                now.checked_sub_months(Months::new(retain_months))
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct DisclosureSettings {
    pub require_second_approval: bool,
    /// The ground the reporter's identity and contact details are always withheld under.
    pub reporter_ground: String,
    pub grounds: Vec<LegalGround>,
}

impl DisclosureSettings {
    pub fn ground(&self, code: &str) -> Option<&LegalGround> {
        self.grounds.iter().find(|g| g.code == code)
    }
}

/// A provision a passage may be withheld under.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalGround {
    pub code: String,
    pub sv: String,
    pub en: String,
}

impl LegalGround {
    pub fn label(&self, language: &str) -> &str {
        if language == "en" { &self.en } else { &self.sv }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecords {
    disposal: RawDisposal,
    disclosure: RawDisclosure,
    #[serde(default)]
    archive: ArchiveSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDisposal {
    scheduled: bool,
    interval_minutes: u64,
    batch_tips: i64,
    #[serde(default)]
    pause_ms: u64,
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    #[serde(default)]
    outcomes: Vec<String>,
    #[serde(default)]
    channels: Vec<String>,
    action: String,
    retain_months: Option<u32>,
    removes: Option<Removal>,
    archive_contact: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDisclosure {
    require_second_approval: bool,
    reporter_ground: String,
    #[serde(default)]
    ground: Vec<LegalGround>,
}

impl RecordsRules {
    /// Reads `records.toml` from `dir`, or the built-in default when there is none.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("records.toml");
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            Self::parse(&text).with_context(|| path.display().to_string())
        } else {
            Self::parse(DEFAULT_RECORDS).context("records.toml (built-in default)")
        }
    }

    /// The built-in default (tests and tools).
    pub fn builtin() -> anyhow::Result<Self> {
        Self::parse(DEFAULT_RECORDS)
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let raw: RawRecords = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        let d = raw.disposal;
        if d.interval_minutes == 0 {
            bail!("disposal.interval_minutes must be at least 1");
        }
        if !(1..=10_000).contains(&d.batch_tips) {
            bail!("disposal.batch_tips must be 1 to 10000");
        }
        if d.pause_ms > 60_000 {
            bail!("disposal.pause_ms must be at most 60000 (a minute)");
        }
        let mut rules = Vec::with_capacity(d.rule.len());
        for raw_rule in d.rule {
            let rule = check_rule(raw_rule)?;
            if rules.iter().any(|r: &Rule| r.name == rule.name) {
                bail!("disposal rule {:?} is named twice", rule.name);
            }
            rules.push(rule);
        }
        let disclosure = raw.disclosure;
        for (name, value) in [
            ("archive.creator", &raw.archive.creator),
            ("archive.creator_id", &raw.archive.creator_id),
            (
                "archive.submission_agreement",
                &raw.archive.submission_agreement,
            ),
        ] {
            if value
                .as_deref()
                .is_some_and(|v| v.trim().is_empty() || v.len() > 200)
            {
                bail!("{name} must be 1 to 200 characters when set");
            }
        }
        let mut codes = std::collections::BTreeSet::new();
        for ground in &disclosure.ground {
            if ground.code.trim().is_empty() || ground.sv.trim().is_empty() {
                bail!("every disclosure.ground needs a code and a Swedish label");
            }
            if !codes.insert(ground.code.as_str()) {
                bail!("disclosure ground {:?} is listed twice", ground.code);
            }
        }
        if !codes.contains(disclosure.reporter_ground.as_str()) {
            bail!(
                "disclosure.reporter_ground {:?} is not one of the listed grounds",
                disclosure.reporter_ground
            );
        }
        Ok(RecordsRules {
            disposal: DisposalSettings {
                scheduled: d.scheduled,
                interval_minutes: d.interval_minutes,
                batch_tips: d.batch_tips,
                pause_ms: d.pause_ms,
            },
            rules,
            disclosure: DisclosureSettings {
                require_second_approval: disclosure.require_second_approval,
                reporter_ground: disclosure.reporter_ground,
                grounds: disclosure.ground,
            },
            archive: raw.archive,
        })
    }

    /// The first rule that matches a closed tip; `None` means it is kept.
    pub fn rule_for(&self, outcome: Outcome, channel: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.matches(outcome, channel))
    }
}

fn check_rule(raw: RawRule) -> anyhow::Result<Rule> {
    let name = raw.name;
    if name.is_empty()
        || name.len() > 100
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        bail!("disposal rule name {name:?}: use 1-100 letters, digits, '_' or '-'");
    }
    let outcomes = raw
        .outcomes
        .iter()
        .map(|o| {
            Outcome::parse(o).ok_or_else(|| anyhow::anyhow!("rule {name}: unknown outcome {o:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    for channel in &raw.channels {
        if Channel::parse(channel).is_none() {
            bail!("rule {name}: unknown channel {channel:?}");
        }
    }
    let action = match raw.action.as_str() {
        "keep" => {
            if raw.retain_months.is_some() || raw.removes.is_some() {
                bail!("rule {name}: a keep rule takes no retain_months or removes");
            }
            RuleAction::Keep {
                archive_contact: raw.archive_contact.unwrap_or(false),
            }
        }
        "dispose" => {
            if raw.archive_contact.is_some() {
                bail!("rule {name}: archive_contact applies to keep rules only");
            }
            let retain_months = raw.retain_months.ok_or_else(|| {
                anyhow::anyhow!("rule {name}: a dispose rule needs retain_months")
            })?;
            if !(1..=1200).contains(&retain_months) {
                bail!("rule {name}: retain_months must be 1 to 1200");
            }
            RuleAction::Dispose {
                retain_months,
                removes: raw.removes.unwrap_or(Removal::Content),
            }
        }
        other => bail!("rule {name}: action must be \"keep\" or \"dispose\", not {other:?}"),
    };
    Ok(Rule {
        name,
        outcomes,
        channels: raw.channels,
        action,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_file_parses_and_keeps_supervision_tips() {
        let rules = RecordsRules::builtin().unwrap();
        let case = rules.rule_for(Outcome::CaseOpened, "web").unwrap();
        assert!(matches!(case.action, RuleAction::Keep { .. }));
        let no_action = rules.rule_for(Outcome::NoAction, "api").unwrap();
        assert_eq!(
            no_action.action,
            RuleAction::Dispose {
                retain_months: 24,
                removes: Removal::Content
            }
        );
        assert!(rules.disclosure.ground("OSL 25 kap. 1 §").is_some());
    }

    #[test]
    fn due_dates_count_calendar_months_from_closure() {
        let rules = RecordsRules::builtin().unwrap();
        let rule = rules.rule_for(Outcome::Duplicate, "web").unwrap();
        let closed: DateTime<Utc> = "2025-01-31T10:00:00Z".parse().unwrap();
        assert_eq!(
            rule.due_at(closed).unwrap(),
            "2026-01-31T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    fn with_rule(rule: &str) -> anyhow::Result<RecordsRules> {
        RecordsRules::parse(&format!(
            "[disposal]\nscheduled = false\ninterval_minutes = 5\nbatch_tips = 10\n\
             [[disposal.rule]]\n{rule}\n\
             [disclosure]\nrequire_second_approval = true\nreporter_ground = \"X\"\n\
             [[disclosure.ground]]\ncode = \"X\"\nsv = \"x\"\nen = \"x\"\n"
        ))
    }

    #[test]
    fn bad_rules_are_refused_with_the_rule_named() {
        for (rule, expected) in [
            ("name = \"a\"\naction = \"dispose\"", "needs retain_months"),
            (
                "name = \"a\"\naction = \"dispose\"\nretain_months = 0",
                "1 to 1200",
            ),
            (
                "name = \"a\"\noutcomes = [\"gone\"]\naction = \"keep\"",
                "unknown outcome",
            ),
            (
                "name = \"a\"\nchannels = [\"fax\"]\naction = \"keep\"",
                "unknown channel",
            ),
            ("name = \"a\"\naction = \"burn\"", "must be \"keep\""),
            ("name = \"a b\"\naction = \"keep\"", "rule name"),
        ] {
            let error = format!("{:#}", with_rule(rule).unwrap_err());
            assert!(error.contains(expected), "{rule}: {error}");
        }
        assert!(with_rule("name = \"a\"\naction = \"keep\"").is_ok());
    }

    #[test]
    fn a_pause_between_batches_is_optional_and_bounded() {
        let builtin = RecordsRules::builtin().unwrap();
        assert_eq!(builtin.disposal.pause_ms, 0);
        let text = |pause: u64| {
            format!(
                "[disposal]\nscheduled = false\ninterval_minutes = 5\nbatch_tips = 10\npause_ms = {pause}\n\
                 [disclosure]\nrequire_second_approval = true\nreporter_ground = \"X\"\n\
                 [[disclosure.ground]]\ncode = \"X\"\nsv = \"x\"\nen = \"x\"\n"
            )
        };
        assert_eq!(
            RecordsRules::parse(&text(50)).unwrap().disposal.pause_ms,
            50
        );
        let error = format!("{:#}", RecordsRules::parse(&text(70_000)).unwrap_err());
        assert!(error.contains("pause_ms"), "{error}");
    }
}
