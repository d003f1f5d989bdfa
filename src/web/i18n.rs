//! The public pages' languages: Swedish (default) and English, with every text in
//! `locales/<lang>.toml`, and the URL of each page in each language.

use std::collections::HashMap;

use actix_web::HttpRequest;
use actix_web::http::header;

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Sv,
    En,
}

/// The public pages, for building links in the right language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Home,
    Report,
    ReportPreview,
    ReportSubmit,
    /// Where the form's script uploads files one at a time.
    ReportUpload,
    FollowUp,
    FollowUpTip,
    FollowUpReply,
    FollowUpEnd,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Sv => "sv",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Sv => Lang::En,
            Lang::En => Lang::Sv,
        }
    }

    pub fn path(self, page: Page) -> &'static str {
        match (self, page) {
            (Lang::Sv, Page::Home) => "/",
            (Lang::Sv, Page::Report) => "/tipsa",
            (Lang::Sv, Page::ReportPreview) => "/tipsa/granska",
            (Lang::Sv, Page::ReportSubmit) => "/tipsa/skicka",
            (Lang::Sv, Page::ReportUpload) => "/tipsa/bilagor",
            (Lang::Sv, Page::FollowUp) => "/uppfoljning",
            (Lang::Sv, Page::FollowUpTip) => "/uppfoljning/tips",
            (Lang::Sv, Page::FollowUpReply) => "/uppfoljning/svar",
            (Lang::Sv, Page::FollowUpEnd) => "/uppfoljning/stang",
            (Lang::En, Page::Home) => "/en",
            (Lang::En, Page::Report) => "/en/report",
            (Lang::En, Page::ReportPreview) => "/en/report/check",
            (Lang::En, Page::ReportSubmit) => "/en/report/send",
            (Lang::En, Page::ReportUpload) => "/en/report/files",
            (Lang::En, Page::FollowUp) => "/en/follow-up",
            (Lang::En, Page::FollowUpTip) => "/en/follow-up/report",
            (Lang::En, Page::FollowUpReply) => "/en/follow-up/answer",
            (Lang::En, Page::FollowUpEnd) => "/en/follow-up/close",
        }
    }

    /// The language a browser prefers, from `Accept-Language` (Swedish unless English is
    /// preferred over Swedish).
    pub fn preferred(request: &HttpRequest) -> Lang {
        let Some(value) = request
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
        else {
            return Lang::Sv;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in value.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("sv") => Lang::Sv,
                Some("en") => Lang::En,
                _ => continue,
            };
            if best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, lang));
            }
        }
        best.map_or(Lang::Sv, |(_, lang)| lang)
    }
}

/// One language's texts, looked up by `section.key`.
pub struct Texts {
    entries: HashMap<String, String>,
}

impl Texts {
    /// Parses a locale file; keys are flattened to `section.key`.
    pub fn parse(source: &str) -> anyhow::Result<Self> {
        let table: toml::Table = toml::from_str(source)?;
        let mut entries = HashMap::new();
        for (section, values) in table {
            let toml::Value::Table(values) = values else {
                anyhow::bail!("top-level key {section} must be a [section]");
            };
            for (key, value) in values {
                let toml::Value::String(text) = value else {
                    anyhow::bail!("{section}.{key} must be a string");
                };
                entries.insert(format!("{section}.{key}"), text);
            }
        }
        Ok(Texts { entries })
    }

    /// Several files of one language; a section may not appear in two of them.
    pub fn parse_all(sources: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut entries = HashMap::new();
        for (name, source) in sources {
            let texts = Texts::parse(source).map_err(|e| e.context(name.to_string()))?;
            for (key, text) in texts.entries {
                if entries.insert(key.clone(), text).is_some() {
                    anyhow::bail!("{name}: {key} is defined twice");
                }
            }
        }
        Ok(Texts { entries })
    }

    /// The text for `key`, or the key itself (visible, and caught by the locale test).
    pub fn get<'a>(&'a self, key: &'a str) -> &'a str {
        self.entries.get(key).map_or(key, String::as_str)
    }

    pub fn has(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

/// Both languages, loaded once at start from the files compiled into the binary.
pub struct Translations {
    sv: Texts,
    en: Texts,
}

/// Each language's files: the public pages, the inspector pages, the admin pages, the
/// situation report and the records-management pages.
pub const SV_SOURCES: [(&str, &str); 8] = [
    ("locales/sv.toml", include_str!("../../locales/sv.toml")),
    (
        "locales/inspector.sv.toml",
        include_str!("../../locales/inspector.sv.toml"),
    ),
    (
        "locales/admin.sv.toml",
        include_str!("../../locales/admin.sv.toml"),
    ),
    (
        "locales/stats.sv.toml",
        include_str!("../../locales/stats.sv.toml"),
    ),
    (
        "locales/holds.sv.toml",
        include_str!("../../locales/holds.sv.toml"),
    ),
    (
        "locales/requests.sv.toml",
        include_str!("../../locales/requests.sv.toml"),
    ),
    (
        "locales/disposal.sv.toml",
        include_str!("../../locales/disposal.sv.toml"),
    ),
    (
        "locales/sso.sv.toml",
        include_str!("../../locales/sso.sv.toml"),
    ),
];
pub const EN_SOURCES: [(&str, &str); 8] = [
    ("locales/en.toml", include_str!("../../locales/en.toml")),
    (
        "locales/inspector.en.toml",
        include_str!("../../locales/inspector.en.toml"),
    ),
    (
        "locales/admin.en.toml",
        include_str!("../../locales/admin.en.toml"),
    ),
    (
        "locales/stats.en.toml",
        include_str!("../../locales/stats.en.toml"),
    ),
    (
        "locales/holds.en.toml",
        include_str!("../../locales/holds.en.toml"),
    ),
    (
        "locales/requests.en.toml",
        include_str!("../../locales/requests.en.toml"),
    ),
    (
        "locales/disposal.en.toml",
        include_str!("../../locales/disposal.en.toml"),
    ),
    (
        "locales/sso.en.toml",
        include_str!("../../locales/sso.en.toml"),
    ),
];

impl Translations {
    pub fn load() -> anyhow::Result<Self> {
        Ok(Translations {
            sv: Texts::parse_all(&SV_SOURCES)?,
            en: Texts::parse_all(&EN_SOURCES)?,
        })
    }

    pub fn texts(&self, lang: Lang) -> &Texts {
        match lang {
            Lang::Sv => &self.sv,
            Lang::En => &self.en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn both_languages_have_the_same_keys() {
        let translations = Translations::load().unwrap();
        let mut sv: Vec<&str> = translations.sv.keys().collect();
        let mut en: Vec<&str> = translations.en.keys().collect();
        sv.sort();
        en.sort();
        assert_eq!(sv, en);
    }

    #[test]
    fn every_key_used_in_a_template_exists() {
        let translations = Translations::load().unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut checked = 0;
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                if entry.path().is_dir() {
                    dirs.push(entry.path());
                    continue;
                }
                let source = std::fs::read_to_string(entry.path()).unwrap();
                for piece in source.split("t.get(\"").skip(1) {
                    let key = piece.split('"').next().unwrap();
                    assert!(translations.sv.has(key), "{key} in {:?}", entry.path());
                    checked += 1;
                }
            }
        }
        assert!(checked > 50, "only {checked} lookups found");
    }

    #[test]
    fn accept_language_chooses_english_only_when_preferred() {
        let lang = |value: &str| {
            Lang::preferred(
                &TestRequest::default()
                    .insert_header((header::ACCEPT_LANGUAGE, value))
                    .to_http_request(),
            )
        };
        assert_eq!(lang("en-GB,en;q=0.9"), Lang::En);
        assert_eq!(lang("sv-SE,sv;q=0.9,en;q=0.8"), Lang::Sv);
        assert_eq!(lang("en;q=0.5,sv;q=0.9"), Lang::Sv);
        assert_eq!(lang("de-DE,en;q=0.7"), Lang::En);
        assert_eq!(lang("fi"), Lang::Sv);
        assert_eq!(
            Lang::preferred(&TestRequest::default().to_http_request()),
            Lang::Sv
        );
    }
}
