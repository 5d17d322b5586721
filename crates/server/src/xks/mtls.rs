//! Optional mutual TLS for the XKS proxy API (the specification's
//! "Authentication" section): a client certificate chained to a configured
//! CA with a configured subject common name, `cks.kms.<region>.amazonaws.com`
//! for AWS KMS. The listener also serves the KMS API, whose clients have no
//! certificate, so the certificate is optional at the handshake; but one
//! that is presented and chains elsewhere or names another subject ends the
//! handshake, and an XKS request over a connection without one is refused
//! (`AuthenticationFailedException`).

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::tls::TlsError;

/// A verifier that also requires the end-entity certificate's subject CN.
#[derive(Debug)]
struct SubjectVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    subject_cn: String,
}

/// Whether the DER certificate's subject has common name `cn` (and no other).
fn subject_is(cert: &CertificateDer<'_>, cn: &str) -> bool {
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return false;
    };
    let names: Vec<&str> = parsed
        .subject()
        .iter_common_name()
        .filter_map(|a| a.as_str().ok())
        .collect();
    names == [cn]
}

impl ClientCertVerifier for SubjectVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if !subject_is(end_entity, &self.subject_cn) {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The client certificate verifier for `--xks-client-ca` (PEM, one or more
/// CA certificates) and `--xks-client-subject`.
pub fn client_verifier(
    ca_pem: &Path,
    subject_cn: &str,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    use rustls::pki_types::pem::PemObject;
    if subject_cn.is_empty() {
        return Err(TlsError::Config(
            "the client subject must not be empty".into(),
        ));
    }
    let pem = std::fs::read(ca_pem).map_err(|source| TlsError::Io {
        path: ca_pem.to_path_buf(),
        source,
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| TlsError::Config(format!("{}: {e}", ca_pem.display())))?;
        roots
            .add(cert)
            .map_err(|e| TlsError::Config(format!("{}: {e}", ca_pem.display())))?;
    }
    if roots.is_empty() {
        return Err(TlsError::Config(format!(
            "{}: no CA certificate",
            ca_pem.display()
        )));
    }
    let inner = WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
    )
    .allow_unauthenticated()
    .build()
    .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Arc::new(SubjectVerifier {
        inner,
        subject_cn: subject_cn.to_owned(),
    }))
}
