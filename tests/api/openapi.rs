//! The OpenAPI document describes every endpoint and error shape; the docs page is self-hosted.

use serde_json::{Value, json};

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

/// The parameter `name` of `method path` in the served document.
fn parameter<'a>(doc: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} has parameters"))
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{method} {path} declares {name}"))
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_document_declares_each_parameters_real_rule() {
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
    for path in ["/api/v1/stats", "/api/v1/stats/export"] {
        let period = parameter(&doc, path, "get", "period");
        assert_eq!(strings(&period["schema"]["enum"]), ["day", "week", "month"]);
        assert_eq!(period["allowEmptyValue"], true, "empty means not given");
        let group_by = parameter(&doc, path, "get", "group_by");
        assert_eq!(group_by["schema"]["type"], "array");
        assert_eq!(group_by["schema"]["maxItems"], 4);
        assert_eq!(group_by["schema"]["uniqueItems"], true);
        assert_eq!(
            (&group_by["style"], &group_by["explode"]),
            (&json!("form"), &json!(false))
        );
        assert!(strings(&group_by["schema"]["items"]["enum"]).contains(&"reporter_role"));
    }
    for path in [
        "/api/v1/stats",
        "/api/v1/stats/export",
        "/api/v1/stats/facilities",
        "/api/v1/stats/deadlines",
    ] {
        for name in ["from", "to"] {
            let date = &parameter(&doc, path, "get", name)["schema"];
            assert_eq!(
                (&date["type"], &date["format"]),
                (&json!("string"), &json!("date")),
                "{path} {name}"
            );
        }
        // Filters list the taxonomy's codes, as loaded: all 21 län, all 290 kommuner.
        let regions = &parameter(&doc, path, "get", "region_code")["schema"]["items"]["enum"];
        assert_eq!(regions.as_array().unwrap().len(), 21, "{path}");
        assert!(strings(regions).contains(&"01"));
        let municipalities =
            &parameter(&doc, path, "get", "municipality_code")["schema"]["items"]["enum"];
        assert_eq!(municipalities.as_array().unwrap().len(), 290, "{path}");
        let channels = &parameter(&doc, path, "get", "channel")["schema"]["items"]["enum"];
        assert_eq!(strings(channels), ["web", "api"]);
    }
    let format = &parameter(&doc, "/api/v1/stats/export", "get", "format")["schema"];
    assert_eq!(strings(&format["enum"]), ["csv", "json"]);
    let exported = &doc["paths"]["/api/v1/stats/export"]["get"]["responses"]["200"]["content"];
    assert!(exported["text/csv"].is_object() && exported["application/json"].is_object());

    let queue = "/api/v1/tips";
    let limit = &parameter(&doc, queue, "get", "limit")["schema"];
    assert_eq!(
        (&limit["type"], &limit["minimum"], &limit["maximum"]),
        (&json!("integer"), &json!(1), &json!(200))
    );
    let status = &parameter(&doc, queue, "get", "status")["schema"]["items"]["enum"];
    assert_eq!(
        strings(status),
        [
            "new",
            "in_review",
            "awaiting_reporter",
            "closed",
            "open",
            "all"
        ]
    );
    let priority = &parameter(&doc, queue, "get", "priority")["schema"]["enum"];
    assert_eq!(strings(priority), ["critical", "high", "normal", "low"]);
    let teams = &parameter(&doc, queue, "get", "team")["schema"]["enum"];
    assert!(
        strings(teams).contains(&"nord"),
        "the routing's teams: {teams}"
    );
    let q = &parameter(&doc, queue, "get", "q")["schema"];
    assert_eq!((&q["minLength"], &q["maxLength"]), (&json!(1), &json!(200)));
    let submitted_from = &parameter(&doc, queue, "get", "submitted_from")["schema"];
    assert_eq!(submitted_from["format"], "date");
    let if_match = parameter(&doc, "/api/v1/tips/{id}", "patch", "If-Match");
    assert_eq!(if_match["required"], true);
    assert!(
        if_match["schema"]["pattern"]
            .as_str()
            .unwrap()
            .contains("v[0-9]")
    );
    let id = parameter(
        &doc,
        "/api/v1/tips/{id}/attachments/{attachment_id}",
        "get",
        "attachment_id",
    );
    assert_eq!(
        (&id["in"], &id["schema"]["format"]),
        (&json!("path"), &json!("uuid"))
    );

    // The tip body: required fields are non-null codes, the date has its floor, the text its
    // visible-character pattern.
    let draft = &doc["components"]["schemas"]["TipDraft"];
    assert_eq!(draft["properties"]["region_code"]["type"], "string");
    assert_eq!(
        draft["properties"]["region_code"]["enum"]
            .as_array()
            .unwrap()
            .len(),
        21
    );
    let occurred_on = &draft["properties"]["occurred_on"];
    assert_eq!(occurred_on["format"], "date");
    assert!(
        occurred_on["pattern"]
            .as_str()
            .unwrap()
            .starts_with("^(19[0-9]{2}|")
    );
    let description = &draft["properties"]["description"];
    assert_eq!(description["minLength"], 20);
    assert!(
        description["pattern"]
            .as_str()
            .unwrap()
            .contains(r"\u200B-\u200F")
    );
    let patch = &doc["components"]["schemas"]["PatchTipRequest"]["properties"];
    assert!(strings(&patch["status"]["enum"]).contains(&"in_review"));
}
