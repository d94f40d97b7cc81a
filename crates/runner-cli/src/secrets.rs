//! `runner secrets encode`: a plain `.env` to the `SECRET_NAME=<base64>` file Kestra reads.

use crate::exit;
use std::io::Write;
use std::path::Path;

/// `runner secrets encode`: plain values to SECRET_NAME=base64, one unwrapped line each.
pub(crate) fn encode(input: &Path, output: &Path, force: bool) -> u8 {
    let text = match crate::files::read_text(input) {
        Ok(t) => t,
        Err(e) => return crate::report(e, exit::FAILED),
    };
    let entries = match runner_secrets::env_file::parse(&text) {
        Ok(e) => e,
        Err(e) => {
            return crate::report(
                format!("{}:{}: {}", input.display(), e.line, e.message),
                exit::FAILED,
            );
        }
    };
    if output.exists() && !force {
        return crate::report(
            format!("`{}` exists: pass --force to replace it", output.display()),
            exit::FAILED,
        );
    }
    let encoded = match runner_secrets::env_file::encode(&entries) {
        Ok(e) => e,
        Err(e) => {
            return crate::report(
                format!("{}:{}: {}", input.display(), e.line, e.message),
                exit::FAILED,
            );
        }
    };
    if let Err(e) = write_private(output, encoded.as_bytes()) {
        return crate::report(
            format!("cannot write `{}`: {e}", output.display()),
            exit::FAILED,
        );
    }
    crate::say!(
        "wrote {} secret(s) to {} (mode 0600): pass it with --env-file {}",
        entries.len(),
        output.display(),
        output.display()
    );
    exit::SUCCESS
}

/// Writes a file only its owner can read.
/// Writes `bytes` to a new file beside `path` (mode 0600), then renames it over `path`: a link
/// at `path` is replaced, never written through (`--force` on a link to another file would
/// otherwise overwrite that file with secrets), and a reader never sees half a file.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(
        ".{name}.{}.writing",
        runner_core::ids::friendly_id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options
        .open(&temporary)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// `runner secrets encrypt`: what `encode` writes, encrypted with age to the recipients
/// given, or to an identity of runner's own (made the first time, mode 0600).
pub(crate) fn encrypt(
    input: &Path,
    output: &Path,
    recipients: &[String],
    recipient_files: &[std::path::PathBuf],
    force: bool,
) -> u8 {
    let text = match crate::files::read_text(input) {
        Ok(t) => t,
        Err(e) => return crate::report(e, exit::FAILED),
    };
    let entries = match runner_secrets::env_file::parse(&text) {
        Ok(e) => e,
        Err(e) => {
            return crate::report(
                format!("{}:{}: {}", input.display(), e.line, e.message),
                exit::FAILED,
            );
        }
    };
    if output.exists() && !force {
        return crate::report(
            format!("`{}` exists: pass --force to replace it", output.display()),
            exit::FAILED,
        );
    }
    let mut files = Vec::new();
    for path in recipient_files {
        match crate::files::read_text(path) {
            Ok(t) => files.push((path.clone(), t)),
            Err(e) => return crate::report(e, exit::FAILED),
        }
    }
    let mut to = match runner_secrets::age::recipients(recipients, &files) {
        Ok(r) => r,
        Err(e) => return crate::report(e, exit::FAILED),
    };
    if to.is_empty() {
        match own_recipient() {
            Ok(r) => to.push(r),
            Err(e) => return crate::report(e, exit::FAILED),
        }
    }
    let encoded = match runner_secrets::env_file::encode(&entries) {
        Ok(e) => e,
        Err(e) => {
            return crate::report(
                format!("{}:{}: {}", input.display(), e.line, e.message),
                exit::FAILED,
            );
        }
    };
    let sealed = match runner_secrets::age::encrypt(encoded.as_bytes(), &to) {
        Ok(s) => s,
        Err(e) => return crate::report(e, exit::FAILED),
    };
    if let Err(e) = write_private(output, &sealed) {
        return crate::report(
            format!("cannot write `{}`: {e}", output.display()),
            exit::FAILED,
        );
    }
    crate::say!(
        "wrote {} secret(s) to {} for {} recipient(s): pass it with --env-file {}",
        entries.len(),
        output.display(),
        to.len(),
        output.display()
    );
    exit::SUCCESS
}

/// The recipient of runner's own identity file, which is made (mode 0600) when missing.
fn own_recipient() -> Result<runner_secrets::age::Recipient, String> {
    let path = crate::files::default_identity()
        .ok_or("no home directory for runner's identity: give recipients with -r or -R")?;
    if path.exists() {
        let text = crate::files::read_text(&path)?;
        return runner_secrets::age::recipient_of(&path, &text).map_err(|e| e.to_string());
    }
    let (identity, recipient) = runner_secrets::age::generate();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    }
    write_private(&path, identity.bytes())
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    crate::say!(
        "made an age identity in {} (mode 0600): keep it, it is the only way to decrypt; its recipient is {recipient}",
        path.display()
    );
    Ok(recipient)
}
