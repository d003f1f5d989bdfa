//! What notifications say, in Swedish (default) or English, as plain text and HTML
//! (multipart/alternative), and the headers that make them recognisable and filterable.
//!
//! The content rule (DESIGN §2.3): reference, region, category, priority, deadline and a link —
//! never the tip's text, facility, care provider, the reporter's details or the receipt code.
//! The types here cannot carry those: `TipFacts` has no field for them.

use askama::Template;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use uuid::Uuid;

use crate::domain::{Language, Priority, Taxonomy};

/// What an email may say about a tip.
#[derive(Debug, Clone)]
pub struct TipFacts {
    pub id: Uuid,
    pub reference: String,
    pub region_code: String,
    pub category: String,
    pub priority: String,
    pub due_at: DateTime<Utc>,
    /// How many files the tip has (never what they are).
    pub attachments: i64,
}

/// Shared by every message: labels, links, the time zone of deadlines.
pub struct Context<'a> {
    pub taxonomy: &'a Taxonomy,
    pub public_base_url: &'a str,
    pub timezone: Tz,
}

/// A rendered message before addressing.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Template)]
#[template(path = "email_notification.txt")]
struct TextEmail<'a> {
    title: &'a str,
    paragraphs: &'a [String],
    facts: &'a [(String, String)],
    table: &'a Option<DigestTable>,
    link: &'a Option<Link>,
    footer: &'a [String],
}

#[derive(Template)]
#[template(path = "email_notification.html")]
struct HtmlEmail<'a> {
    lang: &'a str,
    title: &'a str,
    paragraphs: &'a [String],
    facts: &'a [(String, String)],
    table: &'a Option<DigestTable>,
    link: &'a Option<Link>,
    footer: &'a [String],
}

struct Link {
    label: String,
    url: String,
}

/// The digest's list: one row per tip, the last cell a link.
struct DigestTable {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    link_text: String,
}

/// The parts of a message, before rendering.
struct Content {
    lang: Language,
    subject: String,
    title: String,
    paragraphs: Vec<String>,
    facts: Vec<(String, String)>,
    table: Option<DigestTable>,
    link: Option<Link>,
    footer: Vec<String>,
}

impl Content {
    fn render(self) -> Result<Rendered, askama::Error> {
        let text = TextEmail {
            title: &self.title,
            paragraphs: &self.paragraphs,
            facts: &self.facts,
            table: &self.table,
            link: &self.link,
            footer: &self.footer,
        }
        .render()?;
        let html = HtmlEmail {
            lang: self.lang.as_str(),
            title: &self.title,
            paragraphs: &self.paragraphs,
            facts: &self.facts,
            table: &self.table,
            link: &self.link,
            footer: &self.footer,
        }
        .render()?;
        Ok(Rendered {
            subject: self.subject,
            text,
            html,
        })
    }
}

fn sv(lang: Language) -> bool {
    lang == Language::Sv
}

fn priority_label(lang: Language, priority: &str) -> String {
    let sv = sv(lang);
    match Priority::parse(priority) {
        Some(Priority::Critical) => if sv { "kritisk" } else { "critical" }.into(),
        Some(Priority::High) => if sv { "hög" } else { "high" }.into(),
        Some(Priority::Normal) => "normal".into(),
        Some(Priority::Low) => if sv { "låg" } else { "low" }.into(),
        None => priority.to_owned(),
    }
}

impl Context<'_> {
    fn region(&self, code: &str) -> String {
        self.taxonomy
            .regions
            .iter()
            .find(|r| r.code == code)
            .map_or_else(|| code.to_owned(), |r| r.name.clone())
    }

    fn category(&self, lang: Language, code: &str) -> String {
        self.taxonomy
            .categories
            .iter()
            .find(|c| c.code == code)
            .map_or_else(
                || code.to_owned(),
                |c| {
                    if sv(lang) {
                        c.label_sv.clone()
                    } else {
                        c.label_en.clone()
                    }
                },
            )
    }

    fn time(&self, lang: Language, at: DateTime<Utc>) -> String {
        let local = at.with_timezone(&self.timezone);
        if sv(lang) {
            format!("{} (svensk tid)", local.format("%Y-%m-%d %H:%M"))
        } else {
            format!("{} (Swedish time)", local.format("%-d %b %Y %H:%M"))
        }
    }

    /// The inspector UI's page for a tip.
    pub fn tip_link(&self, id: Uuid) -> String {
        format!(
            "{}/inspektor/tips/{id}",
            self.public_base_url.trim_end_matches('/')
        )
    }

    fn facts(&self, lang: Language, tip: &TipFacts) -> Vec<(String, String)> {
        let s = sv(lang);
        vec![
            (
                if s { "Referens" } else { "Reference" }.into(),
                tip.reference.clone(),
            ),
            (
                if s { "Län" } else { "County (län)" }.into(),
                self.region(&tip.region_code),
            ),
            (
                if s { "Kategori" } else { "Category" }.into(),
                self.category(lang, &tip.category),
            ),
            (
                if s { "Prioritet" } else { "Priority" }.into(),
                priority_label(lang, &tip.priority),
            ),
            (
                if s {
                    "Första granskning senast"
                } else {
                    "First review due"
                }
                .into(),
                self.time(lang, tip.due_at),
            ),
            (
                if s { "Bilagor" } else { "Attachments" }.into(),
                tip.attachments.to_string(),
            ),
        ]
    }

    fn open_tip(&self, lang: Language, tip: &TipFacts) -> Option<Link> {
        Some(Link {
            label: if sv(lang) {
                "Öppna tipset i Tipsa"
            } else {
                "Open the tip in Tipsa"
            }
            .into(),
            url: self.tip_link(tip.id),
        })
    }
}

fn inspector_footer(lang: Language) -> Vec<String> {
    if sv(lang) {
        vec![
            "Av sekretesskäl innehåller meddelandet inte tipsets text eller uppgifter om den som \
             tipsade. Logga in i Tipsa för att läsa tipset."
                .into(),
            "Meddelandet skickades automatiskt av Tipsa. Svara inte på det.".into(),
        ]
    } else {
        vec![
            "For confidentiality, this message contains neither the tip's text nor anything about \
             who sent it. Sign in to Tipsa to read the tip."
                .into(),
            "This message was sent automatically by Tipsa. Please do not reply.".into(),
        ]
    }
}

/// A critical or high tip arrived for `team_name`.
pub fn urgent_tip(
    ctx: &Context<'_>,
    lang: Language,
    tip: &TipFacts,
    team_name: &str,
) -> Result<Rendered, askama::Error> {
    let priority = priority_label(lang, &tip.priority);
    let (subject, title, intro) = if sv(lang) {
        (
            format!(
                "[Tipsa] Nytt tips med prioritet {priority}: {}",
                tip.reference
            ),
            format!("Nytt tips med prioritet {priority}"),
            format!("Ett nytt tips med prioritet {priority} har kommit in till {team_name}."),
        )
    } else {
        (
            format!(
                "[Tipsa] New tip with priority {priority}: {}",
                tip.reference
            ),
            format!("New tip with priority {priority}"),
            format!("A new tip with priority {priority} has arrived for {team_name}."),
        )
    };
    Content {
        lang,
        subject,
        title,
        paragraphs: vec![intro],
        facts: ctx.facts(lang, tip),
        table: None,
        link: ctx.open_tip(lang, tip),
        footer: inspector_footer(lang),
    }
    .render()
}

/// The tipster answered a question about `tip`.
pub fn reporter_replied(
    ctx: &Context<'_>,
    lang: Language,
    tip: &TipFacts,
) -> Result<Rendered, askama::Error> {
    let reference = &tip.reference;
    let (subject, title, intro) = if sv(lang) {
        (
            format!("[Tipsa] Tipsaren har svarat: {reference}"),
            "Tipsaren har svarat".to_owned(),
            format!(
                "Den som lämnade tips {reference} har svarat på en fråga från inspektionen. \
                 Svaret finns i Tipsa."
            ),
        )
    } else {
        (
            format!("[Tipsa] The tipster replied: {reference}"),
            "The tipster replied".to_owned(),
            format!(
                "The person who sent tip {reference} has answered a question from the \
                 inspectorate. The answer is in Tipsa."
            ),
        )
    };
    Content {
        lang,
        subject,
        title,
        paragraphs: vec![intro],
        facts: ctx.facts(lang, tip),
        table: None,
        link: ctx.open_tip(lang, tip),
        footer: inspector_footer(lang),
    }
    .render()
}

/// The first review of `tip` is overdue while it is still new.
pub fn deadline_overdue(
    ctx: &Context<'_>,
    lang: Language,
    tip: &TipFacts,
    team_name: &str,
) -> Result<Rendered, askama::Error> {
    let reference = &tip.reference;
    let due = ctx.time(lang, tip.due_at);
    let (subject, title, intro) = if sv(lang) {
        (
            format!("[Tipsa] Försenad första granskning: {reference}"),
            "Försenad första granskning".to_owned(),
            format!(
                "Första granskningen av tips {reference} ({team_name}) skulle ha gjorts senast \
                 {due}, och tipset är fortfarande nytt."
            ),
        )
    } else {
        (
            format!("[Tipsa] First review overdue: {reference}"),
            "First review overdue".to_owned(),
            format!(
                "The first review of tip {reference} ({team_name}) was due by {due}, and the tip \
                 is still new."
            ),
        )
    };
    Content {
        lang,
        subject,
        title,
        paragraphs: vec![intro],
        facts: ctx.facts(lang, tip),
        table: None,
        link: ctx.open_tip(lang, tip),
        footer: inspector_footer(lang),
    }
    .render()
}

/// A team's digest of normal and low tips.
pub fn team_digest(
    ctx: &Context<'_>,
    lang: Language,
    team_name: &str,
    tips: &[TipFacts],
) -> Result<Rendered, askama::Error> {
    let s = sv(lang);
    let count = tips.len();
    let (subject, title, intro) = if s {
        (
            format!("[Tipsa] Sammanställning för {team_name}: {count} nya tips"),
            format!("Sammanställning för {team_name}"),
            format!(
                "{count} tips med prioritet normal eller låg har kommit in sedan förra \
                 sammanställningen."
            ),
        )
    } else {
        (
            format!("[Tipsa] Digest for {team_name}: {count} new tips"),
            format!("Digest for {team_name}"),
            format!("{count} tips with priority normal or low have arrived since the last digest."),
        )
    };
    let headers = if s {
        [
            "Referens",
            "Kategori",
            "Prioritet",
            "Län",
            "Granskas senast",
            "Länk",
        ]
    } else {
        [
            "Reference",
            "Category",
            "Priority",
            "County",
            "Review due",
            "Link",
        ]
    };
    let rows = tips
        .iter()
        .map(|tip| {
            vec![
                tip.reference.clone(),
                ctx.category(lang, &tip.category),
                priority_label(lang, &tip.priority),
                ctx.region(&tip.region_code),
                ctx.time(lang, tip.due_at),
                ctx.tip_link(tip.id),
            ]
        })
        .collect();
    Content {
        lang,
        subject,
        title,
        paragraphs: vec![intro],
        facts: Vec::new(),
        table: Some(DigestTable {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows,
            link_text: if s { "Öppna" } else { "Open" }.into(),
        }),
        link: None,
        footer: inspector_footer(lang),
    }
    .render()
}

/// The receipt to an identified reporter: the reference and where to follow the tip — never
/// the receipt code (it would let anyone with the mailbox read the conversation).
pub fn reporter_ack(
    ctx: &Context<'_>,
    lang: Language,
    reference: &str,
) -> Result<Rendered, askama::Error> {
    let base = ctx.public_base_url.trim_end_matches('/');
    let (subject, title, paragraphs, link_label, path, footer) = if sv(lang) {
        (
            format!("Vi har tagit emot ditt tips ({reference})"),
            "Vi har tagit emot ditt tips".to_owned(),
            vec![
                format!(
                    "Tack för ditt tips. Vi har tagit emot det med referensnummer {reference}."
                ),
                "Ange referensnumret om du kontaktar oss om tipset. Med koden du fick när du \
                 skickade tipset kan du följa det och svara på våra frågor."
                    .to_owned(),
            ],
            "Följ ditt tips",
            "/uppfoljning",
            "Meddelandet skickades automatiskt. Svara inte på det.",
        )
    } else {
        (
            format!("We have received your tip ({reference})"),
            "We have received your tip".to_owned(),
            vec![
                format!("Thank you for your tip. We have received it with the reference {reference}."),
                "Quote the reference if you contact us about the tip. With the code you were given \
                 when you sent the tip, you can follow it and answer our questions."
                    .to_owned(),
            ],
            "Follow your tip",
            "/en/follow-up",
            "This message was sent automatically. Please do not reply.",
        )
    };
    Content {
        lang,
        subject,
        title,
        paragraphs,
        facts: Vec::new(),
        table: None,
        link: Some(Link {
            label: link_label.into(),
            url: format!("{base}{path}"),
        }),
        footer: vec![footer.into()],
    }
    .render()
}

/// Addressing and headers of a notification.
pub struct Envelope<'a> {
    pub job_id: Uuid,
    pub kind: &'a str,
    pub from: &'a str,
    pub to: &'a [String],
    /// Domain of the Message-ID and List-Id.
    pub domain: &'a str,
    /// The team whose list the message belongs to (none for a reporter's receipt).
    pub team: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("an address is not valid")]
    Address,
    #[error("no recipients")]
    NoRecipients,
    #[error("building the message failed: {0}")]
    Message(#[from] lettre::error::Error),
}

/// The stable Message-ID of a job: a retried send carries the same one.
pub fn message_id(job_id: Uuid, domain: &str) -> String {
    format!("<{job_id}@{domain}>")
}

/// Builds the message: multipart/alternative (plain text, then HTML), a stable Message-ID,
/// `List-Id` per team, `Auto-Submitted: auto-generated` and the job kind for filtering.
pub fn build(envelope: &Envelope<'_>, rendered: Rendered) -> Result<Message, BuildError> {
    if envelope.to.is_empty() {
        return Err(BuildError::NoRecipients);
    }
    let from: Mailbox = envelope.from.parse().map_err(|_| BuildError::Address)?;
    let mut builder = Message::builder()
        .from(from)
        .subject(rendered.subject)
        .message_id(Some(message_id(envelope.job_id, envelope.domain)))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
            "All".into(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Tipsa-Kind"),
            envelope.kind.into(),
        ));
    let list = match envelope.team {
        Some(team) => format!(
            "Tipsa {team} <tipsa-notifications.{team}.{}>",
            envelope.domain
        ),
        None => format!("Tipsa <tipsa-receipts.{}>", envelope.domain),
    };
    builder = builder.raw_header(HeaderValue::new(
        HeaderName::new_from_ascii_str("List-Id"),
        list,
    ));
    for address in envelope.to {
        let mailbox: Mailbox = address.parse().map_err(|_| BuildError::Address)?;
        builder = builder.to(mailbox);
    }
    Ok(builder.multipart(MultiPart::alternative_plain_html(
        rendered.text,
        rendered.html,
    ))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::taxonomy::{Label, Region};

    fn taxonomy() -> Taxonomy {
        Taxonomy::new(
            vec![Label {
                code: "patient_safety".into(),
                label_sv: "Patientsäkerhet".into(),
                label_en: "Patient safety".into(),
            }],
            vec![],
            vec![],
            vec![Region {
                code: "01".into(),
                name: "Stockholms län".into(),
                region_name: "Region Stockholm".into(),
            }],
            vec![],
            vec![],
        )
    }

    fn tip() -> TipFacts {
        TipFacts {
            id: Uuid::nil(),
            reference: "T-2026-000123".into(),
            region_code: "01".into(),
            category: "patient_safety".into(),
            priority: "critical".into(),
            due_at: DateTime::parse_from_rfc3339("2026-11-23T16:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            attachments: 2,
        }
    }

    #[test]
    fn urgent_tip_in_swedish_and_english_says_what_where_how_urgent_and_links() {
        let taxonomy = taxonomy();
        let ctx = Context {
            taxonomy: &taxonomy,
            public_base_url: "https://tipsa.example/",
            timezone: chrono_tz::Europe::Stockholm,
        };
        let sv = urgent_tip(&ctx, Language::Sv, &tip(), "Avdelning öst").unwrap();
        assert_eq!(
            sv.subject,
            "[Tipsa] Nytt tips med prioritet kritisk: T-2026-000123"
        );
        for part in [&sv.text, &sv.html] {
            assert!(part.contains("T-2026-000123"));
            assert!(part.contains("Stockholms län"));
            assert!(part.contains("Patientsäkerhet"));
            assert!(part.contains("2026-11-23 17:00 (svensk tid)"));
            assert!(part.contains(
                "https://tipsa.example/inspektor/tips/00000000-0000-0000-0000-000000000000"
            ));
        }
        assert!(sv.html.contains("<html lang=\"sv\">"));
        let en = urgent_tip(&ctx, Language::En, &tip(), "Team East").unwrap();
        assert!(en.subject.contains("New tip with priority critical"));
        assert!(en.text.contains("Patient safety") && en.text.contains("23 Nov 2026 17:00"));
    }

    #[test]
    fn html_is_escaped() {
        let taxonomy = taxonomy();
        let ctx = Context {
            taxonomy: &taxonomy,
            public_base_url: "https://tipsa.example",
            timezone: chrono_tz::Europe::Stockholm,
        };
        let rendered = urgent_tip(&ctx, Language::Sv, &tip(), "<b>Team</b>").unwrap();
        assert!(!rendered.html.contains("<b>Team") && rendered.html.contains("Team&"));
        assert!(rendered.text.contains("<b>Team</b>"));
    }

    #[test]
    fn digest_lists_every_tip_with_its_link() {
        let taxonomy = taxonomy();
        let ctx = Context {
            taxonomy: &taxonomy,
            public_base_url: "https://tipsa.example",
            timezone: chrono_tz::Europe::Stockholm,
        };
        let mut second = tip();
        second.reference = "T-2026-000124".into();
        second.priority = "low".into();
        second.id = Uuid::max();
        let rendered = team_digest(&ctx, Language::Sv, "Avdelning öst", &[tip(), second]).unwrap();
        assert!(rendered.subject.contains("2 nya tips"));
        for part in [&rendered.text, &rendered.html] {
            assert!(part.contains("T-2026-000123") && part.contains("T-2026-000124"));
            assert!(part.contains("låg"));
            assert!(part.contains("/inspektor/tips/ffffffff-ffff-ffff-ffff-ffffffffffff"));
        }
    }

    #[test]
    fn message_has_stable_id_list_id_and_two_parts() {
        let taxonomy = taxonomy();
        let ctx = Context {
            taxonomy: &taxonomy,
            public_base_url: "https://tipsa.example",
            timezone: chrono_tz::Europe::Stockholm,
        };
        let job_id = Uuid::now_v7();
        let to = vec![
            "ost@tipsa.example".to_owned(),
            "ost2@tipsa.example".to_owned(),
        ];
        let envelope = Envelope {
            job_id,
            kind: "urgent_tip",
            from: "Tipsa <tipsa@tipsa.example>",
            to: &to,
            domain: "tipsa.example",
            team: Some("ost"),
        };
        let rendered = urgent_tip(&ctx, Language::Sv, &tip(), "Avdelning öst").unwrap();
        let message = build(&envelope, rendered).unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(
            raw.contains(&format!("Message-ID: <{job_id}@tipsa.example>")),
            "{raw}"
        );
        assert!(raw.contains("List-Id: Tipsa ost <tipsa-notifications.ost.tipsa.example>"));
        assert!(raw.contains("Auto-Submitted: auto-generated"));
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
        assert_eq!(message.envelope().to().len(), 2);
        let none: Vec<String> = vec![];
        let envelope = Envelope {
            to: &none,
            ..envelope
        };
        let rendered = urgent_tip(&ctx, Language::Sv, &tip(), "x").unwrap();
        assert!(matches!(
            build(&envelope, rendered),
            Err(BuildError::NoRecipients)
        ));
    }

    #[test]
    fn receipt_has_the_reference_and_the_follow_up_page_only() {
        let taxonomy = taxonomy();
        let ctx = Context {
            taxonomy: &taxonomy,
            public_base_url: "https://tipsa.example",
            timezone: chrono_tz::Europe::Stockholm,
        };
        let sv = reporter_ack(&ctx, Language::Sv, "T-2026-000123").unwrap();
        assert!(
            sv.text.contains("T-2026-000123")
                && sv.text.contains("https://tipsa.example/uppfoljning")
        );
        assert!(!sv.text.contains("inspektor"));
        let en = reporter_ack(&ctx, Language::En, "T-2026-000123").unwrap();
        assert!(en.subject.starts_with("We have received your tip"));
        assert!(en.html.contains("https://tipsa.example/en/follow-up"));
    }
}
