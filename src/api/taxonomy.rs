//! `GET /api/v1/taxonomy`: the public code lists, cacheable with an ETag.

use actix_web::http::header::{self, EntityTag, IfNoneMatch};
use actix_web::{HttpResponse, web};

use super::problem::Problem;
use crate::domain::Taxonomy;
use crate::state::AppState;

/// Categories, care sectors, reporter roles, regions, municipalities and outbreaks.
#[utoipa::path(
    get,
    path = "/api/v1/taxonomy",
    tag = "taxonomy",
    responses(
        (status = 200, description = "All code lists", body = Taxonomy,
            headers(("ETag" = String, description = "Changes when the lists change"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_taxonomy(
    state: web::Data<AppState>,
    if_none_match: Option<web::Header<IfNoneMatch>>,
) -> HttpResponse {
    let etag = EntityTag::new_strong(state.taxonomy_etag.clone());
    let unchanged = match if_none_match.map(web::Header::into_inner) {
        Some(IfNoneMatch::Any) => true,
        Some(IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(&etag)),
        None => false,
    };
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header(header::ETag(etag))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"));
    if unchanged {
        response.finish()
    } else {
        response.json(state.taxonomy.as_ref())
    }
}
