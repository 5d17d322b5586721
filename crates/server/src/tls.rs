//! TLS for `strongroom dev --tls`: a private CA and a server certificate for
//! localhost, kept in the data directory. The CA key is discarded once the
//! server certificate is issued, so nothing can mint more certificates.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// Why TLS material could not be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// The PEM files could not be used.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The files a TLS server uses.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// CA certificate, for clients (`AWS_CA_BUNDLE`).
    pub ca_cert: PathBuf,
    /// Server certificate chain.
    pub server_cert: PathBuf,
    /// Server private key (mode 0600).
    pub server_key: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), TlsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(io(path))?;
    f.write_all(data).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// A listener's TLS configuration (rustls), as `ServerConfig::tls` takes it.
pub type ServerTls = Arc<rustls::ServerConfig>;

/// Loads the dev TLS files in `dir`, generating them on first use.
pub fn dev_certificates(dir: &Path) -> Result<TlsFiles, TlsError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let files = TlsFiles {
        ca_cert: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
    };
    if files.ca_cert.exists() && files.server_cert.exists() && files.server_key.exists() {
        return Ok(files);
    }
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "Strongroom dev CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf_key = KeyPair::generate()?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;

    write_file(&files.ca_cert, ca_cert.pem().as_bytes(), 0o644)?;
    write_file(
        &files.server_cert,
        format!("{}{}", leaf_cert.pem(), ca_cert.pem()).as_bytes(),
        0o644,
    )?;
    write_file(
        &files.server_key,
        leaf_key.serialize_pem().as_bytes(),
        0o600,
    )?;
    Ok(files)
}

/// A rustls server configuration (HTTP/2 and HTTP/1.1 by ALPN) from PEM files.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    server_config_with_clients(cert, key, None)
}

/// [`server_config`], verifying the client certificates clients present
/// with `clients` (the XKS proxy API's mTLS, `crate::xks::mtls`).
pub fn server_config_with_clients(
    cert: &Path,
    key: &Path,
    clients: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |p: &Path, e: rustls::pki_types::pem::Error| {
        TlsError::Config(format!("{}: {e}", p.display()))
    };
    let certs = CertificateDer::pem_slice_iter(&fs::read(cert).map_err(io(cert))?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(cert, e))?;
    let key =
        PrivateKeyDer::from_pem_slice(&fs::read(key).map_err(io(key))?).map_err(|e| bad(key, e))?;
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| TlsError::Config(e.to_string()))?;
    let cfg = match clients {
        Some(v) => cfg.with_client_cert_verifier(v),
        None => cfg.with_no_client_auth(),
    };
    let mut cfg = cfg
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
