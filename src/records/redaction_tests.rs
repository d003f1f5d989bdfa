//! Unit tests of redaction checks, cutting, sentences and pre-marks (`redaction.rs`).

use super::*;
use crate::records::RecordsRules;

fn texts(description: &str, message: Option<(Uuid, &str)>) -> TipTexts {
    let mut parts = vec![(Part::Description, description.to_owned())];
    if let Some((id, body)) = message {
        parts.push((Part::Message(id), body.to_owned()));
    }
    TipTexts { parts }
}

fn r(part: &str, start: i64, end: i64, ground: &str) -> Redaction {
    Redaction {
        part: part.to_owned(),
        start,
        end,
        ground: ground.to_owned(),
    }
}

fn codes(result: Result<Vec<Checked>, Vec<FieldError>>) -> Vec<(String, String)> {
    result
        .unwrap_err()
        .into_iter()
        .map(|e| (e.field, e.code))
        .collect()
}

const G: &str = "OSL 25 kap. 1 §";

#[test]
fn a_good_list_is_accepted_in_order() {
    let rules = RecordsRules::builtin().unwrap();
    let message = Uuid::now_v7();
    let t = texts("Åsa föll i natt på avdelning 4.", Some((message, "Svar")));
    let checked = check(
        &[
            r(&format!("message:{message}"), 0, 4, G),
            r("description", 5, 9, "OSL 26 kap. 1 §"),
            r("description", 0, 3, G),
        ],
        &t,
        &rules.disclosure,
    )
    .unwrap();
    let parts: Vec<_> = checked.iter().map(|c| (c.part, c.range.clone())).collect();
    assert_eq!(
        parts,
        [
            (Part::Description, 0..3),
            (Part::Description, 5..9),
            (Part::Message(message), 0..4)
        ]
    );
}

#[test]
fn every_bad_entry_is_named_by_its_field() {
    let rules = RecordsRules::builtin().unwrap();
    let t = texts("Tjugo tecken eller fler här.", None);
    let length = i64::try_from("Tjugo tecken eller fler här.".chars().count()).unwrap();
    assert_eq!(
        codes(check(
            &[
                r("description", 0, 5, G),
                r("description", 3, 8, G),
                r("description", 10, length + 1, G),
                r("description", 9, 9, G),
                r("message:00000000-0000-0000-0000-000000000000", 0, 1, G),
                r("description", 20, 21, "OSL 99 kap."),
                r("attachment", -1, 2, G),
            ],
            &t,
            &rules.disclosure,
        )),
        [
            ("redactions[1].start".into(), "overlaps".into()),
            ("redactions[2].end".into(), "out_of_range".into()),
            ("redactions[3].end".into(), "out_of_range".into()),
            ("redactions[4].part".into(), "unknown_part".into()),
            ("redactions[5].ground".into(), "unknown_ground".into()),
            ("redactions[6].part".into(), "unknown_part".into()),
            ("redactions[6].start".into(), "out_of_range".into()),
        ]
    );
    // Touching ranges do not overlap; the end may be the text's length.
    assert!(
        check(
            &[r("description", 0, 5, G), r("description", 5, length, G)],
            &t,
            &rules.disclosure
        )
        .is_ok()
    );
}

#[test]
fn withheld_characters_are_gone_from_the_segments() {
    let text = "Patienten Åke Ström, 811218-9876, föll.";
    let checked = [
        Checked {
            part: Part::Description,
            range: 10..20,
            ground: G.into(),
        },
        Checked {
            part: Part::Description,
            range: 21..32,
            ground: "OSL 21 kap. 1 §".into(),
        },
    ];
    let segments = segments(text, &checked.iter().collect::<Vec<_>>());
    assert_eq!(
        segments,
        [
            Segment::Kept("Patienten ".into()),
            Segment::Withheld { ground: G.into() },
            Segment::Kept(" ".into()),
            Segment::Withheld {
                ground: "OSL 21 kap. 1 §".into()
            },
            Segment::Kept(", föll.".into()),
        ]
    );
    let kept: String = segments
        .iter()
        .filter_map(|s| match s {
            Segment::Kept(t) => Some(t.as_str()),
            Segment::Withheld { .. } => None,
        })
        .collect();
    assert!(!kept.contains("Åke") && !kept.contains("9876"));
}

#[test]
fn sentences_split_where_a_reader_would() {
    let text = "Nattetid är en ensam. Det gäller t.ex. avd. 4 och 5!  Varför?\nNy rad utan punkt\n\n\"Citat.\" Slut.";
    let found: Vec<String> = sentences(text).iter().map(|r| slice(text, r)).collect();
    assert_eq!(
        found,
        [
            "Nattetid är en ensam.",
            "Det gäller t.ex. avd. 4 och 5!",
            "Varför?",
            "Ny rad utan punkt",
            "\"Citat.\"",
            "Slut."
        ]
    );
    assert!(sentences("   ").is_empty());
}

#[test]
fn identity_numbers_are_pre_marked_under_the_given_ground() {
    let message = Uuid::now_v7();
    let t = texts(
        "Brukaren 811218-9876 fick fel dos.",
        Some((message, "Även 19701063-2391 drabbades.")),
    );
    let marks = t.pre_mark_redactions(G);
    assert_eq!(
        marks,
        [
            r("description", 9, 20, G),
            r(&format!("message:{message}"), 5, 18, G)
        ]
    );
    assert_eq!(
        ground_counts(&from_stored(&serde_json::to_value(&marks).unwrap()))[G],
        2
    );
}
