//! Configuration loading and its errors.

use oxidp_server::config::Config;

#[test]
fn an_unknown_key_names_the_key() {
    let error = Config::from_toml("[server]\nlisen = \"127.0.0.1:1\"")
        .unwrap_err()
        .to_string();
    assert!(error.contains("lisen"), "{error}");
}

#[test]
fn an_invalid_value_names_the_key() {
    let error = Config::from_toml("[keys]\nrotation_interval = \"soon\"")
        .unwrap_err()
        .to_string();
    assert!(error.contains("rotation_interval"), "{error}");
    let error = Config::from_toml("[keys]\nalgorithms = [\"HS256\"]")
        .unwrap_err()
        .to_string();
    assert!(error.contains("algorithms"), "{error}");
}

#[test]
fn trusted_proxies_are_addresses_or_cidr_blocks() {
    let config = Config::from_toml("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]")
        .expect("addresses and blocks are accepted");
    assert_eq!(config.server.trusted_proxies, ["10.0.0.0/8", "::1"]);
    let error = Config::from_toml("[server]\ntrusted_proxies = [\"proxy.internal\"]")
        .unwrap_err()
        .to_string();
    assert!(error.contains("server.trusted_proxies"), "{error}");
    assert!(error.contains("proxy.internal"), "{error}");
}

#[test]
fn a_secret_must_have_exactly_one_source() {
    let toml = "[[clients]]\nclient_id = \"c\"\nsecrets = [{ value = \"a\", sha256 = \"b\" }]";
    let error = format!("{:#}", Config::from_toml(toml).unwrap_err());
    assert!(error.contains("clients[0]"), "{error}");
}

#[test]
fn retention_shorter_than_a_token_lifetime_is_refused() {
    let toml = "[keys]\nretention_period = \"1h\"\n[[clients]]\nclient_id = \"c\"\naccess_token_lifetime = \"2h\"";
    let error = Config::from_toml(toml).unwrap_err().to_string();
    assert!(error.contains("keys.retention_period"), "{error}");
}

#[test]
fn the_demo_configuration_is_valid() {
    let config = Config::from_toml(oxidp_server::config::DEMO_CONFIG).unwrap();
    assert!(config.clients.iter().any(|c| c.client.client_id == "m2m"));
    assert_eq!(config.server.listen.port(), 5000);
}

#[test]
fn durations_are_humane() {
    let config =
        Config::from_toml("[keys]\nrotation_interval = \"30d\"\nannouncement_period = \"2d\"")
            .unwrap();
    assert_eq!(config.keys.rotation_interval.as_secs(), 30 * 86_400);
}

#[test]
fn a_client_key_is_read_by_the_core_client_and_a_typo_is_named() {
    let toml = "[[clients]]\nclient_id = \"c\"\nsecrets = [{ value = \"s\" }]\nallowed_grant_types = [\"client_credentials\"]\naccess_token_lifetim = \"5m\"";
    let error = format!("{:#}", Config::from_toml(toml).unwrap_err());
    assert!(error.contains("access_token_lifetim"), "{error}");
    let toml = "[[clients]]\nclient_id = \"c\"\nsecrets = [{ value = \"s\" }]\nallowed_grant_types = [\"client_credentials\"]\naccess_token_lifetime = \"5m\"\njwks = '{\"keys\": []}'";
    let config = Config::from_toml(toml).unwrap();
    let client = config.clients[0].to_client().unwrap();
    assert_eq!(client.access_token_lifetime.as_secs(), 300);
    assert_eq!(client.secrets.len(), 1);
    assert!(client.jwks.is_some());
}

#[test]
fn a_client_the_core_refuses_is_refused_at_load_with_its_index() {
    let toml = "[[clients]]\nclient_id = \"c\"\nsecrets = [{ value = \"s\" }]\nallowed_grant_types = [\"authorization_code\"]";
    let error = format!("{:#}", Config::from_toml(toml).unwrap_err());
    assert!(error.contains("clients[0]"), "{error}");
    assert!(error.contains("redirect_uris"), "{error}");
    let toml = "[[clients]]\nclient_id = \"c\"\nsecrets = [{ value = \"s\" }]\nallowed_grant_types = [\"client_credentials\"]\nauthorization_code_lifetime = \"20000d\"";
    let error = format!("{:#}", Config::from_toml(toml).unwrap_err());
    assert!(error.contains("authorization_code_lifetime"), "{error}");
}

#[test]
fn an_id_token_algorithm_without_a_key_is_refused() {
    let toml = "[keys]\nalgorithms = [\"ES256\"]\n[[clients]]\nclient_id = \"c\"\nsecrets = [{ value = \"s\" }]\nallowed_grant_types = [\"client_credentials\"]\nid_token_signed_response_alg = \"RS256\"";
    let error = format!("{:#}", Config::from_toml(toml).unwrap_err());
    assert!(error.contains("id_token_signed_response_alg"), "{error}");
}
