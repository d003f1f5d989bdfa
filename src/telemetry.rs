//! Logging: the tracing subscriber, and request spans that never record who is asking.
//!
//! Anonymity is a promise (DESIGN §2.1), so request spans carry the method, the route pattern,
//! the status and a request id — never the client address, the user agent, the query string or
//! the referrer.

use std::io::IsTerminal;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber writing to stderr. `RUST_LOG` overrides the configured filter.
pub fn init(settings: &LogSettings) {
    init_with_writer(settings, std::io::stderr, std::io::stderr().is_terminal());
}

/// Installs the global subscriber with any writer (tests capture logs this way). A second call
/// is a no-op, so every test may call it.
pub fn init_with_writer<W>(settings: &LogSettings, writer: W, is_terminal: bool)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.filter.as_str()));
    let json = match settings.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !is_terminal,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let _already_set = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.with_ansi(is_terminal).try_init()
    };
}

/// Root span for every HTTP request, without client address or user agent.
pub struct PrivacyPreservingRootSpan;

impl RootSpanBuilder for PrivacyPreservingRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "http_request",
            method = %request.method(),
            route = %route,
            request_id = %request_id,
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let _entered = span.enter();
        let (status, error) = match outcome {
            Ok(response) => (
                response.status(),
                response.response().error().map(ToString::to_string),
            ),
            Err(error) => (
                error.as_response_error().status_code(),
                Some(error.to_string()),
            ),
        };
        span.record("status", status.as_u16());
        if status.is_server_error() {
            // Display of our errors is generic and never holds request content.
            tracing::error!(status = status.as_u16(), error = ?error, "request failed");
        } else {
            tracing::info!(status = status.as_u16(), "request finished");
        }
    }
}

/// The request's id (as in its log span), for the audit log.
pub fn request_id(request: &actix_web::HttpRequest) -> Option<String> {
    use actix_web::HttpMessage as _;
    request
        .extensions()
        .get::<RequestId>()
        .map(ToString::to_string)
}
