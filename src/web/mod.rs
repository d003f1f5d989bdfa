//! The public web pages (server-rendered, Swedish first, English too): the start page, the tip
//! form with its preview and receipt, and the tipster's follow-up with the receipt code.
//! They share the intake and conversation capabilities with the REST API.

pub mod csrf;
pub mod follow_up;
pub mod followup_session;
pub mod form_files;
pub mod forms;
pub mod i18n;
pub mod inspector;
pub mod pages;
pub mod report;
pub mod report_page;
pub mod views;

use actix_web::cookie::Cookie;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;

use i18n::{Lang, Page};

/// Registers the pages in both languages and the static assets.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::FormConfig::default()
            .limit(256 * 1024)
            .error_handler(|error, _| {
                actix_web::error::InternalError::from_response(
                    error,
                    HttpResponse::BadRequest()
                        .content_type("text/plain; charset=utf-8")
                        .body("Bad request"),
                )
                .into()
            }),
    )
    .route("/static/site.css", web::get().to(pages::stylesheet))
    .route("/static/report.js", web::get().to(pages::report_script))
    .route(
        "/static/attachments.js",
        web::get().to(pages::attachments_script),
    )
    .configure(inspector::configure);
    for lang in [Lang::Sv, Lang::En] {
        cfg.route(
            lang.path(Page::Home),
            web::get().to(move |req, state| pages::home(req, state, lang)),
        )
        .service(
            web::resource(lang.path(Page::Report))
                .route(web::get().to(move |req, state| report::form(req, state, lang)))
                .route(
                    web::post().to(move |req, state, form| report::edit(req, state, form, lang)),
                ),
        )
        .route(
            lang.path(Page::ReportPreview),
            web::post().to(move |req, state, form| report::preview(req, state, form, lang)),
        )
        .route(
            lang.path(Page::ReportUpload),
            web::post().to(move |req, state, form| report::upload(req, state, form, lang)),
        )
        .route(
            lang.path(Page::ReportSubmit),
            web::post().to(move |req, state, form| report::submit(req, state, form, lang)),
        )
        .service(
            web::resource(lang.path(Page::FollowUp))
                .route(web::get().to(move |req, state| follow_up::form(req, state, lang)))
                .route(
                    web::post().to(move |req, state, form| follow_up::open(req, state, form, lang)),
                ),
        )
        .route(
            lang.path(Page::FollowUpTip),
            web::get().to(move |req, state| follow_up::show(req, state, lang)),
        )
        .route(
            lang.path(Page::FollowUpReply),
            web::post().to(move |req, state, form| follow_up::reply(req, state, form, lang)),
        )
        .route(
            lang.path(Page::FollowUpEnd),
            web::post().to(move |req, state, form| follow_up::end(req, state, form, lang)),
        );
    }
}

/// An HTML response: never cached (pages may carry tokens or a tipster's messages), plus any
/// cookies to set.
pub fn html(
    status: StatusCode,
    page: &impl Template,
    cookies: impl IntoIterator<Item = Cookie<'static>>,
) -> HttpResponse {
    match page.render() {
        Ok(body) => {
            let mut response = HttpResponse::build(status);
            response
                .content_type("text/html; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "no-store"));
            for cookie in cookies {
                response.cookie(cookie);
            }
            response.body(body)
        }
        Err(error) => {
            tracing::error!(error = %error, "rendering a page failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("Internal error")
        }
    }
}

/// A 303 redirect (after a successful POST).
pub fn see_other(
    location: &str,
    cookies: impl IntoIterator<Item = Cookie<'static>>,
) -> HttpResponse {
    let mut response = HttpResponse::SeeOther();
    response
        .insert_header((header::LOCATION, location.to_owned()))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    for cookie in cookies {
        response.cookie(cookie);
    }
    response.finish()
}

/// The database is unreachable: a plain bilingual page, and a hint to retry.
/// A body that cannot be read as a form at all.
pub fn bad_request() -> HttpResponse {
    HttpResponse::BadRequest()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body("Felaktig begäran. / Bad request.")
}

pub fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, "5"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body("Tjänsten är tillfälligt otillgänglig. Försök igen om en stund. / The service is temporarily unavailable. Please try again shortly.")
}
