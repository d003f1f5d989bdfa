//! Legal holds in the inspector workspace: the tip page's hold block (place and lift on a tip
//! and on its cluster, field errors and refusals re-rendered, nothing written), the disposed-of
//! banner in both languages, and the holds page, where admins hold a tip by its reference.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::files::count;
use crate::helpers::{TestApp, spawn_app};
use crate::legal_holds::{
    assert_chain_intact, audit_rows_of, cluster_in_syd, dispose_by_sql, post, tip_about, written,
};
use crate::people::{Person, signed_in};

const HOLDS: &str = "/inspektor/gallringssparrar";

fn tip_page(tip: Uuid) -> String {
    format!("/inspektor/tips/{tip}")
}

async fn place_on_page(
    app: &TestApp,
    who: &Person,
    tip: Uuid,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let page = tip_page(tip);
    who.post_form(app, &page, &format!("{page}/gallringssparr"), fields)
        .await
}

async fn lift_on_page(
    app: &TestApp,
    who: &Person,
    tip: Uuid,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let page = tip_page(tip);
    who.post_form(app, &page, &format!("{page}/gallringssparr/hav"), fields)
        .await
}

/// The holds covering a tip, newest first (over the API, all-scopes key).
async fn holds_of(app: &TestApp, tip: Uuid) -> Vec<Value> {
    let list: Value = app
        .get(&format!("/api/v1/tips/{tip}/legal-holds"))
        .await
        .json()
        .await
        .unwrap();
    list.as_array().unwrap().clone()
}

async fn text(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status(), status, "{}", response.url());
    response.text().await.unwrap()
}

#[tokio::test]
async fn a_lead_places_and_lifts_holds_on_the_tip_page() {
    let app = spawn_app().await;
    let lone = tip_about(&app, "12", "1280", "Solbackens vårdboende").await;
    let (members, cluster) = cluster_in_syd(&app).await;
    let lead = signed_in(&app, "lead@ivo.example", &["triage_lead"], &[]).await;

    let page = text(lead.get(&app, &tip_page(lone)).await, 200).await;
    assert!(page.contains("id=\"no-hold\"") && page.contains("id=\"place-hold\""));
    assert!(page.contains("id=\"covers-tip\"") && !page.contains("id=\"covers-cluster\""));
    assert!(
        page.contains("href=\"/inspektor/gallringssparrar\""),
        "the list is linked"
    );
    assert!(
        page.contains("href=\"/inspektor/allmanna-handlingar\""),
        "the hub is linked"
    );

    let placed = place_on_page(
        &app,
        &lead,
        lone,
        &[("covers", "tip"), ("reason", "Tillsynsärende 3.1-2026-77.")],
    )
    .await;
    assert!(
        placed.url().as_str().contains("hold=placed"),
        "{}",
        placed.url()
    );
    let page = text(placed, 200).await;
    assert!(page.contains("Gallringsspärren är satt."));
    assert!(page.contains("Tillsynsärende 3.1-2026-77.") && page.contains("lead@ivo.example"));
    assert!(
        !page.contains("id=\"place-hold\""),
        "nothing left to hold on a lone tip"
    );
    let hold = holds_of(&app, lone).await.remove(0);
    assert_eq!(hold["placed_by"], format!("user:{}", lead.id));

    let lifted = lift_on_page(
        &app,
        &lead,
        lone,
        &[
            ("hold", hold["id"].as_str().unwrap()),
            ("reason", "Ärendet avslutat."),
        ],
    )
    .await;
    assert!(lifted.url().as_str().contains("hold=lifted"));
    let page = text(lifted, 200).await;
    assert!(page.contains("Gallringsspärren är hävd.") && page.contains("id=\"no-hold\""));

    // The cluster: placed from one member, shown on another, lifted from a third.
    let page = text(lead.get(&app, &tip_page(members[0])).await, 200).await;
    assert!(page.contains("id=\"covers-cluster\""));
    let placed = place_on_page(
        &app,
        &lead,
        members[0],
        &[
            ("covers", "cluster"),
            ("reason", "Hela verksamheten granskas."),
        ],
    )
    .await;
    assert_eq!(placed.status(), 200);
    let page = text(lead.get(&app, &tip_page(members[1])).await, 200).await;
    assert!(page.contains("Hela klustret") && page.contains("Hela verksamheten granskas."));
    assert!(page.contains("id=\"covers-tip\"") && !page.contains("id=\"covers-cluster\""));
    let hold = holds_of(&app, members[2]).await.remove(0);
    assert_eq!(hold["cluster_id"], json!(cluster));
    let lifted = lift_on_page(
        &app,
        &lead,
        members[2],
        &[
            ("hold", hold["id"].as_str().unwrap()),
            ("reason", "Granskningen klar."),
        ],
    )
    .await;
    assert!(lifted.url().as_str().contains("hold=lifted"));

    let places = audit_rows_of(&app, "place_legal_hold").await;
    assert_eq!(
        places.iter().map(|(tip, _)| *tip).collect::<Vec<_>>(),
        [Some(lone), Some(members[0])]
    );
    let lifts = audit_rows_of(&app, "lift_legal_hold").await;
    assert_eq!(
        lifts.iter().map(|(tip, _)| *tip).collect::<Vec<_>>(),
        [Some(lone), Some(members[2])]
    );
    assert_eq!(lifts[1].1["covers"], "cluster");
    assert_chain_intact(&app).await;
}

#[tokio::test]
async fn the_tip_page_forms_re_render_errors_and_refusals_writing_nothing() {
    let app = spawn_app().await;
    let lone = tip_about(&app, "12", "1280", "Solbackens vårdboende").await;
    let lead = signed_in(&app, "lead@ivo.example", &["triage_lead"], &[]).await;
    let placed: Value = post(
        &app,
        &format!("/api/v1/tips/{lone}/legal-holds"),
        &json!({"reason": "Första."}),
    )
    .await
    .json()
    .await
    .unwrap();
    let other = tip_about(&app, "12", "1280", "Ängens gård").await;
    let gone: Value = post(
        &app,
        &format!("/api/v1/tips/{other}/legal-holds"),
        &json!({"reason": "Kort."}),
    )
    .await
    .json()
    .await
    .unwrap();
    let gone_id = gone["id"].as_str().unwrap().to_owned();
    post(
        &app,
        &format!("/api/v1/legal-holds/{gone_id}/lift"),
        &json!({"reason": "Klart."}),
    )
    .await;
    let start = written(&app).await;

    let page = text(
        place_on_page(&app, &lead, other, &[("covers", "tip"), ("reason", "  ")]).await,
        422,
    )
    .await;
    assert!(page.contains("id=\"hold-reason-error\"") && page.contains("href=\"#hold-reason\""));
    assert!(page.contains("Skriv en motivering."));
    let long = "å".repeat(1001);
    let page = text(
        place_on_page(
            &app,
            &lead,
            other,
            &[("covers", "tip"), ("reason", long.as_str())],
        )
        .await,
        422,
    )
    .await;
    assert!(
        page.contains("högst 1 000 tecken") && page.contains(&long),
        "the text is kept"
    );
    let page = text(
        place_on_page(&app, &lead, other, &[("reason", "Spärra.")]).await,
        422,
    )
    .await;
    assert!(page.contains("id=\"covers-error\"") && page.contains("Spärra."));
    let page = text(
        place_on_page(
            &app,
            &lead,
            other,
            &[("covers", "cluster"), ("reason", "Spärra.")],
        )
        .await,
        422,
    )
    .await;
    assert!(page.contains("ingår inte i något kluster"));
    let page = text(
        place_on_page(&app, &lead, lone, &[("covers", "tip"), ("reason", "Igen.")]).await,
        409,
    )
    .await;
    assert!(page.contains("id=\"hold-refusal\"") && page.contains(placed["id"].as_str().unwrap()));

    let lift = |hold: String, reason: &'static str| {
        let lead = &lead;
        let app = &app;
        async move {
            lift_on_page(
                app,
                lead,
                lone,
                &[("hold", hold.as_str()), ("reason", reason)],
            )
            .await
        }
    };
    let page = text(
        lift(placed["id"].as_str().unwrap().to_owned(), "").await,
        422,
    )
    .await;
    assert!(
        page.contains("id=\"lift-reason-0-error\"") && page.contains("href=\"#lift-reason-0\"")
    );
    let page = text(lift(Uuid::new_v4().to_string(), "Häv.").await, 409).await;
    assert!(page.contains("gäller inte längre"));
    let page = text(
        lift_on_page(
            &app,
            &lead,
            other,
            &[("hold", gone_id.as_str()), ("reason", "Häv igen.")],
        )
        .await,
        409,
    )
    .await;
    assert!(page.contains("Spärren är redan hävd."));
    let no_token = lead
        .client
        .post(app.url(&format!("{}/gallringssparr", tip_page(other))))
        .form(&[("covers", "tip"), ("reason", "Spärra.")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 403);

    // The page renders (and audits its view) each time; no hold and no hold audit row more.
    assert_eq!(written(&app).await.0, start.0);
    assert_eq!(audit_rows_of(&app, "place_legal_hold").await.len(), 2);
    assert_eq!(audit_rows_of(&app, "lift_legal_hold").await.len(), 1);
}

#[tokio::test]
async fn a_disposed_tip_page_shows_the_banner_in_both_languages() {
    let app = spawn_app().await;
    let mut body = crate::helpers::valid_tip();
    body["reporter"] = json!({"name": "Karin Lund", "email": "karin@example.se"});
    body["facility_name"] = json!("Gamla hemmet");
    let created: Value = app.submit(&body).await.json().await.unwrap();
    let tip: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    dispose_by_sql(&app, tip).await;
    let lead = signed_in(&app, "lead@ivo.example", &["triage_lead"], &[]).await;

    let page = text(lead.get(&app, &tip_page(tip)).await, 200).await;
    assert!(page.contains("id=\"disposed-banner\""));
    assert!(page.contains("Innehållet gallrades 20") && page.contains("enligt regel no_action_2y"));
    assert!(
        !page.contains("id=\"place-hold\"") && page.contains("Ett gallrat tips kan inte spärras")
    );
    let refused = text(
        place_on_page(
            &app,
            &lead,
            tip,
            &[("covers", "tip"), ("reason", "Spärra.")],
        )
        .await,
        409,
    )
    .await;
    assert!(refused.contains("redan gallrat"));
    assert_eq!(count(&app, "SELECT 1 FROM legal_holds").await, 0);

    let back = tip_page(tip);
    let english = lead
        .post_form(
            &app,
            &back,
            "/inspektor/sprak",
            &[("language", "en"), ("back", back.as_str())],
        )
        .await;
    let page = text(english, 200).await;
    assert!(
        page.contains("The content was disposed of on 20")
            && page.contains("under rule no_action_2y")
    );
    // Revealing contact details of a disposed tip finds none, without an error.
    let revealed = lead
        .post_form(
            &app,
            &tip_page(tip),
            &format!("{}/kontakt", tip_page(tip)),
            &[("reason", "Kontroll")],
        )
        .await;
    assert_eq!(revealed.status(), 200);
    assert!(!revealed.text().await.unwrap().contains("karin@example.se"));
}

#[tokio::test]
async fn an_admin_places_and_lifts_a_hold_by_reference_on_the_list_page() {
    let app = spawn_app().await;
    let tip = tip_about(&app, "12", "1280", "Solbackens vårdboende").await;
    let reference = crate::legal_holds::tip_json(&app, tip).await["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = signed_in(&app, "admin@ivo.example", &["admin"], &[]).await;
    let inspector = signed_in(&app, "syd@ivo.example", &["inspector"], &["syd"]).await;
    let outsider = signed_in(&app, "ost@ivo.example", &["inspector"], &["ost"]).await;
    let analyst = signed_in(&app, "ana@ivo.example", &["analyst"], &[]).await;

    let page = text(admin.get(&app, HOLDS).await, 200).await;
    assert!(page.contains("id=\"no-holds\"") && page.contains("id=\"hold-reference\""));
    assert!(page.contains("href=\"/inspektor/allmanna-handlingar\""));
    let start = written(&app).await;
    let page = text(
        admin
            .post_form(
                &app,
                HOLDS,
                HOLDS,
                &[
                    ("reference", "T-1999-000001"),
                    ("covers", "tip"),
                    ("reason", "Spärra."),
                ],
            )
            .await,
        422,
    )
    .await;
    assert!(
        page.contains("Inget tips har den referensen.")
            && page.contains("href=\"#hold-reference\"")
    );
    let page = text(
        admin
            .post_form(
                &app,
                HOLDS,
                HOLDS,
                &[
                    ("reference", reference.as_str()),
                    ("covers", "cluster"),
                    ("reason", "Spärra."),
                ],
            )
            .await,
        422,
    )
    .await;
    assert!(page.contains("ingår inte i något kluster"));
    assert_eq!(written(&app).await, start);

    let lower = reference.to_lowercase();
    let placed = admin
        .post_form(
            &app,
            HOLDS,
            HOLDS,
            &[
                ("reference", lower.as_str()),
                ("covers", "tip"),
                ("reason", "Rättegång vid förvaltningsrätten."),
            ],
        )
        .await;
    assert!(placed.url().as_str().ends_with("placed=1"));
    let page = text(placed, 200).await;
    assert!(page.contains("Gallringsspärren är satt.") && page.contains(&reference));
    assert!(
        page.contains("Rättegång vid förvaltningsrätten.") && page.contains("admin@ivo.example")
    );
    assert!(
        !page.contains(&format!("href=\"/inspektor/tips/{tip}\"")),
        "admins cannot read the tip"
    );
    assert_eq!(admin.get(&app, &tip_page(tip)).await.status(), 404);
    assert_eq!(
        audit_rows_of(&app, "place_legal_hold").await[0].0,
        Some(tip)
    );

    // Inspectors of the team see it, linked, without forms; others see nothing.
    let page = text(inspector.get(&app, HOLDS).await, 200).await;
    assert!(
        page.contains(&format!("href=\"/inspektor/tips/{tip}\""))
            && !page.contains("class=\"button secondary lift-hold\"")
    );
    assert!(!page.contains("id=\"hold-reference\""));
    let page = text(outsider.get(&app, HOLDS).await, 200).await;
    assert!(!page.contains(&reference) && page.contains("id=\"no-holds\""));
    assert_eq!(analyst.get(&app, HOLDS).await.status(), 403);

    let hold = holds_of(&app, tip).await.remove(0);
    let lift_path = format!("{HOLDS}/{}/hav", hold["id"].as_str().unwrap());
    assert_eq!(
        outsider
            .post_form(&app, HOLDS, &lift_path, &[("reason", "Häv.")])
            .await
            .status(),
        404
    );
    assert_eq!(
        inspector
            .post_form(&app, HOLDS, &lift_path, &[("reason", "Häv.")])
            .await
            .status(),
        403
    );
    let page = text(
        admin
            .post_form(&app, HOLDS, &lift_path, &[("reason", "")])
            .await,
        422,
    )
    .await;
    assert!(page.contains("id=\"lift-reason-0-error\"") && page.contains("<details open>"));
    let lifted = admin
        .post_form(
            &app,
            HOLDS,
            &lift_path,
            &[("reason", "Domen har vunnit laga kraft.")],
        )
        .await;
    assert!(lifted.url().as_str().ends_with("lifted=1"));
    assert!(text(lifted, 200).await.contains("id=\"no-holds\""));
    let page = text(
        admin
            .post_form(&app, HOLDS, &lift_path, &[("reason", "Igen.")])
            .await,
        409,
    )
    .await;
    assert!(page.contains("Spärren är redan hävd."));
    let lifts = audit_rows_of(&app, "lift_legal_hold").await;
    assert_eq!(lifts.len(), 1);
    assert_eq!(lifts[0].1["reason"], "Domen har vunnit laga kraft.");
    assert_chain_intact(&app).await;
}

#[tokio::test]
async fn an_inspector_outside_the_scope_gets_404_on_page_and_api() {
    let app = spawn_app().await;
    let tip = tip_about(&app, "12", "1280", "Solbackens vårdboende").await;
    let hold: Value = post(
        &app,
        &format!("/api/v1/tips/{tip}/legal-holds"),
        &json!({"reason": "Spärrad."}),
    )
    .await
    .json()
    .await
    .unwrap();
    let hold_id = hold["id"].as_str().unwrap();
    let outsider = signed_in(&app, "ost@ivo.example", &["inspector"], &["ost"]).await;
    let insider = signed_in(&app, "syd@ivo.example", &["inspector"], &["syd"]).await;

    // The page for the outsider: the tip and its hold actions do not exist.
    assert_eq!(outsider.get(&app, &tip_page(tip)).await.status(), 404);
    for action in ["gallringssparr", "gallringssparr/hav"] {
        let response = outsider
            .post_form(
                &app,
                HOLDS,
                &format!("{}/{action}", tip_page(tip)),
                &[("covers", "tip"), ("hold", hold_id), ("reason", "Försök.")],
            )
            .await;
        assert_eq!(response.status(), 404, "{action}");
    }
    // The API likewise.
    for (method, path) in [
        ("GET", format!("/api/v1/tips/{tip}/legal-holds")),
        ("POST", format!("/api/v1/tips/{tip}/legal-holds")),
        ("GET", format!("/api/v1/legal-holds/{hold_id}")),
        ("POST", format!("/api/v1/legal-holds/{hold_id}/lift")),
    ] {
        let request = match method {
            "GET" => outsider.client.get(app.url(&path)),
            _ => outsider
                .client
                .post(app.url(&path))
                .json(&json!({"reason": "Försök."})),
        };
        assert_eq!(
            request.send().await.unwrap().status(),
            404,
            "{method} {path}"
        );
    }
    // The inspector of the tip's team sees the hold on the page but may not change it.
    let page = text(insider.get(&app, &tip_page(tip)).await, 200).await;
    assert!(
        page.contains("Spärrad.")
            && !page.contains("id=\"place-hold\"")
            && !page.contains("lift-hold")
    );
    let response = insider
        .post_form(
            &app,
            &tip_page(tip),
            &format!("{}/gallringssparr/hav", tip_page(tip)),
            &[("hold", hold_id), ("reason", "Försök.")],
        )
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        count(&app, "SELECT 1 FROM legal_holds WHERE lifted_at IS NULL").await,
        1
    );
}
