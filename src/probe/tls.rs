//! TLS for the mail probes: the rustls, crypto provider and platform verifier reqwest uses
//! (the system's roots), plus the extra CAs of `ca_file` (corporate TLS inspection, tests).
use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_rustls::TlsConnector;

/// The certificates of a PEM file, or why not (unreadable, too large, no certificate in it).
/// At most `limits::MAX_CA_FILE` is read: `ca_file = "/dev/zero"` once took `config check`
/// to 24 GB.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    use std::io::Read;
    let limit = crate::limits::MAX_CA_FILE;
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut pem))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if pem.len() as u64 > limit {
        return Err(format!(
            "{} is longer than {} MiB, the most connwatch reads of a CA file; is it the right file?",
            path.display(),
            limit >> 20
        ));
    }
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.map(CertificateDer::into_owned))
        .collect();
    let certs = certs.map_err(|e| format!("{} is not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// A connector trusting the platform's roots and `extra`.
pub fn connector(extra: Vec<CertificateDer<'static>>) -> Result<TlsConnector, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
            .map_err(|e| format!("cannot load the system's trusted roots: {e}"))?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// A TLS failure in words, naming the host: an untrusted certificate, a name mismatch, or a
/// peer that does not speak TLS at all.
pub fn describe(host: &str, port: u16, err: &std::io::Error) -> String {
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(c)) => {
            let why = match c {
                rustls::CertificateError::UnknownIssuer => {
                    "is signed by a CA that neither the system nor ca_file trusts".to_owned()
                }
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. } => {
                    format!("is not valid for the name {host}")
                }
                rustls::CertificateError::Expired
                | rustls::CertificateError::ExpiredContext { .. } => "has expired".to_owned(),
                other => format!("was refused: {other:?}"),
            };
            format!("the TLS certificate of {host}:{port} {why}")
        }
        Some(rustls::Error::InvalidMessage(_))
        | Some(rustls::Error::InappropriateMessage { .. }) => {
            format!("{host}:{port} does not speak TLS (a plain-text port?)")
        }
        Some(other) => format!("TLS with {host}:{port} failed: {other}"),
        None => format!("TLS with {host}:{port} failed: {err}"),
    }
}
