//! Notifications that failed for good, each with a retry button.

use super::*;

/// One dead job as the page shows it.
pub struct DeadJobView {
    pub id: String,
    pub kind: String,
    pub team: String,
    pub tip_reference: String,
    pub attempts: i32,
    pub last_error: String,
    pub failed_at: String,
    pub retry_action: String,
}

#[derive(Template)]
#[template(path = "inspector/admin_dispatch.html")]
pub struct DispatchPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub notice: Option<String>,
    pub jobs: Vec<DeadJobView>,
}

/// GET: notification jobs that failed for good, each with a retry button.
pub async fn dispatch(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    let who = match allowed(&request, &state, Action::ManageNotifications).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let notice = match value(&query, "status") {
        Some("retried") => Some("admin_dispatch.retried"),
        Some("gone") => Some("admin_dispatch.gone"),
        _ => None,
    };
    dispatch_render(&request, &state, &who, notice, StatusCode::OK).await
}

async fn dispatch_render(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    notice: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let dead = match crate::notify::admin::list_dead(&mut conn, 200).await {
        Ok(dead) => dead,
        Err(error) => {
            tracing::warn!(error = %error, "listing dead notification jobs failed");
            return unavailable();
        }
    };
    let t = state.translations.texts(who.lang);
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Admin, csrf_token);
    let page = DispatchPage {
        title: t.get("admin_dispatch.title").to_owned(),
        notice: notice.map(|k| t.get(k).to_owned()),
        jobs: dead
            .into_iter()
            .map(|job| DeadJobView {
                retry_action: format!("{DISPATCH}/{}/forsok-igen", job.id),
                id: job.id.to_string(),
                kind: t
                    .get(&format!("admin_dispatch.kind_{}", job.kind))
                    .to_owned(),
                team: job.team.unwrap_or_default(),
                tip_reference: job.tip_reference.unwrap_or_default(),
                attempts: job.attempts,
                last_error: job.last_error.unwrap_or_default(),
                failed_at: local_time(job.failed_at),
            })
            .collect(),
        t,
        chrome,
    };
    html(status, &page, cookie)
}

/// POST: put a dead job back in the queue (audited).
pub async fn retry_notification(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: Pairs,
) -> HttpResponse {
    let who = match allowed_post(&request, &state, Action::ManageNotifications, &form).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let Ok(job_id) = path.parse::<Uuid>() else {
        return see_other(&format!("{DISPATCH}?status=gone"), []);
    };
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let auditor = Auditor::new(&request, &who);
    let retried = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            if !crate::notify::admin::retry(conn, job_id).await? {
                return Ok(false);
            }
            auditor
                .record(
                    conn,
                    &state,
                    AuditAction::RetryNotification,
                    json!({ "job_id": job_id }),
                )
                .await?;
            Ok(true)
        })
        .await;
    match retried {
        Ok(true) => see_other(&format!("{DISPATCH}?status=retried"), []),
        Ok(false) => see_other(&format!("{DISPATCH}?status=gone"), []),
        Err(error) => {
            tracing::warn!(error = %error, "retrying a notification job failed");
            unavailable()
        }
    }
}
