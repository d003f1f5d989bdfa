//! Admin pages for people: the list and invitations (a one-time link shown once), one
//! person's roles and teams, disabling, second-factor and password resets, ending sessions.

use super::*;

pub struct PersonRow {
    pub href: String,
    pub name: String,
    pub email: String,
    pub roles: String,
    pub teams: String,
    pub active: bool,
    pub second_factor: bool,
    pub has_password: bool,
}

/// The invitation form, as typed.
pub struct InviteView {
    pub email: Field,
    pub display_name: Field,
    pub roles: Vec<CheckView>,
    pub roles_error: Option<String>,
    pub teams: Vec<CheckView>,
    pub teams_error: Option<String>,
    pub languages: Vec<CheckView>,
    pub language_error: Option<String>,
}

#[derive(Template)]
#[template(path = "inspector/admin_people.html")]
pub struct PeoplePage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub rows: Vec<PersonRow>,
    pub errors: Vec<SummaryError>,
    pub invite: InviteView,
    pub invitation_hours: i64,
}

fn invite_view(
    state: &AppState,
    t: &Texts,
    pairs: &[(String, String)],
    errors: &[FieldError],
) -> InviteView {
    let field = |id: &'static str, label: &str, hint: Option<&str>| Field {
        id,
        label: t.get(label).to_owned(),
        hint: hint.map(|h| t.get(h).to_owned()),
        value: value(pairs, id).unwrap_or_default().to_owned(),
        error: error_for(errors, id, t),
    };
    let language = value(pairs, "language").unwrap_or("sv");
    InviteView {
        email: field("email", "admin_people.email", None),
        display_name: field("display_name", "admin_people.name", None),
        roles: role_checks(t, &values(pairs, "roles")),
        roles_error: error_for(errors, "roles", t),
        teams: team_checks(state, &values(pairs, "teams")),
        teams_error: error_for(errors, "teams", t),
        languages: ["sv", "en"]
            .into_iter()
            .map(|code| CheckView {
                id: format!("language-{code}"),
                value: code.to_owned(),
                label: t.get(&format!("admin_people.language_{code}")).to_owned(),
                checked: language == code,
            })
            .collect(),
        language_error: error_for(errors, "language", t),
    }
}

pub(super) fn summary(
    t: &Texts,
    errors: &[FieldError],
    first_check: impl Fn(&str) -> Option<String>,
) -> Vec<SummaryError> {
    errors
        .iter()
        .map(|e| {
            (
                anchor(&e.field, || first_check(&e.field)),
                account_error(t, e),
            )
        })
        .collect()
}

async fn people_page(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    pairs: &[(String, String)],
    errors: &[FieldError],
    status: StatusCode,
) -> HttpResponse {
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let list = match accounts::list(&mut conn).await {
        Ok(list) => list,
        Err(error) => {
            tracing::warn!(error = %error, "listing accounts failed");
            return unavailable();
        }
    };
    drop(conn);
    let t = state.translations.texts(who.lang);
    let rows = list
        .iter()
        .map(|a| PersonRow {
            href: format!("{PEOPLE}/{}", a.id),
            name: a.display_name.clone(),
            email: a.email.clone(),
            roles: a
                .roles
                .iter()
                .map(|r| role_label(t, *r))
                .collect::<Vec<_>>()
                .join(", "),
            teams: a
                .teams
                .iter()
                .map(|code| team_name(state, code))
                .collect::<Vec<_>>()
                .join(", "),
            active: a.active,
            second_factor: a.second_factor,
            has_password: a.has_password,
        })
        .collect();
    let first_team = state.triage.teams.first().map(|t| t.code.clone());
    let errors_summary = summary(t, errors, |field| match field {
        "roles" => Some(format!("role-{}", Role::ALL[0].as_str())),
        "teams" => first_team.as_ref().map(|code| format!("team-{code}")),
        "language" => Some("language-sv".to_owned()),
        _ => None,
    });
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Admin, csrf_token);
    let page = PeoplePage {
        title: t.get("admin_people.title").to_owned(),
        rows,
        errors: errors_summary,
        invite: invite_view(state, t, pairs, errors),
        invitation_hours: INVITATION_LINK_HOURS,
        t,
        chrome,
    };
    html(status, &page, cookie)
}

/// GET: everyone, and the invitation form.
pub async fn people(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let who = match allowed(&request, &state, Action::ManageUsers).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    people_page(&request, &state, &who, &[], &[], StatusCode::OK).await
}

/// A secret shown once: an invitation or reset link, or a new API key.
#[derive(Template)]
#[template(path = "inspector/admin_once.html")]
pub struct OncePage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub intro: String,
    pub secret_label: String,
    pub secret: String,
    pub note: String,
    pub back_href: String,
    pub back_label: String,
}

/// The full address of a password link, as the admin's browser reached this service.
fn link_address(request: &HttpRequest, token: &str) -> String {
    let info = request.connection_info();
    format!(
        "{}://{}/inspektor/losenord/{token}",
        info.scheme(),
        info.host()
    )
}

/// POST: creates an account without a password and shows its invitation link once.
pub async fn invite(request: HttpRequest, state: web::Data<AppState>, form: Pairs) -> HttpResponse {
    let who = match allowed_post(&request, &state, Action::ManageUsers, &form).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let known = known_teams(&state);
    let account = match NewAccount::parse(
        value(&form, "email").unwrap_or_default(),
        value(&form, "display_name").unwrap_or_default(),
        &values(&form, "roles"),
        &values(&form, "teams"),
        value(&form, "language").unwrap_or_default(),
        &known,
    ) {
        Ok(account) => account,
        Err(errors) => {
            return people_page(
                &request,
                &state,
                &who,
                &form,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let auditor = Auditor::new(&request, &who);
    let result = conn
        .transaction::<_, AccountError, _>(async |conn| {
            let id = accounts::create(conn, &account, None).await?;
            let token = accounts::issue_link(
                conn,
                LinkPurpose::Invitation,
                Some(id),
                INVITATION_LINK_HOURS,
            )
            .await?;
            let roles: Vec<&str> = account.roles.iter().map(|r| r.as_str()).collect();
            // What was created, never the link itself.
            auditor
                .record(
                    conn,
                    &state,
                    AuditAction::CreateUser,
                    json!({
                        "user_id": id,
                        "email": account.email,
                        "roles": roles,
                        "teams": account.teams,
                        "language": account.language,
                        "invitation_valid_hours": INVITATION_LINK_HOURS,
                    }),
                )
                .await?;
            Ok((id, token))
        })
        .await;
    drop(conn);
    let (id, token) = match result {
        Ok(created) => created,
        Err(AccountError::Invalid(errors)) => {
            return people_page(
                &request,
                &state,
                &who,
                &form,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(error) => {
            tracing::warn!(error = %error, "inviting a person failed");
            return unavailable();
        }
    };
    let t = state.translations.texts(who.lang);
    let (csrf_token, cookie) = csrf::token(&request);
    let chrome = Chrome::signed_in(&state, &request, &who, Section::Admin, csrf_token);
    let page = OncePage {
        title: t.get("admin_people.invited_title").to_owned(),
        intro: t
            .get("admin_people.invited_intro")
            .replace("{name}", &account.display_name)
            .replace("{email}", &account.email),
        secret_label: t.get("admin_people.invitation_link").to_owned(),
        secret: link_address(&request, &token),
        note: t
            .get("admin.shown_once_link")
            .replace("{hours}", &INVITATION_LINK_HOURS.to_string()),
        back_href: format!("{PEOPLE}/{id}"),
        back_label: t.get("admin_people.to_person").to_owned(),
        t,
        chrome,
    };
    html(StatusCode::OK, &page, cookie)
}

#[derive(Template)]
#[template(path = "inspector/admin_person.html")]
pub struct PersonPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub action: String,
    pub notice: Option<String>,
    pub errors: Vec<SummaryError>,
    pub facts: Vec<FactRow>,
    pub roles: Vec<CheckView>,
    pub roles_error: Option<String>,
    pub teams: Vec<CheckView>,
    pub teams_error: Option<String>,
    pub active: bool,
    pub is_self: bool,
    pub reset_hours: i64,
}

fn person_id(path: &str) -> Option<Uuid> {
    path.parse().ok()
}

fn person_not_found(state: &AppState, request: &HttpRequest, who: &SignedIn) -> HttpResponse {
    let (token, _) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Admin, token);
    message_page(
        chrome,
        StatusCode::NOT_FOUND,
        "admin_person.not_found_title",
        "admin_person.not_found_text",
    )
}

/// What a re-rendered person page carries besides the account.
#[derive(Default)]
struct PersonExtras<'a> {
    notice_key: Option<String>,
    errors: Vec<FieldError>,
    /// The roles and teams as submitted (after an error).
    submitted: Option<&'a [(String, String)]>,
}

fn person_page(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    account: &Account,
    extras: PersonExtras<'_>,
    status: StatusCode,
) -> HttpResponse {
    let t = state.translations.texts(who.lang);
    let yes_no = |b: bool| t.get(if b { "admin.yes" } else { "admin.no" }).to_owned();
    let facts = vec![
        FactRow {
            label: t.get("admin_people.email").to_owned(),
            value: account.email.clone(),
        },
        FactRow {
            label: t.get("admin_people.language").to_owned(),
            value: t
                .get(&format!("admin_people.language_{}", account.language))
                .to_owned(),
        },
        FactRow {
            label: t.get("admin_people.col_active").to_owned(),
            value: yes_no(account.active),
        },
        FactRow {
            label: t.get("admin_people.has_password").to_owned(),
            value: yes_no(account.has_password),
        },
        FactRow {
            label: t.get("admin_people.col_second_factor").to_owned(),
            value: t
                .get(if account.second_factor {
                    "admin_people.second_factor_on"
                } else {
                    "admin_people.second_factor_off"
                })
                .to_owned(),
        },
        FactRow {
            label: t.get("admin_people.created").to_owned(),
            value: local_time(account.created_at),
        },
    ];
    let (roles, teams) = match extras.submitted {
        Some(pairs) => (values(pairs, "roles"), values(pairs, "teams")),
        None => (
            account
                .roles
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            account.teams.clone(),
        ),
    };
    let first_team = state.triage.teams.first().map(|t| t.code.clone());
    let errors = summary(t, &extras.errors, |field| match field {
        "roles" => Some(format!("role-{}", Role::ALL[0].as_str())),
        "teams" => first_team.as_ref().map(|code| format!("team-{code}")),
        _ => None,
    });
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Admin, csrf_token);
    let page = PersonPage {
        title: account.display_name.clone(),
        action: format!("{PEOPLE}/{}", account.id),
        notice: extras.notice_key.map(|k| t.get(&k).to_owned()),
        roles_error: error_for(&extras.errors, "roles", t),
        teams_error: error_for(&extras.errors, "teams", t),
        errors,
        facts,
        roles: role_checks(t, &roles),
        teams: team_checks(state, &teams),
        active: account.active,
        is_self: account.id == who.account.id,
        reset_hours: RESET_LINK_HOURS,
        t,
        chrome,
    };
    html(status, &page, cookie)
}

async fn load_account(state: &AppState, id: Uuid) -> Result<Option<Account>, HttpResponse> {
    let mut conn = state.connection().await.map_err(|_| unavailable())?;
    accounts::find(&mut conn, id).await.map_err(|error| {
        tracing::warn!(error = %error, "loading an account failed");
        unavailable()
    })
}

/// The changes a person page can post, as `?klart=` after the redirect.
const DONE: [&str; 5] = [
    "roles",
    "disable",
    "enable",
    "reset_second_factor",
    "logout",
];

/// GET: one person, with the forms to change them.
pub async fn person(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
) -> HttpResponse {
    let who = match allowed(&request, &state, Action::ManageUsers).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let Some(id) = person_id(&path) else {
        return person_not_found(&state, &request, &who);
    };
    let account = match load_account(&state, id).await {
        Ok(Some(account)) => account,
        Ok(None) => return person_not_found(&state, &request, &who),
        Err(response) => return response,
    };
    let notice_key = value(&query, "klart")
        .filter(|done| DONE.contains(done))
        .map(|done| format!("admin_person.done_{done}"));
    let extras = PersonExtras {
        notice_key,
        ..PersonExtras::default()
    };
    person_page(&request, &state, &who, &account, extras, StatusCode::OK)
}

/// POST: one change to a person, named by the form's `action`.
pub async fn change_person(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: Pairs,
) -> HttpResponse {
    let who = match allowed_post(&request, &state, Action::ManageUsers, &form).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let Some(id) = person_id(&path) else {
        return person_not_found(&state, &request, &who);
    };
    let account = match load_account(&state, id).await {
        Ok(Some(account)) => account,
        Ok(None) => return person_not_found(&state, &request, &who),
        Err(response) => return response,
    };
    let refuse = |errors: Vec<FieldError>, status| {
        let extras = PersonExtras {
            errors,
            submitted: Some(&form),
            ..PersonExtras::default()
        };
        person_page(&request, &state, &who, &account, extras, status)
    };
    let is_self = account.id == who.account.id;
    let action = value(&form, "action").unwrap_or_default().to_owned();
    let Ok(mut conn) = state.connection().await else {
        return unavailable();
    };
    let auditor = Auditor::new(&request, &who);
    let result: Result<(), AccountError> = match action.as_str() {
        "roles" => {
            let known = known_teams(&state);
            let roles = accounts::parse_roles("roles", &values(&form, "roles"));
            let teams = accounts::parse_teams("teams", &values(&form, "teams"), &known);
            let (roles, teams) = match (roles, teams) {
                (Ok(roles), Ok(teams)) => (roles, teams),
                (roles, teams) => {
                    let errors = [roles.err(), teams.err()].into_iter().flatten().collect();
                    return refuse(errors, StatusCode::UNPROCESSABLE_ENTITY);
                }
            };
            // Nobody removes their own admin role: the last admin could lock everyone out.
            if is_self && account.has(Role::Admin) && !roles.contains(&Role::Admin) {
                return refuse(
                    vec![FieldError::new(
                        "roles",
                        "own_admin_role",
                        "you cannot remove your own admin role",
                    )],
                    StatusCode::UNPROCESSABLE_ENTITY,
                );
            }
            let names = |roles: &[Role]| -> Vec<&'static str> {
                roles.iter().map(|r| r.as_str()).collect()
            };
            let detail = json!({
                "user_id": id,
                "change": "roles_and_teams",
                "before": { "roles": names(&account.roles), "teams": account.teams },
                "after": { "roles": names(&roles), "teams": teams },
            });
            conn.transaction::<_, AccountError, _>(async |conn| {
                accounts::set_roles_and_teams(conn, id, &roles, &teams).await?;
                auditor
                    .record(conn, &state, AuditAction::ChangeUser, detail)
                    .await?;
                Ok(())
            })
            .await
        }
        "disable" | "enable" => {
            let active = action == "enable";
            if is_self && !active {
                return refuse(
                    vec![FieldError::new(
                        "active",
                        "own_account",
                        "you cannot disable your own account",
                    )],
                    StatusCode::CONFLICT,
                );
            }
            let detail = json!({
                "user_id": id,
                "change": "active",
                "before": account.active,
                "after": active,
            });
            conn.transaction::<_, AccountError, _>(async |conn| {
                accounts::set_active(conn, id, active).await?;
                auditor
                    .record(conn, &state, AuditAction::ChangeUser, detail)
                    .await?;
                Ok(())
            })
            .await
        }
        "reset_second_factor" => {
            let detail = json!({
                "user_id": id,
                "change": "second_factor_reset",
                "had_second_factor": account.second_factor,
            });
            conn.transaction::<_, AccountError, _>(async |conn| {
                accounts::reset_second_factor(conn, id).await?;
                auditor
                    .record(conn, &state, AuditAction::ChangeUser, detail)
                    .await?;
                Ok(())
            })
            .await
        }
        "logout" => {
            conn.transaction::<_, AccountError, _>(async |conn| {
                let ended = accounts::end_all_sessions(conn, id).await?;
                auditor
                    .record(
                        conn,
                        &state,
                        AuditAction::ChangeUser,
                        json!({ "user_id": id, "change": "sessions_ended", "sessions": ended }),
                    )
                    .await?;
                Ok(())
            })
            .await
        }
        "reset_password" => {
            let issued = conn
                .transaction::<_, AccountError, _>(async |conn| {
                    let token = accounts::issue_link(
                        conn,
                        LinkPurpose::PasswordReset,
                        Some(id),
                        RESET_LINK_HOURS,
                    )
                    .await?;
                    // That a link was made, never the link.
                    auditor
                        .record(
                            conn,
                            &state,
                            AuditAction::ChangeUser,
                            json!({
                                "user_id": id,
                                "change": "password_reset_link",
                                "valid_hours": RESET_LINK_HOURS,
                            }),
                        )
                        .await?;
                    Ok(token)
                })
                .await;
            drop(conn);
            return match issued {
                Ok(token) => reset_link_page(&request, &state, &who, &account, &token),
                Err(error) => {
                    tracing::warn!(error = %error, "issuing a reset link failed");
                    unavailable()
                }
            };
        }
        _ => {
            return refuse(
                vec![FieldError::new(
                    "action",
                    "unknown_action",
                    "is not an action",
                )],
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    match result {
        Ok(()) => see_other(&format!("{PEOPLE}/{id}?klart={action}"), []),
        Err(AccountError::NotFound) => person_not_found(&state, &request, &who),
        Err(AccountError::Invalid(errors)) => refuse(errors, StatusCode::UNPROCESSABLE_ENTITY),
        Err(error) => {
            tracing::warn!(error = %error, "changing a person failed");
            unavailable()
        }
    }
}

fn reset_link_page(
    request: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    account: &Account,
    token: &str,
) -> HttpResponse {
    let t = state.translations.texts(who.lang);
    let (csrf_token, cookie) = csrf::token(request);
    let chrome = Chrome::signed_in(state, request, who, Section::Admin, csrf_token);
    let page = OncePage {
        title: t.get("admin_person.reset_title").to_owned(),
        intro: t
            .get("admin_person.reset_intro")
            .replace("{name}", &account.display_name)
            .replace("{email}", &account.email),
        secret_label: t.get("admin_person.reset_link").to_owned(),
        secret: link_address(request, token),
        note: t
            .get("admin.shown_once_link")
            .replace("{hours}", &RESET_LINK_HOURS.to_string()),
        back_href: format!("{PEOPLE}/{}", account.id),
        back_label: t.get("admin_people.to_person").to_owned(),
        t,
        chrome,
    };
    html(StatusCode::OK, &page, cookie)
}
