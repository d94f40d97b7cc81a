//! Kestra's mail tasks: `io.kestra.plugin.email.MailSend` and `MailExecution` over SMTP (and
//! their `io.kestra.plugin.notifications.mail` names), `SendGridMailSend` and
//! `SendGridMailExecution` over SendGrid's v3 API (and their
//! `io.kestra.plugin.notifications.sendgrid` names).
//!
//! The SMTP message is written by runner (`mime`) and streamed to the server: attachments and
//! embedded images are read from storage in blocks while they are sent, never held whole.
//! SendGrid's API takes one JSON document, so its attachments are held, and bounded.

mod attachments;
mod mime;
mod sendgrid;
mod smtp;
mod summary;

use runner_core::plugin::TaskDescriptor;

pub const TASKS: &[TaskDescriptor] = &[
    smtp::MAIL_SEND,
    smtp::MAIL_EXECUTION,
    sendgrid::SENDGRID_MAIL_SEND,
    sendgrid::SENDGRID_MAIL_EXECUTION,
];
