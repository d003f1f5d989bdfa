//! Attachments in a real browser: files on the tip form without JavaScript (sent with the
//! form, listed and removable in the preview) and with it (uploaded one by one with a progress
//! bar), a refused file shown on the field with the text kept, axe-core clean with files and
//! with a file error, and the inspector previewing and downloading the cleaned file.

use serde_json::{Value, json};

use crate::browser::{Browser, fill_valid_tip};
use crate::files::{count, identifying_jpeg, uploaded_id};
use crate::helpers::{TestApp, spawn_app, valid_tip};
use crate::inspector_browser::log_in;
use crate::people;

/// Writes fixtures where the browser can pick them up.
fn on_disk(name: &str, bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("tipsa-browser-files-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

async fn choose_files(browser: &Browser, paths: &[String]) {
    let input = browser
        .client
        .find(fantoccini::Locator::Css("#files"))
        .await
        .unwrap();
    input.send_keys(&paths.join("\n")).await.unwrap();
}

async fn attachments_of_tip(app: &TestApp, reference: &str) -> i64 {
    count(
        app,
        &format!(
            "SELECT 1 FROM attachments a JOIN tips t ON t.id = a.tip_id WHERE t.reference = '{reference}'"
        ),
    )
    .await
}

fn gif() -> Vec<u8> {
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_files_go_with_the_form_and_one_is_removed_in_the_preview() {
    let app = spawn_app().await;
    let browser = Browser::start(false).await;
    let photo = on_disk("IMG_0042.jpg", &identifying_jpeg(80, 60));
    let notes = on_disk(
        "anteckningar.txt",
        "Rond kl 02: ingen personal på avdelning 3.".as_bytes(),
    );
    browser.goto(&app.url("/tipsa")).await;
    fill_valid_tip(
        &browser,
        "Nattetid är en undersköterska ensam med trettio boende.",
    )
    .await;
    choose_files(&browser, &[photo, notes]).await;
    browser.navigate_by("#preview").await;

    assert!(browser.text("h1").await.contains("Granska"));
    assert_eq!(browser.count("#file-list li").await, 2);
    let listed = browser.text("#file-list").await;
    assert!(
        listed.contains("bilaga-1.jpg") && listed.contains("bilaga-2.txt"),
        "{listed}"
    );
    assert!(
        !listed.contains("IMG_0042"),
        "the original name is not shown"
    );

    browser
        .navigate_by("#file-list li:first-child button")
        .await;
    assert_eq!(browser.count("#file-list li").await, 1);
    assert!(browser.text("#file-list").await.contains("bilaga-1.txt"));
    browser.navigate_by("#send").await;
    let reference = browser.text("#reference").await;
    assert_eq!(attachments_of_tip(&app, &reference).await, 1);
    assert_eq!(
        count(&app, "SELECT 1 FROM attachments WHERE tip_id IS NULL").await,
        0
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_file_is_shown_on_the_field_with_the_text_kept() {
    let app = spawn_app().await;
    let browser = Browser::start(false).await;
    let picture = on_disk("bild.jpg", &gif());
    browser.goto(&app.url("/tipsa")).await;
    let description = "Nattetid är en undersköterska ensam med trettio boende.";
    fill_valid_tip(&browser, description).await;
    choose_files(&browser, &[picture]).await;
    browser.navigate_by("#preview").await;

    assert!(
        browser.exists("#files-error").await,
        "the error is on the file field"
    );
    assert!(browser.text("#files-error").await.contains("bild.jpg"));
    assert!(browser.text("#error-summary").await.contains("bild.jpg"));
    let kept = browser
        .client
        .execute(
            "return document.getElementById('description').value;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(kept, json!(description));
    assert_eq!(count(&app, "SELECT 1 FROM attachments").await, 0);
    browser.close().await;
}

/// The pages the form without JavaScript leads to, scanned by axe (which needs a browser with
/// JavaScript: the file field's script is detached so the files go with the form).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_rendered_file_pages_pass_axe() {
    let app = spawn_app().await;
    let browser = Browser::start(true).await;
    let detach = "const i = document.getElementById('files'); i.replaceWith(i.cloneNode(true)); return true;";
    browser.goto(&app.url("/tipsa")).await;
    fill_valid_tip(
        &browser,
        "Nattetid är en undersköterska ensam med trettio boende.",
    )
    .await;
    browser.client.execute(detach, vec![]).await.unwrap();
    choose_files(&browser, &[on_disk("bild.jpg", &gif())]).await;
    browser.navigate_by("#preview").await;
    assert!(browser.exists("#files-error").await);
    let violations = browser.axe_violations().await;
    assert!(
        violations.is_empty(),
        "form with a file error: {}",
        Value::Array(violations)
    );

    browser.client.execute(detach, vec![]).await.unwrap();
    choose_files(&browser, &[on_disk("foto.jpg", &identifying_jpeg(40, 30))]).await;
    browser.navigate_by("#preview").await;
    assert_eq!(browser.count("#file-list li").await, 1);
    browser.screenshot("preview-files.png").await;
    let violations = browser.axe_violations().await;
    assert!(
        violations.is_empty(),
        "preview with files: {}",
        Value::Array(violations)
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_javascript_files_upload_one_by_one_and_go_with_the_tip() {
    let app = spawn_app().await;
    let browser = Browser::start(true).await;
    browser.goto(&app.url("/tipsa")).await;
    fill_valid_tip(
        &browser,
        "Nattetid är en undersköterska ensam med trettio boende.",
    )
    .await;
    choose_files(&browser, &[on_disk("foto.jpg", &identifying_jpeg(120, 90))]).await;
    wait_for(&browser, "#file-list li", 1).await;
    // A refused file is announced next to the field; the good one stays.
    choose_files(&browser, &[on_disk("fel.jpg", &gif())]).await;
    wait_for(&browser, "#file-progress [role=alert]", 1).await;
    assert!(
        browser
            .text("#file-progress [role=alert]")
            .await
            .contains("fel.jpg")
    );
    assert_eq!(browser.count("#file-list li").await, 1);
    browser
        .client
        .execute(
            "document.getElementById('attachments').scrollIntoView(); return true;",
            vec![],
        )
        .await
        .unwrap();
    browser.screenshot("form-files.png").await;
    let violations = browser.axe_violations().await;
    assert!(
        violations.is_empty(),
        "form with files and an error: {}",
        Value::Array(violations)
    );

    browser.navigate_by("#preview").await;
    assert_eq!(browser.count("#file-list li").await, 1);
    browser.navigate_by("#send").await;
    let reference = browser.text("#reference").await;
    assert_eq!(attachments_of_tip(&app, &reference).await, 1);
    browser.close().await;
}

async fn wait_for(browser: &Browser, css: &str, at_least: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while browser.count(css).await < at_least {
        if std::time::Instant::now() > deadline {
            let html = browser
                .client
                .execute(
                    "return document.getElementById('attachments').outerHTML;",
                    vec![],
                )
                .await
                .unwrap_or_default();
            panic!("waiting for {css}: {html}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_sees_a_preview_and_downloads_the_cleaned_file() {
    let app = spawn_app().await;
    let id = uploaded_id(&app, "IMG_7.jpg", identifying_jpeg(200, 150)).await;
    let mut tip = valid_tip();
    tip["attachments"] = json!([id]);
    let created: Value = app.submit(&tip).await.json().await.unwrap();
    let tip_id = created["id"].as_str().unwrap().to_owned();
    let team = app.state.triage.team_for_region("01").to_owned();
    people::create_person(&app, "anna@ivo.example", &["inspector"], &[team.as_str()]).await;

    let browser = Browser::start(true).await;
    log_in(&browser, &app, "anna@ivo.example").await;
    browser
        .goto(&app.url(&format!("/inspektor/tips/{tip_id}")))
        .await;
    assert!(browser.text(".tip-files").await.contains("bilaga-1.jpg"));
    let width = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const img = document.querySelector('.tip-file-preview');
             img.scrollIntoView();
             const check = () => img.complete ? done(img.naturalWidth) : setTimeout(check, 50);
             check();",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(width, json!(200), "the preview is rendered and loads");
    browser.screenshot("tip-files.png").await;
    let violations = browser.axe_violations().await;
    assert!(
        violations.is_empty(),
        "tip page with files: {}",
        Value::Array(violations)
    );

    let download = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const link = document.querySelector('.tip-file a[download]');
             fetch(link.href).then(r => r.arrayBuffer().then(b => done({
               status: r.status, disposition: r.headers.get('content-disposition'),
               type: r.headers.get('content-type'), size: b.byteLength })));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(download["status"], 200);
    assert_eq!(
        download["disposition"],
        "attachment; filename=\"bilaga-1.jpg\""
    );
    assert_eq!(download["type"], "image/jpeg");
    assert!(download["size"].as_u64().unwrap() > 1000);
    browser.close().await;

    for action in ["preview_attachment", "download_attachment"] {
        let audited = count(
            &app,
            &format!("SELECT 1 FROM audit_log WHERE action = '{action}' AND tip_id = '{tip_id}'"),
        )
        .await;
        assert_eq!(audited, 1, "{action}");
    }
}
