//! Typing: the allow-list, empty and text input, refused types, and the stable codes.

use super::super::{CleanLimits, FileKind, Refusal, clean};

fn refusal(bytes: &[u8]) -> Refusal {
    match clean(bytes, &CleanLimits::default()) {
        Ok(cleaned) => panic!("accepted as {:?}", cleaned.kind),
        Err(refusal) => refusal,
    }
}

#[test]
fn empty_file_is_refused() {
    assert!(matches!(refusal(b""), Refusal::Empty));
}

#[test]
fn plain_text_is_kept_as_is() {
    let text = "\u{feff}Tips om vårdcentralen\r\n\tRad två\x0c\n".as_bytes();
    let cleaned = clean(text, &CleanLimits::default()).expect("text accepted");
    assert_eq!(cleaned.kind, FileKind::Text);
    assert_eq!(cleaned.bytes, text);
}

#[test]
fn text_with_nul_or_control_bytes_or_bad_utf8_is_refused() {
    for bytes in [&b"hello\0world"[..], b"bell\x07", b"latin-1 \xe5\xe4\xf6"] {
        assert!(matches!(
            refusal(bytes),
            Refusal::Unsupported { detected: None }
        ));
    }
}

#[test]
fn gif_and_exe_are_unsupported_with_the_detected_type() {
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    match refusal(gif) {
        Refusal::Unsupported { detected } => assert_eq!(detected.as_deref(), Some("image/gif")),
        other => panic!("{other:?}"),
    }
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec();
    exe.resize(256, 0);
    match refusal(&exe) {
        Refusal::Unsupported { detected } => assert!(detected.is_some()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn heic_is_refused_with_its_own_reason() {
    let mut heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic".to_vec();
    heic.extend_from_slice(&[0; 64]);
    let refused = refusal(&heic);
    assert!(matches!(refused, Refusal::Heic));
    assert_eq!(refused.code(), "heic_unsupported");
    assert!(refused.to_string().contains("JPEG"));
}

#[test]
fn codes_round_trip() {
    let kinds = [
        FileKind::Jpeg,
        FileKind::Png,
        FileKind::Pdf,
        FileKind::Docx,
        FileKind::Xlsx,
        FileKind::Odt,
        FileKind::Text,
        FileKind::Mp3,
        FileKind::M4a,
        FileKind::Ogg,
    ];
    for kind in kinds {
        assert_eq!(FileKind::from_code(kind.code()), Some(kind));
    }
    assert_eq!(FileKind::from_code("exe"), None);
    assert_eq!(FileKind::Docx.extension(), "docx");
    assert_eq!(FileKind::M4a.media_type(), "audio/mp4");
    assert!(FileKind::Png.is_image() && !FileKind::Pdf.is_image());
}

#[test]
fn refusal_codes_are_stable() {
    let codes = [
        (Refusal::Empty, "empty"),
        (Refusal::Unsupported { detected: None }, "unsupported_type"),
        (Refusal::Heic, "heic_unsupported"),
        (Refusal::Polyglot, "polyglot"),
        (Refusal::Damaged(String::new()), "damaged"),
        (Refusal::TooLargeUnpacked, "decompression_bomb"),
        (Refusal::ActiveContent, "active_content"),
        (Refusal::Encrypted, "encrypted"),
        (Refusal::CannotClean(String::new()), "cannot_clean"),
    ];
    for (refusal, code) in codes {
        assert_eq!(refusal.code(), code);
    }
}
