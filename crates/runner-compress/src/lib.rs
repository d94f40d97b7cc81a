//! Kestra's `io.kestra.plugin.compress` tasks: `ArchiveCompress`, `ArchiveDecompress`,
//! `FileCompress` and `FileDecompress`. ZIP, JAR and TAR archives, wrapped or not in a stream
//! compressor (GZIP, BZIP2, XZ, LZMA, ZSTD, LZ4 and Snappy frames, DEFLATE; BROTLI read only),
//! in pure Rust. Every byte streams through a fixed buffer on a blocking thread that stops
//! when the task is cancelled; an entry that would escape the output (zip-slip) and a
//! decompression bomb are refused, and a failed task leaves no file behind.

mod codec;
mod compress;
mod decompress;
mod stream;

use runner_core::plugin::TaskDescriptor;

/// The compression task types.
pub const TASKS: &[TaskDescriptor] = &[
    compress::ARCHIVE_COMPRESS,
    decompress::ARCHIVE_DECOMPRESS,
    compress::FILE_COMPRESS,
    decompress::FILE_DECOMPRESS,
];
