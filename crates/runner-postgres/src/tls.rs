//! TLS for PostgreSQL connections with pgjdbc's modes: REQUIRE encrypts without checking the
//! server (or checks the CA when `sslRootCert` is given), VERIFY_CA checks the certificate
//! chain, VERIFY_FULL also the host name. PREFER and ALLOW use TLS when the server offers it.

use crate::connection::SslMode;
use runner_core::plugin::{ErrorKind, TaskError};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{
    CertificateError, DigitallySignedStruct, Error as TlsError, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::sync::Arc;

/// The PEM texts of the task's TLS properties.
#[derive(Default)]
pub(crate) struct TlsMaterial {
    pub(crate) root_cert: Option<String>,
    pub(crate) cert: Option<String>,
    pub(crate) key: Option<String>,
    pub(crate) key_password: Option<String>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Accepts any server certificate (REQUIRE, PREFER, ALLOW), still checking the handshake.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Checks the chain but not the host name (VERIFY_CA).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end: &CertificateDer<'_>,
        inter: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        match self.0.verify_server_cert(end, inter, name, ocsp, now) {
            Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

fn pem_error(property: &str, e: impl std::fmt::Display) -> TaskError {
    TaskError::property(property, format!("not valid PEM: {e}"))
}

/// The TLS client for `mode`, or `None` when the connection is plain (DISABLE).
pub(crate) fn client_config(
    mode: SslMode,
    m: &TlsMaterial,
) -> Result<Option<rustls::ClientConfig>, TaskError> {
    if mode == SslMode::Disable {
        return Ok(None);
    }
    let provider = provider();
    let roots = match &m.root_cert {
        Some(pem) => {
            let mut store = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                store
                    .add(cert.map_err(|e| pem_error("sslRootCert", e))?)
                    .map_err(|e| {
                        TaskError::property(
                            "sslRootCert",
                            format!("not a usable CA certificate: {e}"),
                        )
                    })?;
            }
            if store.is_empty() {
                return Err(TaskError::property(
                    "sslRootCert",
                    "holds no PEM certificate",
                ));
            }
            Some(Arc::new(store))
        }
        None => None,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TaskError::new(ErrorKind::Other, "TLS setup failed").caused_by(e))?;
    let verifier: Arc<dyn ServerCertVerifier> = match (mode, roots) {
        (SslMode::VerifyFull, Some(roots)) => {
            WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| TaskError::property("sslRootCert", e.to_string()))?
        }
        (SslMode::VerifyCa | SslMode::Require, Some(roots)) => Arc::new(ChainOnly(
            WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| TaskError::property("sslRootCert", e.to_string()))?,
        )),
        (SslMode::VerifyFull | SslMode::VerifyCa, None) => {
            return Err(TaskError::property(
                "sslRootCert",
                format!(
                    "sslMode {mode:?} checks the server's certificate: give the CA certificate (PEM text) in `sslRootCert`"
                ),
            ));
        }
        (_, _) => Arc::new(NoVerify(provider.clone())),
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (&m.cert, &m.key) {
        (Some(cert), Some(key)) => {
            if m.key_password.is_some() || key.contains("ENCRYPTED") {
                return Err(TaskError::property(
                    "sslKey",
                    "encrypted client keys are not supported yet: give the key unencrypted (openssl pkey -in key.pem -out plain.pem)",
                ));
            }
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<_, _>>()
                    .map_err(|e| pem_error("sslCert", e))?;
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                .map_err(|e| pem_error("sslKey", e))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                TaskError::property("sslKey", format!("does not match sslCert: {e}"))
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(TaskError::property(
                "sslCert",
                "a client certificate needs both `sslCert` and `sslKey`",
            ));
        }
    };
    Ok(Some(config))
}
