//! Unit tests of the tip draft's parsing and validation (`tip.rs`).

use super::*;
use crate::domain::taxonomy::{Label, Municipality, Region};

fn label(code: &str) -> Label {
    Label {
        code: code.into(),
        label_sv: code.into(),
        label_en: code.into(),
    }
}

fn taxonomy() -> Taxonomy {
    Taxonomy::new(
        vec![label("patient_safety")],
        vec![label("elderly_residential")],
        vec![label("staff")],
        vec![
            Region {
                code: "01".into(),
                name: "Stockholms län".into(),
                region_name: "Region Stockholm".into(),
            },
            Region {
                code: "14".into(),
                name: "Västra Götalands län".into(),
                region_name: "Västra Götalandsregionen".into(),
            },
        ],
        vec![
            Municipality {
                code: "0180".into(),
                name: "Stockholm".into(),
                region_code: "01".into(),
            },
            Municipality {
                code: "1480".into(),
                name: "Göteborg".into(),
                region_code: "14".into(),
            },
        ],
        vec![label("covid-19")],
    )
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn valid() -> TipDraft {
    TipDraft {
        category: Some("patient_safety".into()),
        care_sector: Some("elderly_residential".into()),
        region_code: Some("01".into()),
        description: Some("Nattetid är en undersköterska ensam med 30 boende.".into()),
        reporter_role: Some("staff".into()),
        ..TipDraft::default()
    }
}

fn codes(result: Result<TipSubmission, Vec<FieldError>>) -> Vec<(String, String)> {
    result
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.field, e.code))
        .collect()
}

fn pair(field: &str, code: &str) -> (String, String) {
    (field.to_owned(), code.to_owned())
}

#[test]
fn a_minimal_tip_is_anonymous_in_swedish() {
    let tip = TipSubmission::parse(valid(), &taxonomy(), today()).unwrap();
    assert!(tip.is_anonymous());
    assert_eq!(tip.language, Language::Sv);
    assert!(!tip.ongoing);
}

#[test]
fn an_empty_draft_names_every_required_field() {
    let got = codes(TipSubmission::parse(
        TipDraft::default(),
        &taxonomy(),
        today(),
    ));
    assert_eq!(
        got,
        vec![
            pair("category", "required"),
            pair("care_sector", "required"),
            pair("region_code", "required"),
            pair("description", "required"),
            pair("reporter_role", "required"),
        ]
    );
}

#[test]
fn each_rule_is_reported_on_its_field() {
    type Mutation = Box<dyn Fn(&mut TipDraft)>;
    let cases: Vec<(&str, Mutation, (&str, &str))> = vec![
        (
            "unknown category",
            Box::new(|d| d.category = Some("x".into())),
            ("category", "unknown_code"),
        ),
        (
            "unknown sector",
            Box::new(|d| d.care_sector = Some("x".into())),
            ("care_sector", "unknown_code"),
        ),
        (
            "unknown region",
            Box::new(|d| d.region_code = Some("99".into())),
            ("region_code", "unknown_code"),
        ),
        (
            "unknown role",
            Box::new(|d| d.reporter_role = Some("boss".into())),
            ("reporter_role", "unknown_code"),
        ),
        (
            "unknown municipality",
            Box::new(|d| d.municipality_code = Some("9999".into())),
            ("municipality_code", "unknown_code"),
        ),
        (
            "municipality elsewhere",
            Box::new(|d| d.municipality_code = Some("1480".into())),
            ("municipality_code", "not_in_region"),
        ),
        (
            "long facility",
            Box::new(|d| d.facility_name = Some("å".repeat(201))),
            ("facility_name", "too_long"),
        ),
        (
            "long provider",
            Box::new(|d| d.care_provider = Some("x".repeat(201))),
            ("care_provider", "too_long"),
        ),
        (
            "bad date",
            Box::new(|d| d.occurred_on = Some("2026-13-01".into())),
            ("occurred_on", "invalid_date"),
        ),
        (
            "date before the floor",
            Box::new(|d| d.occurred_on = Some("0000-01-01".into())),
            ("occurred_on", "too_early"),
        ),
        (
            "invisible text",
            Box::new(|d| d.description = Some("\u{200B}\u{FEFF}".repeat(20))),
            ("description", "required"),
        ),
        (
            "future date",
            Box::new(|d| d.occurred_on = Some("2026-11-23".into())),
            ("occurred_on", "in_future"),
        ),
        (
            "short text",
            Box::new(|d| d.description = Some("   för kort text    ".into())),
            ("description", "too_short"),
        ),
        (
            "long text",
            Box::new(|d| d.description = Some("a".repeat(10_001))),
            ("description", "too_long"),
        ),
        (
            "unknown outbreak",
            Box::new(|d| d.outbreak = Some("ebola".into())),
            ("outbreak", "unknown_code"),
        ),
        (
            "contact without email or phone",
            Box::new(|d| {
                d.reporter = Some(ReporterDraft {
                    name: Some("Anna".into()),
                    ..Default::default()
                })
            }),
            ("reporter", "contact_required"),
        ),
        (
            "bad email",
            Box::new(|d| {
                d.reporter = Some(ReporterDraft {
                    email: Some("anna@".into()),
                    ..Default::default()
                })
            }),
            ("reporter.email", "invalid_email"),
        ),
        (
            "bad phone",
            Box::new(|d| {
                d.reporter = Some(ReporterDraft {
                    phone: Some("12ab".into()),
                    ..Default::default()
                })
            }),
            ("reporter.phone", "invalid_phone"),
        ),
        (
            "long name",
            Box::new(|d| {
                d.reporter = Some(ReporterDraft {
                    name: Some("n".repeat(201)),
                    phone: Some("070-123 45 67".into()),
                    ..Default::default()
                })
            }),
            ("reporter.name", "too_long"),
        ),
    ];
    for (name, mutate, expected) in cases {
        let mut draft = valid();
        mutate(&mut draft);
        let got = codes(TipSubmission::parse(draft, &taxonomy(), today()));
        assert_eq!(got, vec![pair(expected.0, expected.1)], "case: {name}");
    }
}

#[test]
fn boundaries_are_inclusive() {
    let mut draft = valid();
    draft.description = Some(format!("  {}  ", "ö".repeat(20)));
    draft.facility_name = Some("f".repeat(200));
    draft.occurred_on = Some("2026-11-22".into());
    let tip = TipSubmission::parse(draft, &taxonomy(), today()).unwrap();
    assert_eq!(tip.description.chars().count(), 20);
    assert_eq!(tip.occurred_on, Some(today()));

    let mut draft = valid();
    draft.description = Some("x".repeat(10_000));
    assert!(TipSubmission::parse(draft, &taxonomy(), today()).is_ok());
}

#[test]
fn identified_reporter_keeps_contact_and_blank_fields_vanish() {
    let mut draft = valid();
    draft.facility_name = Some("   ".into());
    draft.municipality_code = Some("0180".into());
    draft.reporter = Some(ReporterDraft {
        name: Some(" Anna Andersson ".into()),
        email: Some("anna@example.se".into()),
        phone: Some(String::new()),
    });
    let tip = TipSubmission::parse(draft, &taxonomy(), today()).unwrap();
    assert_eq!(tip.facility_name, None);
    let contact = tip.reporter.unwrap();
    assert_eq!(contact.name.as_deref(), Some("Anna Andersson"));
    assert_eq!(contact.email.as_deref(), Some("anna@example.se"));
    assert_eq!(contact.phone, None);
}

#[test]
fn debug_output_holds_no_content() {
    let mut draft = valid();
    draft.reporter = Some(ReporterDraft {
        email: Some("anna@example.se".into()),
        ..Default::default()
    });
    let tip = TipSubmission::parse(draft, &taxonomy(), today()).unwrap();
    let debug = format!("{tip:?}");
    assert!(!debug.contains("undersköterska"));
    assert!(!debug.contains("anna@"));
}
