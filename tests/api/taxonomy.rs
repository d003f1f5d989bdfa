//! GET /api/v1/taxonomy: the code lists match the reference data, and the ETag works.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::helpers::spawn_app;

fn csv_rows(file: &str) -> Vec<Vec<String>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(file);
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| line.split(',').map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn regions_and_municipalities_match_the_reference_data() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/v1/taxonomy"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let taxonomy: Value = response.json().await.unwrap();

    let regions: Vec<Vec<String>> = taxonomy["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            ["code", "name", "region_name"]
                .iter()
                .map(|k| r[*k].as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(regions.len(), 21);
    assert_eq!(regions, csv_rows("regions.csv"));

    let municipalities: Vec<Vec<String>> = taxonomy["municipalities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            ["code", "name", "region_code"]
                .iter()
                .map(|k| m[*k].as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(municipalities.len(), 290);
    assert_eq!(municipalities, csv_rows("municipalities.csv"));

    // Every län has at least one kommun; Gotland has exactly one.
    let mut per_region: BTreeMap<String, usize> = BTreeMap::new();
    for m in &municipalities {
        *per_region.entry(m[2].clone()).or_default() += 1;
    }
    assert_eq!(per_region.len(), 21);
    assert_eq!(per_region["09"], 1);
}

#[tokio::test]
async fn code_lists_carry_swedish_and_english_labels() {
    let app = spawn_app().await;
    let taxonomy: Value = app.get("/api/v1/taxonomy").await.json().await.unwrap();
    let codes = |list: &str| -> Vec<String> {
        taxonomy[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                assert!(!l["label_sv"].as_str().unwrap().is_empty());
                assert!(!l["label_en"].as_str().unwrap().is_empty());
                l["code"].as_str().unwrap().to_owned()
            })
            .collect()
    };
    assert_eq!(
        codes("categories"),
        [
            "patient_safety",
            "staffing",
            "infection_control",
            "medication",
            "coordination",
            "responsibility",
            "prioritisation",
            "accessibility",
            "neglect_abuse",
            "restraint",
            "documentation",
            "leadership",
            "preparedness",
            "other"
        ]
    );
    assert_eq!(
        codes("care_sectors"),
        [
            "primary_care",
            "hospital_care",
            "psychiatry",
            "dental_care",
            "prehospital",
            "municipal_health",
            "elderly_residential",
            "home_care",
            "disability_lss",
            "personal_assistance",
            "children_youth_hvb",
            "substance_abuse",
            "individual_family_care",
            "other"
        ]
    );
    assert_eq!(
        codes("reporter_roles"),
        ["staff", "patient", "relative", "other"]
    );
    assert_eq!(codes("outbreaks"), ["covid-19", "influenza-2026"]);
}

#[tokio::test]
async fn the_etag_answers_304_when_unchanged() {
    let app = spawn_app().await;
    let first = app
        .client
        .get(app.url("/api/v1/taxonomy"))
        .send()
        .await
        .unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    assert!(
        first.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );

    let again = app
        .client
        .get(app.url("/api/v1/taxonomy"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert!(again.bytes().await.unwrap().is_empty());

    let stale = app
        .client
        .get(app.url("/api/v1/taxonomy"))
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status().as_u16(), 200);
}
