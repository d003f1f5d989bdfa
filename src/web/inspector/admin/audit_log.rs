//! Browsing the audit log: newest first, filtered by actor, action and tip, paged by sequence.

use super::*;

pub struct AuditRowView {
    pub seq: i64,
    pub time: String,
    pub actor: String,
    pub action: String,
    pub tip_href: Option<String>,
    pub tip: String,
    pub detail: String,
    pub request_id: String,
}

pub struct ActionChoice {
    pub code: &'static str,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "inspector/admin_audit.html")]
pub struct AuditPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub errors: Vec<SummaryError>,
    pub actor: Field,
    pub actions: Vec<ActionChoice>,
    pub tip: Field,
    pub rows: Vec<AuditRowView>,
    pub older_href: Option<String>,
    pub newest_href: Option<String>,
}

/// How an actor reads: a person's name, an API key's name, or the stored text.
fn actor_label(
    actor: &str,
    people: &HashMap<Uuid, &Account>,
    keys: &HashMap<Uuid, String>,
    t: &Texts,
) -> String {
    if let Some(id) = actor
        .strip_prefix("user:")
        .and_then(|id| id.parse::<Uuid>().ok())
        && let Some(account) = people.get(&id)
    {
        return format!("{} ({})", account.display_name, account.email);
    }
    if let Some(id) = actor
        .strip_prefix("api_key:")
        .and_then(|id| id.parse::<Uuid>().ok())
        && let Some(name) = keys.get(&id)
    {
        return format!("{}: {name}", t.get("admin_audit.api_key"));
    }
    actor.to_owned()
}

/// The actor filter as stored: an email address or a name of an account means that person.
fn actor_filter(text: &str, people: &[Account]) -> String {
    let wanted = text.trim();
    people
        .iter()
        .find(|a| {
            a.email.eq_ignore_ascii_case(wanted)
                || a.display_name.to_lowercase() == wanted.to_lowercase()
        })
        .map_or_else(|| wanted.to_owned(), |a| format!("user:{}", a.id))
}

fn encode_pairs(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// GET: the audit log, newest first, with filters and an "older" link.
pub async fn audit_log(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    let who = match allowed(&request, &state, Action::ReadAuditLog).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let t = state.translations.texts(who.lang);
    let text = |key: &str| value(&query, key).unwrap_or_default().trim().to_owned();
    let (actor_text, action_text, tip_text) = (text("actor"), text("action"), text("tip"));
    let mut errors = Vec::new();
    let action = match action_text.as_str() {
        "" => None,
        code => {
            let parsed = AuditAction::parse(code);
            if parsed.is_none() {
                errors.push(FieldError::new(
                    "action",
                    "invalid_choice",
                    "unknown action",
                ));
            }
            parsed
        }
    };
    let tip_id = match tip_text.as_str() {
        "" => None,
        id => {
            let parsed = id.parse::<Uuid>().ok();
            if parsed.is_none() {
                errors.push(FieldError::new("tip", "invalid_tip_id", "is not a tip id"));
            }
            parsed
        }
    };
    let before_seq = value(&query, "before").and_then(|b| b.parse::<i64>().ok());

    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let people = match accounts::list(&mut conn).await {
        Ok(people) => people,
        Err(error) => {
            tracing::warn!(error = %error, "listing accounts failed");
            return unavailable();
        }
    };
    let keys: HashMap<Uuid, String> = match db::api_keys::list(&mut conn).await {
        Ok(keys) => keys.into_iter().map(|k| (k.id, k.name)).collect(),
        Err(error) => {
            tracing::warn!(error = %error, "listing API keys failed");
            return unavailable();
        }
    };
    let filter = audit::Filter {
        actor: (!actor_text.is_empty()).then(|| actor_filter(&actor_text, &people)),
        action,
        tip_id,
        before_seq,
    };
    // One row more than a page tells whether there are older ones.
    let mut rows = if errors.is_empty() {
        match audit::list(&mut conn, &filter, AUDIT_PAGE_SIZE + 1).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(error = %error, "reading the audit log failed");
                return unavailable();
            }
        }
    } else {
        Vec::new()
    };
    drop(conn);
    let has_older = rows.len() as i64 > AUDIT_PAGE_SIZE;
    rows.truncate(AUDIT_PAGE_SIZE as usize);
    let by_id: HashMap<Uuid, &Account> = people.iter().map(|a| (a.id, a)).collect();
    let filters = [
        ("actor", actor_text.clone()),
        ("action", action_text.clone()),
        ("tip", tip_text.clone()),
    ];
    let older_href = match rows.last() {
        Some(last) if has_older => {
            let mut pairs = filters.to_vec();
            pairs.push(("before", last.seq.to_string()));
            Some(format!("{AUDIT_LOG}?{}", encode_pairs(&pairs)))
        }
        _ => None,
    };
    let newest_href = before_seq.map(|_| format!("{AUDIT_LOG}?{}", encode_pairs(&filters)));
    let rows = rows
        .into_iter()
        .map(|row| AuditRowView {
            seq: row.seq,
            time: row
                .at
                .with_timezone(&chrono_tz::Europe::Stockholm)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            actor: actor_label(&row.actor, &by_id, &keys, t),
            action: AuditAction::parse(&row.action).map_or_else(
                || row.action.clone(),
                |a| {
                    t.get(&format!("admin_audit.action_{}", a.as_str()))
                        .to_owned()
                },
            ),
            tip_href: row.tip_id.map(|id| format!("/inspektor/tips/{id}")),
            tip: row.tip_id.map(|id| id.to_string()).unwrap_or_default(),
            detail: if row.detail == "{}" {
                String::new()
            } else {
                row.detail
            },
            request_id: row.request_id.unwrap_or_default(),
        })
        .collect();
    let mut actions = vec![ActionChoice {
        code: "",
        label: t.get("admin_audit.any_action").to_owned(),
        selected: action.is_none(),
    }];
    actions.extend(AuditAction::ALL.iter().map(|a| {
        ActionChoice {
            code: a.as_str(),
            label: t
                .get(&format!("admin_audit.action_{}", a.as_str()))
                .to_owned(),
            selected: action == Some(*a),
        }
    }));
    let errors_summary = errors
        .iter()
        .map(|e| {
            (
                e.field.clone(),
                t.get(&format!("admin_audit.error_{}", e.field)).to_owned(),
            )
        })
        .collect();
    let error_of = |field: &str| {
        errors
            .iter()
            .any(|e| e.field == field)
            .then(|| t.get(&format!("admin_audit.error_{field}")).to_owned())
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let (csrf_token, cookie) = csrf::token(&request);
    let chrome = Chrome::signed_in(&state, &request, &who, Section::Admin, csrf_token);
    let page = AuditPage {
        title: t.get("admin_audit.title").to_owned(),
        errors: errors_summary,
        actor: Field {
            id: "actor",
            label: t.get("admin_audit.filter_actor").to_owned(),
            hint: Some(t.get("admin_audit.filter_actor_hint").to_owned()),
            value: actor_text,
            error: None,
        },
        actions,
        tip: Field {
            id: "tip",
            label: t.get("admin_audit.filter_tip").to_owned(),
            hint: None,
            value: tip_text,
            error: error_of("tip"),
        },
        rows,
        older_href,
        newest_href,
        t,
        chrome,
    };
    html(status, &page, cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_in_paging_links_are_encoded_and_empty_ones_dropped() {
        let query = encode_pairs(&[
            ("actor", "user:1 2".to_owned()),
            ("action", String::new()),
            ("before", "51".to_owned()),
        ]);
        assert_eq!(query, "actor=user%3A1%202&before=51");
    }
}
