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
    let encoded = runner_secrets::env_file::encode(&entries);
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
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let mut file = options.open(path)?;
        // An existing file keeps its mode on open: set it.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        return file.write_all(bytes);
    }
    #[allow(unreachable_code)]
    options.open(path)?.write_all(bytes)
}
