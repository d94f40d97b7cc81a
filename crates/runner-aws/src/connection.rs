//! What the four S3 tasks share: Kestra's connection properties, the credential and endpoint
//! chain (properties, then the standard AWS variables and profile files), and errors that say
//! what to check.

use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use runner_core::plugin::{ErrorKind, NetworkPolicy, Properties, Property, RunContext, TaskError};
use serde::Deserialize;

/// Kestra's connection properties (`AbstractConnection`), plus `bucket`.
#[derive(Deserialize, Properties)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Connection {
    /// The bucket.
    pub(crate) bucket: Property<String>,
    /// AWS region; else AWS_REGION, AWS_DEFAULT_REGION, the profile, or us-east-1.
    region: Option<Property<String>>,
    /// Access key; else AWS_ACCESS_KEY_ID or the profile (masked).
    access_key_id: Option<Property<String>>,
    /// Secret key; else AWS_SECRET_ACCESS_KEY or the profile.
    #[prop(secret)]
    secret_key_id: Option<Property<String>>,
    /// Session token; else AWS_SESSION_TOKEN.
    #[prop(secret)]
    session_token: Option<Property<String>>,
    /// An S3-compatible endpoint; else AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL.
    endpoint_override: Option<Property<String>>,
    /// Path-style addressing (automatic for IP and localhost endpoints).
    force_path_style: Option<Property<bool>>,
    /// Accepted; runner's client needs no special mode.
    #[allow(dead_code)]
    compatibility_mode: Option<Property<bool>>,
    /// AssumeRole: not supported by runner (the task fails saying so).
    sts_role_arn: Option<Property<String>>,
    /// See stsRoleArn.
    #[allow(dead_code)]
    sts_role_external_id: Option<Property<String>>,
    /// See stsRoleArn.
    #[allow(dead_code)]
    sts_role_session_name: Option<Property<String>>,
    /// See stsRoleArn.
    #[allow(dead_code)]
    #[prop(type = "duration")]
    sts_role_session_duration: Option<Property<String>>,
    /// See stsRoleArn.
    #[allow(dead_code)]
    sts_endpoint_override: Option<Property<String>>,
}

/// A client ready for one bucket, and where it points (for messages).
pub(crate) struct S3 {
    pub(crate) client: aws_sdk_s3::Client,
    pub(crate) bucket: String,
    pub(crate) endpoint: String,
    /// Whether upload bodies are signed: over plain HTTP only. Over HTTPS (AWS itself by
    /// default) TLS protects the body, and skipping the signature saves a SHA-256 pass and a
    /// second read of every byte; Kestra's Java SDK makes the same choice.
    pub(crate) sign_payload: bool,
    /// Where the access key and the secret key came from, for messages.
    pub(crate) access_source: String,
    pub(crate) secret_source: String,
    /// What the client was built from: two task runs with equal settings reach the same
    /// bucket as the same identity.
    pub(crate) settings: Settings,
}

/// The rendered connection properties (no `Debug`: it holds the secret key).
#[derive(Clone, PartialEq)]
pub(crate) struct Settings {
    bucket: String,
    access: String,
    secret: String,
    token: Option<String>,
    region: String,
    endpoint: Option<String>,
    path_style: bool,
}

/// How a property was given, for messages: its expression when it has one.
fn source_of(prop: &Option<Property<String>>, name: &str) -> String {
    match prop
        .as_ref()
        .filter(|p| p.is_dynamic())
        .and_then(|p| p.raw().as_str())
    {
        Some(expr) => format!("`{name}` ({expr})"),
        None => format!("`{name}`"),
    }
}

fn profile_value(
    ctx: &RunContext,
    file_var: &str,
    default_file: &str,
    section: &str,
    key: &str,
) -> Option<String> {
    let path = match ctx.env_var(file_var) {
        Some(p) => std::path::PathBuf::from(p),
        None => std::path::PathBuf::from(ctx.env_var("HOME")?)
            .join(".aws")
            .join(default_file),
    };
    let text = std::fs::read_to_string(path).ok()?;
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = name.trim() == section;
        } else if in_section
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().to_string());
        }
    }
    None
}

impl Connection {
    pub(crate) async fn connect(&self, ctx: &RunContext) -> Result<S3, TaskError> {
        if ctx
            .render_opt(&self.sts_role_arn, "stsRoleArn")?
            .is_some_and(|r| !r.trim().is_empty())
        {
            return Err(TaskError::property(
                "stsRoleArn",
                "AssumeRole is not supported by runner: give `accessKeyId`/`secretKeyId`, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a profile with the role's credentials",
            ));
        }
        let bucket = ctx.render(&self.bucket, "bucket")?;
        let profile = ctx.env_var("AWS_PROFILE").unwrap_or("default").to_string();
        let access = ctx
            .render_opt(&self.access_key_id, "accessKeyId")?
            .filter(|s| !s.is_empty());
        let secret = ctx
            .render_opt(&self.secret_key_id, "secretKeyId")?
            .filter(|s| !s.is_empty());
        let token = ctx
            .render_opt(&self.session_token, "sessionToken")?
            .filter(|s| !s.is_empty());
        // Kestra uses the flow's keys only when both are set; otherwise the standard chain.
        let (access, secret, token, access_source, secret_source) = match (access, secret) {
            (Some(a), Some(s)) => (
                a,
                s,
                token,
                source_of(&self.access_key_id, "accessKeyId"),
                source_of(&self.secret_key_id, "secretKeyId"),
            ),
            _ => match (
                ctx.env_var("AWS_ACCESS_KEY_ID"),
                ctx.env_var("AWS_SECRET_ACCESS_KEY"),
            ) {
                (Some(a), Some(s)) => (
                    a.to_string(),
                    s.to_string(),
                    ctx.env_var("AWS_SESSION_TOKEN").map(str::to_string),
                    "AWS_ACCESS_KEY_ID".to_string(),
                    "AWS_SECRET_ACCESS_KEY".to_string(),
                ),
                _ => {
                    let get = |k: &str| {
                        profile_value(
                            ctx,
                            "AWS_SHARED_CREDENTIALS_FILE",
                            "credentials",
                            &profile,
                            k,
                        )
                    };
                    let from_profile =
                        format!("the [{profile}] profile of the AWS credentials file");
                    match (get("aws_access_key_id"), get("aws_secret_access_key")) {
                        (Some(a), Some(s)) => (
                            a,
                            s,
                            get("aws_session_token"),
                            from_profile.clone(),
                            from_profile,
                        ),
                        _ => {
                            return Err(TaskError::property(
                                "accessKeyId",
                                "no AWS credentials: set `accessKeyId` and `secretKeyId` (for example from secrets), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials",
                            ));
                        }
                    }
                }
            },
        };
        ctx.mask(&secret);
        if let Some(t) = &token {
            ctx.mask(t);
        }
        let region = match ctx.render_opt(&self.region, "region")? {
            Some(r) => r,
            None => ctx
                .env_var("AWS_REGION")
                .or_else(|| ctx.env_var("AWS_DEFAULT_REGION"))
                .map(str::to_string)
                .or_else(|| {
                    profile_value(
                        ctx,
                        "AWS_CONFIG_FILE",
                        "config",
                        &if profile == "default" {
                            profile.clone()
                        } else {
                            format!("profile {profile}")
                        },
                        "region",
                    )
                })
                .unwrap_or_else(|| "us-east-1".into()),
        };
        let endpoint = match ctx.render_opt(&self.endpoint_override, "endpointOverride")? {
            Some(e) => Some(e.trim().to_string()),
            None => ctx
                .env_var("AWS_ENDPOINT_URL_S3")
                .or_else(|| ctx.env_var("AWS_ENDPOINT_URL"))
                .map(str::to_string),
        };
        let mut path_style = ctx
            .render_opt(&self.force_path_style, "forcePathStyle")?
            .unwrap_or(false);
        let mut settings = Settings {
            bucket: bucket.clone(),
            access: access.clone(),
            secret: secret.clone(),
            token: token.clone(),
            region: region.clone(),
            endpoint: endpoint.clone(),
            path_style,
        };
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.clone()))
            .credentials_provider(Credentials::new(access, secret, token, None, "runner"))
            // Plain uploads: many S3-compatible servers refuse the SDK's default checksum trailers.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        let shown = match &endpoint {
            Some(e) => {
                let host = host_of(e).ok_or_else(|| {
                    TaskError::property(
                        "endpointOverride",
                        format!("`{e}` is not a URL (for example http://127.0.0.1:9000)"),
                    )
                })?;
                refuse_link_local(ctx.network(), e, &host).await?;
                if host.parse::<std::net::IpAddr>().is_ok()
                    || host
                        .trim_matches(['[', ']'])
                        .parse::<std::net::IpAddr>()
                        .is_ok()
                    || host == "localhost"
                {
                    path_style = true;
                }
                builder = builder.endpoint_url(e);
                e.clone()
            }
            None => format!("s3.{region}.amazonaws.com"),
        };
        builder = builder.force_path_style(path_style);
        // Names are checked again at every connection: one that resolves to a refused
        // address the second time (DNS rebinding) cannot pass.
        let mut http = aws_smithy_http_client::Builder::new().tls_provider(
            aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
            ),
        );
        if !*HAS_NATIVE_ROOTS {
            // No certificate is trusted then: an https:// endpoint fails its handshake with an
            // unknown issuer, instead of the client refusing to exist.
            use aws_smithy_http_client::tls::{TlsContext, TrustStore};
            if let Ok(tls) = TlsContext::builder()
                .with_trust_store(TrustStore::empty())
                .build()
            {
                http = http.tls_context(tls);
            }
        }
        builder = builder.http_client(http.build_with_resolver(GuardedDns(ctx.network())));
        settings.path_style = path_style;
        let sign_payload = endpoint.as_deref().is_some_and(signs_payload);
        Ok(S3 {
            client: aws_sdk_s3::Client::from_conf(builder.build()),
            bucket,
            endpoint: shown,
            sign_payload,
            access_source,
            secret_source,
            settings,
        })
    }
}

/// Whether the machine's trust store holds any root certificate (read once).
static HAS_NATIVE_ROOTS: std::sync::LazyLock<bool> =
    std::sync::LazyLock::new(|| !rustls_native_certs::load_native_certs().certs.is_empty());

/// An endpoint that is not HTTPS gets signed upload bodies.
fn signs_payload(endpoint: &str) -> bool {
    !endpoint.trim().to_ascii_lowercase().starts_with("https://")
}

fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if authority.starts_with('[') {
        authority.split_once(']').map(|(h, _)| format!("{h}]"))?
    } else {
        authority.split(':').next()?.to_string()
    };
    (!host.is_empty()).then_some(host)
}

/// The system resolver, refusing a name any of whose addresses the run's policy refuses; the
/// client connects only to what this returns.
#[derive(Clone, Debug)]
struct GuardedDns(NetworkPolicy);

impl aws_smithy_runtime_api::client::dns::ResolveDns for GuardedDns {
    fn resolve_dns<'a>(
        &'a self,
        name: &'a str,
    ) -> aws_smithy_runtime_api::client::dns::DnsFuture<'a> {
        use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDnsError};
        let policy = self.0;
        DnsFuture::new(async move {
            let addrs: Vec<std::net::IpAddr> = tokio::net::lookup_host((name, 0))
                .await
                .map_err(ResolveDnsError::new)?
                .map(|a| a.ip())
                .collect();
            if let Some(ip) = addrs.iter().find(|ip| !policy.allows(**ip)) {
                return Err(ResolveDnsError::new(format!(
                    "`{name}` resolves to {ip}, a link-local address where cloud instance-metadata services answer; flows may not reach it"
                )));
            }
            Ok(addrs)
        })
    }
}

/// Kestra refuses endpoints that resolve to link-local addresses (instance metadata services).
async fn refuse_link_local(
    policy: NetworkPolicy,
    endpoint: &str,
    host: &str,
) -> Result<(), TaskError> {
    if policy.refused_address(host).await.is_some() {
        return Err(TaskError::property(
            "endpointOverride",
            format!(
                "Endpoint override '{endpoint}' resolves to a link-local address (169.254.0.0/16), which is used by cloud instance-metadata services and is not allowed for security reasons."
            ),
        ));
    }
    Ok(())
}

/// An S3 error as the task reports it. `what` says which object or prefix was involved.
pub(crate) fn describe<E, R>(e: &SdkError<E, R>, s3: &S3, what: &str) -> TaskError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let code = err.code().unwrap_or("");
            let detail = err.message().unwrap_or("");
            match code {
                "NoSuchBucket" => TaskError::new(
                    ErrorKind::NotFound,
                    format!("bucket `{}` does not exist on {}", s3.bucket, s3.endpoint),
                ),
                "NoSuchKey" => TaskError::new(
                    ErrorKind::NotFound,
                    format!(
                        "no object {what} in bucket `{}` on {}",
                        s3.bucket, s3.endpoint
                    ),
                ),
                "SignatureDoesNotMatch" => TaskError::new(
                    ErrorKind::Denied,
                    format!(
                        "{} refused the request signature (SignatureDoesNotMatch)",
                        s3.endpoint
                    ),
                )
                .hint(format!(
                    "the secret key is probably wrong; check {}",
                    s3.secret_source
                )),
                "InvalidAccessKeyId" | "NotSignedUp" => TaskError::new(
                    ErrorKind::Denied,
                    format!("{} does not know the access key ({code})", s3.endpoint),
                )
                .hint(format!("check {}", s3.access_source)),
                "AccessDenied" => TaskError::new(
                    ErrorKind::Denied,
                    format!(
                        "access denied to {what} in bucket `{}` on {} (AccessDenied): {detail}",
                        s3.bucket, s3.endpoint
                    ),
                ),
                "" => TaskError::new(
                    ErrorKind::Remote,
                    format!(
                        "S3 request for {what} failed on {}: {}",
                        s3.endpoint,
                        DisplayErrorContext(e)
                    ),
                ),
                // Some servers send a code and no message: no dangling colon then.
                _ if detail.is_empty() => TaskError::new(
                    ErrorKind::Remote,
                    format!("S3 request for {what} failed on {} ({code})", s3.endpoint),
                ),
                _ => TaskError::new(
                    ErrorKind::Remote,
                    format!(
                        "S3 request for {what} failed on {} ({code}): {detail}",
                        s3.endpoint
                    ),
                ),
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => TaskError::new(
            ErrorKind::Unreachable,
            format!(
                "cannot reach the S3 endpoint {}: {}",
                s3.endpoint,
                DisplayErrorContext(e)
            ),
        )
        .hint("check `endpointOverride` or AWS_ENDPOINT_URL_S3, and that the server runs"),
        other => TaskError::new(
            ErrorKind::Remote,
            format!(
                "S3 request for {what} failed on {}: {}",
                s3.endpoint,
                DisplayErrorContext(other)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_bodies_are_signed_unless_tls_protects_them() {
        assert!(signs_payload("http://127.0.0.1:9000"));
        assert!(signs_payload("minio:9000"));
        assert!(!signs_payload("https://s3.example.com"));
        assert!(!signs_payload(" HTTPS://minio.internal:9000/"));
    }

    #[test]
    fn hosts_from_endpoints() {
        assert_eq!(
            host_of("http://127.0.0.1:9000").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            host_of("https://s3.example.com/").as_deref(),
            Some("s3.example.com")
        );
        assert_eq!(host_of("http://[::1]:9000").as_deref(), Some("[::1]"));
        assert_eq!(
            host_of("http://user:pw@minio:9000").as_deref(),
            Some("minio")
        );
    }

    #[tokio::test]
    async fn link_local_endpoints_are_refused() {
        let policy = NetworkPolicy::default();
        for (endpoint, host) in [
            ("http://169.254.169.254", "169.254.169.254"),
            (
                "http://[::ffff:169.254.169.254]",
                "[::ffff:169.254.169.254]",
            ),
        ] {
            let e = refuse_link_local(policy, endpoint, host)
                .await
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("resolves to a link-local address (169.254.0.0/16)"),
                "{e}"
            );
        }
        assert!(
            refuse_link_local(policy, "http://127.0.0.1:9000", "127.0.0.1")
                .await
                .is_ok()
        );
        let open = NetworkPolicy {
            allow_link_local: true,
        };
        assert!(
            refuse_link_local(open, "http://169.254.169.254", "169.254.169.254")
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn the_client_resolver_applies_the_policy_at_each_connection() {
        use aws_smithy_runtime_api::client::dns::ResolveDns;
        let guard = GuardedDns(NetworkPolicy::default());
        assert!(!guard.resolve_dns("localhost").await.unwrap().is_empty());
        // A name that resolves to a link-local address (from /etc/hosts would be the usual
        // route; a literal reaches the same check).
        let err = guard.resolve_dns("169.254.169.254").await.unwrap_err();
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("link-local"), "{source}");
    }
}
