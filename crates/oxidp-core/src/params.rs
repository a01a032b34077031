//! Form parameters of protocol requests, parsed under RFC 6749 §3.1/§3.2: a parameter sent
//! without a value counts as omitted, and a repeated parameter is an error.

use crate::error::OAuthError;
use std::collections::HashMap;

/// The parameters of one request, each present at most once.
#[derive(Debug, Default, Clone)]
pub struct Parameters {
    values: HashMap<String, String>,
}

impl Parameters {
    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn from_form(body: &[u8]) -> Result<Self, OAuthError> {
        let mut values = HashMap::new();
        for (name, value) in form_urlencoded::parse(body) {
            if values.contains_key(name.as_ref()) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter `{name}` is repeated"
                )));
            }
            if !value.is_empty() {
                values.insert(name.into_owned(), value.into_owned());
            } else {
                // Remember empty parameters too, so `a=&a=x` is still caught as a repeat.
                values.insert(name.into_owned(), String::new());
            }
        }
        values.retain(|_, value| !value.is_empty());
        Ok(Self { values })
    }

    /// The value of a parameter, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Every parameter, sorted by name (stable output for URLs built from them).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut pairs: Vec<_> = self
            .values
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.sort();
        pairs.into_iter()
    }

    /// Sets (or with `None`, removes) a parameter.
    pub fn set(&mut self, name: &str, value: Option<String>) {
        match value.filter(|v| !v.is_empty()) {
            Some(value) => {
                self.values.insert(name.to_owned(), value);
            }
            None => {
                self.values.remove(name);
            }
        }
    }

    /// The parameters as an `application/x-www-form-urlencoded` string.
    pub fn to_query(&self) -> String {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (name, value) in self.iter() {
            serializer.append_pair(name, value);
        }
        serializer.finish()
    }

    /// The value of a required parameter.
    pub fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("parameter `{name}` is missing")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        let error = Parameters::from_form(b"scope=a&scope=b").unwrap_err();
        assert_eq!(error.code, crate::error::ErrorCode::InvalidRequest);
        assert!(Parameters::from_form(b"scope=&scope=b").is_err());
    }

    #[test]
    fn empty_values_count_as_absent() {
        let params = Parameters::from_form(b"scope=&grant_type=client_credentials").unwrap();
        assert_eq!(params.get("scope"), None);
        assert_eq!(params.get("grant_type"), Some("client_credentials"));
        assert!(params.require("scope").is_err());
    }

    #[test]
    fn values_are_percent_decoded() {
        let params = Parameters::from_form(b"scope=a%20b+c").unwrap();
        assert_eq!(params.get("scope"), Some("a b c"));
    }
}
