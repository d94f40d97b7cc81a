//! Kestra's `CompressionAlgorithm` and `ArchiveAlgorithm`, and the stream codecs behind them.
//! Every codec is a `Read` (decoding) or a `Write` that must be finished (encoding), so a file of
//! any size streams through a fixed buffer.

use runner_core::plugin::PropType;
use serde::Deserialize;
use std::io::{self, Read, Write};

/// A stream compressor (Kestra's names: commons-compress's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Compression {
    Brotli,
    Bzip2,
    Deflate,
    Deflate64,
    Gzip,
    Lz4block,
    Lz4frame,
    Lzma,
    Snappy,
    Snappyframe,
    Xz,
    Z,
    Zstd,
}

/// An archive format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Archive {
    Ar,
    Arj,
    Cpio,
    Dump,
    Jar,
    Tar,
    Zip,
}

impl Compression {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Compression::Brotli => "BROTLI",
            Compression::Bzip2 => "BZIP2",
            Compression::Deflate => "DEFLATE",
            Compression::Deflate64 => "DEFLATE64",
            Compression::Gzip => "GZIP",
            Compression::Lz4block => "LZ4BLOCK",
            Compression::Lz4frame => "LZ4FRAME",
            Compression::Lzma => "LZMA",
            Compression::Snappy => "SNAPPY",
            Compression::Snappyframe => "SNAPPYFRAME",
            Compression::Xz => "XZ",
            Compression::Z => "Z",
            Compression::Zstd => "ZSTD",
        }
    }

    /// The usual file extension of a stream compressed this way.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Compression::Brotli => "br",
            Compression::Bzip2 => "bz2",
            Compression::Deflate => "zz",
            Compression::Deflate64 => "deflate64",
            Compression::Gzip => "gz",
            Compression::Lz4block | Compression::Lz4frame => "lz4",
            Compression::Lzma => "lzma",
            Compression::Snappy | Compression::Snappyframe => "sz",
            Compression::Xz => "xz",
            Compression::Z => "Z",
            Compression::Zstd => "zst",
        }
    }
}

impl Archive {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Archive::Ar => "AR",
            Archive::Arj => "ARJ",
            Archive::Cpio => "CPIO",
            Archive::Dump => "DUMP",
            Archive::Jar => "JAR",
            Archive::Tar => "TAR",
            Archive::Zip => "ZIP",
        }
    }

    pub(crate) fn extension(self) -> &'static str {
        match self {
            Archive::Ar => "ar",
            Archive::Arj => "arj",
            Archive::Cpio => "cpio",
            Archive::Dump => "dump",
            Archive::Jar => "jar",
            Archive::Tar => "tar",
            Archive::Zip => "zip",
        }
    }

    /// Whether runner reads and writes this format; the error says what it can do instead.
    pub(crate) fn supported(self) -> Result<(), String> {
        match self {
            Archive::Zip | Archive::Jar | Archive::Tar => Ok(()),
            other => Err(format!(
                "the {} archive format is not supported by runner: use ZIP, JAR or TAR",
                other.name()
            )),
        }
    }
}

/// Why a codec cannot be had.
fn unsupported(c: Compression, reading: bool) -> io::Error {
    let what = match (c, reading) {
        (Compression::Brotli | Compression::Deflate64 | Compression::Snappy, false) => {
            // Kestra cannot write these either ("Not implemented compression").
            format!(
                "Not implemented compression '{}': it can be read, not written",
                c.name()
            )
        }
        (Compression::Z, false) => {
            "Unknown compression 'Z': it can be read by Kestra, not written".to_string()
        }
        _ => format!(
            "the {} compression is not supported by runner: use GZIP, BZIP2, XZ, ZSTD, LZ4FRAME, SNAPPYFRAME, DEFLATE or LZMA",
            c.name()
        ),
    };
    io::Error::new(io::ErrorKind::Unsupported, what)
}

/// A reader of `inner` decompressed with `c`.
pub(crate) fn decoder<'a, R: Read + Send + 'a>(
    c: Compression,
    inner: R,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    Ok(match c {
        // Every member of a multi-member file, where Kestra stops after the first.
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(inner)),
        // commons-compress's DEFLATE has the zlib header by default.
        Compression::Deflate => Box::new(flate2::read::ZlibDecoder::new(inner)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(inner)),
        Compression::Xz => Box::new(lzma_rust2::XzReader::new(inner, true)),
        Compression::Lzma => Box::new(lzma_rust2::LzmaReader::new_mem_limit(
            inner,
            u32::MAX,
            None,
        )?),
        Compression::Zstd => Box::new(ZstdReader::new(inner)?),
        Compression::Lz4frame => Box::new(lz4_flex::frame::FrameDecoder::new(inner)),
        Compression::Snappyframe => Box::new(snap::read::FrameDecoder::new(inner)),
        Compression::Brotli => Box::new(brotli_decompressor::Decompressor::new(inner, 64 * 1024)),
        Compression::Deflate64 | Compression::Lz4block | Compression::Snappy | Compression::Z => {
            return Err(unsupported(c, true));
        }
    })
}

/// A writer compressing into `inner` with `c`; [`Encoder::finish`] writes the end.
pub(crate) fn encoder<'a, W: Write + Send + 'a>(
    c: Compression,
    inner: W,
) -> io::Result<Box<dyn Encoder + 'a>> {
    Ok(match c {
        Compression::Gzip => Box::new(flate2::write::GzEncoder::new(
            inner,
            flate2::Compression::default(),
        )),
        Compression::Deflate => Box::new(flate2::write::ZlibEncoder::new(
            inner,
            flate2::Compression::default(),
        )),
        Compression::Bzip2 => Box::new(bzip2::write::BzEncoder::new(
            inner,
            bzip2::Compression::default(),
        )),
        Compression::Xz => Box::new(lzma_rust2::XzWriter::new(
            inner,
            lzma_rust2::XzOptions::with_preset(6),
        )?),
        Compression::Lzma => Box::new(lzma_rust2::LzmaWriter::new_use_header(
            inner,
            &lzma_rust2::LzmaOptions::with_preset(6),
            None,
        )?),
        Compression::Zstd => Box::new(ZstdWriter::new(inner)),
        Compression::Lz4frame => Box::new(lz4_flex::frame::FrameEncoder::new(inner)),
        Compression::Snappyframe => Box::new(snap::write::FrameEncoder::new(inner)),
        Compression::Brotli
        | Compression::Deflate64
        | Compression::Lz4block
        | Compression::Snappy
        | Compression::Z => return Err(unsupported(c, false)),
    })
}

/// Refuses a codec runner lacks before any file is opened.
pub(crate) fn check_readable(c: Compression) -> Result<(), String> {
    match c {
        Compression::Deflate64 | Compression::Lz4block | Compression::Snappy | Compression::Z => {
            Err(unsupported(c, true).to_string())
        }
        _ => Ok(()),
    }
}

pub(crate) fn check_writable(c: Compression) -> Result<(), String> {
    match c {
        Compression::Brotli
        | Compression::Deflate64
        | Compression::Lz4block
        | Compression::Snappy
        | Compression::Z => Err(unsupported(c, false).to_string()),
        _ => Ok(()),
    }
}

/// A compressing writer whose end must be written.
pub(crate) trait Encoder: Write + Send {
    fn finish(self: Box<Self>) -> io::Result<()>;
}

impl<W: Write + Send> Encoder for flate2::write::GzEncoder<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        (*self).finish()?.flush()
    }
}

impl<W: Write + Send> Encoder for flate2::write::ZlibEncoder<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        (*self).finish()?.flush()
    }
}

impl<W: Write + Send> Encoder for bzip2::write::BzEncoder<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        (*self).finish()?.flush()
    }
}

impl<W: Write + Send> Encoder for lzma_rust2::XzWriter<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        (*self).finish()?.flush()
    }
}

impl<W: Write + Send> Encoder for lzma_rust2::LzmaWriter<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        (*self).finish()?.flush()
    }
}

impl<W: Write + Send> Encoder for lz4_flex::frame::FrameEncoder<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        (*self).finish().map_err(io::Error::other)?.flush()
    }
}

impl<W: Write + Send> Encoder for snap::write::FrameEncoder<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        (*self)
            .into_inner()
            .map_err(|e| io::Error::other(e.to_string()))?
            .flush()
    }
}

/// Zstandard reading, over ruzstd's streaming decoder (which borrows nothing it cannot own).
struct ZstdReader<R: Read> {
    inner: ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>,
}

impl<R: Read> ZstdReader<R> {
    fn new(inner: R) -> io::Result<Self> {
        let inner = ruzstd::decoding::StreamingDecoder::new(inner)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        Ok(ZstdReader { inner })
    }
}

impl<R: Read> Read for ZstdReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

/// Zstandard writing: ruzstd compresses a whole source at once, so the bytes go through a
/// bounded frame each: every 4 MiB written becomes one Zstandard frame (a file of several
/// frames is one stream to every reader, zstd's own included).
struct ZstdWriter<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

const ZSTD_FRAME: usize = 4 << 20;

impl<W: Write> ZstdWriter<W> {
    fn new(inner: W) -> Self {
        ZstdWriter {
            inner,
            pending: Vec::with_capacity(ZSTD_FRAME),
        }
    }

    fn frame(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let compressed = ruzstd::encoding::compress_to_vec(
            self.pending.as_slice(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        self.inner.write_all(&compressed)?;
        self.pending.clear();
        Ok(())
    }
}

impl<W: Write> Write for ZstdWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = ZSTD_FRAME - self.pending.len();
        let n = buf.len().min(room);
        self.pending.extend_from_slice(&buf[..n]);
        if self.pending.len() == ZSTD_FRAME {
            self.frame()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write + Send> Encoder for ZstdWriter<W> {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.frame()?;
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_writable_codec_reads_back_what_it_wrote() {
        let text: Vec<u8> = (0..30_000u32)
            .flat_map(|i| format!("{i},row\n").into_bytes())
            .collect();
        for c in [
            Compression::Gzip,
            Compression::Deflate,
            Compression::Bzip2,
            Compression::Xz,
            Compression::Lzma,
            Compression::Zstd,
            Compression::Lz4frame,
            Compression::Snappyframe,
        ] {
            let mut out = Vec::new();
            let mut e = encoder(c, &mut out).unwrap();
            e.write_all(&text).unwrap();
            e.finish().unwrap();
            assert!(out.len() < text.len() / 2, "{c:?} did not compress");
            let mut back = Vec::new();
            decoder(c, out.as_slice())
                .unwrap()
                .read_to_end(&mut back)
                .unwrap();
            assert!(back == text, "{c:?} round trip differs");
        }
    }

    #[test]
    fn what_cannot_be_written_or_read_says_so() {
        assert_eq!(
            check_writable(Compression::Brotli).unwrap_err(),
            "Not implemented compression 'BROTLI': it can be read, not written"
        );
        assert!(check_readable(Compression::Brotli).is_ok());
        assert!(
            check_readable(Compression::Z)
                .unwrap_err()
                .contains("not supported by runner")
        );
        assert!(
            Archive::Ar
                .supported()
                .unwrap_err()
                .contains("use ZIP, JAR or TAR")
        );
    }
}
