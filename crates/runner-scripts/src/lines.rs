//! A script's stdout and stderr, read line by line with bounded memory: however much a
//! script prints, and however long a line without a line break, runner holds at most
//! [`PROTOCOL_LINE_MAX`] of one line per stream.

use tokio::io::{AsyncRead, AsyncReadExt};

/// A line longer than this is logged cut to this length, with a note.
pub(crate) const LOG_LINE_MAX: usize = 1024 * 1024;
/// A `::{json}::` line may be this long (outputs can be large); longer, it is refused.
pub(crate) const PROTOCOL_LINE_MAX: usize = 16 * 1024 * 1024;

/// One line of output, without its line break.
#[derive(Debug, PartialEq)]
pub(crate) struct OutputLine {
    pub(crate) text: String,
    /// How many bytes of the line were dropped (it was longer than allowed).
    pub(crate) dropped: u64,
}

/// Splits a stream into lines.
pub(crate) struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Bytes of `buf` already known to hold no line break.
    scanned: usize,
    /// The current line is being dropped: how many bytes so far.
    dropping: Option<u64>,
    eof: bool,
    chunk: Box<[u8]>,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        LineReader {
            inner,
            buf: Vec::new(),
            scanned: 0,
            dropping: None,
            eof: false,
            chunk: vec![0; 64 * 1024].into_boxed_slice(),
        }
    }

    /// The next line, `None` at the end of the stream (a last line without a break is
    /// returned too).
    pub(crate) async fn next_line(&mut self) -> std::io::Result<Option<OutputLine>> {
        loop {
            if let Some(pos) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
                let end = self.scanned + pos;
                let line = self.take(end, 1);
                return Ok(Some(line));
            }
            self.scanned = self.buf.len();
            let limit = if self.buf.starts_with(b"::{") {
                PROTOCOL_LINE_MAX
            } else {
                LOG_LINE_MAX
            };
            if self.buf.len() > limit {
                // Keep the head for the log, drop the rest of the line as it comes.
                let extra = (self.buf.len() - LOG_LINE_MAX) as u64;
                self.buf.truncate(LOG_LINE_MAX);
                self.scanned = self.buf.len();
                self.dropping = Some(self.dropping.unwrap_or(0) + extra);
            }
            if self.eof {
                if self.buf.is_empty() && self.dropping.is_none() {
                    return Ok(None);
                }
                let end = self.buf.len();
                return Ok(Some(self.take(end, 0)));
            }
            let n = self.inner.read(&mut self.chunk).await?;
            if n == 0 {
                self.eof = true;
                continue;
            }
            if let Some(dropped) = &mut self.dropping {
                // While dropping, only a line break matters.
                match self.chunk[..n].iter().position(|&b| b == b'\n') {
                    Some(pos) => {
                        *dropped += pos as u64;
                        let line = self.take(self.buf.len(), 0);
                        self.buf.extend_from_slice(&self.chunk[pos + 1..n]);
                        return Ok(Some(line));
                    }
                    None => {
                        *dropped += n as u64;
                        continue;
                    }
                }
            }
            self.buf.extend_from_slice(&self.chunk[..n]);
        }
    }

    /// Takes `buf[..end]` as a line and removes it and `skip` more bytes.
    fn take(&mut self, end: usize, skip: usize) -> OutputLine {
        let mut bytes: Vec<u8> = self.buf.drain(..end + skip).collect();
        bytes.truncate(end);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        self.scanned = 0;
        let dropped = self.dropping.take().unwrap_or(0);
        let text = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        OutputLine { text, dropped }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8]) -> Vec<OutputLine> {
        let mut r = LineReader::new(input);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().await.unwrap() {
            out.push(l);
        }
        out
    }

    fn text(s: &str) -> OutputLine {
        OutputLine {
            text: s.into(),
            dropped: 0,
        }
    }

    #[tokio::test]
    async fn splits_on_line_breaks_and_keeps_a_last_partial_line() {
        assert_eq!(
            lines(b"a\nb\r\n\nc").await,
            vec![text("a"), text("b"), text(""), text("c")]
        );
        assert_eq!(lines(b"").await, vec![]);
        assert_eq!(lines(b"x\n").await, vec![text("x")]);
    }

    #[tokio::test]
    async fn invalid_utf8_is_replaced_not_fatal() {
        assert_eq!(lines(b"a\xffb\n").await, vec![text("a\u{fffd}b")]);
    }

    #[tokio::test]
    async fn a_line_too_long_is_cut_and_the_next_one_is_whole() {
        let mut input = vec![b'x'; LOG_LINE_MAX * 3 + 10];
        input.extend_from_slice(b"\nnext\n");
        let got = lines(&input).await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].text.len(), LOG_LINE_MAX);
        assert_eq!(got[0].dropped, (LOG_LINE_MAX * 2 + 10) as u64);
        assert_eq!(got[1], text("next"));
    }

    #[tokio::test]
    async fn protocol_lines_may_be_longer_than_log_lines() {
        let mut input = b"::{\"outputs\":{\"a\":\"".to_vec();
        input.extend(std::iter::repeat_n(b'y', LOG_LINE_MAX * 2));
        input.extend_from_slice(b"\"}}::\n");
        let got = lines(&input).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].dropped, 0);
        assert_eq!(got[0].text.len(), input.len() - 1);
    }

    #[tokio::test]
    async fn a_huge_line_at_the_end_is_cut() {
        let input = vec![b'z'; LOG_LINE_MAX + 5];
        let got = lines(&input).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].text.len(), LOG_LINE_MAX);
        assert_eq!(got[0].dropped, 5);
    }
}
