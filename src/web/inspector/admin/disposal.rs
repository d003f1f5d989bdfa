//! The disposal page (gallring), view only: the rules in force from records.toml, what a run
//! now would dispose of per rule and what is held back, the schedule, and the last runs.
//! Runs are started by the worker's schedule or `tipsa records dispose`, never from here.

use super::*;
use crate::records::disposal::{self, runs};
use crate::records::{RecordsRules, Removal, RuleAction};

/// Runs listed.
const RUNS_SHOWN: i64 = 20;

pub struct RuleView {
    pub name: String,
    pub outcomes: String,
    pub channels: String,
    pub action: String,
    pub removes: String,
}

pub struct DueView {
    pub rule: String,
    pub due: i64,
    pub held: i64,
    pub requested: i64,
}

pub struct RunView {
    pub started: String,
    pub state: String,
    pub actor: String,
    pub as_of: String,
    pub disposed: i32,
    pub held: i32,
    pub requested: i32,
}

#[derive(Template)]
#[template(path = "inspector/admin_disposal.html")]
pub struct DisposalPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub schedule: Vec<FactRow>,
    pub rules: Vec<RuleView>,
    pub due: Vec<DueView>,
    pub total: DueView,
    pub runs: Vec<RunView>,
}

fn rule_views(t: &Texts, records: &RecordsRules) -> Vec<RuleView> {
    let all = t.get("disposal.all");
    records
        .rules
        .iter()
        .map(|rule| {
            let outcomes = if rule.outcomes.is_empty() {
                all.to_owned()
            } else {
                rule.outcomes
                    .iter()
                    .map(|o| t.get(&format!("outcome.{}", o.as_str())).to_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let channels = if rule.channels.is_empty() {
                all.to_owned()
            } else {
                rule.channels
                    .iter()
                    .map(|c| t.get(&format!("tip.channel_{c}")).to_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let (action, removes) = match rule.action {
                RuleAction::Keep { archive_contact } => (
                    t.get("disposal.keep").to_owned(),
                    t.get(if archive_contact {
                        "disposal.keep_with_contact"
                    } else {
                        "disposal.keep_without_contact"
                    })
                    .to_owned(),
                ),
                RuleAction::Dispose {
                    retain_months,
                    removes,
                } => (
                    t.get("disposal.dispose_after")
                        .replace("{months}", &retain_months.to_string()),
                    t.get(match removes {
                        Removal::Content => "disposal.removes_content",
                        Removal::Whole => "disposal.removes_whole",
                    })
                    .to_owned(),
                ),
            };
            RuleView {
                name: rule.name.clone(),
                outcomes,
                channels,
                action,
                removes,
            }
        })
        .collect()
}

fn run_view(t: &Texts, run: runs::RunRow, newest_unfinished: bool, lock_held: bool) -> RunView {
    let state = match run.finished_at {
        Some(at) => t
            .get("disposal.run_finished")
            .replace("{at}", &local_time(at)),
        // Only the newest unfinished run can be the one holding the lock.
        None if newest_unfinished && lock_held => t.get("disposal.run_running").to_owned(),
        None => t.get("disposal.run_interrupted").to_owned(),
    };
    RunView {
        started: local_time(run.started_at),
        state,
        actor: run.actor,
        as_of: local_time(run.as_of),
        disposed: run.disposed,
        held: run.skipped_held,
        requested: run.skipped_requested,
    }
}

/// GET: the rules, what is due now and the last runs.
pub async fn disposal_page(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let who = match allowed(&request, &state, Action::ReadDisposal).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let records = &state.records;
    let now = chrono::Utc::now();
    let loaded = async {
        let plan = disposal::plan(&mut conn, records, now).await?;
        let recent = runs::recent(&mut conn, RUNS_SHOWN).await?;
        let lock_held = runs::lock_is_held(&mut conn).await?;
        Ok::<_, diesel::result::Error>((plan, recent, lock_held))
    }
    .await;
    let (plan, recent, lock_held) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            tracing::warn!(error = %error, "loading the disposal page failed");
            return unavailable();
        }
    };
    drop(conn);
    let t = state.translations.texts(who.lang);
    let fact = |key: &str, value: String| FactRow {
        label: t.get(key).to_owned(),
        value,
    };
    let settings = &records.disposal;
    let schedule = vec![
        fact(
            "disposal.scheduled",
            t.get(if settings.scheduled {
                "admin.yes"
            } else {
                "admin.no"
            })
            .to_owned(),
        ),
        fact(
            "disposal.interval",
            t.get("disposal.minutes")
                .replace("{n}", &settings.interval_minutes.to_string()),
        ),
        fact("disposal.batch", settings.batch_tips.to_string()),
        fact(
            "disposal.pause",
            t.get("disposal.milliseconds")
                .replace("{n}", &settings.pause_ms.to_string()),
        ),
    ];
    let total = DueView {
        rule: t.get("disposal.total").to_owned(),
        due: plan.iter().map(|r| r.due).sum(),
        held: plan.iter().map(|r| r.held).sum(),
        requested: plan.iter().map(|r| r.requested).sum(),
    };
    let due = plan
        .into_iter()
        .map(|r| DueView {
            rule: r.rule,
            due: r.due,
            held: r.held,
            requested: r.requested,
        })
        .collect();
    let newest_unfinished = recent
        .iter()
        .position(|r| r.finished_at.is_none())
        .filter(|&i| i == 0);
    let runs = recent
        .into_iter()
        .enumerate()
        .map(|(i, run)| run_view(t, run, newest_unfinished == Some(i), lock_held))
        .collect();
    let (csrf_token, cookie) = csrf::token(&request);
    let chrome = Chrome::signed_in(&state, &request, &who, Section::Admin, csrf_token);
    let page = DisposalPage {
        title: t.get("disposal.title").to_owned(),
        schedule,
        rules: rule_views(t, records),
        due,
        total,
        runs,
        t,
        chrome,
    };
    html(StatusCode::OK, &page, cookie)
}
