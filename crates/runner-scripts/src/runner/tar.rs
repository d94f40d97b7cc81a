//! The tar archives the engine's archive endpoints take and give: a writer for the working
//! directory (copied into the container's volume) and a reader for what comes back. Only
//! folders, regular files and symbolic links are written; only folders and regular files are
//! read back, each checked to land inside the working directory without passing a link.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

const BLOCK: usize = 512;

/// Who owns the entries inside the container (the Docker `user`, when it is numeric).
#[derive(Clone, Copy, Default)]
pub(crate) struct Owner {
    pub(crate) uid: u64,
    pub(crate) gid: u64,
}

impl Owner {
    /// `uid` or `uid:gid`; a user name leaves root, which the image resolves.
    pub(crate) fn of(user: Option<&str>) -> Owner {
        let Some(user) = user else {
            return Owner::default();
        };
        let (u, g) = user.split_once(':').unwrap_or((user, ""));
        let uid = u.parse().unwrap_or(0);
        Owner {
            uid,
            gid: g.parse().unwrap_or(uid),
        }
    }
}

/// Writes `root` as the folder `top` and everything under it to `out`.
pub(crate) fn write_dir(
    root: &Path,
    top: &str,
    owner: Owner,
    out: &mut impl Write,
) -> io::Result<()> {
    // The folder itself first, so that it belongs to the container's user too.
    header(
        out,
        &format!("{top}/"),
        b'5',
        0,
        mode_of(&std::fs::metadata(root)?),
        owner,
        "",
    )?;
    let top = Path::new(top);
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut names: Vec<_> = std::fs::read_dir(root.join(&rel))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        names.sort();
        for name in names {
            let rel = rel.join(name);
            let path = root.join(&rel);
            let meta = std::fs::symlink_metadata(&path)?;
            let named = top.join(&rel);
            let Some(shown) = named.to_str() else {
                // Tar names are bytes, but a container image's tools expect UTF-8.
                continue;
            };
            let mode = mode_of(&meta);
            if meta.is_dir() {
                header(out, &format!("{shown}/"), b'5', 0, mode, owner, "")?;
                stack.push(rel);
            } else if meta.is_file() {
                header(out, shown, b'0', meta.len(), mode, owner, "")?;
                let copied = io::copy(&mut File::open(&path)?.take(meta.len()), out)?;
                if copied != meta.len() {
                    return Err(io::Error::other(format!(
                        "`{shown}` changed while it was copied"
                    )));
                }
                pad(out, copied)?;
            } else if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path)?;
                header(out, shown, b'2', 0, mode, owner, &target.to_string_lossy())?;
            }
        }
    }
    out.write_all(&[0; BLOCK * 2])
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

fn pad(out: &mut impl Write, size: u64) -> io::Result<()> {
    let rest = (BLOCK - (size as usize % BLOCK)) % BLOCK;
    out.write_all(&[0; BLOCK][..rest])
}

/// One entry's header, preceded by a PAX header when the name, the link or the size do not
/// fit the classic fields.
fn header(
    out: &mut impl Write,
    name: &str,
    kind: u8,
    size: u64,
    mode: u32,
    owner: Owner,
    link: &str,
) -> io::Result<()> {
    let mut pax = String::new();
    if name.len() > 100 {
        pax_record(&mut pax, "path", name);
    }
    if link.len() > 100 {
        pax_record(&mut pax, "linkpath", link);
    }
    if size > 0o77777777777 {
        pax_record(&mut pax, "size", &size.to_string());
    }
    if !pax.is_empty() {
        let block = classic(
            "././@PaxHeader",
            b'x',
            pax.len() as u64,
            0o644,
            Owner::default(),
            "",
        );
        out.write_all(&block)?;
        out.write_all(pax.as_bytes())?;
        pad(out, pax.len() as u64)?;
    }
    out.write_all(&classic(name, kind, size, mode, owner, link))
}

fn pax_record(pax: &mut String, key: &str, value: &str) {
    // The record's length counts its own digits.
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while (len.to_string().len() + body.len()) != len {
        len = len.to_string().len() + body.len();
    }
    pax.push_str(&format!("{len}{body}"));
}

fn classic(name: &str, kind: u8, size: u64, mode: u32, owner: Owner, link: &str) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    put(&mut h[0..100], name.as_bytes());
    octal(&mut h[100..108], mode as u64);
    octal(&mut h[108..116], owner.uid.min(0o7777777));
    octal(&mut h[116..124], owner.gid.min(0o7777777));
    octal(&mut h[124..136], size.min(0o77777777777));
    octal(&mut h[136..148], 0);
    h[156] = kind;
    put(&mut h[157..257], link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    octal(&mut h[148..155], sum as u64);
    h
}

fn put(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

/// What reading an archive back did.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Extracted {
    pub(crate) files: usize,
    /// Entries not written: links, devices, names outside the folder or through a link.
    pub(crate) skipped: Vec<String>,
}

/// Extracts `input` into `root`, dropping each name's first component (the archived folder
/// itself). Existing files are replaced; a link in the way is removed, never followed.
pub(crate) fn extract(input: &mut impl Read, root: &Path) -> io::Result<Extracted> {
    let mut done = Extracted::default();
    let mut long_name: Option<String> = None;
    let mut pax_path: Option<String> = None;
    let mut pax_size: Option<u64> = None;
    let mut block = [0u8; BLOCK];
    loop {
        if !read_block(input, &mut block)? || block.iter().all(|&b| b == 0) {
            return Ok(done);
        }
        verify_checksum(&block)?;
        let kind = block[156];
        let size = pax_size
            .take()
            .map_or_else(|| number(&block[124..136]), Ok)?;
        let name = pax_path
            .take()
            .or(long_name.take())
            .unwrap_or_else(|| classic_name(&block));
        match kind {
            b'x' | b'L' => {
                let text = read_text(input, size)?;
                if kind == b'L' {
                    long_name = Some(text.trim_end_matches('\0').to_string());
                } else {
                    for (key, value) in pax_records(&text) {
                        match key {
                            "path" => pax_path = Some(value.to_string()),
                            "size" => {
                                pax_size = Some(value.parse().map_err(|_| {
                                    invalid(format!("a PAX size `{value}` is not a number"))
                                })?)
                            }
                            _ => {}
                        }
                    }
                }
            }
            b'0' | 0 | b'7' | b'5' => {
                let target = target_of(root, &name);
                match (kind, target) {
                    (b'5', Some(dir)) => {
                        if dir != root {
                            make_dir(&dir)?;
                        }
                    }
                    (b'5', None) => done.skipped.push(name),
                    (_, Some(file)) if file != root => {
                        if let Some(parent) = file.parent() {
                            make_dir(parent)?;
                        }
                        if std::fs::symlink_metadata(&file).is_ok_and(|m| !m.is_file()) {
                            remove_any(&file)?;
                        }
                        let mut f = File::create(&file)?;
                        let copied = io::copy(&mut input.take(size), &mut f)?;
                        if copied != size {
                            return Err(invalid("the archive ends inside a file".into()));
                        }
                        skip(input, padding(size))?;
                        done.files += 1;
                        set_mode(&file, &block);
                        continue;
                    }
                    _ => done.skipped.push(name),
                }
                skip(input, size + padding(size))?;
            }
            _ => {
                if !matches!(kind, b'g' | b'K') {
                    done.skipped.push(name);
                }
                skip(input, size + padding(size))?;
            }
        }
    }
}

fn read_block(input: &mut impl Read, block: &mut [u8; BLOCK]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < BLOCK {
        match input.read(&mut block[filled..])? {
            0 if filled == 0 => return Ok(false),
            0 => return Err(invalid("the archive ends inside a header".into())),
            n => filled += n,
        }
    }
    Ok(true)
}

fn verify_checksum(block: &[u8; BLOCK]) -> io::Result<()> {
    let stored = number(&block[148..156])?;
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as u64
            }
        })
        .sum();
    if stored != sum {
        return Err(invalid("a header's checksum is wrong".into()));
    }
    Ok(())
}

fn number(field: &[u8]) -> io::Result<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // GNU base-256, for sizes past 8 GiB.
        let mut v: u64 = (field[0] & 0x7f) as u64;
        for &b in &field[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(b as u64))
                .ok_or_else(|| invalid("a number in a header is too large".into()))?;
        }
        return Ok(v);
    }
    let text: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8).map_err(|_| invalid(format!("`{text}` is not an octal number")))
}

fn classic_name(block: &[u8; BLOCK]) -> String {
    let field = |r: std::ops::Range<usize>| {
        let b = &block[r];
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    };
    let name = field(0..100);
    let prefix = if &block[257..262] == b"ustar" {
        field(345..500)
    } else {
        String::new()
    };
    if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    }
}

fn read_text(input: &mut impl Read, size: u64) -> io::Result<String> {
    if size > 1 << 20 {
        return Err(invalid("an extended header is larger than 1 MiB".into()));
    }
    let mut buf = Vec::with_capacity(size as usize);
    input.take(size).read_to_end(&mut buf)?;
    skip(input, padding(size))?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn pax_records(text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some((len, _)) = rest.split_once(' ') {
        let Ok(n) = len.parse::<usize>() else { break };
        if n == 0 || n > rest.len() {
            break;
        }
        let record = &rest[len.len() + 1..n];
        if let Some((k, v)) = record.trim_end_matches('\n').split_once('=') {
            out.push((k, v));
        }
        rest = &rest[n..];
    }
    out
}

fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

fn skip(input: &mut impl Read, n: u64) -> io::Result<()> {
    let skipped = io::copy(&mut input.take(n), &mut io::sink())?;
    if skipped != n {
        return Err(invalid("the archive ends early".into()));
    }
    Ok(())
}

/// Where `name` goes under `root` once its first component is dropped, or None when it
/// would leave `root` or pass through a link.
fn target_of(root: &Path, name: &str) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    for (i, c) in Path::new(name).components().enumerate() {
        match c {
            Component::Normal(_) if i == 0 => {}
            Component::CurDir => {}
            Component::Normal(part) => {
                if path != root && std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_dir()) {
                    return None;
                }
                path.push(part);
            }
            _ => return None,
        }
    }
    Some(path)
}

fn make_dir(dir: &Path) -> io::Result<()> {
    if std::fs::symlink_metadata(dir).is_ok_and(|m| !m.is_dir()) {
        remove_any(dir)?;
    }
    std::fs::create_dir_all(dir)
}

fn remove_any(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(_) => Ok(()),
    }
}

fn set_mode(file: &Path, block: &[u8; BLOCK]) {
    #[cfg(unix)]
    if let Ok(mode) = number(&block[100..108]) {
        use std::os::unix::fs::PermissionsExt;
        // Owner read and write always: runner uploads the file afterwards.
        let mode = (mode as u32 & 0o777) | 0o600;
        let _ = std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode));
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "runner-tar-{name}-{}",
            runner_core::ids::friendly_id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_folder_goes_round_the_archive() {
        // The engine gives a folder back under its own name: `wd/...`.
        let wd = scratch("src");
        let long = "d".repeat(120);
        std::fs::create_dir_all(wd.join("sub").join(&long)).unwrap();
        std::fs::write(wd.join("a.txt"), "alpha").unwrap();
        std::fs::write(wd.join("sub").join(&long).join("b.bin"), vec![7u8; 1000]).unwrap();
        std::fs::write(wd.join("empty"), "").unwrap();
        let mut archive = Vec::new();
        write_dir(&wd, "wd", Owner::default(), &mut archive).unwrap();
        assert_eq!(archive.len() % BLOCK, 0);
        let dst = scratch("dst");
        let done = extract(&mut archive.as_slice(), &dst).unwrap();
        assert_eq!(done.files, 3, "{done:?}");
        assert!(done.skipped.is_empty(), "{done:?}");
        assert_eq!(std::fs::read_to_string(dst.join("a.txt")).unwrap(), "alpha");
        assert_eq!(
            std::fs::read(dst.join("sub").join(&long).join("b.bin")).unwrap(),
            vec![7u8; 1000]
        );
        assert_eq!(std::fs::read(dst.join("empty")).unwrap(), b"");
        std::fs::remove_dir_all(&dst).unwrap();
        std::fs::remove_dir_all(&wd).unwrap();
    }

    #[test]
    fn names_that_leave_the_folder_or_pass_a_link_are_skipped() {
        let dst = scratch("hostile");
        let outside = scratch("outside");
        std::os::unix::fs::symlink(&outside, dst.join("link")).unwrap();
        let mut archive = Vec::new();
        for name in ["wd/../../escape", "wd/link/inside", "/abs"] {
            archive.extend_from_slice(&classic(name, b'0', 1, 0o644, Owner::default(), ""));
            archive.extend_from_slice(b"x");
            archive.extend_from_slice(&[0; BLOCK - 1]);
        }
        archive.extend_from_slice(&classic("wd/ok", b'2', 0, 0o777, Owner::default(), "/etc"));
        archive.extend_from_slice(&[0; BLOCK * 2]);
        let done = extract(&mut archive.as_slice(), &dst).unwrap();
        assert_eq!(done.files, 0);
        assert_eq!(done.skipped.len(), 4, "{done:?}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        assert!(!dst.join("ok").exists());
        std::fs::remove_dir_all(&dst).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }

    #[test]
    fn a_damaged_archive_is_an_error() {
        let mut h = classic("wd/f", b'0', 10, 0o644, Owner::default(), "");
        h[0] ^= 1;
        let err = extract(&mut h.as_slice(), &scratch("bad")).unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
        let h = classic("wd/f", b'0', 10, 0o644, Owner::default(), "");
        let mut short = h.to_vec();
        short.extend_from_slice(b"abc");
        let err = extract(&mut short.as_slice(), &scratch("short")).unwrap_err();
        assert!(err.to_string().contains("ends inside a file"), "{err}");
    }

    #[test]
    fn pax_records_count_their_own_length() {
        let mut pax = String::new();
        pax_record(&mut pax, "path", &"p".repeat(95));
        let (len, _) = pax.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), pax.len());
        assert_eq!(pax_records(&pax), vec![("path", "p".repeat(95).as_str())]);
    }

    #[test]
    fn owners_come_from_numeric_users() {
        let o = Owner::of(Some("1000:50"));
        assert_eq!((o.uid, o.gid), (1000, 50));
        let o = Owner::of(Some("1000"));
        assert_eq!((o.uid, o.gid), (1000, 1000));
        let o = Owner::of(Some("nobody"));
        assert_eq!((o.uid, o.gid), (0, 0));
    }
}
