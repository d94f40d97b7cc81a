//! The message as sent: headers (lettre's header types do the RFC 2047/2231 encoding), text
//! bodies in quoted-printable, files in base64, nested as mail clients expect:
//! `multipart/mixed` [ `multipart/related` [ `multipart/alternative` [plain, html], images ],
//! attachments ], each level present only when it has more than one part.
//!
//! Files are not read here: the message is a list of pieces, and [`Stream`] reads each file
//! in blocks while the SMTP connection sends the previous block, so memory stays flat
//! whatever the size of the attachments. Everything is 7-bit ASCII (no 8BITMIME needed).

use crate::attachments::Found;
use base64::Engine;
use lettre::message::header::{
    ContentDisposition, ContentId, ContentTransferEncoding, ContentType, Headers,
};
use runner_core::plugin::*;
use std::collections::VecDeque;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One part of the message: text already encoded, or a file to encode while sending.
#[derive(Debug)]
pub(crate) enum Piece {
    Bytes(Vec<u8>),
    File(Found),
}

/// What the message says.
pub(crate) struct Content<'a> {
    pub(crate) plain: &'a str,
    pub(crate) html: Option<&'a str>,
    pub(crate) images: &'a [Found],
    pub(crate) attachments: &'a [Found],
}

enum Node {
    Leaf {
        headers: String,
        body: Body,
    },
    Multi {
        subtype: &'static str,
        children: Vec<Node>,
    },
}

enum Body {
    Text(Vec<u8>),
    File(Found),
}

fn header_lines(h: &Headers) -> String {
    h.to_string()
}

fn text_leaf(text: &str, subtype: &str) -> Node {
    let mut h = Headers::new();
    h.set(
        ContentType::parse(&format!("text/{subtype}; charset=utf-8"))
            .expect("a valid text content type"),
    );
    h.set(ContentTransferEncoding::QuotedPrintable);
    Node::Leaf {
        headers: header_lines(&h),
        body: Body::Text(quoted_printable(text)),
    }
}

fn file_leaf(f: &Found, inline: bool, property: &str) -> Result<Node, TaskError> {
    let content_type = ContentType::parse(&f.content_type).map_err(|_| {
        TaskError::property(
            &format!("{property}.contentType"),
            format!(
                "`{}` is not a content type (type/subtype, as `text/csv`)",
                f.content_type
            ),
        )
    })?;
    let mut h = Headers::new();
    h.set(content_type);
    if inline {
        h.set(ContentDisposition::inline_with_name(&f.name));
        // Referenced from the HTML as `cid:<name>`.
        h.set(ContentId::from(format!("<{}>", f.name)));
    } else {
        h.set(ContentDisposition::attachment(&f.name));
    }
    h.set(ContentTransferEncoding::Base64);
    Ok(Node::Leaf {
        headers: header_lines(&h),
        body: Body::File(f.clone()),
    })
}

/// The message's pieces: `top` (From, To, Subject...) then the body's tree.
pub(crate) fn compose(top: &Headers, content: Content<'_>) -> Result<Vec<Piece>, TaskError> {
    let mut node = match content.html {
        Some(html) => Node::Multi {
            subtype: "alternative",
            children: vec![text_leaf(content.plain, "plain"), text_leaf(html, "html")],
        },
        None => text_leaf(content.plain, "plain"),
    };
    if !content.images.is_empty() {
        let mut children = vec![node];
        for f in content.images {
            children.push(file_leaf(f, true, "embeddedImages")?);
        }
        node = Node::Multi {
            subtype: "related",
            children,
        };
    }
    if !content.attachments.is_empty() {
        let mut children = vec![node];
        for f in content.attachments {
            children.push(file_leaf(f, false, "attachments")?);
        }
        node = Node::Multi {
            subtype: "mixed",
            children,
        };
    }
    let mut w = Writer {
        pieces: Vec::new(),
        current: header_lines(top).into_bytes(),
        seed: runner_core::ids::random_u64(),
        boundaries: 0,
    };
    w.node(node);
    let Writer {
        mut pieces,
        current,
        ..
    } = w;
    if !current.is_empty() {
        pieces.push(Piece::Bytes(current));
    }
    Ok(pieces)
}

struct Writer {
    pieces: Vec<Piece>,
    current: Vec<u8>,
    seed: u64,
    boundaries: u32,
}

impl Writer {
    /// Writes `node`'s own headers, the blank line, and its body.
    fn node(&mut self, node: Node) {
        match node {
            Node::Leaf { headers, body } => {
                self.current.extend_from_slice(headers.as_bytes());
                self.current.extend_from_slice(b"\r\n");
                match body {
                    Body::Text(bytes) => {
                        self.current.extend_from_slice(&bytes);
                        self.current.extend_from_slice(b"\r\n");
                    }
                    Body::File(f) => {
                        let empty = f.size == 0;
                        self.pieces
                            .push(Piece::Bytes(std::mem::take(&mut self.current)));
                        self.pieces.push(Piece::File(f));
                        if empty {
                            // The line break that ends the (empty) body before the boundary.
                            self.current.extend_from_slice(b"\r\n");
                        }
                    }
                }
            }
            Node::Multi { subtype, children } => {
                self.boundaries += 1;
                // `=_` never appears in quoted-printable or base64 text.
                let boundary = format!("=_runner_{:016x}_{}", self.seed, self.boundaries);
                self.current.extend_from_slice(
                    format!(
                        "Content-Type: multipart/{subtype};\r\n boundary=\"{boundary}\"\r\n\r\n"
                    )
                    .as_bytes(),
                );
                for child in children {
                    self.current
                        .extend_from_slice(format!("--{boundary}\r\n").as_bytes());
                    self.node(child);
                }
                self.current
                    .extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            }
        }
    }
}

/// Quoted-printable (RFC 2045 §6.7): line breaks become CRLF, lines stay within 76 characters.
pub(crate) fn quoted_printable(text: &str) -> Vec<u8> {
    let normalized = text.replace("\r\n", "\n");
    let mut out = Vec::with_capacity(normalized.len() + normalized.len() / 8);
    for (i, line) in normalized.split('\n').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        let bytes = line.as_bytes();
        let mut column = 0;
        for (j, &b) in bytes.iter().enumerate() {
            let last = j + 1 == bytes.len();
            let literal =
                ((b == b' ' || b == b'\t') && !last) || ((33..=126).contains(&b) && b != b'=');
            let width = if literal { 1 } else { 3 };
            if column + width > 75 {
                out.extend_from_slice(b"=\r\n");
                column = 0;
            }
            if literal {
                out.push(b);
            } else {
                out.extend_from_slice(format!("={b:02X}").as_bytes());
            }
            column += width;
        }
    }
    out
}

/// Input bytes per block read from a file: 1000 base64 lines of 76 characters.
const BLOCK: usize = 57 * 1000;

/// The message as blocks, files read and encoded as they are asked for. A failed read is kept
/// in `error` (the SMTP client cannot be told mid-message) and ends the stream; the sender
/// then fails the task. `progress` counts the blocks handed out, so a watchdog can tell a
/// stalled server from a long message.
pub(crate) struct Stream {
    pieces: VecDeque<Piece>,
    file: Option<(std::fs::File, String)>,
    pub(crate) error: Arc<Mutex<Option<String>>>,
    pub(crate) progress: Arc<AtomicU64>,
}

impl Stream {
    pub(crate) fn new(pieces: Vec<Piece>) -> Stream {
        Stream {
            pieces: pieces.into(),
            file: None,
            error: Arc::default(),
            progress: Arc::default(),
        }
    }

    fn fail(&mut self, why: String) -> Option<Vec<u8>> {
        *self.error.lock().expect("stream error") = Some(why);
        self.pieces.clear();
        self.file = None;
        None
    }
}

impl Iterator for Stream {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        self.progress.fetch_add(1, Ordering::SeqCst);
        loop {
            if let Some((file, name)) = &mut self.file {
                let mut block = vec![0u8; BLOCK];
                let mut filled = 0;
                // A full block, or what is left of the file.
                while filled < BLOCK {
                    match file.read(&mut block[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let why = format!("cannot read `{name}` while sending it: {e}");
                            return self.fail(why);
                        }
                    }
                }
                if filled == 0 {
                    self.file = None;
                    continue;
                }
                block.truncate(filled);
                let encoded = base64::engine::general_purpose::STANDARD.encode(&block);
                let mut out = Vec::with_capacity(encoded.len() + encoded.len() / 38 + 2);
                for line in encoded.as_bytes().chunks(76) {
                    out.extend_from_slice(line);
                    out.extend_from_slice(b"\r\n");
                }
                return Some(out);
            }
            match self.pieces.pop_front()? {
                Piece::Bytes(b) => return Some(b),
                Piece::File(f) => match std::fs::File::open(&f.path) {
                    Ok(file) => self.file = Some((file, f.name)),
                    Err(e) => {
                        let why = format!("cannot open `{}` to send it: {e}", f.name);
                        return self.fail(why);
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_keeps_lines_short_and_text_exact() {
        assert_eq!(quoted_printable("a=b"), b"a=3Db");
        assert_eq!(quoted_printable("x \ny"), b"x=20\r\ny");
        assert_eq!(quoted_printable("é"), b"=C3=A9");
        let long = "z".repeat(200);
        let qp = String::from_utf8(quoted_printable(&long)).unwrap();
        assert!(qp.lines().all(|l| l.len() <= 76), "{qp}");
        assert_eq!(qp.replace("=\r\n", ""), long);
    }

    #[test]
    fn files_are_streamed_as_base64_lines() {
        let dir = std::env::temp_dir().join(format!("runner-mime-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data.bin");
        let data: Vec<u8> = (0..BLOCK * 2 + 5).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let found = Found {
            name: "data.bin".into(),
            content_type: "application/octet-stream".into(),
            path: path.clone(),
            size: data.len() as u64,
        };
        let blocks: Vec<Vec<u8>> = Stream::new(vec![
            Piece::Bytes(b"head\r\n".to_vec()),
            Piece::File(found),
            Piece::Bytes(b"tail".to_vec()),
        ])
        .collect();
        assert_eq!(blocks.len(), 5, "head, three blocks of the file, tail");
        let body: Vec<u8> = blocks[1..4].concat();
        let text = String::from_utf8(body).unwrap();
        assert!(text.lines().all(|l| l.len() <= 76));
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(text.replace("\r\n", ""))
            .unwrap();
        assert_eq!(decoded, data);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
