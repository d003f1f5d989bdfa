//! The one place that decides who may see and do what. Every handler, on the API and in the
//! inspector pages, asks here; nothing else compares roles or scopes. Pure: no HTTP, no
//! database, so the whole matrix is tested as a table.

use std::fmt;

use uuid::Uuid;

use super::api_keys::{ApiCaller, Scope};

/// A person's role. A person may hold several (e.g. admin and inspector).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Works the tips of their own teams.
    Inspector,
    /// Works every tip, across all teams; reassigns; watches deadlines.
    TriageLead,
    /// Aggregates only: never a tip's text or a reporter.
    Analyst,
    /// Manages people, teams, API keys and notifications; reads tips only with another role.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Inspector,
        Role::TriageLead,
        Role::Analyst,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Inspector => "inspector",
            Role::TriageLead => "triage_lead",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signed-in person, as the policy sees them.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: Uuid,
    pub roles: Vec<Role>,
    pub teams: Vec<String>,
}

impl Person {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// Whoever is asking: a person with a session, or an integrating system with an API key.
#[derive(Debug, Clone)]
pub enum Principal {
    Person(Person),
    System(ApiCaller),
}

impl Principal {
    /// How this principal appears in tip events and the audit log.
    pub fn actor(&self) -> String {
        match self {
            Principal::Person(person) => format!("user:{}", person.id),
            Principal::System(caller) => caller.actor(),
        }
    }
}

/// Which tips a principal may see at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TipScope {
    All,
    /// Only tips routed to these teams.
    Teams(Vec<String>),
    None,
}

impl TipScope {
    pub fn includes(&self, team: &str) -> bool {
        match self {
            TipScope::All => true,
            TipScope::Teams(teams) => teams.iter().any(|t| t == team),
            TipScope::None => false,
        }
    }
}

/// Something a principal wants to do. Actions on a tip carry the tip's team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    SubmitTip,
    /// List the triage queue (filtered to the principal's scope).
    ReadQueue,
    ReadTip {
        team: &'a str,
    },
    ChangeTip {
        team: &'a str,
    },
    /// Ask the tipster a question or read the conversation.
    MessageTipster {
        team: &'a str,
    },
    /// See an identified reporter's contact details (an explicit, audited step).
    RevealContact {
        team: &'a str,
    },
    /// Reassign a tip to another person (triage leads).
    Reassign {
        team: &'a str,
    },
    /// Put a legal hold on a tip (or its cluster), or lift one (triage leads and admins).
    ManageLegalHold {
        team: &'a str,
    },
    /// Register a public-records request for a tip, mark its redactions, propose or approve
    /// the decision (anyone who works the tip).
    HandleRecordsRequest {
        team: &'a str,
    },
    /// List public-records requests and read their produced copies.
    ReadRecordsRequests,
    ReadStats,
    ManageUsers,
    ManageApiKeys,
    ReadAuditLog,
    ReadConfiguration,
    ManageNotifications,
    /// See the disposal rules in force, what is due and the past disposal runs (admins).
    ReadDisposal,
}

/// What is done to a tip, before the tip (and so its team) is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TipVerb {
    Read,
    Change,
    Message,
    RevealContact,
    Reassign,
}

impl TipVerb {
    pub fn on(self, team: &str) -> Action<'_> {
        match self {
            TipVerb::Read => Action::ReadTip { team },
            TipVerb::Change => Action::ChangeTip { team },
            TipVerb::Message => Action::MessageTipster { team },
            TipVerb::RevealContact => Action::RevealContact { team },
            TipVerb::Reassign => Action::Reassign { team },
        }
    }
}

/// The answer. `NotFound` hides that a tip exists from whoever may not see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Not allowed, and the caller may know the thing exists (e.g. an admin page).
    Forbidden,
    /// Not allowed, and the caller must not learn the thing exists (a tip outside their scope).
    NotFound,
}

/// The tips a principal may see.
pub fn tip_scope(principal: &Principal) -> TipScope {
    match principal {
        Principal::System(caller) => {
            if caller.has_scope(Scope::TipsRead) {
                TipScope::All
            } else {
                TipScope::None
            }
        }
        Principal::Person(person) => {
            if person.has(Role::TriageLead) {
                TipScope::All
            } else if person.has(Role::Inspector) {
                TipScope::Teams(person.teams.clone())
            } else {
                TipScope::None
            }
        }
    }
}

/// What the situation report may show a principal who may `ReadStats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsDisclosure {
    /// Small counts are suppressed (everyone but triage leads).
    pub suppress: bool,
    /// Every facility's name (triage leads).
    pub all_facility_names: bool,
    /// Names of facilities with at least one tip in these teams (inspectors).
    pub facility_names_of_teams: Vec<String>,
    /// Names of facilities with at least the suppression threshold of tips (analysts, systems).
    pub facility_names_above_threshold: bool,
}

/// The situation report's disclosure rules for `principal` (only meaningful with ReadStats).
pub fn stats_disclosure(principal: &Principal) -> StatsDisclosure {
    match principal {
        Principal::System(_) => StatsDisclosure {
            suppress: true,
            all_facility_names: false,
            facility_names_of_teams: Vec::new(),
            facility_names_above_threshold: true,
        },
        Principal::Person(person) if person.has(Role::TriageLead) => StatsDisclosure {
            suppress: false,
            all_facility_names: true,
            facility_names_of_teams: Vec::new(),
            facility_names_above_threshold: false,
        },
        Principal::Person(person) => StatsDisclosure {
            suppress: true,
            all_facility_names: false,
            facility_names_of_teams: if person.has(Role::Inspector) {
                person.teams.clone()
            } else {
                Vec::new()
            },
            facility_names_above_threshold: person.has(Role::Analyst),
        },
    }
}

/// Decides one action.
pub fn decide(principal: &Principal, action: Action<'_>) -> Decision {
    let allow = |yes: bool| {
        if yes {
            Decision::Allow
        } else {
            Decision::Forbidden
        }
    };
    // A tip you may not read does not exist for you; one you may read but not change is 403.
    let on_tip = |team: &str, may_act: bool| {
        if !tip_scope(principal).includes(team) {
            Decision::NotFound
        } else {
            allow(may_act)
        }
    };
    match principal {
        Principal::System(caller) => match action {
            Action::SubmitTip => allow(caller.has_scope(Scope::TipsSubmit)),
            // Systems are not limited to teams; their scopes say what they may do, and a
            // missing scope is named in the answer (403), as the key's owner knows tips exist.
            Action::ReadQueue | Action::ReadTip { .. } => allow(caller.has_scope(Scope::TipsRead)),
            Action::ChangeTip { .. } | Action::MessageTipster { .. } | Action::Reassign { .. } => {
                allow(caller.has_scope(Scope::TipsWrite))
            }
            Action::ManageLegalHold { .. }
            | Action::HandleRecordsRequest { .. }
            | Action::ReadRecordsRequests => allow(caller.has_scope(Scope::RecordsWrite)),
            // Contact details never leave over the API; a person reveals them, audited.
            Action::RevealContact { .. } => Decision::Forbidden,
            Action::ReadStats => allow(caller.has_scope(Scope::StatsRead)),
            Action::ManageUsers
            | Action::ManageApiKeys
            | Action::ReadAuditLog
            | Action::ReadConfiguration
            | Action::ManageNotifications
            | Action::ReadDisposal => Decision::Forbidden,
        },
        Principal::Person(person) => {
            let works_tips = person.has(Role::Inspector) || person.has(Role::TriageLead);
            match action {
                // People report through the public form like anyone else.
                Action::SubmitTip => Decision::Forbidden,
                Action::ReadQueue => allow(works_tips),
                Action::ReadTip { team }
                | Action::ChangeTip { team }
                | Action::MessageTipster { team }
                | Action::RevealContact { team } => on_tip(team, works_tips),
                Action::Reassign { team } => on_tip(team, person.has(Role::TriageLead)),
                // Admins hold tips they cannot otherwise read: a hold names the tip, not its
                // content, and records management is theirs as much as the triage leads'.
                Action::ManageLegalHold { .. } if person.has(Role::Admin) => Decision::Allow,
                Action::ManageLegalHold { team } => on_tip(team, person.has(Role::TriageLead)),
                Action::HandleRecordsRequest { team } => on_tip(team, works_tips),
                Action::ReadRecordsRequests => allow(works_tips),
                Action::ReadStats => allow(
                    person.has(Role::Analyst)
                        || person.has(Role::TriageLead)
                        || person.has(Role::Inspector),
                ),
                Action::ManageUsers
                | Action::ManageApiKeys
                | Action::ReadAuditLog
                | Action::ManageNotifications
                | Action::ReadDisposal => allow(person.has(Role::Admin)),
                Action::ReadConfiguration => {
                    allow(person.has(Role::Admin) || person.has(Role::TriageLead))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(roles: &[Role], teams: &[&str]) -> Principal {
        Principal::Person(Person {
            id: Uuid::nil(),
            roles: roles.to_vec(),
            teams: teams.iter().map(|t| t.to_string()).collect(),
        })
    }

    fn system(scopes: &[Scope]) -> Principal {
        Principal::System(ApiCaller {
            key_id: Uuid::nil(),
            name: "test".into(),
            scopes: scopes.to_vec(),
        })
    }

    #[test]
    fn inspectors_see_their_own_teams_tips_only() {
        let inspector = person(&[Role::Inspector], &["syd"]);
        assert_eq!(
            decide(&inspector, Action::ReadTip { team: "syd" }),
            Decision::Allow
        );
        assert_eq!(
            decide(&inspector, Action::ReadTip { team: "nord" }),
            Decision::NotFound
        );
        assert_eq!(
            decide(&inspector, Action::ChangeTip { team: "nord" }),
            Decision::NotFound
        );
        assert_eq!(
            decide(&inspector, Action::Reassign { team: "syd" }),
            Decision::Forbidden
        );
        assert_eq!(tip_scope(&inspector), TipScope::Teams(vec!["syd".into()]));
    }

    #[test]
    fn leads_see_everything_and_analysts_nothing() {
        let lead = person(&[Role::TriageLead], &[]);
        let analyst = person(&[Role::Analyst], &["syd"]);
        assert_eq!(
            decide(&lead, Action::RevealContact { team: "nord" }),
            Decision::Allow
        );
        assert_eq!(
            decide(&lead, Action::Reassign { team: "nord" }),
            Decision::Allow
        );
        assert_eq!(
            decide(&analyst, Action::ReadTip { team: "syd" }),
            Decision::NotFound
        );
        assert_eq!(decide(&analyst, Action::ReadQueue), Decision::Forbidden);
        assert_eq!(decide(&analyst, Action::ReadStats), Decision::Allow);
    }

    #[test]
    fn admins_read_tips_only_with_another_role() {
        let admin = person(&[Role::Admin], &["syd"]);
        let admin_inspector = person(&[Role::Admin, Role::Inspector], &["syd"]);
        assert_eq!(
            decide(&admin, Action::ReadTip { team: "syd" }),
            Decision::NotFound
        );
        assert_eq!(decide(&admin, Action::ManageUsers), Decision::Allow);
        assert_eq!(
            decide(&admin_inspector, Action::ReadTip { team: "syd" }),
            Decision::Allow
        );
        assert_eq!(
            decide(&person(&[Role::Inspector], &["syd"]), Action::ManageApiKeys),
            Decision::Forbidden
        );
    }

    #[test]
    fn only_triage_leads_see_unsuppressed_statistics() {
        let lead = stats_disclosure(&person(&[Role::TriageLead, Role::Analyst], &[]));
        assert!(!lead.suppress && lead.all_facility_names);
        let analyst = stats_disclosure(&person(&[Role::Analyst], &["syd"]));
        assert!(analyst.suppress && !analyst.all_facility_names);
        assert!(analyst.facility_names_above_threshold);
        assert!(analyst.facility_names_of_teams.is_empty());
        let inspector = stats_disclosure(&person(&[Role::Inspector], &["syd"]));
        assert!(inspector.suppress && !inspector.facility_names_above_threshold);
        assert_eq!(inspector.facility_names_of_teams, vec!["syd".to_owned()]);
        let reader = stats_disclosure(&system(&[Scope::StatsRead]));
        assert!(reader.suppress && !reader.all_facility_names);
        assert_eq!(
            decide(&person(&[Role::Admin], &[]), Action::ReadStats),
            Decision::Forbidden
        );
        assert_eq!(
            decide(&system(&[Scope::TipsRead]), Action::ReadStats),
            Decision::Forbidden
        );
    }

    #[test]
    fn systems_follow_their_scopes_and_never_see_contacts() {
        let reader = system(&[Scope::TipsRead]);
        let writer = system(&[Scope::TipsRead, Scope::TipsWrite]);
        let submitter = system(&[Scope::TipsSubmit]);
        assert_eq!(
            decide(&reader, Action::ReadTip { team: "nord" }),
            Decision::Allow
        );
        assert_eq!(
            decide(&reader, Action::ChangeTip { team: "nord" }),
            Decision::Forbidden
        );
        assert_eq!(
            decide(&writer, Action::ChangeTip { team: "nord" }),
            Decision::Allow
        );
        assert_eq!(
            decide(&writer, Action::RevealContact { team: "nord" }),
            Decision::Forbidden
        );
        assert_eq!(
            decide(&submitter, Action::ReadTip { team: "nord" }),
            Decision::Forbidden
        );
        assert_eq!(decide(&submitter, Action::SubmitTip), Decision::Allow);
        assert_eq!(decide(&writer, Action::ManageUsers), Decision::Forbidden);
    }

    #[test]
    fn records_work_follows_tip_scope_and_holds_need_a_lead_or_admin() {
        let inspector = person(&[Role::Inspector], &["syd"]);
        let lead = person(&[Role::TriageLead], &[]);
        let admin = person(&[Role::Admin], &[]);
        let analyst = person(&[Role::Analyst], &[]);
        let hold = |team| Action::ManageLegalHold { team };
        let request = |team| Action::HandleRecordsRequest { team };
        assert_eq!(decide(&inspector, hold("syd")), Decision::Forbidden);
        assert_eq!(decide(&inspector, hold("nord")), Decision::NotFound);
        assert_eq!(decide(&lead, hold("nord")), Decision::Allow);
        assert_eq!(decide(&admin, hold("nord")), Decision::Allow);
        assert_eq!(decide(&inspector, request("syd")), Decision::Allow);
        assert_eq!(decide(&inspector, request("nord")), Decision::NotFound);
        assert_eq!(decide(&admin, request("syd")), Decision::NotFound);
        assert_eq!(
            decide(&analyst, Action::ReadRecordsRequests),
            Decision::Forbidden
        );
        let registry = system(&[Scope::RecordsWrite]);
        assert_eq!(decide(&registry, hold("nord")), Decision::Allow);
        assert_eq!(
            decide(&system(&[Scope::TipsWrite]), request("nord")),
            Decision::Forbidden
        );
    }
}
