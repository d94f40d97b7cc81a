//! Kestra's S3 tasks, `io.kestra.plugin.aws.s3.Upload`, `Download`, `List`, `Delete` and
//! `CreateBucket`, on
//! aws-sdk-s3 without aws-config: credentials and endpoints come from the flow, then from the
//! standard AWS variables and profile files, read through the run context. And `AwsCLI`, the
//! AWS CLI on the script kit.

mod cli;
mod connection;
mod create_bucket;
mod delete;
mod download;
mod list;
mod upload;

use runner_core::plugin::TaskDescriptor;

/// The S3 task types.
pub const TASKS: &[TaskDescriptor] = &[
    upload::UPLOAD,
    download::DOWNLOAD,
    list::LIST,
    delete::DELETE,
    create_bucket::CREATE_BUCKET,
    cli::AWS_CLI,
];
