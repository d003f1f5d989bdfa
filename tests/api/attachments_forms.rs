//! Files on the public forms over plain HTTP: the tipster attaches files to a follow-up reply
//! (a bad one keeps the text and stores nothing), the form takes at most the configured number
//! of files, and a form body cut off mid-file leaves nothing behind.

use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::files::{count, identifying_jpeg, stored_files};
use crate::helpers::{TestApp, spawn_app, valid_tip};
use crate::web_pages::{browser_like, csrf_token};

async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> String {
    client
        .get(app.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A tip over the API and a follow-up session opened with its receipt code.
async fn open_follow_up(app: &TestApp) -> (reqwest::Client, String, String) {
    let submitted: Value = app.submit(&valid_tip()).await.json().await.unwrap();
    let code = submitted["receipt_code"].as_str().unwrap();
    let client = browser_like();
    let token = csrf_token(&page(&client, app, "/uppfoljning").await);
    let opened = client
        .post(app.url("/uppfoljning"))
        .form(&[("csrf_token", token.as_str()), ("receipt_code", code)])
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 303);
    let token = csrf_token(&page(&client, app, "/uppfoljning/tips").await);
    (client, token, submitted["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_reply_carries_files_and_a_bad_file_keeps_the_text_and_stores_nothing() {
    let app = spawn_app().await;
    let (client, token, tip_id) = open_follow_up(&app).await;

    let bad = Form::new()
        .text("csrf_token", token.clone())
        .text("reply", "Här är bilden från korridoren.")
        .part(
            "files",
            Part::bytes(b"GIF89a\x01\x00\x01\x00".to_vec()).file_name("korridor.jpg"),
        );
    let refused = client
        .post(app.url("/uppfoljning/svar"))
        .multipart(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("korridor.jpg") && html.contains("id=\"files-error\""),
        "{html}"
    );
    assert!(
        html.contains("Här är bilden från korridoren."),
        "the text is kept"
    );
    assert_eq!(count(&app, "SELECT 1 FROM tip_messages").await, 0);
    assert_eq!(stored_files(&app).await, (0, 0));

    let good = Form::new()
        .text("csrf_token", token)
        .text("reply", "Här är bilden från korridoren.")
        .part(
            "files",
            Part::bytes(identifying_jpeg(40, 30)).file_name("korridor.jpg"),
        )
        .part(
            "files",
            Part::bytes(b"Anteckning om nattpasset.".to_vec()).file_name("a.txt"),
        );
    let sent = client
        .post(app.url("/uppfoljning/svar"))
        .multipart(good)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 303);
    let list: Value = app
        .get(&format!("/api/v1/tips/{tip_id}/attachments"))
        .await
        .json()
        .await
        .unwrap();
    let files = list.as_array().unwrap();
    assert_eq!(files.len(), 2);
    let message_id = files[0]["message_id"]
        .as_str()
        .expect("linked to the reply");
    assert_eq!(files[1]["message_id"].as_str(), Some(message_id));
    assert_eq!(
        count(&app, &format!("SELECT 1 FROM tip_messages WHERE id = '{message_id}' AND direction = 'from_reporter'")).await,
        1
    );
}

#[tokio::test]
async fn the_form_takes_at_most_the_configured_number_of_files() {
    let app = crate::helpers::spawn_app_with(|s| s.attachments.max_files_per_tip = 3).await;
    let client = browser_like();
    let token = csrf_token(&page(&client, &app, "/tipsa").await);
    let mut form = Form::new()
        .text("csrf_token", token)
        .text("category", "staffing")
        .text("care_sector", "elderly_residential")
        .text("region_code", "01")
        .text(
            "description",
            "Nattetid är en undersköterska ensam med trettio boende.",
        )
        .text("reporter_role", "staff");
    for n in 0..4 {
        form = form.part(
            "files",
            Part::bytes(format!("Anteckning nummer {n} från passet.").into_bytes())
                .file_name(format!("fil-{n}.txt")),
        );
    }
    let response = client
        .post(app.url("/tipsa/granska"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("fil-3.txt") && html.contains("högst 3 filer"),
        "{html}"
    );
    assert_eq!(
        html.matches("<li>bilaga-").count(),
        3,
        "three kept and listed"
    );
    assert_eq!(
        count(&app, "SELECT 1 FROM attachments WHERE tip_id IS NULL").await,
        3
    );
}

#[tokio::test]
async fn a_form_cut_off_mid_file_leaves_nothing_behind() {
    let app = spawn_app().await;
    let client = browser_like();
    let token = csrf_token(&page(&client, &app, "/tipsa").await);
    let body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n\r\n\
         Den första filen är hel.\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"b.txt\"\r\n\r\n\
         Den andra filen bryts mitt i"
    );
    let response = client
        .post(app.url("/tipsa/granska"))
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        stored_files(&app).await,
        (0, 0),
        "the complete first file went too"
    );
}
