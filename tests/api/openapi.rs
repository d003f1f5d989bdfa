//! The OpenAPI document describes every endpoint and error shape; the docs page is self-hosted.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_openapi_document_lists_every_endpoint() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/tips", "post"),
        ("/api/v1/tips/{id}", "get"),
        ("/api/v1/taxonomy", "get"),
        ("/api/v1/stats", "get"),
        ("/api/v1/stats/export", "get"),
        ("/api/v1/stats/facilities", "get"),
        ("/api/v1/stats/deadlines", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path}");
    }
    let post = &paths["/api/v1/tips"]["post"];
    for status in [
        "201", "400", "401", "403", "409", "413", "415", "422", "503",
    ] {
        assert!(
            post["responses"][status].is_object(),
            "POST /api/v1/tips {status}"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "TipDraft",
        "SubmitTipResponse",
        "Problem",
        "FieldError",
        "Taxonomy",
        "StatsResponse",
        "FacilitiesResponse",
        "FacilityEntry",
        "DeadlinesResponse",
        "TeamDeadlinesEntry",
    ] {
        assert!(schemas.contains_key(schema), "{schema}");
    }
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
}

#[tokio::test]
async fn the_docs_page_loads_only_from_the_service_itself() {
    let app = spawn_app().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let bare = no_redirects.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(bare.status().as_u16(), 307);
    assert_eq!(bare.headers()["location"], "/api/docs/");
    let response = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("swagger"), "a Swagger UI page");
    for external in ["http://", "https://", "//cdn", "unpkg", "jsdelivr"] {
        let offending = html
            .lines()
            .filter(|l| (l.contains("src=") || l.contains("href=")) && l.contains(external))
            .collect::<Vec<_>>();
        assert!(offending.is_empty(), "{external}: {offending:?}");
    }
    // Its script and stylesheet are served by us.
    for asset in ["/api/docs/swagger-ui-bundle.js", "/api/docs/swagger-ui.css"] {
        let response = app.client.get(app.url(asset)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{asset}");
    }
}
