//! The start page, the 404 page and the static assets (compiled into the binary).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::html;
use super::i18n::{Lang, Page};
use super::views::{Chrome, HomePage, NotFoundPage};
use crate::state::AppState;

const STYLESHEET: &str = include_str!("../../static/site.css");
const REPORT_SCRIPT: &str = include_str!("../../static/report.js");
const ATTACHMENTS_SCRIPT: &str = include_str!("../../static/attachments.js");

/// `/` (Swedish, or English when the browser prefers it) and `/en`.
pub async fn home(request: HttpRequest, state: web::Data<AppState>, lang: Lang) -> HttpResponse {
    let explicit_choice = request.query_string().contains("lang=sv");
    if lang == Lang::Sv && !explicit_choice && Lang::preferred(&request) == Lang::En {
        return super::see_other(Lang::En.path(Page::Home), []);
    }
    let t = state.translations.texts(lang);
    html(
        StatusCode::OK,
        &HomePage {
            chrome: Chrome::new(t, lang, Page::Home),
            t,
            title: t.get("home.title").to_owned(),
            report_href: lang.path(Page::Report),
            follow_up_href: lang.path(Page::FollowUp),
        },
        [],
    )
}

/// A 404 page in the language the path suggests.
pub async fn not_found(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let lang = if request.path().starts_with("/en/") {
        Lang::En
    } else {
        Lang::Sv
    };
    let t = state.translations.texts(lang);
    html(
        StatusCode::NOT_FOUND,
        &NotFoundPage {
            chrome: Chrome::new(t, lang, Page::Home),
            t,
            title: t.get("error.not_found_title").to_owned(),
        },
        [],
    )
}

pub async fn stylesheet() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLESHEET)
}

pub async fn report_script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", REPORT_SCRIPT)
}

pub async fn attachments_script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", ATTACHMENTS_SCRIPT)
}

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}
