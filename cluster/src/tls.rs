//! Optional TLS for cluster links: the coordinator presents a certificate, workers check it against
//! a CA file; optionally workers present certificates too, checked against the coordinator's client
//! CA. The cookie still authenticates nodes; TLS keeps frames and detections private.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::ClusterError;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn tls_err(path: &Path, e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Tls(format!("{}: {e}", path.display()))
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClusterError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| tls_err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err(path, e))?;
    if certs.is_empty() {
        return Err(tls_err(path, "no PEM certificate in the file"));
    }
    Ok(certs)
}

fn roots(ca: &Path) -> Result<rustls::RootCertStore, ClusterError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(ca)? {
        roots.add(cert).map_err(|e| tls_err(ca, e))?;
    }
    Ok(roots)
}

/// The coordinator's side: its certificate chain and private key, both PEM, and the CA that must
/// have signed every worker's certificate, when workers are to present one.
pub fn acceptor(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<TlsAcceptor, ClusterError> {
    let chain = certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| tls_err(key, e))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClusterError::Tls(e.to_string()))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider())
                    .build()
                    .map_err(|e| tls_err(ca, e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(chain, key).map_err(|e| tls_err(cert, e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A worker's side: the CA (PEM) that signed the coordinator's certificate, the name the
/// certificate must carry, and this worker's own certificate chain and key when the coordinator
/// asks for one.
pub fn connector(
    ca: &Path,
    server_name: &str,
    client: Option<(&Path, &Path)>,
) -> Result<(TlsConnector, ServerName<'static>), ClusterError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClusterError::Tls(e.to_string()))?
        .with_root_certificates(roots(ca)?);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = certificates(cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| tls_err(key, e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| tls_err(cert, e))?
        }
    };
    let name = ServerName::try_from(server_name.to_string())
        .map_err(|_| ClusterError::Tls(format!("'{server_name}' is not a valid TLS server name")))?;
    Ok((TlsConnector::from(Arc::new(config)), name))
}
