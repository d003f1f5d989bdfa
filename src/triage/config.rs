//! Triage and routing rules from `config/triage.toml` and `config/routing.toml` (compiled-in
//! defaults when the files are absent), validated at start against the taxonomy. Every error
//! names the file, the line and the rule.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::calendar::Span;
use crate::domain::{Priority, Taxonomy};

const DEFAULT_TRIAGE: &str = include_str!("../../config/triage.toml");
const DEFAULT_ROUTING: &str = include_str!("../../config/routing.toml");

/// One base-priority rule.
#[derive(Debug, Clone)]
pub struct BaseRule {
    pub name: String,
    pub category: Option<String>,
    pub care_sector: Option<String>,
    pub priority: Priority,
}

/// One urgency term with the word stems and whole words that signal it.
#[derive(Debug, Clone)]
pub struct UrgencyTerm {
    pub name: String,
    pub raise: u32,
    /// Lower-case; a stem matches the start of a word (several words: a phrase).
    pub stems: Vec<Vec<String>>,
    /// Lower-case whole words.
    pub words: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct RepeatSignals {
    pub threshold: u32,
    pub window_days: u32,
    pub raise: u32,
}

#[derive(Debug, Clone)]
pub struct Team {
    pub code: String,
    pub name: String,
    pub regions: Vec<String>,
    /// Where the team's notifications go (new urgent tips, digests, replies).
    pub notify: Vec<String>,
    /// Where overdue notices go: the team's leads (`lead_notify`, or `notify` when not given).
    pub lead_notify: Vec<String>,
}

/// Everything triage decides with, plus the version recorded on every result.
#[derive(Debug, Clone)]
pub struct TriageRules {
    /// Short hash of both files' contents.
    pub version: String,
    pub default_priority: Priority,
    pub base: Vec<BaseRule>,
    pub urgency: Vec<UrgencyTerm>,
    pub ongoing_raise: u32,
    pub repeat: RepeatSignals,
    pub first_review: BTreeMap<Priority, Span>,
    pub acknowledgement_days: u32,
    pub feedback_months: u32,
    pub fallback_team: String,
    pub teams: Vec<Team>,
    team_by_region: HashMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTriage {
    default_priority: Spanned<String>,
    #[serde(default)]
    base: Vec<RawBase>,
    #[serde(default)]
    urgency: Vec<RawUrgency>,
    ongoing: RawRaise,
    repeat_signals: RawRepeat,
    deadlines: RawDeadlines,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBase {
    name: Spanned<String>,
    category: Option<String>,
    care_sector: Option<String>,
    priority: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUrgency {
    name: Spanned<String>,
    raise: u32,
    #[serde(default)]
    stems: Vec<String>,
    #[serde(default)]
    words: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRaise {
    raise: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepeat {
    threshold: Spanned<u32>,
    window_days: u32,
    raise: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeadlines {
    acknowledgement_days: u32,
    feedback_months: u32,
    first_review: Spanned<BTreeMap<String, Span>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRouting {
    fallback_team: Spanned<String>,
    teams: Vec<RawTeam>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTeam {
    code: Spanned<String>,
    name: String,
    regions: Vec<String>,
    #[serde(default)]
    notify: Vec<String>,
    lead_notify: Option<Vec<String>>,
}

/// A configuration file's name and text, for error messages with line numbers.
struct Source {
    label: String,
    text: String,
}

impl Source {
    fn read(dir: &Path, file: &str, default: &str) -> anyhow::Result<Source> {
        let path = dir.join(file);
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Ok(Source {
                label: path.display().to_string(),
                text,
            })
        } else {
            Ok(Source {
                label: format!("{file} (built-in default)"),
                text: default.to_owned(),
            })
        }
    }

    fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    fn error(
        &self,
        span: std::ops::Range<usize>,
        message: impl std::fmt::Display,
    ) -> anyhow::Error {
        anyhow::anyhow!("{}:{}: {message}", self.label, self.line(span.start))
    }

    fn parse<T: serde::de::DeserializeOwned>(&self) -> anyhow::Result<T> {
        toml::from_str(&self.text).map_err(|e| {
            let line = e.span().map_or(0, |s| self.line(s.start));
            anyhow::anyhow!("{}:{line}: {}", self.label, e.message())
        })
    }
}

impl TriageRules {
    /// Reads `triage.toml` and `routing.toml` from `dir` (or the built-in defaults) and checks
    /// every code against the taxonomy.
    pub fn load(dir: &Path, taxonomy: &Taxonomy) -> anyhow::Result<Self> {
        let triage = Source::read(dir, "triage.toml", DEFAULT_TRIAGE)?;
        let routing = Source::read(dir, "routing.toml", DEFAULT_ROUTING)?;
        Self::from_sources(&triage, &routing, taxonomy)
    }

    /// From the texts themselves (tests).
    pub fn parse(triage: &str, routing: &str, taxonomy: &Taxonomy) -> anyhow::Result<Self> {
        Self::from_sources(
            &Source {
                label: "triage.toml".into(),
                text: triage.into(),
            },
            &Source {
                label: "routing.toml".into(),
                text: routing.into(),
            },
            taxonomy,
        )
    }

    fn from_sources(
        triage: &Source,
        routing: &Source,
        taxonomy: &Taxonomy,
    ) -> anyhow::Result<Self> {
        let raw: RawTriage = triage.parse()?;
        let raw_routing: RawRouting = routing.parse()?;
        let priority = |text: &str, span: std::ops::Range<usize>, rule: &str| {
            Priority::parse(text).ok_or_else(|| {
                triage.error(
                    span,
                    format!(
                        "rule {rule:?}: unknown priority {text:?} (critical, high, normal, low)"
                    ),
                )
            })
        };

        let default_priority = priority(
            raw.default_priority.get_ref(),
            raw.default_priority.span(),
            "default_priority",
        )?;

        let mut base = Vec::new();
        for rule in raw.base {
            let name = rule.name.get_ref().clone();
            let span = rule.name.span();
            if rule.category.is_none() && rule.care_sector.is_none() {
                return Err(triage.error(
                    span,
                    format!("rule {name:?}: give a category, a care_sector or both"),
                ));
            }
            if let Some(category) = &rule.category
                && !taxonomy.has_category(category)
            {
                return Err(triage.error(
                    span,
                    format!("rule {name:?}: unknown category {category:?}"),
                ));
            }
            if let Some(sector) = &rule.care_sector
                && !taxonomy.has_care_sector(sector)
            {
                return Err(triage.error(
                    span,
                    format!("rule {name:?}: unknown care_sector {sector:?}"),
                ));
            }
            base.push(BaseRule {
                priority: priority(&rule.priority, span.clone(), &name)?,
                name,
                category: rule.category,
                care_sector: rule.care_sector,
            });
        }

        let mut urgency = Vec::new();
        for term in raw.urgency {
            let name = term.name.get_ref().clone();
            if term.stems.is_empty() && term.words.is_empty() {
                return Err(triage.error(
                    term.name.span(),
                    format!("rule {name:?}: give stems or words"),
                ));
            }
            if term.raise == 0 || term.raise > 3 {
                return Err(triage.error(
                    term.name.span(),
                    format!("rule {name:?}: raise must be 1 to 3"),
                ));
            }
            let tokenize = |text: &str| -> Vec<String> { super::rules::words(text) };
            let stems: Vec<Vec<String>> = term.stems.iter().map(|s| tokenize(s)).collect();
            let words: Vec<String> = term.words.iter().flat_map(|w| tokenize(w)).collect();
            if stems.iter().any(Vec::is_empty) {
                return Err(triage.error(term.name.span(), format!("rule {name:?}: an empty stem")));
            }
            urgency.push(UrgencyTerm {
                name,
                raise: term.raise,
                stems,
                words,
            });
        }

        if raw.deadlines.acknowledgement_days > 365 || raw.deadlines.feedback_months > 24 {
            return Err(anyhow::anyhow!(
                "{}: rule \"deadlines\": acknowledgement_days must be at most 365 and feedback_months at most 24",
                triage.label
            ));
        }
        if *raw.repeat_signals.threshold.get_ref() < 2 {
            return Err(triage.error(
                raw.repeat_signals.threshold.span(),
                "rule \"repeat_signals\": threshold must be at least 2",
            ));
        }

        let deadlines_span = raw.deadlines.first_review.span();
        let mut first_review = BTreeMap::new();
        for (name, span_value) in raw.deadlines.first_review.into_inner() {
            let level = priority(&name, deadlines_span.clone(), "deadlines.first_review")?;
            let sensible = match span_value {
                Span::Hours(h) => (1..=24 * 30).contains(&h),
                Span::WorkingDays(d) => d <= 60,
                Span::Days(d) => (1..=365).contains(&d),
                Span::Months(m) => (1..=24).contains(&m),
            };
            if !sensible {
                return Err(triage.error(
                    deadlines_span.clone(),
                    format!("rule \"deadlines.first_review\": the {name} deadline is out of range"),
                ));
            }
            first_review.insert(level, span_value);
        }
        for level in Priority::ALL {
            if !first_review.contains_key(&level) {
                return Err(triage.error(
                    deadlines_span.clone(),
                    format!(
                        "rule \"deadlines.first_review\": no deadline for {}",
                        level.as_str()
                    ),
                ));
            }
        }

        // Routing: every län to exactly one team, a fallback that exists.
        let mut teams = Vec::new();
        let mut team_by_region = HashMap::new();
        for team in raw_routing.teams {
            let code = team.code.get_ref().clone();
            if teams.iter().any(|t: &Team| t.code == code) {
                return Err(
                    routing.error(team.code.span(), format!("team {code:?} is listed twice"))
                );
            }
            for region in &team.regions {
                if !taxonomy.has_region(region) {
                    return Err(routing.error(
                        team.code.span(),
                        format!("team {code:?}: unknown region {region:?}"),
                    ));
                }
                if let Some(other) = team_by_region.insert(region.clone(), code.clone()) {
                    return Err(routing.error(
                        team.code.span(),
                        format!("team {code:?}: region {region} already belongs to team {other:?}"),
                    ));
                }
            }
            for address in team.notify.iter().chain(team.lead_notify.iter().flatten()) {
                if !validator::ValidateEmail::validate_email(address) {
                    return Err(routing.error(
                        team.code.span(),
                        format!("team {code:?}: {address:?} is not an email address"),
                    ));
                }
            }
            let lead_notify = match team.lead_notify {
                Some(leads) if !leads.is_empty() => leads,
                _ => team.notify.clone(),
            };
            teams.push(Team {
                code,
                name: team.name,
                regions: team.regions,
                notify: team.notify,
                lead_notify,
            });
        }
        let fallback_team = raw_routing.fallback_team.get_ref().clone();
        if !teams.iter().any(|t| t.code == fallback_team) {
            return Err(routing.error(
                raw_routing.fallback_team.span(),
                format!("fallback_team {fallback_team:?} is not one of the teams"),
            ));
        }
        let unrouted: Vec<&str> = taxonomy
            .regions
            .iter()
            .filter(|r| !team_by_region.contains_key(&r.code))
            .map(|r| r.code.as_str())
            .collect();
        if !unrouted.is_empty() {
            return Err(anyhow::anyhow!(
                "{}: regions {} belong to no team",
                routing.label,
                unrouted.join(", ")
            ));
        }

        let mut hasher = Sha256::new();
        hasher.update(triage.text.as_bytes());
        hasher.update([0]);
        hasher.update(routing.text.as_bytes());
        let version = hex::encode(&hasher.finalize()[..6]);

        Ok(TriageRules {
            version,
            default_priority,
            base,
            urgency,
            ongoing_raise: raw.ongoing.raise,
            repeat: RepeatSignals {
                threshold: *raw.repeat_signals.threshold.get_ref(),
                window_days: raw.repeat_signals.window_days,
                raise: raw.repeat_signals.raise,
            },
            first_review,
            acknowledgement_days: raw.deadlines.acknowledgement_days,
            feedback_months: raw.deadlines.feedback_months,
            fallback_team,
            teams,
            team_by_region,
        })
    }

    /// The team that triages tips from `region_code`.
    pub fn team_for_region(&self, region_code: &str) -> &str {
        self.team_by_region
            .get(region_code)
            .map_or(self.fallback_team.as_str(), String::as_str)
    }

    pub fn team(&self, code: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.code == code)
    }
}
