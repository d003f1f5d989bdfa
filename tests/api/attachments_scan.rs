//! Virus scanning against a real clamd with a signature made in the test, and the clean-up of
//! abandoned uploads: nothing can be opened before it is scanned, an infected file is
//! quarantined and audited, a scanner outage holds files back and is retried, and pending
//! uploads nobody sent are removed.

use serde_json::{Value, json};
use tipsa::attachments::maintenance::{Housekeeper, ScanRound};

use crate::clamd::ClamdProcess;
use crate::files::{count, execute, stored_files, uploaded_id};
use crate::helpers::{TestApp, problem, spawn_app_with, valid_tip};

async fn app_scanning_with(clamd: &ClamdProcess) -> TestApp {
    let address = clamd.address();
    spawn_app_with(move |s| {
        s.attachments.scanner.address = Some(address);
        s.attachments.scanner.timeout_seconds = 5;
        s.attachments.scanner.retry_seconds = 0;
    })
    .await
}

/// One housekeeping pass, as the worker runs it.
async fn housekeeping(app: &TestApp) -> ScanRound {
    Housekeeper::new(
        app.state.pool.clone(),
        app.state.crypto.clone(),
        &app.state.settings.attachments,
    )
    .unwrap()
    .round()
    .await
    .unwrap()
}

async fn tip_with(app: &TestApp, ids: &[&str]) -> String {
    let mut tip = valid_tip();
    tip["attachments"] = json!(ids);
    let created = app.submit(&tip).await;
    assert_eq!(created.status(), 201);
    created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn files_open_only_once_scanned_and_an_infected_one_is_quarantined() {
    let clamd = ClamdProcess::start();
    let app = app_scanning_with(&clamd).await;
    let clean = uploaded_id(
        &app,
        "notes.txt",
        b"Anteckningar fran kvallspasset, inget konstigt.".to_vec(),
    )
    .await;
    let infected_text = format!("Bifogad logg\n{}\nslut\n", ClamdProcess::MARKER);
    let infected = uploaded_id(&app, "logg.txt", infected_text.into_bytes()).await;
    let tip_id = tip_with(&app, &[&clean, &infected]).await;
    let file_url = |id: &str| format!("/api/v1/tips/{tip_id}/attachments/{id}");

    // Before the scan nothing can be opened.
    let list: Value = app
        .get(&format!("/api/v1/tips/{tip_id}/attachments"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|f| f["scan_status"] == "pending" && f["download_url"].is_null())
    );
    let waiting = problem(app.get(&file_url(&clean)).await, 409).await;
    assert!(
        waiting["detail"]
            .as_str()
            .unwrap()
            .contains("not been scanned")
    );

    let round = housekeeping(&app).await;
    assert_eq!(
        round,
        ScanRound {
            clean: 1,
            infected: 1,
            failed: 0
        }
    );

    assert_eq!(app.get(&file_url(&clean)).await.status(), 200);
    let quarantined = problem(app.get(&file_url(&infected)).await, 409).await;
    assert!(
        quarantined["detail"]
            .as_str()
            .unwrap()
            .contains("quarantined")
    );
    let list: Value = app
        .get(&format!("/api/v1/tips/{tip_id}/attachments"))
        .await
        .json()
        .await
        .unwrap();
    let infected_entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == infected.as_str())
        .unwrap();
    assert_eq!(infected_entry["scan_status"], "infected");
    assert!(infected_entry["download_url"].is_null());

    // Flagged in the audit log against the tip, with the signature.
    let audited = count(
        &app,
        &format!(
            "SELECT 1 FROM audit_log WHERE action = 'quarantine_attachment' AND tip_id = '{tip_id}' \
             AND detail::jsonb->>'signature' = '{}'",
            ClamdProcess::SIGNATURE
        ),
    )
    .await;
    assert_eq!(audited, 1);
    // Nothing is left to scan.
    assert_eq!(housekeeping(&app).await, ScanRound::default());
}

#[tokio::test]
async fn a_scanner_outage_holds_files_back_until_it_is_over() {
    let mut clamd = ClamdProcess::start();
    let app = app_scanning_with(&clamd).await;
    clamd.stop();
    let id = uploaded_id(
        &app,
        "a.txt",
        b"written while the scanner was down".to_vec(),
    )
    .await;
    let tip_id = tip_with(&app, &[&id]).await;

    let round = housekeeping(&app).await;
    assert_eq!(
        round,
        ScanRound {
            clean: 0,
            infected: 0,
            failed: 1
        }
    );
    assert_eq!(
        count(&app, &format!("SELECT 1 FROM attachments WHERE id = '{id}' AND scan_status = 'pending' AND scan_attempts = 1")).await,
        1,
        "held back, never released unscanned"
    );
    problem(
        app.get(&format!("/api/v1/tips/{tip_id}/attachments/{id}"))
            .await,
        409,
    )
    .await;

    clamd.restart();
    assert_eq!(
        housekeeping(&app).await,
        ScanRound {
            clean: 1,
            infected: 0,
            failed: 0
        }
    );
    assert_eq!(
        app.get(&format!("/api/v1/tips/{tip_id}/attachments/{id}"))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn uploads_never_sent_with_a_tip_are_removed_after_the_pending_time() {
    let app = spawn_app_with(|s| s.attachments.pending_hours = 24).await;
    let old = uploaded_id(&app, "old.txt", b"a form left half-way yesterday".to_vec()).await;
    let _recent = uploaded_id(
        &app,
        "new.txt",
        b"a form being filled in right now".to_vec(),
    )
    .await;
    let sent = uploaded_id(&app, "sent.txt", b"a file that went with its tip".to_vec()).await;
    tip_with(&app, &[&sent]).await;
    execute(
        &app,
        "UPDATE attachments SET created_at = now() - interval '25 hours'",
    )
    .await;
    execute(
        &app,
        &format!(
            "UPDATE attachments SET created_at = now() WHERE id <> '{old}' AND tip_id IS NULL"
        ),
    )
    .await;

    housekeeping(&app).await;
    assert_eq!(
        count(
            &app,
            &format!("SELECT 1 FROM attachments WHERE id = '{old}'")
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            &format!("SELECT 1 FROM attachment_chunks WHERE attachment_id = '{old}'")
        )
        .await,
        0
    );
    assert_eq!(
        stored_files(&app).await,
        (2, 2),
        "the recent upload and the sent file stay"
    );
}
