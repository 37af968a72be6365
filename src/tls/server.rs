//! Tessera's own TLS listener (SPEC §9): rustls on the aws-lc-rs provider. Client
//! certificates are requested but optional, and any certificate is accepted in the handshake
//! (a self-signed one serves `self_signed_tls_client_auth`), as long as the client proves it
//! holds the certificate's key (the handshake signature is checked as always). Whether the
//! chain verifies to `tls.client_ca` is decided after the handshake, once per connection, and
//! recorded in [`ClientCertificate::chains_to_ca`].

use super::ClientCertificate;
use crate::config::TlsSettings;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// One TLS listener's handshake: its rustls configuration and the CA check applied to the
/// certificate a client presents.
pub struct TlsEndpoint {
    /// The configured acceptor.
    acceptor: TlsAcceptor,
    /// Verifies a client chain to `tls.client_ca` (validity, `clientAuth` usage); `None`
    /// without a CA, when no certificate chains.
    client_ca: Option<Arc<dyn ClientCertVerifier>>,
}

impl std::fmt::Debug for TlsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsEndpoint")
            .field("client_ca", &self.client_ca.is_some())
            .finish_non_exhaustive()
    }
}

impl TlsEndpoint {
    /// Runs the handshake on `io` and reads the client's certificate, if it sent one.
    pub async fn accept<IO>(
        &self,
        io: IO,
    ) -> std::io::Result<(TlsStream<IO>, Option<Arc<ClientCertificate>>)>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let stream = self.acceptor.accept(io).await?;
        let chain = stream.get_ref().1.peer_certificates();
        let cert = chain
            .and_then(|c| c.split_first())
            .and_then(|(leaf, intermediates)| {
                let chains = self.client_ca.as_ref().is_some_and(|v| {
                    v.verify_client_cert(leaf, intermediates, UnixTime::now())
                        .is_ok()
                });
                ClientCertificate::parse(leaf.as_ref(), chains).map(Arc::new)
            });
        Ok((stream, cert))
    }
}

/// The TLS side of a server: `listen`'s endpoint and, with `tls.listen`, the mutual-TLS one.
#[derive(Debug)]
pub struct TlsServer {
    /// For `listen`: asks for client certificates unless `mtls` is set.
    pub main: Arc<TlsEndpoint>,
    /// For `tls.listen`: asks for client certificates.
    pub mtls: Option<Arc<TlsEndpoint>>,
}

/// Accepts any client certificate whose handshake signature verifies; the CA check is
/// [`TlsEndpoint::accept`]'s.
#[derive(Debug)]
struct AnyClientCertificate {
    /// Signature algorithms of the provider, for the handshake signature.
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    /// No CA names: a client offers the certificate it has, self-signed ones included
    /// (RFC 8705 §2.2 allows an empty list).
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Something we cannot read is refused in the handshake rather than carried along.
        match ClientCertificate::parse(end_entity.as_ref(), false) {
            Some(_) => Ok(ClientCertVerified::assertion()),
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadEncoding,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Reads the certificates of a PEM file; `what` names the setting in errors.
fn read_certs(what: &str, path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{what} {path}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what} {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what} {path}: no PEM CERTIFICATE in the file"));
    }
    Ok(certs)
}

/// The rustls configuration of one listener.
fn server_config(
    certs: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
    ask_for_certificates: bool,
) -> Result<ServerConfig, String> {
    let provider = provider();
    let algs = provider.signature_verification_algorithms;
    let builder = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = if ask_for_certificates {
        builder.with_client_cert_verifier(Arc::new(AnyClientCertificate { algs }))
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder
        .with_single_cert(certs.to_vec(), key.clone_key())
        .map_err(|e| format!("tls.cert / tls.key: {e}"))?;
    // The accept loop serves HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The CA check of `tls.client_ca`.
fn client_ca(path: &str) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certs("tls.client_ca", path)? {
        roots
            .add(cert)
            .map_err(|e| format!("tls.client_ca {path}: {e}"))?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .allow_unauthenticated()
        .build()
        .map_err(|e| format!("tls.client_ca {path}: {e}"))
}

impl TlsServer {
    /// Reads `tls.*`: `None` without `tls.cert`; an error naming the setting and the file for
    /// anything unreadable or inconsistent (a key that is not the certificate's included).
    pub fn from_settings(tls: &TlsSettings) -> Result<Option<TlsServer>, String> {
        if !tls.enabled() {
            return Ok(None);
        }
        let certs = read_certs("tls.cert", &tls.cert)?;
        let key = PrivateKeyDer::from_pem_file(&tls.key)
            .map_err(|e| format!("tls.key {}: {e}", tls.key))?;
        let ca = if tls.client_ca.is_empty() {
            None
        } else {
            Some(client_ca(&tls.client_ca)?)
        };
        let endpoint = |ask: bool| -> Result<Arc<TlsEndpoint>, String> {
            Ok(Arc::new(TlsEndpoint {
                acceptor: TlsAcceptor::from(Arc::new(server_config(&certs, &key, ask)?)),
                client_ca: ca.clone(),
            }))
        };
        let separate = !tls.listen.is_empty();
        Ok(Some(TlsServer {
            main: endpoint(!separate)?,
            mtls: if separate {
                Some(endpoint(true)?)
            } else {
                None
            },
        }))
    }
}
