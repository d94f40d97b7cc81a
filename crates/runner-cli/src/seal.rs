//! Keeping runner's credentials out of its process image. A script a flow runs is untrusted
//! code, often as the same user: it could read `/proc/<runner>/environ` (the environment runner
//! was started with, which unsetting a variable does not change) and `/proc/<runner>/cmdline`
//! (which names the env files). So when runner is started with credentials in its environment
//! (`SECRET_*`, `ENV_*`, `AWS_*`, `KESTRA_*`, `RUNNER_AGE_IDENTITY`) or with `--env-file` or
//! `--identity` paths, it starts itself again at once: the credentials and the paths go to the
//! new image through an anonymous in-memory file (memfd), emptied as soon as it is read, and
//! the new image's environment and command line hold none of them. It then makes itself
//! non-dumpable, so another process of the same user cannot read its memory or environment.
//! Linux only; elsewhere nothing changes.

use std::ffi::OsString;
use std::sync::OnceLock;

/// The variable that tells the second start where the sealed values are.
const SEALED_FD: &str = "RUNNER_SEALED_FD";

/// What the first start handed over.
#[derive(Default, Debug)]
struct Sealed {
    /// The credential variables, out of the environment.
    vars: Vec<(String, String)>,
    /// The paths given to `--env-file` and `--identity`, out of the command line.
    paths: Vec<OsString>,
}

static SEALED: OnceLock<Sealed> = OnceLock::new();

/// Whether a variable holds, or may hold, a credential.
pub(crate) fn is_credential(name: &str) -> bool {
    ["SECRET_", "ENV_", "AWS_", "KESTRA_"]
        .iter()
        .any(|p| name.starts_with(p))
        || name == "RUNNER_AGE_IDENTITY"
}

/// The options whose value is a path to seal.
const PATH_OPTIONS: &[&str] = &["--env-file", "--identity"];

/// The process's variables, the sealed ones included (what runner's own code reads instead
/// of `std::env::vars`).
pub(crate) fn vars() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k != SEALED_FD).collect();
    if let Some(s) = SEALED.get() {
        out.extend(s.vars.iter().cloned());
    }
    out
}

/// One variable, sealed or not.
pub(crate) fn var(name: &str) -> Option<String> {
    if let Some(s) = SEALED.get()
        && let Some((_, v)) = s.vars.iter().find(|(k, _)| k == name)
    {
        return Some(v.clone());
    }
    std::env::var(name).ok()
}

/// The credential variables, for a child `runner` this one starts (it seals them again).
pub(crate) fn credential_vars() -> Vec<(String, String)> {
    vars()
        .into_iter()
        .filter(|(k, _)| is_credential(k))
        .collect()
}

/// The command line, with sealed paths put back: called before parsing it. On the first start
/// with something to seal, this does not return (the process starts again).
pub(crate) fn args() -> Vec<OsString> {
    let args: Vec<OsString> = std::env::args_os().collect();
    #[cfg(target_os = "linux")]
    {
        match std::env::var(SEALED_FD) {
            Ok(fd) => return linux::unseal(&fd, args),
            Err(_) => linux::reseal(&args),
        }
    }
    #[allow(unreachable_code)]
    args
}

/// `sealed:<n>`, the stand-in for a path in the second start's command line.
fn stand_in(n: usize) -> String {
    format!("sealed:{n}")
}

fn encode(s: &Sealed) -> Vec<u8> {
    let mut out = Vec::new();
    let mut put = |bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    };
    put(&(s.vars.len() as u64).to_le_bytes());
    for (k, v) in &s.vars {
        put(k.as_bytes());
        put(v.as_bytes());
    }
    for p in &s.paths {
        put(p.as_encoded_bytes());
    }
    out
}

fn decode(mut bytes: &[u8]) -> Option<Sealed> {
    let mut take = || -> Option<Vec<u8>> {
        let len = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as usize;
        let item = bytes.get(8..8 + len)?.to_vec();
        bytes = &bytes[8 + len..];
        Some(item)
    };
    let count = u64::from_le_bytes(take()?.try_into().ok()?) as usize;
    let mut sealed = Sealed::default();
    for _ in 0..count {
        let k = String::from_utf8(take()?).ok()?;
        let v = String::from_utf8(take()?).ok()?;
        sealed.vars.push((k, v));
    }
    while let Some(p) = take() {
        sealed.paths.push(std::str::from_utf8(&p).ok()?.into());
    }
    Some(sealed)
}

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use std::io::{Read, Seek, Write};
    use std::os::unix::process::CommandExt;

    /// The first start: if there is anything to seal, start again without it.
    pub(super) fn reseal(args: &[OsString]) {
        let vars: Vec<(String, String)> =
            std::env::vars().filter(|(k, _)| is_credential(k)).collect();
        let mut paths = Vec::new();
        let mut new_args = Vec::with_capacity(args.len());
        let mut iter = args.iter().peekable();
        while let Some(a) = iter.next() {
            let text = a.to_str().unwrap_or_default();
            if PATH_OPTIONS.contains(&text)
                && let Some(value) = iter.next()
            {
                new_args.push(a.clone());
                new_args.push(stand_in(paths.len()).into());
                paths.push(value.clone());
                continue;
            }
            if let Some((option, value)) = text.split_once('=')
                && PATH_OPTIONS.contains(&option)
            {
                new_args.push(format!("{option}={}", stand_in(paths.len())).into());
                paths.push(value.into());
                continue;
            }
            new_args.push(a.clone());
        }
        if vars.is_empty() && paths.is_empty() {
            return;
        }
        // Anything that fails here leaves runner as it was started: less private, still right.
        let Ok(fd) = rustix::fs::memfd_create("runner-sealed", rustix::fs::MemfdFlags::empty())
        else {
            return;
        };
        let mut file = std::fs::File::from(fd);
        let sealed = Sealed { vars, paths };
        if file.write_all(&encode(&sealed)).is_err() || file.rewind().is_err() {
            return;
        }
        let fd_number = std::os::fd::AsRawFd::as_raw_fd(&file);
        let Some((arg0, rest)) = new_args.split_first() else {
            return;
        };
        let mut command = std::process::Command::new("/proc/self/exe");
        command.arg0(arg0).args(rest).env_clear();
        for (k, v) in std::env::vars_os() {
            if !k.to_str().is_some_and(is_credential) {
                command.env(k, v);
            }
        }
        command.env(SEALED_FD, fd_number.to_string());
        // Only returns on failure.
        let _ = command.exec();
    }

    /// The second start: read the sealed values, empty the memfd, put the paths back.
    pub(super) fn unseal(fd: &str, args: Vec<OsString>) -> Vec<OsString> {
        let path = format!("/proc/self/fd/{}", fd.trim());
        let mut bytes = Vec::new();
        let read = std::fs::File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes));
        // Emptied: the descriptor stays open (closing it by number takes unsafe code), and
        // processes runner starts could inherit it; now it holds nothing.
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&path) {
            let _ = f.set_len(0);
        }
        let sealed = read.ok().and_then(|_| decode(&bytes)).unwrap_or_default();
        // Wiped before it is dropped: it held every credential.
        bytes.iter_mut().for_each(|b| *b = 0);
        let _ =
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
        let args = args
            .into_iter()
            .map(|a| put_back(a, &sealed.paths))
            .collect();
        let _ = SEALED.set(sealed);
        args
    }

    fn put_back(arg: OsString, paths: &[OsString]) -> OsString {
        let Some(text) = arg.to_str() else {
            return arg;
        };
        for (i, p) in paths.iter().enumerate() {
            let stand_in = stand_in(i);
            if text == stand_in {
                return p.clone();
            }
            if let Some((option, value)) = text.split_once('=')
                && value == stand_in
            {
                let mut out = OsString::from(format!("{option}="));
                out.push(p);
                return out;
            }
        }
        arg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_round_trip() {
        let s = Sealed {
            vars: vec![
                ("SECRET_A".into(), "aGVsbG8=".into()),
                ("AWS_SECRET_ACCESS_KEY".into(), "k=v\nw".into()),
            ],
            paths: vec![".env_encoded".into(), "/tmp/id.txt".into()],
        };
        let back = decode(&encode(&s)).unwrap();
        assert_eq!(back.vars, s.vars);
        assert_eq!(back.paths, s.paths);
        assert!(decode(&[1, 2, 3]).is_none());
    }

    #[test]
    fn credentials_are_known_by_name() {
        for name in [
            "SECRET_X",
            "ENV_Y",
            "AWS_SECRET_ACCESS_KEY",
            "KESTRA_API_TOKEN",
            "RUNNER_AGE_IDENTITY",
        ] {
            assert!(is_credential(name), "{name}");
        }
        for name in ["PATH", "HOME", "RUNNER_STORAGE", "LANG"] {
            assert!(!is_credential(name), "{name}");
        }
    }
}
