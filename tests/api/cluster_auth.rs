//! Many nodes, one database — the inspector and API side: a session started on one serve node
//! is valid on the other and a logout on either ends it; the login lock-out counts failures on
//! both nodes together; a receipt code and follow-up cookie work across nodes (shared keys);
//! an API key revoked with the CLI stops working on both nodes within
//! `auth.api_key_cache_seconds` (each node caches verified keys that long).

use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use serde_json::Value;

use crate::cluster::start_all;
use crate::helpers::{Site, TestDatabase, create_key, valid_tip};
use crate::nodes::{self, Node, Role};
use crate::people;
use crate::web_pages::{browser_like, csrf_token};

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Creates an inspector with the test password (no second factor yet).
async fn create_inspector(db: &TestDatabase, email: &str) -> uuid::Uuid {
    use tipsa::auth::accounts::{self, NewAccount};
    let mut conn = db.connect().await;
    let account = NewAccount::parse(
        email,
        email,
        &["inspector".to_owned()],
        &["syd".to_owned()],
        "sv",
        &["syd"],
    )
    .unwrap();
    let phc = accounts::hash_password(people::PASSWORD).await.unwrap();
    accounts::create(&mut conn, &account, Some(&phc))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_lockout_and_revoked_keys_hold_across_serve_nodes() {
    let db = TestDatabase::new().await;
    let run = nodes::run_dir("cluster-auth");
    let shared = nodes::shared_env(&db.url);
    let serve = [
        ("TIPSA__SERVER__WORKERS", "1"),
        ("TIPSA__DATABASE__POOL_SIZE", "4"),
        ("TIPSA__AUTH__API_KEY_CACHE_SECONDS", "3"),
        ("TIPSA__AUTH__LOGIN_FAILURES_BEFORE_LOCKOUT", "4"),
    ];
    let mut web1 = Node::new("serve-1", Role::Serve, &run, &shared, &serve);
    let mut web2 = Node::new("serve-2", Role::Serve, &run, &shared, &serve);
    start_all(&mut [&mut web1, &mut web2]).await;

    // A session started on node 1 is valid on node 2 (sessions live in the database; cookies
    // are per host, not per port, like one site behind a load balancer).
    let anna_email = "anna@ivo.example";
    let anna_id = create_inspector(&db, anna_email).await;
    let anna = people::first_sign_in(&web1, anna_id, anna_email).await;
    let queue = anna
        .client
        .get(web2.url("/inspektor"))
        .send()
        .await
        .unwrap();
    assert_eq!(queue.status(), 200);
    assert_eq!(queue.url().path(), "/inspektor", "signed in on node 2 too");
    // Logging out on node 2 ends it on node 1 as well.
    let page = queue.text().await.unwrap();
    let out = anna
        .client
        .post(web2.url("/inspektor/logga-ut"))
        .form(&[("csrf_token", people::csrf_token(&page).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    assert!(out.url().path().ends_with("/logga-in"));
    let after = anna
        .client
        .get(web1.url("/inspektor"))
        .send()
        .await
        .unwrap();
    assert!(
        after.url().path().ends_with("/logga-in"),
        "node 1 no longer knows the session: {}",
        after.url()
    );

    // The lock-out counts failures in the database, so failures on both nodes add up:
    // 3 wrong passwords (node 1, 2, 1) do not lock (limit 4)...
    let bo_email = "bo@ivo.example";
    create_inspector(&db, bo_email).await;
    let bo = people::browser_client();
    let wrong = "fel lösenord, helt fel";
    for node in [&web1, &web2, &web1] {
        let response = people::post_password(node, &bo, bo_email, wrong).await;
        assert_eq!(response.status(), 401, "{}", node.name);
    }
    let right = people::post_password(&web2, &bo, bo_email, people::PASSWORD).await;
    assert_eq!(right.status(), 200, "three failures do not lock");
    assert!(right.url().path().ends_with("/tvastegsverifiering"));
    // ...a fourth, on node 2 (which itself has seen only two), does — on both nodes.
    let fourth = people::post_password(&web2, &bo, bo_email, wrong).await;
    assert_eq!(fourth.status(), 401);
    for node in [&web1, &web2] {
        let locked = people::post_password(node, &bo, bo_email, people::PASSWORD).await;
        assert_eq!(locked.status(), 429, "locked on {}", node.name);
    }

    // A receipt code from a tip stored by node 1 opens the follow-up on node 2, and node 2's
    // follow-up cookie is accepted by node 1 (shared keys).
    let all_scopes = create_key(&db, &tipsa::auth::Scope::ALL).await;
    let client = reqwest::Client::new();
    let stored: Value = client
        .post(web1.url("/api/v1/tips"))
        .bearer_auth(&all_scopes)
        .json(&valid_tip())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reporter = browser_like();
    let html = reporter
        .get(web2.url("/uppfoljning"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let opened = reporter
        .post(web2.url("/uppfoljning"))
        .form(&[
            ("csrf_token", csrf_token(&html).as_str()),
            ("receipt_code", stored["receipt_code"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 303);
    let page = reporter
        .get(web1.url("/uppfoljning/tips"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(stored["reference"].as_str().unwrap()));

    // An API key revoked with the CLI stops working on both nodes within
    // auth.api_key_cache_seconds (3 s here): each node remembers a verified key that long.
    let created = nodes::cli(
        &run,
        &shared,
        &[
            "apikey",
            "create",
            "--name",
            "revoked",
            "--scope",
            "tips:read",
        ],
    );
    let key = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    let read = |node: &Node| {
        let request = client
            .get(node.url("/api/v1/tips?limit=1"))
            .bearer_auth(&key)
            .send();
        async move { request.await.unwrap().status().as_u16() }
    };
    for node in [&web1, &web2] {
        assert_eq!(read(node).await, 200, "{} accepts the key", node.name);
    }
    nodes::cli(&run, &shared, &["apikey", "revoke", &key[6..14]]);
    let revoked_at = Instant::now();
    let cache = Duration::from_secs(3);
    let mut refused_after = Vec::new();
    for node in [&web1, &web2] {
        loop {
            if read(node).await == 401 {
                refused_after.push(revoked_at.elapsed());
                break;
            }
            assert!(
                revoked_at.elapsed() < cache + Duration::from_secs(1),
                "{} still accepts the revoked key after the cache time",
                node.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    eprintln!("cluster: revoked key refused after {refused_after:?} (cache 3 s)");
    let mut conn = db.connect().await;
    let full: Count = diesel::sql_query("SELECT count(*) AS n FROM sessions WHERE stage = 'full'")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(full.n, 0, "the logged-out session is gone");
}
