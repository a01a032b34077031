//! `[server.tls]`, `[server.mtls]` and `server.client_certificate_header`: HTTPS, the mutual-TLS
//! host and client certificates forwarded by a TLS-terminating proxy.

use super::Config;
use anyhow::{Context as _, bail};
use oxidp_core::certificates::CertificateAuthorities;
use oxidp_core::options::MtlsOptions;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// `[server.tls]`: serve HTTPS with this certificate (re-read on SIGHUP).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub certificate_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of the leaf.
    pub private_key_file: PathBuf,
}

/// `[server.mtls]`: client certificates (RFC 8705).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MtlsConfig {
    /// PEM bundle of the CAs whose client certificates `tls_client_auth` accepts.
    pub client_ca_file: Option<PathBuf>,
    /// A second HTTPS listener that asks for client certificates; the main listener then
    /// does not (so browsers never see a certificate prompt there).
    pub listen: Option<SocketAddr>,
    /// The issuer's URL as reached on the mTLS listener (advertised in
    /// `mtls_endpoint_aliases`); default: the issuer with the mTLS listener's port.
    pub endpoint_base: Option<String>,
}

impl Config {
    pub(super) fn validate_tls(&self) -> anyhow::Result<()> {
        let server = &self.server;
        if server.mtls.listen.is_some() && server.tls.is_none() {
            bail!(
                "invalid value for key `server.mtls.listen`: the mTLS listener needs `server.tls`"
            );
        }
        if let Some(base) = &server.mtls.endpoint_base {
            let url = url::Url::parse(base)
                .ok()
                .filter(|url| url.scheme() == "https" && url.query().is_none());
            if url.is_none() {
                bail!(
                    "invalid value for key `server.mtls.endpoint_base`: `{base}` is not an https URL"
                );
            }
        }
        if let Some(header) = &server.client_certificate_header {
            if axum::http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                bail!(
                    "invalid value for key `server.client_certificate_header`: `{header}` is not a header name"
                );
            }
            if server.trusted_proxies.is_empty() {
                bail!(
                    "invalid value for key `server.client_certificate_header`: set `server.trusted_proxies` too; the header is believed only from them"
                );
            }
        }
        Ok(())
    }

    /// The core's mutual-TLS options: the CA bundle read from `server.mtls.client_ca_file`,
    /// and the mTLS endpoint aliases when a separate listener is bound to `mtls_bound`.
    pub fn mtls_options(
        &self,
        issuer: &str,
        mtls_bound: Option<SocketAddr>,
    ) -> anyhow::Result<MtlsOptions> {
        let mut options = MtlsOptions {
            client_certificate_header: self.server.client_certificate_header.clone(),
            ..MtlsOptions::default()
        };
        if let Some(file) = &self.server.mtls.client_ca_file {
            let pem = std::fs::read(file).with_context(|| {
                format!(
                    "invalid value for key `server.mtls.client_ca_file`: cannot read {}",
                    file.display()
                )
            })?;
            options.client_certificate_authorities = CertificateAuthorities::from_pem(&pem)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "invalid value for key `server.mtls.client_ca_file` ({}): {e}",
                        file.display()
                    )
                })?;
        }
        options.endpoint_alias_base = match (&self.server.mtls.endpoint_base, mtls_bound) {
            (Some(base), _) => Some(base.trim_end_matches('/').to_owned()),
            (None, Some(bound)) => {
                let mut url = url::Url::parse(issuer).context("the issuer")?;
                let _ = url.set_scheme("https");
                let _ = url.set_port(Some(bound.port()));
                Some(url.as_str().trim_end_matches('/').to_owned())
            }
            (None, None) => None,
        };
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(toml: &str) -> String {
        format!("{:#}", Config::from_toml(toml).expect_err("refused"))
    }

    #[test]
    fn inconsistent_tls_settings_are_refused_by_key() {
        let message = refused("[server.mtls]\nlisten = \"127.0.0.1:0\"\n");
        assert!(message.contains("server.mtls.listen"), "{message}");
        let message = refused("[server]\nclient_certificate_header = \"X-SSL-Client-Cert\"\n");
        assert!(message.contains("server.trusted_proxies"), "{message}");
        let message = refused(
            "[server]\ntrusted_proxies = [\"10.0.0.1\"]\nclient_certificate_header = \"bad header\"\n",
        );
        assert!(message.contains("not a header name"), "{message}");
        let message = refused("[server.mtls]\nendpoint_base = \"http://mtls.example\"\n");
        assert!(message.contains("server.mtls.endpoint_base"), "{message}");
        let message = refused("[server.tls]\ncertificate_file = \"a.pem\"\n");
        assert!(message.contains("private_key_file"), "{message}");
    }

    #[test]
    fn the_mtls_options_read_the_ca_bundle_and_derive_the_aliases() {
        let config = Config::from_toml("[server.mtls]\nclient_ca_file = \"/nonexistent/ca.pem\"\n")
            .expect("valid");
        let message = format!(
            "{:#}",
            config
                .mtls_options("https://id.example", None)
                .expect_err("unreadable")
        );
        assert!(message.contains("server.mtls.client_ca_file"), "{message}");
        let config = Config::default();
        let options = config
            .mtls_options(
                "https://id.example/tenant",
                Some(([127, 0, 0, 1], 8443).into()),
            )
            .expect("options");
        assert_eq!(
            options.endpoint_alias_base.as_deref(),
            Some("https://id.example:8443/tenant")
        );
        assert!(options.client_certificate_authorities.is_empty());
    }
}
