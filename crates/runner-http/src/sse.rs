//! Server-sent events read from a response as they arrive: `event:`, `id:` and `data:` fields,
//! an event ended by a blank line (an event cut short by the end of the stream is dropped, as
//! the SSE rules say), at most [`MAX_EVENT`] bytes each.

use reqwest::Response;

/// One event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event {
    pub event: String,
    pub id: String,
    pub data: String,
}

/// The longest event accepted: a server that never ends a line or an event must not fill
/// memory.
pub const MAX_EVENT: usize = 64 * 1024 * 1024;

pub struct EventStream {
    response: Response,
    buffer: Vec<u8>,
    /// How much of `buffer` is known to hold no line end (not searched again).
    scanned: usize,
    current: Event,
    data: Vec<String>,
    size: usize,
}

/// Why a stream gave no event.
#[derive(Debug)]
pub enum SseError {
    Read(reqwest::Error),
    TooLong,
}

impl std::fmt::Display for SseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SseError::Read(e) => write!(f, "the event stream broke: {}", strip_url(e)),
            SseError::TooLong => f.write_str("an event longer than 64 MiB"),
        }
    }
}

/// The error's words without its address (an address may hold a key).
fn strip_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "");
    }
    text
}

impl EventStream {
    pub fn new(response: Response) -> EventStream {
        EventStream {
            response,
            buffer: Vec::new(),
            scanned: 0,
            current: Event::default(),
            data: Vec::new(),
            size: 0,
        }
    }

    /// The next event; `None` at the end of the stream.
    pub async fn next(&mut self) -> Result<Option<Event>, SseError> {
        loop {
            while let Some(at) = self.buffer[self.scanned..].iter().position(|b| *b == b'\n') {
                let end = self.scanned + at;
                self.scanned = 0;
                let raw: Vec<u8> = self.buffer.drain(..=end).collect();
                let line = String::from_utf8_lossy(&raw);
                if let Some(event) = self.line(line.trim_end_matches(['\n', '\r'])) {
                    return Ok(Some(event));
                }
            }
            self.scanned = self.buffer.len();
            if self.buffer.len() + self.size > MAX_EVENT {
                return Err(SseError::TooLong);
            }
            match self.response.chunk().await.map_err(SseError::Read)? {
                Some(bytes) => self.buffer.extend_from_slice(&bytes),
                None => return Ok(None),
            }
        }
    }

    fn line(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            if self.data.is_empty() {
                self.current = Event::default();
                return None;
            }
            let mut event = std::mem::take(&mut self.current);
            event.data = std::mem::take(&mut self.data).join("\n");
            self.size = 0;
            return Some(event);
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.current.event = value.to_string(),
            "id" => self.current.id = value.to_string(),
            "data" => {
                self.size += value.len() + 1;
                self.data.push(value.to_string());
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(body: &'static str) -> EventStream {
        EventStream::new(Response::from(
            hyper::Response::builder().body(body).expect("a response"),
        ))
    }

    #[tokio::test]
    async fn events_are_read_field_by_field_and_a_cut_one_is_dropped() {
        let mut s = stream(
            ": a comment\nevent: endpoint\ndata: /messages?session=1\n\nid:progress\ndata:{\"a\":\ndata:1}\r\n\nid: end\ndata: {\"cut",
        );
        let first = s.next().await.unwrap().unwrap();
        assert_eq!(
            (first.event.as_str(), first.data.as_str()),
            ("endpoint", "/messages?session=1")
        );
        let second = s.next().await.unwrap().unwrap();
        assert_eq!(
            (second.id.as_str(), second.data.as_str()),
            ("progress", "{\"a\":\n1}")
        );
        // The last event has no blank line after it: the stream ended inside it.
        assert_eq!(s.next().await.unwrap(), None);
    }
}
