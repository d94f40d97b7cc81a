//! Kestra's `io.kestra.plugin.fs` remote tasks: `ssh.Command` (commands on a remote host) and
//! the file tasks of `sftp`, `ftp` and `ftps` (Upload, Uploads, Download, Downloads, List,
//! Delete, Move), on pure-Rust clients: russh and russh-sftp for SSH and SFTP, suppaftp (tokio,
//! rustls) for FTP and FTPS. One crate, as in Kestra's plugin-fs: SFTP shares the SSH
//! connection (host keys, password and key authentication) with `ssh.Command`, and the three
//! file protocols share every task (`vfs`) through one `Remote` interface (`remote`).

mod command;
mod ftp;
mod remote;
mod sftp;
mod ssh;
mod vfs;

use runner_core::plugin::TaskDescriptor;

/// The seven file tasks of one protocol, as `UPLOAD`, `UPLOADS`... in module `$module`, each
/// with `$connection`'s properties and an example reaching `$example` (connection lines).
macro_rules! protocol {
    ($module:ident, $package:literal, $label:literal, $connection:ty, $example:literal) => {
        pub(crate) mod $module {
            use crate::vfs;
            use runner_core::plugin::{TaskDescriptor, runnable};

            pub(crate) const UPLOAD: TaskDescriptor = TaskDescriptor {
                type_name: concat!("io.kestra.plugin.fs.", $package, ".Upload"),
                aliases: &[],
                doc: concat!(
                    "Upload a `kestra://` file to an ",
                    $label,
                    " server, streamed, through a temporary name renamed when complete."
                ),
                example: concat!(
                    "id: upload\ntype: io.kestra.plugin.fs.",
                    $package,
                    ".Upload\n",
                    $example,
                    "from: \"{{ outputs.extract.uri }}\"\nto: /upload/report.csv"
                ),
                shape: runnable::<vfs::Upload<$connection>>(),
            };
            pub(crate) const UPLOADS: TaskDescriptor = TaskDescriptor {
                type_name: concat!("io.kestra.plugin.fs.", $package, ".Uploads"),
                aliases: &[],
                doc: concat!(
                    "Upload several `kestra://` files into a folder of an ",
                    $label,
                    " server."
                ),
                example: concat!(
                    "id: uploads\ntype: io.kestra.plugin.fs.",
                    $package,
                    ".Uploads\n",
                    $example,
                    "from:\n  - \"{{ outputs.extract.uri }}\"\nto: /upload/"
                ),
                shape: runnable::<vfs::Uploads<$connection>>(),
            };
            pub(crate) const DOWNLOAD: TaskDescriptor = TaskDescriptor {
                type_name: concat!("io.kestra.plugin.fs.", $package, ".Download"),
                aliases: &[],
                doc: concat!(
                    "Download a file from an ",
                    $label,
                    " server into the execution's storage, streamed, with its checksum."
                ),
                example: concat!(
                    "id: download\ntype: io.kestra.plugin.fs.",
                    $package,
                    ".Download\n",
                    $example,
                    "from: /upload/report.csv"
                ),
                shape: runnable::<vfs::Download<$connection>>(),
            };
            pub(crate) const DOWNLOADS: TaskDescriptor = TaskDescriptor {
                type_name: concat!("io.kestra.plugin.fs.", $package, ".Downloads"),
                aliases: &[],
                doc: concat!(
                    "Download the files of a folder of an ",
                    $label,
                    " server, then optionally move or delete them there."
                ),
                example: concat!(
                    "id: downloads\ntype: io.kestra.plugin.fs.",
                    $package,
                    ".Downloads\n",
                    $example,
                    "from: /inbox/\nregExp: \".*\\\\.csv\"\naction: MOVE\nmoveDirectory: /archive/"
                ),
                shape: runnable::<vfs::Downloads<$connection>>(),
            };
            pub(crate) const LIST: TaskDescriptor = TaskDescriptor {
                type_name: concat!("io.kestra.plugin.fs.", $package, ".List"),
                aliases: &[],
                doc: concat!("List the files of a folder of an ", $label, " server."),
                example: concat!(
                    "id: list\ntype: io.kestra.plugin.fs.",
                    $package,
                    ".List\n",
                    $example,
                    "from: /inbox/\nrecursive: true\nsort: NAME_ASC"
                ),
                shape: runnable::<vfs::List<$connection>>(),
            };
            pub(crate) const DELETE: TaskDescriptor = TaskDescriptor {
                type_name: concat!("io.kestra.plugin.fs.", $package, ".Delete"),
                aliases: &[],
                doc: concat!(
                    "Delete a file or folder of an ",
                    $label,
                    " server, or the files of a folder that match a regular expression."
                ),
                example: concat!(
                    "id: delete\ntype: io.kestra.plugin.fs.",
                    $package,
                    ".Delete\n",
                    $example,
                    "uri: /upload/report.csv"
                ),
                shape: runnable::<vfs::Delete<$connection>>(),
            };
            pub(crate) const MOVE: TaskDescriptor = TaskDescriptor {
                type_name: concat!("io.kestra.plugin.fs.", $package, ".Move"),
                aliases: &[],
                doc: concat!("Move (rename) a file or folder on an ", $label, " server."),
                example: concat!(
                    "id: move\ntype: io.kestra.plugin.fs.",
                    $package,
                    ".Move\n",
                    $example,
                    "from: /upload/report.csv\nto: /archive/"
                ),
                shape: runnable::<vfs::Move<$connection>>(),
            };
        }
    };
}

protocol!(
    sftp_tasks,
    "sftp",
    "SFTP",
    crate::sftp::SftpConnection,
    "host: localhost\nport: \"2222\"\nusername: deploy\npassword: \"{{ secret('SFTP_PASSWORD') }}\"\n"
);
protocol!(
    ftp_tasks,
    "ftp",
    "FTP",
    crate::ftp::FtpConnection,
    "host: localhost\nport: \"2121\"\nusername: deploy\npassword: \"{{ secret('FTP_PASSWORD') }}\"\n"
);
protocol!(
    ftps_tasks,
    "ftps",
    "FTPS",
    crate::ftp::FtpsConnection,
    "host: localhost\nport: \"2121\"\nusername: deploy\npassword: \"{{ secret('FTP_PASSWORD') }}\"\nmode: EXPLICIT\n"
);

/// The remote task types.
pub const TASKS: &[TaskDescriptor] = &[
    command::COMMAND,
    sftp_tasks::UPLOAD,
    sftp_tasks::UPLOADS,
    sftp_tasks::DOWNLOAD,
    sftp_tasks::DOWNLOADS,
    sftp_tasks::LIST,
    sftp_tasks::DELETE,
    sftp_tasks::MOVE,
    ftp_tasks::UPLOAD,
    ftp_tasks::UPLOADS,
    ftp_tasks::DOWNLOAD,
    ftp_tasks::DOWNLOADS,
    ftp_tasks::LIST,
    ftp_tasks::DELETE,
    ftp_tasks::MOVE,
    ftps_tasks::UPLOAD,
    ftps_tasks::UPLOADS,
    ftps_tasks::DOWNLOAD,
    ftps_tasks::DOWNLOADS,
    ftps_tasks::LIST,
    ftps_tasks::DELETE,
    ftps_tasks::MOVE,
];
