//! HTTPS with rustls (aws-lc-rs): the server certificate, re-read on demand (SIGHUP) without
//! dropping connections, and a client-certificate verifier for mutual TLS.
//!
//! The verifier asks for a client certificate but does not require one, and accepts any
//! certificate, self-signed included: rustls still checks the handshake signature, so the
//! peer proves it holds the certificate's private key. Whether the certificate is *trusted*
//! is the core's decision per client (`tls_client_auth` chains it to the configured CAs,
//! `self_signed_tls_client_auth` compares it with the registered one); the chain is handed to
//! the request as `PeerInfo::client_certificates`.

use anyhow::{Context as _, bail};
use oxidp_core::certificates::MAX_CHAIN_LENGTH;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The crypto provider of every TLS endpoint: the one stack the server already uses.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The server certificate and key, as files and as loaded; [`reload`](Self::reload) swaps them
/// for new handshakes while open connections keep theirs.
pub struct ServerCertificate {
    certificate_file: PathBuf,
    private_key_file: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerCertificate")
            .field("certificate_file", &self.certificate_file)
            .finish_non_exhaustive()
    }
}

impl ServerCertificate {
    /// Loads the certificate chain (PEM, leaf first) and its private key (PEM: PKCS#8, PKCS#1
    /// or SEC1). Missing, unreadable, mismatched or expired files are an error naming the file.
    pub fn load(certificate_file: &Path, private_key_file: &Path) -> anyhow::Result<Self> {
        let key = load_certified_key(certificate_file, private_key_file)?;
        Ok(Self {
            certificate_file: certificate_file.to_owned(),
            private_key_file: private_key_file.to_owned(),
            current: RwLock::new(Arc::new(key)),
        })
    }

    /// Re-reads the files. On any error the certificate in use stays, and the error is
    /// returned (and logged by the caller).
    pub fn reload(&self) -> anyhow::Result<()> {
        let key = load_certified_key(&self.certificate_file, &self.private_key_file)?;
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *current = Arc::new(key);
        tracing::info!(file = %self.certificate_file.display(), "TLS certificate reloaded");
        Ok(())
    }

    /// The DER of the certificate served now (leaf).
    pub fn current_leaf(&self) -> Vec<u8> {
        let current = self
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        current.cert.first().map(|c| c.to_vec()).unwrap_or_default()
    }
}

impl ResolvesServerCert for ServerCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(current.clone())
    }
}

fn load_certified_key(
    certificate_file: &Path,
    private_key_file: &Path,
) -> anyhow::Result<CertifiedKey> {
    let cert_pem = std::fs::read(certificate_file).with_context(|| {
        format!(
            "cannot read the TLS certificate file {}",
            certificate_file.display()
        )
    })?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| {
            format!(
                "the TLS certificate file {} is not valid PEM",
                certificate_file.display()
            )
        })?;
    let Some(leaf) = chain.first() else {
        bail!(
            "the TLS certificate file {} holds no CERTIFICATE",
            certificate_file.display()
        );
    };
    check_validity(leaf, certificate_file)?;
    let key_pem = std::fs::read(private_key_file).with_context(|| {
        format!(
            "cannot read the TLS private key file {}",
            private_key_file.display()
        )
    })?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        anyhow::anyhow!(
            "the TLS private key file {} holds no usable private key: {e}",
            private_key_file.display()
        )
    })?;
    let certified = CertifiedKey::from_der(chain, key, &provider()).map_err(|e| {
        anyhow::anyhow!(
            "the TLS private key {} does not match the certificate {}: {e}",
            private_key_file.display(),
            certificate_file.display()
        )
    })?;
    Ok(certified)
}

/// An expired (or not yet valid) server certificate is refused at start-up and on reload,
/// rather than served to clients that would all fail.
fn check_validity(leaf: &CertificateDer<'_>, file: &Path) -> anyhow::Result<()> {
    let (_, certificate) = x509_parser::parse_x509_certificate(leaf).map_err(|e| {
        anyhow::anyhow!(
            "the TLS certificate in {} does not parse: {e}",
            file.display()
        )
    })?;
    let validity = certificate.validity();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if validity.not_after.timestamp() < now {
        bail!(
            "the TLS certificate in {} expired on {}",
            file.display(),
            validity.not_after
        );
    }
    if validity.not_before.timestamp() > now {
        bail!(
            "the TLS certificate in {} is not valid before {}",
            file.display(),
            validity.not_before
        );
    }
    Ok(())
}

/// Asks for a client certificate without requiring one; accepts any certificate whose
/// handshake signature verifies (see the module documentation).
#[derive(Debug)]
struct OptionalClientCertificate {
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for OptionalClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hint: a self-signed certificate is as welcome as a CA-issued one.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if intermediates.len() >= MAX_CHAIN_LENGTH {
            return Err(rustls::Error::General(
                "client certificate chain too long".into(),
            ));
        }
        // The certificate must at least parse; trust is decided per client by the core.
        x509_parser::parse_x509_certificate(end_entity).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The rustls configuration of a listener: TLS 1.3 and 1.2 only, ALPN `h2` and `http/1.1`,
/// the (reloadable) server certificate, and — when `ask_for_client_certificates` — an offer
/// of client authentication that the client may decline.
pub fn server_config(
    certificate: Arc<ServerCertificate>,
    ask_for_client_certificates: bool,
) -> anyhow::Result<ServerConfig> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("the TLS protocol versions")?;
    let builder = if ask_for_client_certificates {
        builder.with_client_cert_verifier(Arc::new(OptionalClientCertificate { provider }))
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_cert_resolver(certificate);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
