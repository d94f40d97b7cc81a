//! Server-sent events, as Kestra's follow endpoints send them: the SSE `id:` field carries the
//! event's kind (`start`, `progress`, `end`) and `data:` one JSON document.

use crate::ApiError;

/// One event: its kind and its data.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub id: String,
    pub data: String,
}

/// The longest event accepted (its lines together): a server that never ends a line or an
/// event must not fill memory.
const MAX_EVENT: usize = 64 * 1024 * 1024;

/// The events of one streamed answer, read as they arrive.
pub struct EventStream {
    response: reqwest::Response,
    buffer: Vec<u8>,
    /// How much of `buffer` is known to hold no line end (not searched again).
    scanned: usize,
    id: String,
    data: Vec<String>,
    /// The bytes of `data`.
    size: usize,
}

impl EventStream {
    pub(crate) fn new(response: reqwest::Response) -> EventStream {
        EventStream {
            response,
            buffer: Vec::new(),
            scanned: 0,
            id: String::new(),
            data: Vec::new(),
            size: 0,
        }
    }

    /// The next event; `None` when the server ended the stream.
    pub async fn next(&mut self) -> Result<Option<Event>, ApiError> {
        loop {
            while let Some(at) = self.buffer[self.scanned..].iter().position(|b| *b == b'\n') {
                let end = self.scanned + at;
                self.scanned = 0;
                let raw: Vec<u8> = self.buffer.drain(..=end).collect();
                let line = String::from_utf8_lossy(&raw);
                let line = line.trim_end_matches(['\n', '\r']);
                if let Some(event) = self.line(line) {
                    return Ok(Some(event));
                }
            }
            self.scanned = self.buffer.len();
            if self.buffer.len() + self.size > MAX_EVENT {
                return Err(ApiError::Protocol {
                    what: "an event stream line longer than 64 MiB".into(),
                });
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => self.buffer.extend_from_slice(&bytes),
                // The end, or a dropped connection: no more events. An event not ended by
                // its blank line is incomplete and dropped, as the SSE rules say; the
                // caller knows whether it saw the last one.
                Ok(None) | Err(_) => return Ok(None),
            }
        }
    }

    /// Takes one line; an empty line ends an event.
    fn line(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            if self.data.is_empty() {
                self.id.clear();
                return None;
            }
            let event = Event {
                id: std::mem::take(&mut self.id),
                data: std::mem::take(&mut self.data).join("\n"),
            };
            self.size = 0;
            return Some(event);
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => self.id = value.to_string(),
            "data" => {
                self.size += value.len() + 1;
                self.data.push(value.to_string());
            }
            _ => {}
        }
        None
    }
}
