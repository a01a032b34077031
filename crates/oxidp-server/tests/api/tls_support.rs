//! A throwaway PKI (rcgen) and the real server over HTTPS on 127.0.0.1:0, for the TLS and
//! mutual-TLS suites: every test makes real handshakes over loopback with reqwest (rustls),
//! presenting a client certificate as an identity when it wants to.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use oxidp_core::clock::{Clock, SystemClock};
use oxidp_core::store::{MemoryStore, Stores};
use oxidp_server::Server;
use oxidp_server::config::{Config, TlsConfig};
use oxidp_server::tls::ServerCertificate;
use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use std::path::PathBuf;
use std::sync::Arc;
use tempfile::TempDir;

/// A certificate and its key, as PEM, and the certificate's DER.
#[derive(Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl Issued {
    /// The certificate and key as a reqwest identity (what a client presents).
    pub fn identity(&self) -> reqwest::Identity {
        reqwest::Identity::from_pem(format!("{}{}", self.cert_pem, self.key_pem).as_bytes())
            .unwrap()
    }

    /// `x5t#S256`.
    pub fn x5t(&self) -> String {
        oxidp_core::certificates::thumbprint(&self.der)
    }

    /// The `x5c` entry of a JWK (standard base64 of the DER).
    pub fn x5c(&self) -> String {
        STANDARD.encode(&self.der)
    }
}

/// A certificate authority that issues server and client certificates.
pub struct Pki {
    params: CertificateParams,
    key: KeyPair,
    pub ca_pem: String,
}

impl Pki {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_pem = params.self_signed(&key).unwrap().pem();
        Self {
            params,
            key,
            ca_pem,
        }
    }

    fn issue(&self, params: &CertificateParams) -> Issued {
        let key = KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    /// The server's certificate: `localhost` and 127.0.0.1.
    pub fn server(&self) -> Issued {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(&params)
    }

    /// A client certificate `CN=<cn>,O=oxidp tests` with these SANs.
    pub fn client(&self, cn: &str, sans: Vec<SanType>) -> Issued {
        self.issue(&client_params(cn, sans))
    }

    /// A client certificate that expired yesterday.
    pub fn expired_client(&self, cn: &str) -> Issued {
        let mut params = client_params(cn, Vec::new());
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(30);
        params.not_after = now - time::Duration::days(1);
        self.issue(&params)
    }
}

fn client_params(cn: &str, sans: Vec<SanType>) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "oxidp tests");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.subject_alt_names = sans;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params
}

/// A self-signed client certificate (`self_signed_tls_client_auth`).
pub fn self_signed_client(cn: &str) -> Issued {
    let key = KeyPair::generate().unwrap();
    let cert = client_params(cn, Vec::new()).self_signed(&key).unwrap();
    Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

pub fn dns(name: &str) -> SanType {
    SanType::DnsName(name.try_into().unwrap())
}

pub fn uri(value: &str) -> SanType {
    SanType::URI(value.try_into().unwrap())
}

pub fn email(value: &str) -> SanType {
    SanType::Rfc822Name(value.try_into().unwrap())
}

/// The real server, over HTTPS unless started with [`TlsServer::plain`].
pub struct TlsServer {
    /// `https://127.0.0.1:PORT` (or `http://` in plain mode).
    pub base: String,
    /// `https://127.0.0.1:PORT` of the separate mTLS listener, when configured.
    pub mtls_base: Option<String>,
    pub pki: Pki,
    pub dir: Arc<TempDir>,
    pub certificate: Option<Arc<ServerCertificate>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl TlsServer {
    /// The server over HTTPS with `toml`, its certificate issued by `pki`, `pki` as the CA of
    /// `tls_client_auth`, and the configuration changed by `adjust`.
    pub async fn start(pki: Pki, toml: &str, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_with(pki, toml, true, adjust).await
    }

    /// The server over plain HTTP (behind a proxy), `pki` still the CA of `tls_client_auth`.
    pub async fn plain(pki: Pki, toml: &str, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_with(pki, toml, false, adjust).await
    }

    async fn start_with(
        pki: Pki,
        toml: &str,
        https: bool,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let dir = Arc::new(TempDir::new().unwrap());
        let mut config = Config::from_toml(toml).unwrap();
        config.server.listen = ([127, 0, 0, 1], 0).into();
        let ca_file = write(&dir, "ca.pem", &pki.ca_pem);
        config.server.mtls.client_ca_file = Some(ca_file);
        if https {
            let server = pki.server();
            config.server.tls = Some(TlsConfig {
                certificate_file: write(&dir, "server.pem", &server.cert_pem),
                private_key_file: write(&dir, "server.key", &server.key_pem),
            });
        }
        adjust(&mut config);
        let stores = Stores::from_backend(Arc::new(MemoryStore::default()));
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let server = Server::build_with(config, stores, clock)
            .await
            .expect("the server builds");
        let scheme = if https { "https" } else { "http" };
        let base = format!("{scheme}://{}", server.address());
        let mtls_base = server.mtls_address().map(|a| format!("https://{a}"));
        let certificate = server.tls_certificate();
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Self {
            base,
            mtls_base,
            pki,
            dir,
            certificate,
            _shutdown: shutdown,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A client that trusts the test CA, presents `identity` when asked, follows no redirects.
    pub fn client(&self, identity: Option<&Issued>) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(self.pki.ca_pem.as_bytes()).unwrap()])
            .redirect(reqwest::redirect::Policy::none());
        if let Some(identity) = identity {
            builder = builder.identity(identity.identity());
        }
        builder.build().unwrap()
    }

    /// POSTs a token request for `client_id` (no secret) over a connection presenting
    /// `identity`.
    pub async fn client_credentials(
        &self,
        identity: Option<&Issued>,
        client_id: &str,
    ) -> reqwest::Response {
        self.client(identity)
            .post(self.url("/connect/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("scope", "orders.read"),
            ])
            .send()
            .await
            .unwrap()
    }
}

/// Writes `content` to `name` in `dir` and returns the path.
pub fn write(dir: &TempDir, name: &str, content: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    path
}
