//! The container and operations files users rely on. No Docker engine runs in CI, so
//! docker-compose.yml and the Dockerfile are checked statically here, and the environment the
//! compose file gives Tipsa is run through the real binary; the Prometheus files go through
//! promtool, the Caddyfile through caddy, and the dashboard's queries are checked against the
//! list of exported metrics (ops/metrics.txt).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

use crate::helpers::TestDatabase;

mod ops;

/// The processes that run the Tipsa image.
const TIPSA_SERVICES: [&str; 4] = ["migrate", "tipsa-1", "tipsa-2", "worker"];
const SERVE_NODES: [&str; 2] = ["tipsa-1", "tipsa-2"];

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read(file: &str) -> String {
    std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Resolves YAML merge keys (`<<: *anchor`), which Docker Compose honours and yaml-rust2 leaves
/// as a literal `<<` key; explicit keys win over merged ones, as in Compose.
fn merged(yaml: &Yaml) -> Yaml {
    match yaml {
        Yaml::Hash(hash) => {
            let mut out = yaml_rust2::yaml::Hash::new();
            if let Some(base) = hash.get(&Yaml::String("<<".into())) {
                let bases = match base {
                    Yaml::Array(items) => items.clone(),
                    single => vec![single.clone()],
                };
                for base in bases {
                    if let Yaml::Hash(base) = merged(&base) {
                        out.extend(base);
                    }
                }
            }
            for (key, value) in hash {
                if key.as_str() != Some("<<") {
                    out.insert(key.clone(), merged(value));
                }
            }
            Yaml::Hash(out)
        }
        Yaml::Array(items) => Yaml::Array(items.iter().map(merged).collect()),
        other => other.clone(),
    }
}

fn load_yaml(file: &str) -> Yaml {
    let docs = YamlLoader::load_from_str(&read(file)).expect("valid YAML");
    merged(&docs[0])
}

fn compose() -> Yaml {
    load_yaml("docker-compose.yml")
}

fn strings(yaml: &Yaml) -> Vec<String> {
    yaml.as_vec()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A service's environment as name → value (numbers and booleans as Compose passes them).
fn environment(service: &Yaml) -> BTreeMap<String, String> {
    let Some(hash) = service["environment"].as_hash() else {
        return BTreeMap::new();
    };
    hash.iter()
        .map(|(k, v)| {
            let value = match v {
                Yaml::String(s) | Yaml::Real(s) => s.clone(),
                Yaml::Integer(i) => i.to_string(),
                Yaml::Boolean(b) => b.to_string(),
                other => panic!("unexpected value {other:?}"),
            };
            (k.as_str().unwrap().to_owned(), value)
        })
        .collect()
}

fn condition<'a>(service: &'a Yaml, on: &str) -> Option<&'a str> {
    service["depends_on"][on]["condition"].as_str()
}

#[test]
fn docker_compose_runs_the_production_shape() {
    let compose = compose();
    let services = &compose["services"];
    for name in [
        "postgres",
        "mailpit",
        "migrate",
        "tipsa-1",
        "tipsa-2",
        "worker",
        "proxy",
        "prometheus",
        "grafana",
    ] {
        assert!(!services[name].is_badvalue(), "service {name}");
    }
    let image = |name: &str| services[name]["image"].as_str().unwrap().to_owned();
    // Official images (Docker's library, or the project's own for Prometheus, Grafana, Mailpit).
    assert!(image("postgres").starts_with("postgres:"));
    assert_eq!(image("proxy"), "caddy:2");
    assert!(image("prometheus").starts_with("prom/prometheus:"));
    assert!(image("grafana").starts_with("grafana/grafana:"));
    assert!(image("mailpit").starts_with("axllent/mailpit:"));

    let postgres = &services["postgres"];
    assert!(
        strings(&postgres["healthcheck"]["test"])
            .join(" ")
            .contains("pg_isready")
    );
    assert!(
        strings(&postgres["volumes"])
            .iter()
            .any(|v| v.ends_with(":/var/lib/postgresql/data"))
    );

    // The migration runs once, before any node starts; the nodes then leave it alone.
    let migrate = &services["migrate"];
    assert_eq!(strings(&migrate["command"]), ["migrate"]);
    assert_eq!(migrate["restart"].as_str(), Some("no"));
    assert_eq!(condition(migrate, "postgres"), Some("service_healthy"));

    for name in SERVE_NODES {
        let node = &services[name];
        assert_eq!(node["build"]["context"].as_str(), Some("."), "{name}");
        assert_eq!(strings(&node["command"]), ["serve"], "{name}");
        let env = environment(node);
        assert_eq!(env["TIPSA__SERVER__HOST"], "0.0.0.0");
        assert_eq!(env["TIPSA__SERVER__PORT"], "8080");
        assert_eq!(env["TIPSA__NOTIFY__WORKER_IN_SERVE"], "false");
        assert_eq!(env["TIPSA__METRICS__LISTEN"], "0.0.0.0:9464");
        assert_eq!(env["TIPSA__PUBLIC__TRUST_FORWARDED_FOR"], "true");
        assert_eq!(env["TIPSA__DATABASE__MIGRATE_ON_START"], "false");
        assert!(env["TIPSA__DATABASE__URL"].contains("@postgres:5432/"));
        assert_eq!(
            strings(&node["healthcheck"]["test"]),
            ["CMD", "tipsa", "healthcheck"]
        );
        assert_eq!(condition(node, "postgres"), Some("service_healthy"));
        assert_eq!(
            condition(node, "migrate"),
            Some("service_completed_successfully")
        );
        assert!(node["ports"].is_badvalue(), "{name} publishes no port");
    }

    let worker = &services["worker"];
    assert_eq!(strings(&worker["command"]), ["worker"]);
    let env = environment(worker);
    assert_eq!(env["TIPSA__METRICS__WORKER_LISTEN"], "0.0.0.0:9465");
    // The image's check asks /readyz on 8080, which a worker does not serve.
    assert_eq!(
        strings(&worker["healthcheck"]["test"]),
        ["CMD", "tipsa", "healthcheck", "--worker"]
    );
    assert_eq!(
        condition(worker, "migrate"),
        Some("service_completed_successfully")
    );

    let proxy = &services["proxy"];
    assert!(
        strings(&proxy["volumes"])
            .contains(&"./ops/caddy/Caddyfile:/etc/caddy/Caddyfile:ro".into())
    );
    for node in SERVE_NODES {
        assert_eq!(condition(proxy, node), Some("service_healthy"));
    }
}

#[test]
fn every_tipsa_process_gets_the_same_keys_database_and_environment() {
    let compose = compose();
    let envs: Vec<BTreeMap<String, String>> = TIPSA_SERVICES
        .iter()
        .map(|name| environment(&compose["services"][*name]))
        .collect();
    let shared = |name: &str| {
        name.starts_with("TIPSA__SECRETS__")
            || name.starts_with("TIPSA__DATABASE__")
            || name == "TIPSA__ENVIRONMENT"
            || name.starts_with("TIPSA__NOTIFY__SMTP")
    };
    let first = &envs[0];
    for (service, env) in TIPSA_SERVICES.iter().zip(&envs) {
        let mine: BTreeMap<_, _> = env.iter().filter(|(k, _)| shared(k)).collect();
        let theirs: BTreeMap<_, _> = first.iter().filter(|(k, _)| shared(k)).collect();
        assert_eq!(mine, theirs, "{service} differs from {}", TIPSA_SERVICES[0]);
    }
    // Production refuses generated keys; every key is given, and none is written in the file.
    assert_eq!(first["TIPSA__ENVIRONMENT"], "production");
    let active_contact = first["TIPSA__SECRETS__ACTIVE_CONTACT_KEY"].to_uppercase();
    let active_attachment = first["TIPSA__SECRETS__ACTIVE_ATTACHMENT_KEY"].to_uppercase();
    for key in [
        "TIPSA__SECRETS__RECEIPT_HMAC_KEY".to_owned(),
        format!("TIPSA__SECRETS__CONTACT_KEYS__{active_contact}"),
        format!("TIPSA__SECRETS__ATTACHMENT_KEYS__{active_attachment}"),
    ] {
        let value = &first[&key];
        assert!(
            value.starts_with("${") && value.contains(":?"),
            "{key} must come from the environment (.env), required: {value}"
        );
    }
}

#[test]
fn only_the_proxy_and_the_two_uis_are_published() {
    let compose = compose();
    let mut published = BTreeMap::new();
    for (name, service) in compose["services"].as_hash().unwrap() {
        for port in strings(&service["ports"]) {
            published.insert(port, name.as_str().unwrap().to_owned());
        }
    }
    let expected: BTreeMap<String, String> = [
        ("8080:8080", "proxy"),
        ("127.0.0.1:3000:3000", "grafana"),
        ("127.0.0.1:8025:8025", "mailpit"),
    ]
    .into_iter()
    .map(|(p, s)| (p.to_owned(), s.to_owned()))
    .collect();
    assert_eq!(published, expected);
}

#[test]
fn prometheus_and_grafana_get_the_ops_files_and_scrape_what_compose_runs() {
    let compose = compose();
    let services = &compose["services"];
    assert!(
        strings(&services["prometheus"]["volumes"])
            .contains(&"./ops/prometheus:/etc/prometheus:ro".into())
    );
    // Every scrape target is a service listening there for metrics.
    let prometheus = load_yaml("ops/prometheus/prometheus.yml");
    let mut targets = Vec::new();
    for job in prometheus["scrape_configs"].as_vec().unwrap() {
        if !job["job_name"].as_str().unwrap().starts_with("tipsa-") {
            continue;
        }
        for config in job["static_configs"].as_vec().unwrap() {
            targets.extend(strings(&config["targets"]));
        }
    }
    assert_eq!(targets, ["tipsa-1:9464", "tipsa-2:9464", "worker:9465"]);
    for target in &targets {
        let (host, port) = target.split_once(':').unwrap();
        let env = environment(&services[host]);
        let listen = env
            .get("TIPSA__METRICS__LISTEN")
            .or(env.get("TIPSA__METRICS__WORKER_LISTEN"))
            .unwrap();
        assert_eq!(listen, &format!("0.0.0.0:{port}"), "{target}");
    }
    assert_eq!(strings(&prometheus["rule_files"]), ["alerts.yml"]);

    let grafana = strings(&services["grafana"]["volumes"]);
    assert!(grafana.contains(&"./ops/grafana/provisioning:/etc/grafana/provisioning:ro".into()));
    let provider = load_yaml("ops/grafana/provisioning/dashboards/tipsa.yml");
    let path = provider["providers"][0]["options"]["path"]
        .as_str()
        .unwrap();
    assert!(
        grafana.contains(&format!(
            "./ops/grafana/tipsa-dashboard.json:{path}/tipsa-dashboard.json:ro"
        )),
        "the dashboard is mounted where the provider looks: {grafana:?}"
    );
    let datasource = load_yaml("ops/grafana/provisioning/datasources/prometheus.yml");
    assert_eq!(
        datasource["datasources"][0]["url"].as_str(),
        Some("http://prometheus:9090")
    );
}

/// Runs ops/generate-secrets.sh in a scratch copy; returns the .env it wrote.
fn generated_env() -> BTreeMap<String, String> {
    let dir = std::env::temp_dir().join(format!("tipsa-secrets-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("ops")).unwrap();
    std::fs::copy(
        root().join("ops/generate-secrets.sh"),
        dir.join("ops/generate-secrets.sh"),
    )
    .unwrap();
    let run = || {
        let output = Command::new("sh")
            .arg(dir.join("ops/generate-secrets.sh"))
            .output()
            .unwrap();
        assert!(output.status.success());
        std::fs::read_to_string(dir.join(".env")).unwrap()
    };
    let first = run();
    assert_eq!(run(), first, "an existing .env is kept");
    std::fs::remove_dir_all(&dir).unwrap();
    first
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// Substitutes `${NAME:?…}` / `${NAME:-…}` / `${NAME}` as Compose does.
fn interpolate(value: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let inner = &rest[start + 2..end];
        let name = inner.split([':', '-', '?']).next().unwrap();
        out.push_str(
            vars.get(name)
                .unwrap_or_else(|| panic!("{name} is not written by ops/generate-secrets.sh")),
        );
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn the_binary_accepts_the_environment_compose_gives_each_process() {
    use base64::Engine as _;
    let vars = generated_env();
    for key in [
        "TIPSA_RECEIPT_HMAC_KEY",
        "TIPSA_CONTACT_KEY_K1",
        "TIPSA_ATTACHMENT_KEY_A1",
    ] {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&vars[key])
            .unwrap();
        assert_eq!(bytes.len(), 32, "{key}");
    }
    // The [metrics] settings arrive with the metrics work; until then this binary refuses
    // them as unknown, so they are left out (the check is complete once the section exists).
    let knows_metrics = read("config/default.toml").contains("\n[metrics]");
    let db = TestDatabase::new().await;
    let config_dir = std::env::temp_dir().join(format!("tipsa-compose-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&config_dir).unwrap();
    let compose = compose();
    for service in TIPSA_SERVICES {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tipsa"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TIPSA_CONFIG_DIR", &config_dir);
        for (name, value) in environment(&compose["services"][service]) {
            if knows_metrics || !name.starts_with("TIPSA__METRICS__") {
                command.env(name, interpolate(&value, &vars));
            }
        }
        // The one difference: this machine's test database instead of the `postgres` service.
        command.env("TIPSA__DATABASE__URL", &db.url);
        // Loads the settings (production's checks), decodes the keys, opens the database.
        let output = command.args(["audit", "verify"]).output().unwrap();
        assert!(
            output.status.success(),
            "{service}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Top-level directories the compiler reads: include_str!/include_bytes! targets outside
/// `src/`, askama's `templates/` and embed_migrations!'s `migrations/`.
fn compiled_in_directories() -> std::collections::BTreeSet<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("src"), &mut files);
    let mut dirs =
        std::collections::BTreeSet::from(["templates".to_owned(), "migrations".to_owned()]);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Test-only modules are not built by `cargo build --release`.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        for pattern in ["include_str!(\"", "include_bytes!(\""] {
            for (at, _) in text.match_indices(pattern) {
                let quoted = text[at + pattern.len()..].split('"').next().unwrap();
                let target = normalize(&file.parent().unwrap().join(quoted));
                let relative = target.strip_prefix(root()).unwrap();
                let top = relative.components().next().unwrap();
                dirs.insert(top.as_os_str().to_string_lossy().into_owned());
            }
        }
    }
    dirs.remove("src");
    dirs
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn the_dockerfile_builds_in_stages_copies_what_is_compiled_in_and_runs_unprivileged() {
    let dockerfile = read("Dockerfile");
    let stages: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert!(stages.len() >= 2, "multi-stage: {stages:?}");
    assert!(stages[0].contains(" AS "), "named build stage");
    assert!(dockerfile.contains("cargo build --release --locked"));
    assert!(
        dockerfile
            .lines()
            .any(|l| l.starts_with("USER ") && !l.contains("root"))
    );
    assert!(dockerfile.contains("ENTRYPOINT") && dockerfile.contains("serve"));
    assert!(dockerfile.contains("HEALTHCHECK"));
    assert!(
        dockerfile
            .lines()
            .any(|l| l.starts_with("EXPOSE ") && l.contains(" 9464") && l.contains(" 9465"))
    );
    // The build stage copies every directory the compiler reads (templates, translations…).
    let build_stage = dockerfile.split("\nFROM ").nth(1).unwrap();
    let needed = compiled_in_directories();
    assert!(
        needed.contains("locales") && needed.contains("static"),
        "{needed:?}"
    );
    for dir in needed {
        assert!(
            build_stage.contains(&format!("\nCOPY {dir} ./{dir}\n")),
            "the build stage does not copy {dir}/"
        );
    }
}
