//! The container files users rely on (no Docker engine runs in CI, so they are checked here).

use yaml_rust2::{Yaml, YamlLoader};

fn read(file: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap()
}

fn key<'a>(yaml: &'a Yaml, name: &str) -> &'a Yaml {
    &yaml[name]
}

#[test]
fn docker_compose_runs_postgres_mailpit_and_the_service() {
    let docs = YamlLoader::load_from_str(&read("docker-compose.yml")).expect("valid YAML");
    let compose = &docs[0];
    let services = key(compose, "services");
    for service in ["postgres", "mailpit", "tipsa"] {
        assert!(!services[service].is_badvalue(), "service {service}");
    }
    assert!(
        services["postgres"]["image"]
            .as_str()
            .unwrap()
            .starts_with("postgres:")
    );
    assert!(
        services["postgres"]["healthcheck"]["test"]
            .as_vec()
            .is_some()
    );
    assert!(
        services["mailpit"]["image"]
            .as_str()
            .unwrap()
            .starts_with("axllent/mailpit")
    );

    let tipsa = &services["tipsa"];
    assert_eq!(tipsa["build"]["context"].as_str(), Some("."));
    let env = &tipsa["environment"];
    let url = env["TIPSA__DATABASE__URL"].as_str().unwrap();
    assert!(url.contains("@postgres:5432/"), "{url}");
    assert_eq!(env["TIPSA__SERVER__HOST"].as_str(), Some("0.0.0.0"));
    assert_eq!(
        tipsa["depends_on"]["postgres"]["condition"].as_str(),
        Some("service_healthy")
    );
    let ports = tipsa["ports"].as_vec().unwrap();
    assert!(
        ports
            .iter()
            .any(|p| p.as_str().is_some_and(|p| p.ends_with(":8080")))
    );
}

#[test]
fn the_dockerfile_builds_in_stages_and_runs_unprivileged() {
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
}
