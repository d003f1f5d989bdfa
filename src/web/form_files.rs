//! Files on the public forms: reading a posted form (urlencoded, or multipart with files), the
//! draft token a form's pending uploads hang on between its steps, removing a file, and the
//! file list shown on the form and the preview. Refused files become messages next to the file
//! field; the rest of the form is kept.

use actix_web::web::{self, Payload};
use actix_web::{HttpRequest, HttpResponse};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt;
use rand::RngCore;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::forms::FormError;
use super::i18n::{Lang, Texts};
use super::{bad_request, csrf};
use crate::attachments::receive::ReceiveError;
use crate::attachments::store::{self, Owner};
use crate::attachments::{AttachmentInfo, human_size};
use crate::multipart::{self, MultipartProblem, Part, Parts};
use crate::state::AppState;

/// The file input's name and id.
pub const FILE_FIELD: &str = "files";
/// The hidden field carrying the draft token.
pub const DRAFT_FIELD: &str = "draft";
/// A button naming a pending file to remove.
pub const REMOVE_FIELD: &str = "remove_attachment";
/// The urlencoded form's size bound (the form's text fields).
const FORM_LIMIT: usize = 256 * 1024;

/// A posted form with its files dealt with.
pub struct Posted<F> {
    pub form: F,
    pub draft: Draft,
    /// The draft's files after this post (added, removed).
    pub files: Vec<AttachmentInfo>,
    /// Files refused in this post, by name.
    pub file_errors: Vec<FormError>,
    /// The post named a file to remove (the form is shown again, not advanced).
    pub removed: bool,
}

/// The random token a form's pending uploads are stored under (only its keyed hash is
/// stored). It lives in a hidden field from the first file on.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    token: Option<String>,
}

impl Draft {
    fn from_field(value: Option<&str>) -> Self {
        let token = value
            .filter(|v| {
                v.len() == 22
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .map(str::to_owned);
        Draft { token }
    }

    /// The token for the hidden field ("" before the first file).
    pub fn token(&self) -> &str {
        self.token.as_deref().unwrap_or("")
    }

    /// The keyed hash uploads are stored under, if the form has a draft.
    pub fn hash(&self, state: &AppState) -> Option<Vec<u8>> {
        self.token.as_ref().map(|token| {
            state
                .crypto
                .keyed_hash("attachment draft", &[token.as_bytes()])
        })
    }

    fn ensure(&mut self, state: &AppState) -> Vec<u8> {
        if self.token.is_none() {
            let mut bytes = [0u8; 16];
            rand::rng().fill_bytes(&mut bytes);
            self.token = Some(URL_SAFE_NO_PAD.encode(bytes));
        }
        self.hash(state).unwrap_or_default()
    }
}

/// A file in the page's list.
pub struct FileRow {
    pub id: Uuid,
    pub name: String,
    pub size: String,
    pub kind: String,
    pub remove_label: String,
}

/// The rows for a draft's files, in the page's language.
pub fn rows(files: &[AttachmentInfo], t: &Texts, lang: Lang) -> Vec<FileRow> {
    files
        .iter()
        .enumerate()
        .map(|(index, info)| {
            let name = crate::attachments::neutral_name(
                Some(i32::try_from(index + 1).unwrap_or(i32::MAX)),
                info.kind,
            );
            FileRow {
                id: info.id,
                remove_label: t.get("attachments.remove").replace("{name}", &name),
                size: human_size(info.size_bytes, lang == Lang::Sv),
                kind: t
                    .get(&format!("attachments.kind_{}", info.kind.code()))
                    .to_owned(),
                name,
            }
        })
        .collect()
}

/// Reads a posted form: text fields into `F`, files into the draft (each refused one becomes
/// a message), removals applied. A malformed body answers 400 and keeps nothing it stored.
pub async fn read<F: DeserializeOwned + Default>(
    request: &HttpRequest,
    payload: Payload,
    state: &AppState,
    lang: Lang,
) -> Result<Posted<F>, HttpResponse> {
    let mut reader = Reader::default();
    let outcome = if multipart_request(request) {
        reader.read_multipart(request, payload, state, lang).await
    } else {
        reader.read_urlencoded(payload).await
    };
    if let Err(problem) = outcome {
        // Nothing half-written: files stored earlier in this request go again.
        if let Ok(mut conn) = state.connection().await {
            let _ = store::delete_pending(&mut conn, &reader.stored).await;
        }
        tracing::info!(problem = %problem, "refused a malformed form post");
        return Err(bad_request());
    }
    let form = parse_fields::<F>(&reader.pairs).ok_or_else(bad_request)?;
    let draft = reader.draft.unwrap_or_default();
    let mut removed = false;
    let mut files = Vec::new();
    if let Some(hash) = draft.hash(state) {
        let mut conn = state.connection().await.map_err(|_| super::unavailable())?;
        for id in &reader.remove {
            removed = true;
            store::delete_pending_of_draft(&mut conn, &hash, *id)
                .await
                .map_err(|_| super::unavailable())?;
        }
        files = store::list_pending_of_draft(&mut conn, &hash)
            .await
            .map_err(|_| super::unavailable())?;
    }
    Ok(Posted {
        form,
        draft,
        files,
        file_errors: reader.file_errors,
        removed,
    })
}

/// How many files and bytes a draft holds.
#[derive(Clone, Copy)]
struct Usage {
    files: usize,
    bytes: i64,
}

#[derive(Default)]
struct Reader {
    pairs: Vec<(String, String)>,
    draft: Option<Draft>,
    remove: Vec<Uuid>,
    stored: Vec<Uuid>,
    file_errors: Vec<FormError>,
    usage: Option<Usage>,
}

impl Reader {
    async fn read_urlencoded(&mut self, mut payload: Payload) -> Result<(), MultipartProblem> {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| MultipartProblem::Malformed)?;
            if body.len() + chunk.len() > FORM_LIMIT {
                return Err(MultipartProblem::TextTooLarge("form".into()));
            }
            body.extend_from_slice(&chunk);
        }
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&body).map_err(|_| MultipartProblem::Malformed)?;
        for (name, value) in pairs {
            self.take_text(name, value);
        }
        Ok(())
    }

    fn take_text(&mut self, name: String, value: String) {
        match name.as_str() {
            DRAFT_FIELD => self.draft = Some(Draft::from_field(Some(&value))),
            REMOVE_FIELD => {
                if let Ok(id) = value.parse() {
                    self.remove.push(id);
                }
            }
            _ => self.pairs.push((name, value)),
        }
    }

    async fn read_multipart(
        &mut self,
        request: &HttpRequest,
        payload: Payload,
        state: &AppState,
        lang: Lang,
    ) -> Result<(), MultipartProblem> {
        let mut parts = Parts::new(request, payload)?;
        let t = state.translations.texts(lang);
        while let Some(part) = parts.next().await {
            match part? {
                Part::Text { name, value } => self.take_text(name, value),
                Part::File(file) if file.name == FILE_FIELD && !file.is_empty_input() => {
                    let csrf_ok = csrf::verify(request, self.text(csrf::FIELD));
                    if !csrf_ok {
                        // No file is kept from a post that may not be the tipster's own.
                        file.skip().await?;
                        continue;
                    }
                    let name = file.file_name.clone();
                    if let Err(message) = self.accept_file(file, state, t).await? {
                        self.file_errors.push(FormError {
                            id: FILE_FIELD.to_owned(),
                            message: message.replace("{name}", &display_name(&name)),
                        });
                    }
                }
                Part::File(file) => file.skip().await?,
            }
        }
        Ok(())
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Stores one file of the draft; `Ok(Err(message))` is a refusal shown to the tipster.
    async fn accept_file(
        &mut self,
        file: Box<multipart::FilePart>,
        state: &AppState,
        t: &Texts,
    ) -> Result<Result<(), String>, MultipartProblem> {
        let settings = &state.settings.attachments;
        if multipart::check_file_name(&file.file_name).is_err() {
            file.skip().await?;
            return Ok(Err(t.get("error.file_bad_file_name").to_owned()));
        }
        let draft = self.draft.get_or_insert_with(Draft::default);
        let hash = draft.ensure(state);
        // What the draft holds already: read once per post, then counted here.
        if self.usage.is_none() {
            let existing = match state.connection().await {
                Ok(mut conn) => store::list_pending_of_draft(&mut conn, &hash).await.ok(),
                Err(_) => None,
            };
            self.usage = existing.map(|files| Usage {
                files: files.len(),
                bytes: files.iter().map(|f| f.size_bytes).sum(),
            });
        }
        let Some(usage) = self.usage else {
            file.skip().await?;
            return Ok(Err(t.get("error.file_unavailable").to_owned()));
        };
        if usage.files >= settings.max_files_per_tip {
            file.skip().await?;
            return Ok(Err(t
                .get("error.file_too_many_files")
                .replace("{max}", &settings.max_files_per_tip.to_string())));
        }
        let Ok(permit) = state.uploads.permit().await else {
            file.skip().await?;
            return Ok(Err(t.get("error.file_unavailable").to_owned()));
        };
        let bytes = match file
            .read(settings.max_file_bytes, settings.max_tip_bytes)
            .await
        {
            Ok(bytes) => bytes,
            Err(MultipartProblem::FileTooLarge(limit)) => {
                return Ok(Err(t
                    .get("error.file_too_large")
                    .replace("{max}", &(limit / 1_000_000).to_string())));
            }
            Err(other) => return Err(other),
        };
        match state
            .uploads
            .accept(
                &state.pool,
                &state.crypto,
                bytes,
                &Owner::Draft(hash),
                &permit,
            )
            .await
        {
            Ok(info) => {
                if u64::try_from(usage.bytes + info.size_bytes).unwrap_or(u64::MAX)
                    > settings.max_tip_bytes
                {
                    if let Ok(mut conn) = state.connection().await {
                        let _ = store::delete_pending(&mut conn, &[info.id]).await;
                    }
                    return Ok(Err(t.get("error.file_attachments_too_large").replace(
                        "{max}",
                        &(settings.max_tip_bytes / 1_000_000).to_string(),
                    )));
                }
                self.stored.push(info.id);
                self.usage = Some(Usage {
                    files: usage.files + 1,
                    bytes: usage.bytes + info.size_bytes,
                });
                Ok(Ok(()))
            }
            Err(ReceiveError::Refused(refusal)) => Ok(Err(t
                .get(&format!("error.file_{}", refusal.code()))
                .to_owned())),
            Err(error) => {
                tracing::error!(error = %format!("{error:#}"), "storing a form's file failed");
                Ok(Err(t.get("error.file_unavailable").to_owned()))
            }
        }
    }
}

/// The page's message for a file problem found when the tip or reply is stored (an upload
/// gone, a limit passed): `error.file_<code>` with the limit filled in and no file name.
pub fn link_error_message(t: &Texts, state: &AppState, code: &str) -> String {
    let settings = &state.settings.attachments;
    let max = if code == "attachments_too_large" {
        (settings.max_tip_bytes / 1_000_000).to_string()
    } else {
        settings.max_files_per_tip.to_string()
    };
    t.get(&format!("error.file_{code}"))
        .replace("{name}: ", "")
        .replace("{max}", &max)
}

/// The file name as the tipster's own page may show it (never stored or logged).
fn display_name(name: &str) -> String {
    let name: String = name.chars().filter(|c| !c.is_control()).take(80).collect();
    if name.is_empty() {
        "?".to_owned()
    } else {
        name
    }
}

fn multipart_request(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// The text fields as the form type (unknown names ignored, as a urlencoded form would).
fn parse_fields<F: DeserializeOwned + Default>(pairs: &[(String, String)]) -> Option<F> {
    let mut map = serde_json::Map::new();
    for (name, value) in pairs {
        map.entry(name.clone())
            .or_insert_with(|| serde_json::Value::String(value.clone()));
    }
    serde_json::from_value(serde_json::Value::Object(map)).ok()
}
