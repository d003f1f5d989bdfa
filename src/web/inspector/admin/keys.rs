//! Admin pages for API keys: create with scopes (the token shown once), list, revoke.

use super::*;

pub struct KeyRow {
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub created: String,
    pub revoked: Option<String>,
    pub revoke_action: String,
}

#[derive(Template)]
#[template(path = "inspector/admin_api_keys.html")]
pub struct ApiKeysPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub notice: Option<String>,
    pub errors: Vec<SummaryError>,
    pub rows: Vec<KeyRow>,
    pub name: Field,
    pub scopes: Vec<CheckView>,
    pub scopes_error: Option<String>,
    pub cache_note: String,
}

fn cache_note(state: &AppState, t: &Texts) -> String {
    t.get("admin_keys.cache_note").replace(
        "{seconds}",
        &state.settings.auth.api_key_cache_seconds.to_string(),
    )
}

async fn api_keys_render(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    pairs: &[(String, String)],
    errors: &[FieldError],
    notice_key: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let keys = match db::api_keys::list(&mut conn).await {
        Ok(keys) => keys,
        Err(error) => {
            tracing::warn!(error = %error, "listing API keys failed");
            return unavailable();
        }
    };
    drop(conn);
    let t = state.translations.texts(who.lang);
    let rows = keys
        .into_iter()
        .rev()
        .map(|key| KeyRow {
            revoke_action: format!("{API_KEYS}/{}/aterkalla", key.prefix),
            name: key.name,
            scopes: key.scopes.join(", "),
            created: local_time(key.created_at),
            revoked: key.revoked_at.map(local_time),
            prefix: key.prefix,
        })
        .collect();
    let submitted = values(pairs, "scopes");
    let scopes = Scope::ALL
        .iter()
        .map(|scope| CheckView {
            id: format!("scope-{}", scope.as_str().replace(':', "-")),
            value: scope.as_str().to_owned(),
            label: format!(
                "{} ({})",
                t.get(&format!(
                    "admin_keys.scope_{}",
                    scope.as_str().replace(':', "_")
                )),
                scope.as_str()
            ),
            checked: submitted.iter().any(|s| s == scope.as_str()),
        })
        .collect();
    let summary_errors = summary(t, errors, |field| match field {
        "scopes" => Some("scope-tips-submit".to_owned()),
        _ => None,
    });
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Admin, csrf_token);
    let page = ApiKeysPage {
        title: t.get("admin_keys.title").to_owned(),
        notice: notice_key.map(|k| t.get(k).to_owned()),
        errors: summary_errors,
        rows,
        name: Field {
            id: "name",
            label: t.get("admin_keys.name").to_owned(),
            hint: Some(t.get("admin_keys.name_hint").to_owned()),
            value: value(pairs, "name").unwrap_or_default().to_owned(),
            error: error_for(errors, "name", t),
        },
        scopes,
        scopes_error: error_for(errors, "scopes", t),
        cache_note: cache_note(state, t),
        t,
        chrome,
    };
    html(status, &page, cookie)
}

/// GET: every key, the form for a new one, and a revoke button per active key.
pub async fn api_keys_page(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    let who = match allowed(&request, &state, Action::ManageApiKeys).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let notice = (value(&query, "aterkallad") == Some("1")).then_some("admin_keys.revoked_notice");
    api_keys_render(&request, &state, &who, &[], &[], notice, StatusCode::OK).await
}

fn parse_key_form(pairs: &[(String, String)]) -> Result<(String, Vec<Scope>), Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = value(pairs, "name").unwrap_or_default().trim().to_owned();
    if !(1..=200).contains(&name.chars().count()) {
        errors.push(FieldError::new(
            "name",
            "invalid_length",
            "must be 1 to 200 characters",
        ));
    }
    let mut scopes = Vec::new();
    for text in values(pairs, "scopes") {
        match text.parse::<Scope>() {
            Ok(scope) => scopes.push(scope),
            Err(message) => {
                errors.push(FieldError::new("scopes", "unknown_scope", message));
            }
        }
    }
    // A key without a scope could do nothing at all.
    if scopes.is_empty() && !errors.iter().any(|e| e.field == "scopes") {
        errors.push(FieldError::new(
            "scopes",
            "no_scope",
            "choose at least one scope",
        ));
    }
    if errors.is_empty() {
        Ok((name, scopes))
    } else {
        Err(errors)
    }
}

/// POST: creates a key and shows its token once.
pub async fn create_api_key(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: Pairs,
) -> HttpResponse {
    let who = match allowed_post(&request, &state, Action::ManageApiKeys, &form).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let (name, scopes) = match parse_key_form(&form) {
        Ok(parsed) => parsed,
        Err(errors) => {
            return api_keys_render(
                &request,
                &state,
                &who,
                &form,
                &errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let auditor = Auditor::new(&request, &who);
    let created = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let key = crate::auth::api_keys::create(conn, &name, &scopes).await?;
            let scope_names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
            // The prefix identifies the key; the token is never recorded.
            auditor
                .record(
                    conn,
                    &state,
                    AuditAction::CreateApiKey,
                    json!({
                        "key_id": key.id,
                        "prefix": key.prefix,
                        "name": name,
                        "scopes": scope_names,
                    }),
                )
                .await?;
            Ok(key)
        })
        .await;
    drop(conn);
    let key = match created {
        Ok(key) => key,
        Err(error) => {
            tracing::warn!(error = %error, "creating an API key failed");
            return unavailable();
        }
    };
    let t = state.translations.texts(who.lang);
    let (csrf_token, cookie) = csrf::token(&request);
    let chrome = Chrome::signed_in(&state, &request, &who, Section::Admin, csrf_token);
    let scope_names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let page = OncePage {
        title: t.get("admin_keys.created_title").to_owned(),
        intro: t
            .get("admin_keys.created_intro")
            .replace("{name}", &name)
            .replace("{prefix}", &key.prefix)
            .replace("{scopes}", &scope_names.join(", ")),
        secret_label: t.get("admin_keys.token").to_owned(),
        secret: key.token,
        note: t.get("admin_keys.shown_once").to_owned(),
        back_href: API_KEYS.to_owned(),
        back_label: t.get("admin_keys.back").to_owned(),
        t,
        chrome,
    };
    html(StatusCode::OK, &page, cookie)
}

/// POST: revokes one key (named by its public prefix).
pub async fn revoke_api_key(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: Pairs,
) -> HttpResponse {
    let who = match allowed_post(&request, &state, Action::ManageApiKeys, &form).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let prefix = path.into_inner();
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let auditor = Auditor::new(&request, &who);
    let revoked = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let Some(key) = db::api_keys::find_by_prefix(conn, &prefix).await? else {
                return Ok(false);
            };
            if !db::api_keys::revoke(conn, &prefix).await? {
                return Ok(false);
            }
            state.api_key_cache.forget(key.id);
            auditor
                .record(
                    conn,
                    &state,
                    AuditAction::RevokeApiKey,
                    json!({ "key_id": key.id, "prefix": key.prefix, "name": key.name }),
                )
                .await?;
            Ok(true)
        })
        .await;
    drop(conn);
    match revoked {
        Ok(true) => see_other(&format!("{API_KEYS}?aterkallad=1"), []),
        Ok(false) => {
            api_keys_render(
                &request,
                &state,
                &who,
                &[],
                &[],
                Some("admin_keys.no_such_key"),
                StatusCode::NOT_FOUND,
            )
            .await
        }
        Err(error) => {
            tracing::warn!(error = %error, "revoking an API key failed");
            unavailable()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_key_needs_a_name_and_known_scopes() {
        let (name, scopes) = parse_key_form(&pairs(&[
            ("name", "  E-tjänst  "),
            ("scopes", "tips:submit"),
            ("scopes", "stats:read"),
        ]))
        .unwrap();
        assert_eq!(name, "E-tjänst");
        assert_eq!(scopes, vec![Scope::TipsSubmit, Scope::StatsRead]);

        let errors = parse_key_form(&pairs(&[("name", " ")])).unwrap_err();
        let codes: Vec<&str> = errors.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["invalid_length", "no_scope"]);

        let errors =
            parse_key_form(&pairs(&[("name", "x"), ("scopes", "tips:delete")])).unwrap_err();
        let codes: Vec<&str> = errors.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["unknown_scope"]);
    }
}
