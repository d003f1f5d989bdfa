//! From a verified ID token's claims to a person: the stable subject, name and email, and the
//! roles and teams their groups map to; the acr/amr requirement.

use anyhow::bail;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::SsoError;
use crate::auth::Role;
use crate::auth::accounts::parse_email;
use crate::config::{ClaimNames, GroupMapping, ProviderSettings};

/// Group values and what each gives.
#[derive(Debug, Clone)]
pub struct Mapping {
    rules: Vec<(String, Vec<Role>, Vec<String>)>,
}

impl Mapping {
    /// Checked against the routing configuration's teams.
    pub fn new(mappings: &[GroupMapping], known_teams: &[&str]) -> anyhow::Result<Self> {
        let mut rules = Vec::new();
        for mapping in mappings {
            let roles: Vec<Role> = mapping
                .roles
                .iter()
                .filter_map(|r| Role::parse(r))
                .collect();
            for team in &mapping.teams {
                if !known_teams.contains(&team.as_str()) {
                    bail!(
                        "group {:?}: {team:?} is not a team; teams: {}",
                        mapping.group,
                        known_teams.join(", ")
                    );
                }
            }
            rules.push((mapping.group.clone(), roles, mapping.teams.clone()));
        }
        Ok(Mapping { rules })
    }

    /// The union of the roles and teams of every group the person is in, sorted.
    pub fn apply(&self, groups: &[String]) -> (Vec<Role>, Vec<String>) {
        let mut roles = Vec::new();
        let mut teams = Vec::new();
        for (group, group_roles, group_teams) in &self.rules {
            if groups.iter().any(|g| g == group) {
                roles.extend(group_roles.iter().copied());
                teams.extend(group_teams.iter().cloned());
            }
        }
        roles.sort();
        roles.dedup();
        teams.sort();
        teams.dedup();
        (roles, teams)
    }
}

/// The person a verified ID token names.
#[derive(Debug, Clone)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub display_name: String,
    pub email: Option<String>,
    pub roles: Vec<Role>,
    pub teams: Vec<String>,
}

/// The claims of a compact JWT whose signature has already been verified.
pub fn payload(jwt: &str) -> Result<Map<String, Value>, SsoError> {
    let part = jwt.split('.').nth(1).ok_or(SsoError::Token("malformed"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| SsoError::Token("malformed"))?;
    serde_json::from_slice(&bytes).map_err(|_| SsoError::Token("malformed"))
}

fn text<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A claim that is a list of strings (or a single string).
fn strings(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// The person, with the roles and teams their groups map to.
pub fn identity(
    claims: &Map<String, Value>,
    names: &ClaimNames,
    issuer: &str,
    mapping: &Mapping,
) -> Result<Identity, SsoError> {
    let subject = text(claims, &names.subject)
        .ok_or(SsoError::MissingClaim("subject"))?
        .to_owned();
    if subject.chars().count() > 255 {
        return Err(SsoError::MissingClaim("subject"));
    }
    // An address the provider says it has not verified is no address to reach the person at.
    let verified = claims.get("email_verified").and_then(Value::as_bool) != Some(false);
    let email = text(claims, &names.email)
        .filter(|_| verified)
        .and_then(|email| parse_email("email", email).ok());
    let display_name: String = text(claims, &names.display_name)
        .or(email.as_deref())
        .unwrap_or(&subject)
        .chars()
        .take(200)
        .collect();
    let (roles, teams) = mapping.apply(&strings(claims, &names.groups));
    Ok(Identity {
        issuer: issuer.to_owned(),
        subject,
        display_name,
        email,
        roles,
        teams,
    })
}

/// The configured acr/amr requirement (e.g. multi-factor authentication at the provider).
pub fn check_auth_context(
    claims: &Map<String, Value>,
    provider: &ProviderSettings,
) -> Result<(), SsoError> {
    if !provider.required_acr.is_empty() {
        let acr = text(claims, "acr");
        if !acr.is_some_and(|acr| provider.required_acr.iter().any(|r| r == acr)) {
            return Err(SsoError::AuthContext("acr"));
        }
    }
    if !provider.required_amr.is_empty() {
        let amr = strings(claims, "amr");
        if !amr.iter().any(|m| provider.required_amr.contains(m)) {
            return Err(SsoError::AuthContext("amr"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapping() -> Mapping {
        Mapping::new(
            &[
                GroupMapping {
                    group: "syd".into(),
                    roles: vec!["inspector".into()],
                    teams: vec!["syd".into()],
                },
                GroupMapping {
                    group: "leads".into(),
                    roles: vec!["triage_lead".into(), "inspector".into()],
                    teams: vec![],
                },
            ],
            &["syd", "ost"],
        )
        .unwrap()
    }

    #[test]
    fn groups_map_to_the_union_of_their_roles_and_teams() {
        let (roles, teams) = mapping().apply(&["leads".into(), "syd".into(), "other".into()]);
        assert_eq!(roles, vec![Role::Inspector, Role::TriageLead]);
        assert_eq!(teams, vec!["syd".to_owned()]);
        assert_eq!(mapping().apply(&["other".into()]), (vec![], vec![]));
    }

    #[test]
    fn a_mapping_to_an_unknown_team_is_refused() {
        let bad = [GroupMapping {
            group: "g".into(),
            roles: vec![],
            teams: vec!["väst".into()],
        }];
        assert!(Mapping::new(&bad, &["syd"]).is_err());
    }

    #[test]
    fn claims_become_an_identity_and_unverified_email_is_dropped() {
        let claims = json!({"sub": "abc", "name": "Anna", "email": "Anna@IVO.example",
                            "groups": ["syd"]});
        let names = ClaimNames::default();
        let person = identity(
            claims.as_object().unwrap(),
            &names,
            "https://idp",
            &mapping(),
        )
        .unwrap();
        assert_eq!(person.subject, "abc");
        assert_eq!(person.email.as_deref(), Some("anna@ivo.example"));
        assert_eq!(person.teams, vec!["syd".to_owned()]);
        let unverified = json!({"sub": "abc", "email": "a@b.example", "email_verified": false});
        let person = identity(
            unverified.as_object().unwrap(),
            &names,
            "https://idp",
            &mapping(),
        )
        .unwrap();
        assert_eq!(person.email, None);
        assert!(matches!(
            identity(
                json!({}).as_object().unwrap(),
                &names,
                "https://idp",
                &mapping()
            ),
            Err(SsoError::MissingClaim("subject"))
        ));
    }
}
