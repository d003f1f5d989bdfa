//! The monitoring and proxy files under ops/: the Prometheus configuration and alert rules
//! through promtool (check and unit tests), the Grafana dashboard's queries checked by promtool
//! and against ops/metrics.txt, and the Caddyfile through caddy and by what it must say.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::{Value, json};

use super::{read, root};

/// Runs a tool from the repository root and asserts it succeeded.
fn run_ok(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{program} (see .ci/run for the Debian package): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{program} {args:?}:\n{text}");
    text
}

#[test]
fn promtool_accepts_the_rules_their_unit_tests_and_the_scrape_config() {
    let rules = run_ok("promtool", &["check", "rules", "ops/prometheus/alerts.yml"]);
    assert!(rules.contains("SUCCESS"), "{rules}");
    let tests = run_ok(
        "promtool",
        &["test", "rules", "ops/prometheus/alerts.test.yml"],
    );
    assert!(tests.contains("SUCCESS"), "{tests}");
    // check config also resolves rule_files (relative to the file) and checks them.
    let config = run_ok(
        "promtool",
        &["check", "config", "ops/prometheus/prometheus.yml"],
    );
    assert!(config.contains("1 rule files found"), "{config}");
}

/// The metric names listed as exported (histograms by their base name).
fn listed_metrics() -> BTreeSet<String> {
    read("ops/metrics.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The metric names a PromQL expression selects: identifiers that are not functions,
/// keywords, label names (in `{…}`, `by (…)`, `on (…)`…), durations or Grafana `$variables`.
fn metric_names(expr: &str) -> BTreeSet<String> {
    // Operators, and the aggregations (which may be followed by `by (…)` before their `(`).
    const KEYWORDS: [&str; 21] = [
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "inf",
        "nan",
        "Inf",
        "NaN",
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
    ];
    const LABEL_LISTS: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let skip_to = |from: usize, close: char| {
        let mut j = from;
        while j < chars.len() && chars[j] != close {
            j += 1;
        }
        j + 1
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            i = skip_to(i + 1, c);
        } else if c == '{' {
            i = skip_to(i + 1, '}');
        } else if c == '[' {
            i = skip_to(i + 1, ']');
        } else if c == '$' {
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || "_{}".contains(chars[i])) {
                i += 1;
            }
        } else if c.is_ascii_digit() || c == '.' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let called = next < chars.len() && chars[next] == '(';
            if LABEL_LISTS.contains(&word.as_str()) {
                if called {
                    i = skip_to(next + 1, ')');
                }
            } else if !called && !KEYWORDS.contains(&word.as_str()) {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// Asserts every metric `exprs` use is Tipsa's (or `up`) and listed; returns the base names.
fn check_names(what: &str, exprs: &[String]) -> BTreeSet<String> {
    let listed = listed_metrics();
    let mut used = BTreeSet::new();
    for expr in exprs {
        for name in metric_names(expr) {
            if name == "up" {
                continue;
            }
            assert!(name.starts_with("tipsa_"), "{what}: {name} in {expr}");
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| listed.contains(*base))
                .unwrap_or(&name)
                .to_owned();
            assert!(
                listed.contains(&base),
                "{what}: {name} is not in ops/metrics.txt"
            );
            used.insert(base);
        }
    }
    used
}

#[test]
fn the_query_reader_finds_metric_names_and_nothing_else() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (route, le) (rate(tipsa_http_request_duration_seconds_bucket{status=~"5.."}[$__rate_interval]))) / on (instance) group_left (version) tipsa_build_info and time() - max(tipsa_x_seconds offset 5m) > 1e3"#,
    );
    let expected: BTreeSet<String> = [
        "tipsa_http_request_duration_seconds_bucket",
        "tipsa_build_info",
        "tipsa_x_seconds",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(names, expected);
}

fn dashboard() -> Value {
    serde_json::from_str(&read("ops/grafana/tipsa-dashboard.json")).expect("dashboard JSON")
}

/// Every query of every panel, with Grafana's interval variables replaced by a duration.
fn dashboard_queries(dashboard: &Value) -> Vec<String> {
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            exprs.push(
                expr.replace("$__rate_interval", "5m")
                    .replace("$__interval", "1m")
                    .replace("$__range", "1h"),
            );
        }
    }
    exprs
}

#[test]
fn the_dashboard_shows_every_listed_metric_through_its_datasource_variable() {
    let dashboard = dashboard();
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(variables.iter().any(|v| v["name"] == "datasource"
        && v["type"] == "datasource"
        && v["query"] == "prometheus"));
    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        assert!(
            ids.insert(panel["id"].as_i64().unwrap()),
            "duplicate panel id"
        );
        let grid = &panel["gridPos"];
        assert!(grid["x"].as_i64().unwrap() + grid["w"].as_i64().unwrap() <= 24);
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{}",
            panel["title"]
        );
        for target in panel["targets"].as_array().unwrap() {
            assert_eq!(target["datasource"]["uid"], "${datasource}");
        }
    }
    let queries = dashboard_queries(&dashboard);
    let used = check_names("dashboard", &queries);
    let missing: Vec<_> = listed_metrics().difference(&used).cloned().collect();
    assert!(missing.is_empty(), "not on the dashboard: {missing:?}");

    // promtool parses every query (as recording rules in a scratch rules file).
    let rules: Vec<Value> = queries
        .iter()
        .enumerate()
        .map(|(i, expr)| json!({"record": format!("dashboard:query_{i}"), "expr": expr}))
        .collect();
    let file = std::env::temp_dir().join(format!("tipsa-dashboard-{}.yml", uuid::Uuid::new_v4()));
    // JSON is YAML.
    std::fs::write(
        &file,
        json!({"groups": [{"name": "dashboard", "rules": rules}]}).to_string(),
    )
    .unwrap();
    let checked = run_ok("promtool", &["check", "rules", file.to_str().unwrap()]);
    assert!(
        checked.contains(&format!("{} rules found", queries.len())),
        "{checked}"
    );
}

#[test]
fn the_alert_rules_use_only_listed_metrics() {
    let rules = yaml_rust2::YamlLoader::load_from_str(&read("ops/prometheus/alerts.yml")).unwrap();
    let mut exprs = Vec::new();
    for group in rules[0]["groups"].as_vec().unwrap() {
        for rule in group["rules"].as_vec().unwrap() {
            exprs.push(rule["expr"].as_str().unwrap().to_owned());
            assert!(rule["for"].as_str().is_some(), "for: {:?}", rule["alert"]);
            assert!(
                ["critical", "warning", "info"]
                    .contains(&rule["labels"]["severity"].as_str().unwrap())
            );
            for annotation in ["summary", "description", "runbook"] {
                assert!(
                    rule["annotations"][annotation].as_str().is_some(),
                    "{annotation}: {:?}",
                    rule["alert"]
                );
            }
        }
    }
    let used = check_names("alerts.yml", &exprs);
    assert!(used.contains("tipsa_outbox_oldest_pending_age_seconds"));
    // The outbox gauges are the database's, reported by every process: never summed.
    for expr in exprs.iter().filter(|e| e.contains("tipsa_outbox_")) {
        assert!(expr.contains("max by") && !expr.contains("sum"), "{expr}");
    }
}

#[test]
fn the_caddyfile_is_valid_and_forwards_only_to_the_public_port() {
    let caddyfile = root().join("ops/caddy/Caddyfile");
    run_ok(
        "caddy",
        &[
            "validate",
            "--adapter",
            "caddyfile",
            "--config",
            caddyfile.to_str().unwrap(),
        ],
    );
    let text = read("ops/caddy/Caddyfile");
    let directives: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    for expected in [
        "reverse_proxy tipsa-1:8080 tipsa-2:8080 {",
        "health_uri /readyz",
        // Tipsa takes the first X-Forwarded-For entry: the proxy must replace, not append.
        "header_up X-Forwarded-For {remote_host}",
        "admin off",
    ] {
        assert!(
            directives.contains(&expected),
            "Caddyfile lacks {expected:?}"
        );
    }
    assert!(
        !directives
            .iter()
            .any(|l| l.contains("9464") || l.contains("9465") || l.contains("metrics")),
        "the proxy must not reach the metrics listeners"
    );
}
