//! The loaded triage and routing configuration, read-only.

use super::*;

pub struct BaseRuleRow {
    pub name: String,
    pub category: String,
    pub care_sector: String,
    pub priority: String,
}

pub struct UrgencyRow {
    pub name: String,
    pub raise: u32,
    pub stems: String,
    pub words: String,
}

pub struct TeamRow {
    pub code: String,
    pub name: String,
    pub regions: String,
    pub notify: String,
    pub fallback: bool,
}

#[derive(Template)]
#[template(path = "inspector/admin_config.html")]
pub struct ConfigPage<'a> {
    pub chrome: Chrome<'a>,
    pub t: &'a Texts,
    pub title: String,
    pub general: Vec<FactRow>,
    pub base: Vec<BaseRuleRow>,
    pub urgency: Vec<UrgencyRow>,
    pub signals: Vec<FactRow>,
    pub deadlines: Vec<FactRow>,
    pub teams: Vec<TeamRow>,
    pub fallback_team: String,
}

fn span_text(t: &Texts, span: &Span) -> String {
    let (count, key) = match span {
        Span::Hours(n) => (n, "hours"),
        Span::WorkingDays(n) => (n, "working_days"),
        Span::Days(n) => (n, "days"),
        Span::Months(n) => (n, "months"),
    };
    t.get(&format!("admin_config.span_{key}"))
        .replace("{n}", &count.to_string())
}

fn priority_label(t: &Texts, priority: Priority) -> String {
    t.get(&format!("priority.{}", priority.as_str())).to_owned()
}

/// GET: the triage and routing rules this process loaded at start (read-only).
pub async fn configuration(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let who = match allowed(&request, &state, Action::ReadConfiguration).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let t = state.translations.texts(who.lang);
    let english = who.lang.code() == "en";
    let rules = &state.triage;
    let taxonomy = &state.taxonomy;
    let fact = |key: &str, value: String| FactRow {
        label: t.get(key).to_owned(),
        value,
    };
    let general = vec![
        fact("admin_config.version", rules.version.clone()),
        fact(
            "admin_config.default_priority",
            priority_label(t, rules.default_priority),
        ),
        fact(
            "admin_config.ongoing_raise",
            format!("+{}", rules.ongoing_raise),
        ),
    ];
    let any = t.get("admin_config.any");
    let base = rules
        .base
        .iter()
        .map(|rule| BaseRuleRow {
            name: rule.name.clone(),
            category: rule
                .category
                .as_deref()
                .map_or_else(|| any.to_owned(), |c| taxonomy.category_label(c, english)),
            care_sector: rule.care_sector.as_deref().map_or_else(
                || any.to_owned(),
                |c| taxonomy.care_sector_label(c, english),
            ),
            priority: priority_label(t, rule.priority),
        })
        .collect();
    let urgency = rules
        .urgency
        .iter()
        .map(|term| UrgencyRow {
            name: term.name.clone(),
            raise: term.raise,
            stems: term
                .stems
                .iter()
                .map(|words| format!("{}…", words.join(" ")))
                .collect::<Vec<_>>()
                .join(", "),
            words: term.words.join(", "),
        })
        .collect();
    let signals = vec![
        fact(
            "admin_config.repeat_threshold",
            rules.repeat.threshold.to_string(),
        ),
        fact(
            "admin_config.repeat_window",
            t.get("admin_config.span_days")
                .replace("{n}", &rules.repeat.window_days.to_string()),
        ),
        fact(
            "admin_config.repeat_raise",
            format!("+{}", rules.repeat.raise),
        ),
    ];
    let mut deadlines: Vec<FactRow> = rules
        .first_review
        .iter()
        .map(|(priority, span)| FactRow {
            label: format!(
                "{} – {}",
                t.get("admin_config.first_review"),
                priority_label(t, *priority)
            ),
            value: span_text(t, span),
        })
        .collect();
    deadlines.push(fact(
        "admin_config.acknowledgement",
        t.get("admin_config.span_days")
            .replace("{n}", &rules.acknowledgement_days.to_string()),
    ));
    deadlines.push(fact(
        "admin_config.feedback",
        t.get("admin_config.span_months")
            .replace("{n}", &rules.feedback_months.to_string()),
    ));
    let teams = rules
        .teams
        .iter()
        .map(|team| TeamRow {
            code: team.code.clone(),
            name: team.name.clone(),
            regions: team
                .regions
                .iter()
                .map(|code| format!("{} ({code})", taxonomy.region_name(code)))
                .collect::<Vec<_>>()
                .join(", "),
            notify: team.notify.join(", "),
            fallback: team.code == rules.fallback_team,
        })
        .collect();
    let (csrf_token, cookie) = csrf::token(&request);
    let chrome = Chrome::signed_in(&state, &request, &who, Section::Admin, csrf_token);
    let page = ConfigPage {
        title: t.get("admin_config.title").to_owned(),
        general,
        base,
        urgency,
        signals,
        deadlines,
        teams,
        fallback_team: format!(
            "{} ({})",
            team_name(&state, &rules.fallback_team),
            rules.fallback_team
        ),
        t,
        chrome,
    };
    html(StatusCode::OK, &page, cookie)
}
