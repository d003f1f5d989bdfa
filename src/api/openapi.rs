//! The OpenAPI 3 document, generated from the handlers' annotations, and its docs page
//! (Swagger UI, served from the binary, no third-party origin).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    attachments, follow_up, health, legal_holds, messages, problem, queue, records_requests,
    records_schemas, stats, taxonomy, tips,
};
use crate::domain::{self, FieldError};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tipsa API",
        description = "Tip intake for a health and social care inspectorate. Errors are RFC 9457 problem+json.",
        version = "1"
    ),
    paths(
        tips::submit_tip,
        tips::get_tip,
        queue::list_tips,
        tips::patch_tip,
        tips::list_events,
        tips::retriage_tip,
        attachments::upload,
        attachments::list,
        attachments::download,
        messages::post_message,
        messages::list_messages,
        follow_up::follow_up,
        follow_up::reply,
        taxonomy::get_taxonomy,
        stats::get_stats,
        stats::export_stats,
        stats::get_facilities,
        stats::get_deadlines,
        legal_holds::list_for_tip,
        legal_holds::place,
        legal_holds::get_hold,
        legal_holds::lift,
        health::healthz,
        health::readyz,
        records_requests::register,
        records_requests::list,
        records_requests::get,
        records_requests::put_redactions,
        records_requests::decide,
        records_requests::approve,
        records_requests::copy,
    ),
    components(schemas(
        domain::TipDraft,
        domain::tip::ReporterDraft,
        domain::Language,
        domain::Taxonomy,
        domain::taxonomy::Label,
        domain::taxonomy::Region,
        domain::taxonomy::Municipality,
        tips::SubmitTipResponse,
        attachments::UploadResponse,
        attachments::AttachmentResponse,
        attachments::UploadForm,
        tips::TipResponse,
        problem::Problem,
        FieldError,
        health::HealthResponse,
        messages::PostMessageRequest,
        messages::MessageResponse,
        follow_up::FollowUpRequest,
        follow_up::FollowUpReplyRequest,
        follow_up::FollowUpResponse,
        follow_up::FollowUpMessage,
        domain::ReporterStatus,
        domain::Priority,
        queue::QueueItem,
        queue::QueuePage,
        tips::PatchTipRequest,
        tips::EventResponse,
        tips::ClusterResponse,
        tips::ClusterMember,
        crate::triage::RuleHit,
        crate::stats::export::StatsResponse,
        crate::stats::export::StatsCell,
        crate::stats::export::TrendEntry,
        stats::FacilitiesResponse,
        stats::FacilityEntry,
        stats::PriorityCounts,
        stats::DeadlinesResponse,
        stats::TeamDeadlinesEntry,
        legal_holds::LegalHoldResponse,
        legal_holds::LegalHoldSummary,
        legal_holds::PlaceLegalHoldRequest,
        legal_holds::LiftLegalHoldRequest,
        crate::records::hold::Covers,
        records_schemas::RegisterRecordsRequest,
        records_schemas::RecordsRequestResponse,
        records_schemas::RequestTipResponse,
        records_schemas::PartResponse,
        records_schemas::PreMarkResponse,
        records_schemas::CopyResponse,
        records_schemas::RecordsRequestPage,
        records_schemas::RecordsRequestSummary,
        records_schemas::RedactionsRequest,
        records_schemas::DecisionCode,
        records_schemas::DecisionRequest,
        records_schemas::ApprovalRequest,
        crate::records::redaction::Redaction,
    )),
    modifiers(&BearerApiKey),
    tags(
        (name = "tips", description = "Submitting and reading tips"),
        (name = "queue", description = "The triage queue and working a tip"),
        (name = "messages", description = "Questions to the tipster"),
        (name = "follow-up", description = "The tipster's side, with the receipt code"),
        (name = "taxonomy", description = "Code lists"),
        (name = "stats", description = "Situation report: aggregates with disclosure control, their export, facility signals and deadline compliance"),
        (name = "records", description = "Records management: legal holds (gallringsspärr) against disposal"),
        (name = "health", description = "Liveness and readiness"),
        (name = "records", description = "Public-records requests: redaction, decision, second approval and the disclosure copy (registry systems, records:write)"),
    )
)]
pub struct ApiDoc;

/// Declares the `api_key` bearer scheme the paths refer to.
struct BearerApiKey;

impl Modify for BearerApiKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("tipsa_<prefix>_<secret>")
                    .description(Some("An API key created with `tipsa apikey create`"))
                    .build(),
            ),
        );
    }
}
