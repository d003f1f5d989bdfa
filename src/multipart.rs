//! Reading `multipart/form-data` bodies at the HTTP edge (the API's uploads, the tip form and
//! the follow-up reply): text parts with a small bound, file parts into memory only up to the
//! per-file limit, and every way a body can be wrong as a `MultipartProblem`.

use actix_multipart::{Field, Multipart, MultipartError};
use actix_web::HttpRequest;
use actix_web::web::Payload;
use futures_util::StreamExt;

/// The largest text part (form fields; the API's tip JSON stays within the JSON body limit).
pub const TEXT_PART_LIMIT: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum MultipartProblem {
    #[error("the body must be multipart/form-data")]
    NotMultipart,
    #[error("the multipart body is malformed or cut off")]
    Malformed,
    #[error("a part has no name")]
    UnnamedPart,
    #[error(
        "a part's Content-Disposition is missing or unreadable (file names must not contain control characters)"
    )]
    BadPartHeader,
    #[error("the file is larger than the limit of {} MB", .0 / 1_000_000)]
    FileTooLarge(u64),
    #[error("the field {0} is too long")]
    TextTooLarge(String),
    #[error("the file name must not contain folders or control characters")]
    BadFileName,
}

/// The body's parts, one at a time.
pub struct Parts {
    inner: Multipart,
    content_length: Option<u64>,
}

/// One part: a text field, or a file (a part sent with a file name).
pub enum Part {
    Text { name: String, value: String },
    File(Box<FilePart>),
}

/// A file part, not yet read.
pub struct FilePart {
    pub name: String,
    /// As the client sent it: checked, used only in messages back to the same client, never
    /// stored or logged.
    pub file_name: String,
    field: Field,
    /// The body's declared length, as an upper bound of this file's size.
    expected_len: Option<u64>,
}

impl Parts {
    pub fn new(request: &HttpRequest, payload: Payload) -> Result<Self, MultipartProblem> {
        if !is_multipart(request) {
            return Err(MultipartProblem::NotMultipart);
        }
        let content_length = request
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Ok(Parts {
            inner: Multipart::new(request.headers(), payload),
            content_length,
        })
    }

    /// The next part; text parts are read here, file parts are left for `FilePart::read`.
    pub async fn next(&mut self) -> Option<Result<Part, MultipartProblem>> {
        let field = match self.inner.next().await? {
            Ok(field) => field,
            Err(error) => return Some(Err(problem(&error))),
        };
        let Some(name) = field.name().map(str::to_owned) else {
            return Some(Err(MultipartProblem::UnnamedPart));
        };
        let file_name = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(str::to_owned);
        Some(match file_name {
            Some(file_name) => Ok(Part::File(Box::new(FilePart {
                name,
                file_name,
                field,
                expected_len: self.content_length,
            }))),
            None => read_text(field, &name)
                .await
                .map(|value| Part::Text { name, value }),
        })
    }
}

impl FilePart {
    /// Reads the file into memory, refusing it as soon as it passes `limit` bytes. After a
    /// refusal, up to `drain` more bytes of the part are read and dropped, so a form can go on
    /// to its next part and show the error; a part longer than that ends the body.
    pub async fn read(mut self, limit: u64, drain: u64) -> Result<Vec<u8>, MultipartProblem> {
        // Room for the file at once when its size is known (a one-file upload's body), so the
        // buffer is not doubled and copied as it grows.
        let expected = self.expected_len.unwrap_or(0).min(limit);
        let mut bytes = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
        while let Some(chunk) = self.field.next().await {
            let chunk = chunk.map_err(|e| problem(&e))?;
            if (bytes.len() + chunk.len()) as u64 > limit {
                drop(bytes);
                let mut drained = 0u64;
                while let Some(rest) = self.field.next().await {
                    drained += rest.map_err(|e| problem(&e))?.len() as u64;
                    if drained > drain {
                        return Err(MultipartProblem::FileTooLarge(limit));
                    }
                }
                return Err(MultipartProblem::FileTooLarge(limit));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// Reads and drops the part (a file input left empty, a part that is not wanted).
    pub async fn skip(mut self) -> Result<(), MultipartProblem> {
        while let Some(chunk) = self.field.next().await {
            chunk.map_err(|e| problem(&e))?;
        }
        Ok(())
    }

    /// A browser's file input left empty sends a part with an empty file name.
    pub fn is_empty_input(&self) -> bool {
        self.file_name.is_empty()
    }
}

async fn read_text(mut field: Field, name: &str) -> Result<String, MultipartProblem> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| problem(&e))?;
        if bytes.len() + chunk.len() > TEXT_PART_LIMIT {
            return Err(MultipartProblem::TextTooLarge(name.to_owned()));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| MultipartProblem::Malformed)
}

fn problem(error: &MultipartError) -> MultipartProblem {
    match error {
        MultipartError::ContentDispositionNameMissing => MultipartProblem::UnnamedPart,
        MultipartError::ContentDispositionMissing | MultipartError::Parse(_) => {
            MultipartProblem::BadPartHeader
        }
        _ => MultipartProblem::Malformed,
    }
}

fn is_multipart(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("multipart/form-data"))
        })
}

/// A file name a client may send: a plain name, no folders, no control characters.
pub fn check_file_name(name: &str) -> Result<(), MultipartProblem> {
    let bad = name.len() > 255
        || name.contains(['/', '\\'])
        || name == ".."
        || name.starts_with("..")
        || name.chars().any(char::is_control);
    if bad {
        Err(MultipartProblem::BadFileName)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_with_folders_or_control_characters_are_refused() {
        assert!(check_file_name("foto.jpg").is_ok());
        assert!(check_file_name("Mötesanteckningar 2026.docx").is_ok());
        for bad in [
            "../../etc/passwd",
            "..",
            "a/b.jpg",
            "C:\\x.jpg",
            "a\u{0}.jpg",
            "a\nb.pdf",
        ] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_file_name(&"x".repeat(256)).is_err());
    }
}
