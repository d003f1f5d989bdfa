//! Tip bodies for the load benchmarks: `BODY_COUNT` varied, valid `POST /api/v1/tips` bodies
//! built from the service's own `GET /api/v1/taxonomy` (Swedish descriptions of 300–900
//! characters assembled from realistic sentences, optional facility, provider, dates, outbreak
//! and reporter details in realistic proportions). Seeded, so every run sends the same bodies.
//! Included by `benches/write_path.rs` and `benches/cluster.rs` through `#[path]`.

#![allow(dead_code)] // each bench uses a different part

use std::collections::HashMap;

use anyhow::{Context, bail};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// How many different bodies are built; requests cycle through them.
pub const BODY_COUNT: usize = 200;

/// Sentences a tip description is assembled from; `{place}` and `{when}` are filled in.
/// Also the source of the pgbench baseline's description in `write_path`.
pub const SENTENCES: &[&str] = &[
    "Under nattpassen på {place} är det ofta bara en undersköterska på plats för tre avdelningar, och ingen sjuksköterska finns i huset efter klockan 22.",
    "{when} blev en boende liggande på golvet i nästan en timme innan någon hann komma, eftersom den enda personalen var upptagen på en annan avdelning.",
    "Larmen går ofta utan att någon svarar, och vikarierna som tas in har inte fått någon introduktion i hur larmsystemet fungerar.",
    "{when} fick en patient fel läkemedel vid kvällsutdelningen; dosetten var märkt med en annan persons namn och ingen kontrollerade mot ordinationslistan.",
    "Signeringslistorna för läkemedel fylls i i efterhand, ibland flera dagar senare, och det går inte att se vem som faktiskt har gett vad.",
    "Narkotikaklassade preparat förvaras i ett olåst skåp i personalrummet och räkningen av förrådet har inte gjorts på flera veckor.",
    "Hygienrutinerna följs inte: personalen bär armbandsur och egna kläder i omvårdnadsarbetet, och handsprit saknas på flera ställen på {place}.",
    "Inkontinensskydd byts för sällan och flera boende har fått trycksår som inte dokumenterats i journalen eller rapporterats vidare till sjuksköterskan.",
    "Köket har under en längre tid serverat mat som varit kall och det finns boende som inte får hjälp att äta, vilket har lett till viktnedgång.",
    "{when} såg jag hur en boende med demenssjukdom spändes fast i rullstolen med ett bälte utan att det fanns något beslut eller någon dokumentation om det.",
    "Dörrarna till avdelningen låses på kvällarna med kodlås, vilket gör att boende som inte är dementa inte kan gå ut på egen hand.",
    "När jag tog upp saken med enhetschefen fick jag höra att det är så det fungerar överallt och att jag inte ska göra någon stor sak av det.",
    "Flera anhöriga har klagat skriftligt men har inte fått något svar, och klagomålen verkar inte ha registrerats som avvikelser.",
    "Personalen har inte fått någon utbildning i basala hygienrutiner sedan i våras, trots att det har funnits utbrott av magsjuka på {place}.",
    "Bemanningen har minskat sedan ny ledning tog över, och sjukfrånvaron bland ordinarie personal är nu mycket hög.",
    "Jag vill vara anonym eftersom jag är rädd för repressalier, men jag kan bekräfta att detta har pågått i flera månader.",
    "Avvikelserapporter som skrivs försvinner ofta utan åtgärd och vi som arbetar där får aldrig veta om något har utretts.",
    "{when} lämnades en patient med hög fallrisk utan tillsyn i duschen, trots att vårdplanen säger att två personer alltid ska vara med.",
    "Journalanteckningarna är bristfälliga och saknar ofta uppgifter om vilka insatser som faktiskt har utförts under dygnet.",
    "Jag hoppas att IVO kan göra en inspektion, gärna oanmäld och gärna på natten, så att ni ser hur det faktiskt ser ut.",
];

const PLACES: &[&str] = &[
    "boendet",
    "avdelningen",
    "enheten",
    "korttidsboendet",
    "gruppbostaden",
    "vårdavdelningen",
];

const WHENS: &[&str] = &[
    "I förra veckan",
    "Natten till lördagen",
    "Förra månaden",
    "I söndags kväll",
    "Vid två tillfällen i höstas",
    "Under julhelgen",
];

const FACILITIES: &[&str] = &[
    "Solgläntans äldreboende",
    "Björkhagens LSS-boende",
    "Vårdcentralen Ängen",
    "Avdelning 12, Centrallasarettet",
    "Lindgårdens vård- och omsorgsboende",
    "Hemtjänsten Norra distriktet",
    "Tallbackens korttidsboende",
    "Akutmottagningen, Universitetssjukhuset",
];

const PROVIDERS: &[&str] = &[
    "Kommunens vård- och omsorgsförvaltning",
    "Omsorgsbolaget i Sverige AB",
    "Regionens hälso- och sjukvård",
    "Stiftelsen Vårdhemmet",
];

const FIRST_NAMES: &[&str] = &["Anna", "Erik", "Fatima", "Johan", "Maria", "Ahmed", "Karin"];
const LAST_NAMES: &[&str] = &[
    "Lindqvist",
    "Andersson",
    "Nilsson",
    "Hassan",
    "Berg",
    "Öberg",
];

fn description(rng: &mut StdRng) -> String {
    let target = rng.random_range(300..=900);
    let mut order: Vec<usize> = (0..SENTENCES.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let mut text = String::new();
    for index in order {
        let place = PLACES.choose(rng).copied().unwrap_or("boendet");
        let when = WHENS.choose(rng).copied().unwrap_or("Nyligen");
        let sentence = SENTENCES[index]
            .replace("{place}", place)
            .replace("{when}", when);
        let len = text.chars().count();
        let next = len + 1 + sentence.chars().count();
        if len >= 300 && (next > 900 || len >= target) {
            break;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&sentence);
    }
    text
}

fn codes(taxonomy: &Value, list: &str) -> anyhow::Result<Vec<String>> {
    let codes: Vec<String> = taxonomy[list]
        .as_array()
        .with_context(|| format!("taxonomy has no {list} list"))?
        .iter()
        .filter_map(|item| item["code"].as_str().map(str::to_owned))
        .collect();
    Ok(codes)
}

/// Fetches the taxonomy and builds `BODY_COUNT` valid, varied tip bodies (serialised JSON).
pub async fn build_bodies(client: &reqwest::Client, base: &str) -> anyhow::Result<Vec<String>> {
    let taxonomy: Value = client
        .get(format!("{base}/api/v1/taxonomy"))
        .send()
        .await
        .context("GET /api/v1/taxonomy")?
        .error_for_status()?
        .json()
        .await
        .context("parsing the taxonomy")?;
    let categories = codes(&taxonomy, "categories")?;
    let sectors = codes(&taxonomy, "care_sectors")?;
    let roles = codes(&taxonomy, "reporter_roles")?;
    let regions = codes(&taxonomy, "regions")?;
    let outbreaks = codes(&taxonomy, "outbreaks")?;
    let mut municipalities: HashMap<String, Vec<String>> = HashMap::new();
    for m in taxonomy["municipalities"].as_array().into_iter().flatten() {
        if let (Some(code), Some(region)) = (m["code"].as_str(), m["region_code"].as_str()) {
            municipalities
                .entry(region.to_owned())
                .or_default()
                .push(code.to_owned());
        }
    }
    if categories.is_empty() || sectors.is_empty() || roles.is_empty() || regions.is_empty() {
        bail!("the taxonomy is missing categories, care sectors, reporter roles or regions");
    }

    let mut rng = StdRng::seed_from_u64(0x7195a);
    let today = chrono::Utc::now().date_naive();
    let mut bodies = Vec::with_capacity(BODY_COUNT);
    for i in 0..BODY_COUNT {
        let region = regions[i % regions.len()].clone();
        let mut body = json!({
            "category": categories.choose(&mut rng),
            "care_sector": sectors.choose(&mut rng),
            "region_code": region,
            "reporter_role": roles.choose(&mut rng),
            "description": description(&mut rng),
        });
        let fields = body
            .as_object_mut()
            .context("a tip body is a JSON object")?;
        if let Some(list) = municipalities.get(&region)
            && rng.random_bool(0.8)
        {
            fields.insert("municipality_code".into(), json!(list.choose(&mut rng)));
        }
        if rng.random_bool(0.5) {
            fields.insert("facility_name".into(), json!(FACILITIES.choose(&mut rng)));
        }
        if rng.random_bool(0.25) {
            fields.insert("care_provider".into(), json!(PROVIDERS.choose(&mut rng)));
        }
        if rng.random_bool(0.6) {
            let days = rng.random_range(1..=180);
            let date = today - chrono::Days::new(days);
            fields.insert(
                "occurred_on".into(),
                json!(date.format("%Y-%m-%d").to_string()),
            );
        }
        if rng.random_bool(0.3) {
            fields.insert("ongoing".into(), json!(rng.random_bool(0.7)));
        }
        if !outbreaks.is_empty() && rng.random_bool(0.05) {
            fields.insert("outbreak".into(), json!(outbreaks.choose(&mut rng)));
        }
        if rng.random_bool(0.3) {
            let first = FIRST_NAMES.choose(&mut rng).copied().unwrap_or("Anna");
            let last = LAST_NAMES.choose(&mut rng).copied().unwrap_or("Berg");
            let mut reporter = json!({
                "email": format!("{}.{}{i}@example.se", first.to_lowercase(), ascii_fold(last)),
            });
            if rng.random_bool(0.5) {
                reporter["name"] = json!(format!("{first} {last}"));
            }
            if rng.random_bool(0.2) {
                reporter["phone"] =
                    json!(format!("070-{:03} {:02} {:02}", i % 1000, i % 97, i % 89));
            }
            fields.insert("reporter".into(), reporter);
        }
        if rng.random_bool(0.3) {
            fields.insert("language".into(), json!("sv"));
        }
        bodies.push(serde_json::to_string(&body)?);
    }
    Ok(bodies)
}

fn ascii_fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'å' | 'ä' | 'Å' | 'Ä' => 'a',
            'ö' | 'Ö' => 'o',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}
