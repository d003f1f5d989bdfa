//! Triage itself, as a pure function of the rules and the tip: base priority, urgency terms,
//! an ongoing situation, repeat signals, routing and deadlines — and the list of rules that
//! fired, so every result can be explained.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::calendar::{self, Span};
use super::config::TriageRules;
use crate::domain::Priority;

/// Lower-case words of a text (letters, digits and inner hyphens; å, ä, ö kept).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .map(|w| w.trim_matches('-').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The facility a tip concerns, as compared for repeat signals: municipality code plus the
/// name in lower case with punctuation and spacing evened out ("Solgläntans  Äldreboende AB"
/// and "solgläntans äldreboende ab" are the same place).
pub fn facility_key(
    facility_name: Option<&str>,
    municipality_code: Option<&str>,
) -> Option<String> {
    let name = words(facility_name?).join(" ");
    (!name.is_empty()).then(|| format!("{}:{name}", municipality_code.unwrap_or("-")))
}

/// What triage looks at.
pub struct TriageInput<'a> {
    pub category: &'a str,
    pub care_sector: &'a str,
    pub region_code: &'a str,
    pub description: &'a str,
    pub facility_name: Option<&'a str>,
    pub ongoing: bool,
    /// The reporter left contact details (they get an acknowledgement).
    pub identified: bool,
    pub submitted_at: DateTime<Utc>,
    /// Earlier tips about the same facility within the repeat window.
    pub earlier_tips_at_facility: u32,
}

/// One rule that contributed to the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleHit {
    /// `base`, `urgency`, `ongoing`, `repeat_signal` or `routing`.
    pub kind: String,
    /// The rule's name in the configuration.
    pub rule: String,
    /// Priority steps it added (0 for base and routing).
    pub raise: u32,
    /// What matched, e.g. the word or the number of tips.
    pub detail: String,
}

/// The outcome, stored with the tip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriageResult {
    pub priority: Priority,
    /// Steps raised above the base priority, before capping at critical.
    pub score: u32,
    pub team: String,
    pub due_at: DateTime<Utc>,
    pub acknowledgement_due_at: Option<DateTime<Utc>>,
    pub feedback_due_at: DateTime<Utc>,
    pub hits: Vec<RuleHit>,
    pub config_version: String,
    /// The repeat threshold was reached: link this tip's facility cluster.
    pub forms_cluster: bool,
}

fn hit(kind: &str, rule: &str, raise: u32, detail: impl Into<String>) -> RuleHit {
    RuleHit {
        kind: kind.to_owned(),
        rule: rule.to_owned(),
        raise,
        detail: detail.into(),
    }
}

/// Triages one tip.
pub fn evaluate(rules: &TriageRules, input: &TriageInput<'_>) -> TriageResult {
    let mut hits = Vec::new();

    // Base: the most specific matching rule, then the most urgent.
    let base = rules
        .base
        .iter()
        .filter(|r| {
            r.category.as_deref().is_none_or(|c| c == input.category)
                && r.care_sector
                    .as_deref()
                    .is_none_or(|s| s == input.care_sector)
        })
        .max_by_key(|r| {
            (
                usize::from(r.category.is_some()) + usize::from(r.care_sector.is_some()),
                r.priority,
            )
        });
    let base_priority = match base {
        Some(rule) => {
            hits.push(hit("base", &rule.name, 0, rule.priority.as_str()));
            rule.priority
        }
        None => {
            hits.push(hit(
                "base",
                "default_priority",
                0,
                rules.default_priority.as_str(),
            ));
            rules.default_priority
        }
    };

    // Urgency terms: the largest raise among those found counts.
    let text_words = {
        let mut all = words(input.description);
        if let Some(facility) = input.facility_name {
            all.extend(words(facility));
        }
        all
    };
    let mut term_raise = 0;
    for term in &rules.urgency {
        if let Some(found) = find_term(&text_words, &term.stems, &term.words) {
            hits.push(hit("urgency", &term.name, term.raise, found));
            term_raise = term_raise.max(term.raise);
        }
    }

    let mut score = term_raise;
    if input.ongoing && rules.ongoing_raise > 0 {
        hits.push(hit(
            "ongoing",
            "ongoing",
            rules.ongoing_raise,
            "the situation is ongoing",
        ));
        score += rules.ongoing_raise;
    }

    let tips_in_window = input.earlier_tips_at_facility + 1;
    let forms_cluster = input.facility_name.is_some() && tips_in_window >= rules.repeat.threshold;
    if forms_cluster {
        hits.push(hit(
            "repeat_signal",
            "repeat_signals",
            rules.repeat.raise,
            format!(
                "{tips_in_window} tips about the facility within {} days",
                rules.repeat.window_days
            ),
        ));
        score += rules.repeat.raise;
    }

    let priority = base_priority.raised(score);
    let team = rules.team_for_region(input.region_code).to_owned();
    hits.push(hit(
        "routing",
        &team,
        0,
        format!("region {}", input.region_code),
    ));

    let first_review = rules
        .first_review
        .get(&priority)
        .copied()
        .unwrap_or(Span::WorkingDays(5));
    TriageResult {
        priority,
        score,
        team,
        due_at: calendar::due(input.submitted_at, first_review),
        acknowledgement_due_at: input
            .identified
            .then(|| calendar::due(input.submitted_at, Span::Days(rules.acknowledgement_days))),
        feedback_due_at: calendar::due(input.submitted_at, Span::Months(rules.feedback_months)),
        hits,
        config_version: rules.version.clone(),
        forms_cluster,
    }
}

/// The first word (or phrase) of `text_words` that a stem or whole word matches.
fn find_term(text_words: &[String], stems: &[Vec<String>], whole: &[String]) -> Option<String> {
    for (i, word) in text_words.iter().enumerate() {
        if whole.iter().any(|w| w == word) {
            return Some(word.clone());
        }
        for stem in stems {
            let Some((last, leading)) = stem.split_last() else {
                continue;
            };
            let end = i + leading.len();
            let fits = end < text_words.len()
                && leading
                    .iter()
                    .enumerate()
                    .all(|(k, w)| text_words[i + k] == *w)
                && text_words[end].starts_with(last.as_str());
            if fits {
                return Some(text_words[i..=end].join(" "));
            }
        }
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::Taxonomy;
    use crate::domain::taxonomy::{Label, Municipality, Region};

    /// The real code lists: categories and sectors as seeded, regions and kommuner from data/.
    pub(crate) fn taxonomy() -> Taxonomy {
        let label = |code: &str| Label {
            code: code.into(),
            label_sv: code.into(),
            label_en: code.into(),
        };
        let categories = "patient_safety staffing infection_control medication coordination responsibility prioritisation accessibility neglect_abuse restraint documentation leadership preparedness other";
        let sectors = "primary_care hospital_care psychiatry dental_care prehospital municipal_health elderly_residential home_care disability_lss personal_assistance children_youth_hvb substance_abuse individual_family_care other";
        let rows = |text: &'static str| {
            text.lines()
                .skip(1)
                .map(|l| l.split(',').collect::<Vec<_>>())
        };
        Taxonomy::new(
            categories.split(' ').map(label).collect(),
            sectors.split(' ').map(label).collect(),
            ["staff", "patient", "relative", "other"]
                .map(label)
                .to_vec(),
            rows(include_str!("../../data/regions.csv"))
                .map(|r| Region {
                    code: r[0].into(),
                    name: r[1].into(),
                    region_name: r[2].into(),
                })
                .collect(),
            rows(include_str!("../../data/municipalities.csv"))
                .map(|r| Municipality {
                    code: r[0].into(),
                    name: r[1].into(),
                    region_code: r[2].into(),
                })
                .collect(),
            vec![],
        )
    }

    pub(crate) fn default_rules() -> TriageRules {
        TriageRules::parse(
            include_str!("../../config/triage.toml"),
            include_str!("../../config/routing.toml"),
            &taxonomy(),
        )
        .unwrap()
    }

    fn stockholm(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        chrono_tz::Europe::Stockholm
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn input<'a>(category: &'a str, sector: &'a str, text: &'a str) -> TriageInput<'a> {
        TriageInput {
            category,
            care_sector: sector,
            region_code: "01",
            description: text,
            facility_name: None,
            ongoing: false,
            identified: false,
            submitted_at: stockholm(2026, 11, 18, 10, 0),
            earlier_tips_at_facility: 0,
        }
    }

    #[test]
    fn realistic_swedish_tips_get_the_expected_priority() {
        let rules = default_rules();
        let cases: &[(&str, &str, &str, Priority, &[&str])] = &[
            (
                "staffing",
                "elderly_residential",
                "Nattetid är en undersköterska ensam med trettio boende.",
                Priority::Normal,
                &[],
            ),
            (
                "staffing",
                "elderly_residential",
                "En boende AVLED i natt efter att ha legat på golvet i flera timmar.",
                Priority::Critical,
                &["death"],
            ),
            (
                "patient_safety",
                "hospital_care",
                "Patienten har avlidit och anhöriga fick inget besked.",
                Priority::Critical,
                &["death"],
            ),
            (
                "patient_safety",
                "psychiatry",
                "Flera självmordsförsök på avdelningen utan att läkare tillkallats.",
                Priority::Critical,
                &["suicide"],
            ),
            (
                "neglect_abuse",
                "home_care",
                "Brukaren misshandlades av en anställd, blåmärken på armarna.",
                Priority::Critical,
                &["violence"],
            ),
            (
                "restraint",
                "disability_lss",
                "Han hålls fastspänd i rullstolen hela dagarna.",
                Priority::Critical,
                &["restraint or locking in"],
            ),
            (
                "restraint",
                "children_youth_hvb",
                "Ungdomarna låses in på rummen på kvällarna.",
                Priority::Critical,
                &[],
            ),
            (
                "other",
                "elderly_residential",
                "Personalen låser in de boende på natten.",
                Priority::High,
                &["restraint or locking in"],
            ),
            (
                "staffing",
                "primary_care",
                "Läkaren hotade en patient i väntrummet.",
                Priority::High,
                &["threats"],
            ),
            (
                "staffing",
                "primary_care",
                "Mottagningen ligger i ett gammalt hotell och det är trångt.",
                Priority::Normal,
                &[],
            ),
            (
                "documentation",
                "dental_care",
                "Journalerna förs inte, ingen har skrivit något på veckor.",
                Priority::Low,
                &[],
            ),
            (
                "medication",
                "elderly_residential",
                "Fel läkemedel delades ut till tre boende.",
                Priority::High,
                &[],
            ),
            (
                "patient_safety",
                "hospital_care",
                "The patient died after waiting eleven hours in the emergency room.",
                Priority::Critical,
                &["death"],
            ),
            (
                "accessibility",
                "primary_care",
                "Det går inte att komma fram på telefon.",
                Priority::Low,
                &[],
            ),
            // Negation is out of scope: it still raises, and nothing breaks.
            (
                "patient_safety",
                "primary_care",
                "Ingen har dött, men det var nära.",
                Priority::Critical,
                &["death"],
            ),
            ("other", "other", "", Priority::Normal, &[]),
            (
                "other",
                "other",
                "--- !!! ??? 811218-9876 ##",
                Priority::Normal,
                &[],
            ),
        ];
        for (category, sector, text, expected, terms) in cases {
            let result = evaluate(&rules, &input(category, sector, text));
            assert_eq!(result.priority, *expected, "{text}");
            let fired: Vec<&str> = result
                .hits
                .iter()
                .filter(|h| h.kind == "urgency")
                .map(|h| h.rule.as_str())
                .collect();
            assert_eq!(fired, *terms, "{text}");
        }
    }

    #[test]
    fn the_largest_term_counts_and_ongoing_adds_a_step() {
        let rules = default_rules();
        // death (+2) and threats (+1): +2, not +3
        let result = evaluate(
            &rules,
            &input("documentation", "other", "Hot och ett dödsfall"),
        );
        assert_eq!(result.priority, Priority::High, "low + 2");
        assert_eq!(result.score, 2);
        let mut ongoing = input("documentation", "other", "Pågår fortfarande");
        ongoing.ongoing = true;
        let result = evaluate(&rules, &ongoing);
        assert_eq!(result.priority, Priority::Normal);
        assert!(
            result
                .hits
                .iter()
                .any(|h| h.kind == "ongoing" && h.raise == 1)
        );
    }

    #[test]
    fn a_third_tip_about_a_facility_forms_a_cluster() {
        let rules = default_rules();
        let mut tip = input("staffing", "elderly_residential", "Underbemanning igen.");
        tip.facility_name = Some("Solgläntans äldreboende");
        for (earlier, forms) in [(0, false), (1, false), (2, true), (7, true)] {
            tip.earlier_tips_at_facility = earlier;
            let result = evaluate(&rules, &tip);
            assert_eq!(result.forms_cluster, forms, "{earlier} earlier");
            let expected = if forms {
                Priority::High
            } else {
                Priority::Normal
            };
            assert_eq!(result.priority, expected, "{earlier} earlier");
        }
        // Without a facility there is nothing to count.
        tip.facility_name = None;
        tip.earlier_tips_at_facility = 5;
        assert!(!evaluate(&rules, &tip).forms_cluster);
    }

    #[test]
    fn facility_names_are_compared_normalised() {
        assert_eq!(
            facility_key(Some("  Solgläntans ÄLDREBOENDE, avd. 3 "), Some("0180")),
            facility_key(Some("solgläntans äldreboende avd 3"), Some("0180"))
        );
        assert_ne!(
            facility_key(Some("Solgläntan"), Some("0180")),
            facility_key(Some("Solgläntan"), Some("1280"))
        );
        assert_eq!(facility_key(Some(" ... "), Some("0180")), None);
        assert_eq!(facility_key(None, Some("0180")), None);
    }

    #[test]
    fn every_region_is_routed_to_its_department() {
        let rules = default_rules();
        let expected = [
            ("01", "ost"),
            ("03", "mitt"),
            ("04", "sydost"),
            ("05", "sydost"),
            ("06", "sydost"),
            ("07", "syd"),
            ("08", "sydost"),
            ("09", "ost"),
            ("10", "syd"),
            ("12", "syd"),
            ("13", "sydvast"),
            ("14", "sydvast"),
            ("17", "mitt"),
            ("18", "mitt"),
            ("19", "mitt"),
            ("20", "mitt"),
            ("21", "mitt"),
            ("22", "nord"),
            ("23", "nord"),
            ("24", "nord"),
            ("25", "nord"),
        ];
        assert_eq!(expected.len(), 21);
        for (region, team) in expected {
            let mut tip = input("staffing", "other", "x");
            tip.region_code = region;
            let result = evaluate(&rules, &tip);
            assert_eq!(result.team, team, "region {region}");
            assert!(
                result
                    .hits
                    .iter()
                    .any(|h| h.kind == "routing" && h.rule == team)
            );
        }
        assert_eq!(
            rules.team_for_region("99"),
            "nationell",
            "unknown → fallback"
        );
    }

    #[test]
    fn deadlines_follow_priority_and_the_swedish_calendar() {
        let rules = default_rules();
        // Thursday before Easter 2026, 10:00.
        let mut tip = input("staffing", "elderly_residential", "Underbemanning.");
        tip.submitted_at = stockholm(2026, 4, 2, 10, 0);
        tip.identified = true;
        let normal = evaluate(&rules, &tip);
        // 5 working days: Tue 7, Wed 8, Thu 9, Fri 10, Mon 13 April (Good Friday and Easter Monday off).
        assert_eq!(normal.due_at, stockholm(2026, 4, 13, 17, 0));
        assert_eq!(
            normal.acknowledgement_due_at,
            Some(tip.submitted_at + chrono::Duration::days(7))
        );
        assert_eq!(normal.feedback_due_at, stockholm(2026, 7, 2, 10, 0));

        tip.description = "En boende avled.";
        let critical = evaluate(&rules, &tip);
        assert_eq!(critical.priority, Priority::Critical);
        assert_eq!(
            critical.due_at,
            tip.submitted_at + chrono::Duration::hours(4)
        );

        tip.identified = false;
        assert_eq!(evaluate(&rules, &tip).acknowledgement_due_at, None);
    }

    #[test]
    fn results_record_the_rules_version() {
        let rules = default_rules();
        let result = evaluate(&rules, &input("staffing", "other", "x"));
        assert_eq!(result.config_version, rules.version);
        assert_eq!(rules.version.len(), 12);
        let changed = TriageRules::parse(
            &include_str!("../../config/triage.toml")
                .replace("window_days = 90", "window_days = 60"),
            include_str!("../../config/routing.toml"),
            &taxonomy(),
        )
        .unwrap();
        assert_ne!(changed.version, rules.version);
    }

    #[test]
    fn configuration_errors_name_the_file_line_and_rule() {
        let triage = include_str!("../../config/triage.toml");
        let routing = include_str!("../../config/routing.toml");
        let line_of =
            |text: &str, needle: &str| text[..text.find(needle).unwrap()].matches('\n').count() + 1;
        let cases: Vec<(String, String, String)> = vec![
            (
                triage.replace("category = \"neglect_abuse\"", "category = \"neglect\""),
                routing.to_owned(),
                format!(
                    "triage.toml:{}: rule \"neglect or abuse\": unknown category \"neglect\"",
                    line_of(triage, "name = \"neglect or abuse\"")
                ),
            ),
            (
                triage.replace(
                    "priority = \"low\"\n\n[[base]]\nname = \"accessibility\"",
                    "priority = \"urgent\"\n\n[[base]]\nname = \"accessibility\"",
                ),
                routing.to_owned(),
                format!(
                    "triage.toml:{}: rule \"documentation\": unknown priority \"urgent\"",
                    line_of(triage, "name = \"documentation\"")
                ),
            ),
            (
                triage.to_owned(),
                routing.replace(
                    "regions = [\"13\", \"14\"]",
                    "regions = [\"13\", \"14\", \"01\"]",
                ),
                format!(
                    "routing.toml:{}: team \"sydvast\": region 01 already belongs to team \"ost\"",
                    line_of(routing, "code = \"sydvast\"")
                ),
            ),
            (
                triage.to_owned(),
                routing.replace(
                    "regions = [\"22\", \"23\", \"24\", \"25\"]",
                    "regions = [\"22\", \"23\", \"24\"]",
                ),
                "routing.toml: regions 25 belong to no team".to_owned(),
            ),
            (
                triage.to_owned(),
                routing.replace("fallback_team = \"nationell\"", "fallback_team = \"ingen\""),
                "routing.toml:4: fallback_team \"ingen\" is not one of the teams".to_owned(),
            ),
            (
                triage.replace("threshold = 3", "threshold = \"tre\""),
                routing.to_owned(),
                format!("triage.toml:{}:", line_of(triage, "threshold = 3")),
            ),
        ];
        for (triage, routing, expected) in cases {
            let error = TriageRules::parse(&triage, &routing, &taxonomy())
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with(&expected),
                "{error}\n  expected: {expected}"
            );
        }
    }
}
