//! The mTLS sample (RFC 8705), in three parts:
//!
//! 1. [`Pki::generate`]: a throwaway CA, a server certificate for `localhost`/127.0.0.1 and two
//!    client certificates (`orders-client`, the registered one, and `other-client`), written as
//!    PEM files, plus an oxidp configuration ([`oxidp_config`]) that serves HTTPS, asks for
//!    client certificates on a separate mTLS listener and registers `orders-client` for
//!    `tls_client_auth` with certificate-bound access tokens.
//! 2. [`serve_api`]: an API over TLS that asks for client certificates, validates access tokens
//!    with `oxidp-api-auth` and refuses a bound token unless the connection presented its
//!    certificate ([`CertificateBinding`]).
//! 3. [`run`]: the machine client, with `oxidp-client`: discovery (taking the
//!    `mtls_endpoint_aliases`), a client-credentials token authenticated by its certificate,
//!    the API called with it — and the same token replayed over a connection with the other
//!    certificate, which the API refuses.

use anyhow::Context as _;
use axum::Extension;
use axum::Router;
use axum::routing::get;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use oxidp_api_auth::{
    CertificateBinding, ClientCertificate, RequireAccessToken, ValidatedToken, Validator,
    ValidatorOptions,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// The API resource the sample's API is.
pub const API: &str = "orders-api";

/// Where the sample's PEM files are.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The directory holding them.
    pub dir: PathBuf,
}

impl Pki {
    /// Generates the CA, the server certificate and two client certificates into `dir`.
    pub fn generate(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let ca_key = KeyPair::generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name = rcgen::DistinguishedName::new();
        ca.distinguished_name
            .push(DnType::CommonName, "mtls sample CA (throwaway)");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
        let write = |name: &str, content: &str| -> anyhow::Result<()> {
            let path = dir.join(name);
            std::fs::write(&path, content)
                .with_context(|| format!("cannot write {}", path.display()))
        };
        write("ca.pem", &ca_cert.pem())?;

        let mut server = CertificateParams::new(vec!["localhost".to_owned()])?;
        server
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate()?;
        write("server.pem", &server.signed_by(&server_key, &issuer)?.pem())?;
        write("server.key", &server_key.serialize_pem())?;

        for name in ["orders-client", "other-client"] {
            let mut client = CertificateParams::new(Vec::<String>::new())?;
            client.distinguished_name = rcgen::DistinguishedName::new();
            client
                .distinguished_name
                .push(DnType::OrganizationName, "mtls sample");
            client.distinguished_name.push(DnType::CommonName, name);
            client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            let key = KeyPair::generate()?;
            let cert = client.signed_by(&key, &issuer)?;
            write(
                &format!("{name}.pem"),
                &format!("{}{}", cert.pem(), key.serialize_pem()),
            )?;
        }
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// A file of the PKI.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A client's certificate and key as a reqwest identity.
    pub fn identity(&self, client: &str) -> anyhow::Result<reqwest::Identity> {
        let pem = std::fs::read(self.path(&format!("{client}.pem")))?;
        Ok(reqwest::Identity::from_pem(&pem)?)
    }

    /// The sample CA, for clients that must trust the server and the API.
    pub fn ca(&self) -> anyhow::Result<reqwest::Certificate> {
        Ok(reqwest::Certificate::from_pem(&std::fs::read(
            self.path("ca.pem"),
        )?)?)
    }
}

/// The oxidp configuration: HTTPS on `listen`, the mTLS host on `mtls_listen`, the sample CA
/// for `tls_client_auth`, and `orders-client` registered by its subject DN with bound tokens.
pub fn oxidp_config(pki: &Pki, listen: &str, mtls_listen: &str) -> String {
    let file = |name: &str| pki.path(name).display().to_string().replace('\\', "/");
    format!(
        r#"
[server]
listen = "{listen}"

[server.tls]
certificate_file = "{server}"
private_key_file = "{key}"

[server.mtls]
listen = "{mtls_listen}"
client_ca_file = "{ca}"

[[api_resources]]
name = "{API}"
scopes = ["orders.read"]

[[clients]]
client_id = "orders-client"
tls_client_auth_subject_dn = "CN=orders-client,O=mtls sample"
tls_client_certificate_bound_access_tokens = true
allowed_grant_types = ["client_credentials"]
allowed_scopes = ["orders.read"]
access_token_lifetime = "5m"
"#,
        server = file("server.pem"),
        key = file("server.key"),
        ca = file("ca.pem"),
    )
}

/// The API: `GET /orders` for tokens with `orders.read` that are bound to the caller's
/// certificate, served over TLS on `listener`. The TLS layer asks for a client certificate
/// from the sample CA (without requiring one) and records it for the binding check.
pub async fn serve_api(listener: TcpListener, pki: Pki, issuer: String) -> anyhow::Result<()> {
    let validator =
        Validator::new(ValidatorOptions::new(issuer, API).trust_root_certificate(pki.ca()?))?
            .with_check(CertificateBinding::direct());
    let app: Router = Router::new()
        .route(
            "/orders",
            get(|Extension(token): Extension<ValidatedToken>| async move {
                axum::Json(serde_json::json!({
                    "orders": ["#1001", "#1002"],
                    "client_id": token.claims().get("client_id"),
                }))
            }),
        )
        .layer(RequireAccessToken::new(validator).require_scopes(["orders.read"]));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(api_tls(&pki)?));
    loop {
        let (stream, _) = listener.accept().await?;
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(stream).await else {
                return;
            };
            let certificate = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|leaf| ClientCertificate(leaf.to_vec()));
            let service = app.map_request(move |mut request: hyper::Request<_>| {
                if let Some(certificate) = &certificate {
                    request.extensions_mut().insert(certificate.clone());
                }
                request.map(axum::body::Body::new)
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .await;
        });
    }
}

/// The API's TLS: its certificate (the sample's server certificate), and client certificates
/// asked for, verified against the sample CA, not required (the token check decides).
fn api_tls(pki: &Pki) -> anyhow::Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(pki.path("ca.pem"))? {
        roots.add(cert?)?;
    }
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .allow_unauthenticated()
            .build()?;
    let chain =
        CertificateDer::pem_file_iter(pki.path("server.pem"))?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(pki.path("server.key"))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    Ok(config)
}

/// What the walk-through saw.
#[derive(Debug)]
pub struct Outcome {
    /// The issuer (the main host, which never asks for a certificate).
    pub issuer: String,
    /// The token endpoint the client used (the mTLS alias).
    pub token_endpoint: String,
    /// The token's `cnf["x5t#S256"]`.
    pub bound_to: Option<String>,
    /// The status of the API call with the client's own certificate.
    pub with_own_certificate: u16,
    /// The status of the same token replayed with the other certificate.
    pub with_other_certificate: u16,
    /// The `WWW-Authenticate` of that refusal.
    pub refusal: Option<String>,
}

/// The machine client's walk-through against the issuer and the API.
pub async fn run(pki: &Pki, issuer: &str, api: &str) -> anyhow::Result<Outcome> {
    let http = reqwest::Client::builder()
        .tls_certs_only([pki.ca()?])
        .identity(pki.identity("orders-client")?)
        .build()?;
    let client = oxidp_client::OAuthClient::builder_with_certificate(
        "orders-client",
        pki.identity("orders-client")?,
    )
    .http_client(http.clone())
    .discover(issuer)
    .await?;
    let tokens = oxidp_client::ClientCredentialsManager::builder(client.clone())
        .scope("orders.read")
        .build();
    let token = tokens.get_token().await?;
    let bound_to = jwt_claims(token.access_token.secret())
        .and_then(|claims| claims["cnf"]["x5t#S256"].as_str().map(str::to_owned));
    let orders = format!("{api}/orders");
    let own = http
        .get(&orders)
        .bearer_auth(token.access_token.secret())
        .send()
        .await?;
    let thief = reqwest::Client::builder()
        .tls_certs_only([pki.ca()?])
        .identity(pki.identity("other-client")?)
        .build()?;
    let stolen = thief
        .get(&orders)
        .bearer_auth(token.access_token.secret())
        .send()
        .await?;
    Ok(Outcome {
        issuer: issuer.to_owned(),
        token_endpoint: client.token_endpoint().to_string(),
        bound_to,
        with_own_certificate: own.status().as_u16(),
        with_other_certificate: stolen.status().as_u16(),
        refusal: stolen
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    })
}

fn jwt_claims(token: &str) -> Option<serde_json::Value> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Runs everything in-process: oxidp (over HTTPS, with its mTLS host), the API, and the
/// client's walk-through. Files go to `dir`.
pub async fn demo(dir: &Path) -> anyhow::Result<Outcome> {
    let pki = Pki::generate(dir)?;
    let mut config =
        oxidp_server::config::Config::from_toml(&oxidp_config(&pki, "127.0.0.1:0", "127.0.0.1:0"))?;
    config.store.url = format!("sqlite://{}", dir.join("oxidp.db").display());
    let server = oxidp_server::Server::build(config).await?;
    let issuer = server.issuer().to_owned();
    tokio::spawn(server.run_until_stopped(std::future::pending()));
    let api_listener = TcpListener::bind("127.0.0.1:0").await?;
    let api = format!("https://{}", api_listener.local_addr()?);
    tokio::spawn(serve_api(api_listener, pki.clone(), issuer.clone()));
    run(&pki, &issuer, &api).await
}
