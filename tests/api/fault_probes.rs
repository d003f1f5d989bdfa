//! Submissions and probes for the fault tests: each submission's answer as the client saw it
//! (201, 503 with or without `Retry-After`, another status, no connection, no answer in time),
//! and loops that submit or ask `/readyz` until the node is back.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{Site, valid_tip};
use crate::nodes::Node;
use crate::notifications::urgent_tip;

/// What one submission got.
#[derive(Debug, Clone)]
pub enum Answer {
    Created {
        id: uuid::Uuid,
        reference: String,
    },
    /// 503: with a `Retry-After` header and a problem+json body?
    Unavailable {
        retry_after: bool,
        problem: bool,
    },
    /// Anything else: a 500, a 4xx…
    Other {
        status: u16,
        body: String,
    },
    /// No HTTP answer: the node was down (refused, reset).
    Transport(String),
    /// No answer within the client's timeout.
    TimedOut,
}

#[derive(Debug, Clone)]
pub struct Record {
    pub node: usize,
    pub started: Instant,
    pub finished: Instant,
    pub answer: Answer,
}

pub async fn submit(client: &reqwest::Client, url: &str, token: &str, body: &Value) -> Record {
    let started = Instant::now();
    let answer = match client.post(url).bearer_auth(token).json(body).send().await {
        Err(error) if error.is_timeout() => Answer::TimedOut,
        Err(error) => Answer::Transport(format!("{error:#}")),
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = response.headers().contains_key("retry-after");
            let problem = response
                .headers()
                .get("content-type")
                .is_some_and(|v| v == "application/problem+json");
            match response.text().await {
                Err(error) if error.is_timeout() => Answer::TimedOut,
                Err(error) => Answer::Transport(format!("{error:#}")),
                Ok(text) if status == 201 => {
                    let body: Value = serde_json::from_str(&text).unwrap();
                    Answer::Created {
                        id: body["id"].as_str().unwrap().parse().unwrap(),
                        reference: body["reference"].as_str().unwrap().to_owned(),
                    }
                }
                Ok(_) if status == 503 => Answer::Unavailable {
                    retry_after,
                    problem,
                },
                Ok(body) => Answer::Other { status, body },
            }
        }
    };
    Record {
        node: 0,
        started,
        finished: Instant::now(),
        answer,
    }
}

/// A tip about one of a dozen facilities (so it goes through that facility's lane), or none;
/// every fourth is urgent (one notification job each).
pub fn tip(n: usize) -> Value {
    let mut body = if n.is_multiple_of(4) {
        urgent_tip(n)
    } else {
        valid_tip()
    };
    body["facility_name"] = match n % 13 {
        12 => Value::Null,
        f => format!("Vårdboendet Fel {f}").into(),
    };
    body
}

/// A tip of normal priority (a facility no other tip names: no repeat signal), which enqueues
/// no job due at once and so wakes no worker.
pub fn quiet_tip() -> Value {
    serde_json::json!({
        "category": "staffing",
        "care_sector": "elderly_residential",
        "region_code": "01",
        "municipality_code": "0180",
        "facility_name": format!("Tyst boende {}", uuid::Uuid::new_v4().simple()),
        "ongoing": false,
        "description": "Bemanningen på natten räcker inte till för alla boende.",
        "reporter_role": "staff"
    })
}

/// Submits a quiet tip on `node` until it answers 201; the time that took (fails after
/// `limit`, or at once on an answer other than 201, 503 or a refused connection).
pub async fn until_created(
    client: &reqwest::Client,
    node: &Node,
    token: &str,
    limit: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let record = submit(client, &node.url("/api/v1/tips"), token, &quiet_tip()).await;
        match &record.answer {
            Answer::Created { .. } => return started.elapsed(),
            Answer::Other { .. } | Answer::TimedOut => {
                panic!("{}: {:?}\n{}", node.name, record.answer, node.tail())
            }
            Answer::Unavailable { .. } | Answer::Transport(_) => {}
        }
        assert!(
            started.elapsed() < limit,
            "{} did not store a tip within {limit:?} of the database being back: {:?}\n{}",
            node.name,
            record.answer,
            node.tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn readyz(client: &reqwest::Client, node: &Node) -> (u16, bool) {
    let response = client.get(node.url("/readyz")).send().await.unwrap();
    let problem = response
        .headers()
        .get("content-type")
        .is_some_and(|v| v == "application/problem+json");
    (response.status().as_u16(), problem)
}

pub async fn until_ready(client: &reqwest::Client, node: &Node, limit: Duration) -> Duration {
    let started = Instant::now();
    while readyz(client, node).await.0 != 200 {
        assert!(
            started.elapsed() < limit,
            "{} /readyz not 200 again",
            node.name
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}
