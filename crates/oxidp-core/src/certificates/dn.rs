//! Distinguished names as `tls_client_auth_subject_dn` registers them: the RFC 4514 string
//! form (most specific RDN first, `CN=client,O=Example`), compared with a certificate's
//! subject attribute by attribute, by OID and exact value. Spacing after commas and the case
//! of attribute names do not matter; values, their order and their number do.

use std::fmt;
use x509_parser::x509::X509Name;

/// A distinguished name: RDNs in RFC 4514 order, each a set of (OID, value) attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DistinguishedName {
    rdns: Vec<Vec<(String, String)>>,
}

/// Why a registered subject DN cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a distinguished name in RFC 4514 form (e.g. `CN=client,O=Example`)")]
pub struct InvalidDistinguishedName(pub String);

/// Short names of RFC 4514 §3 plus the usual extras, with their OIDs.
const NAMES: [(&str, &str); 12] = [
    ("CN", "2.5.4.3"),
    ("C", "2.5.4.6"),
    ("L", "2.5.4.7"),
    ("ST", "2.5.4.8"),
    ("STREET", "2.5.4.9"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("SERIALNUMBER", "2.5.4.5"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
    ("EMAILADDRESS", "1.2.840.113549.1.9.1"),
    ("E", "1.2.840.113549.1.9.1"),
];

impl DistinguishedName {
    /// Parses the RFC 4514 string form.
    pub fn parse(text: &str) -> Result<Self, InvalidDistinguishedName> {
        let invalid = || InvalidDistinguishedName(text.to_owned());
        if text.trim().is_empty() {
            return Err(invalid());
        }
        let mut rdns = Vec::new();
        for rdn in split_unescaped(text, ',') {
            let mut attributes = Vec::new();
            for attribute in split_unescaped(rdn, '+') {
                let (name, value) = attribute.split_once('=').ok_or_else(invalid)?;
                let oid = oid_of(name.trim()).ok_or_else(invalid)?;
                let value = unescape(value.trim_start()).ok_or_else(invalid)?;
                attributes.push((oid, value));
            }
            attributes.sort();
            rdns.push(attributes);
        }
        Ok(Self { rdns })
    }

    /// A certificate's subject, in RFC 4514 order (the reverse of the encoding's). `None`
    /// when an attribute value is not a string.
    pub fn from_x509(name: &X509Name<'_>) -> Option<Self> {
        let mut rdns = Vec::new();
        for rdn in name.iter_rdn() {
            let mut attributes = Vec::new();
            for attribute in rdn.iter() {
                let value = attribute.as_str().ok()?.to_owned();
                attributes.push((attribute.attr_type().to_id_string(), value));
            }
            attributes.sort();
            rdns.push(attributes);
        }
        rdns.reverse();
        Some(Self { rdns })
    }
}

impl fmt::Display for DistinguishedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rdns: Vec<String> = self
            .rdns
            .iter()
            .map(|rdn| {
                rdn.iter()
                    .map(|(oid, value)| {
                        let name = NAMES
                            .iter()
                            .find(|(_, o)| o == oid)
                            .map_or(oid.as_str(), |(n, _)| n);
                        format!("{name}={value}")
                    })
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect();
        f.write_str(&rdns.join(","))
    }
}

fn oid_of(name: &str) -> Option<String> {
    if let Some((_, oid)) = NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        return Some((*oid).to_owned());
    }
    let dotted = name
        .split('.')
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
        && name.contains('.');
    dotted.then(|| name.to_owned())
}

/// Splits at `separator` where it is not escaped by a backslash.
fn split_unescaped(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (index, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == separator => {
                parts.push(&text[start..index]);
                start = index + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// RFC 4514 §2.4 escapes: `\` before a special character, or two hex digits of a UTF-8 byte.
fn unescape(value: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(value.len());
    let mut chars = value.bytes().peekable();
    while let Some(b) = chars.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        let first = chars.next()?;
        if first.is_ascii_hexdigit() && chars.peek().is_some_and(u8::is_ascii_hexdigit) {
            let second = chars.next()?;
            let hex = [first, second];
            bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(first);
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_and_name_case_do_not_matter_but_values_and_order_do() {
        let a = DistinguishedName::parse("CN=client,O=Example").expect("valid");
        assert_eq!(
            a,
            DistinguishedName::parse("cn=client, o=Example").expect("valid")
        );
        assert_eq!(
            a,
            DistinguishedName::parse("2.5.4.3=client,O=Example").expect("valid")
        );
        assert_ne!(
            a,
            DistinguishedName::parse("O=Example,CN=client").expect("valid")
        );
        assert_ne!(
            a,
            DistinguishedName::parse("CN=Client,O=Example").expect("valid")
        );
        assert_ne!(a, DistinguishedName::parse("CN=client").expect("valid"));
        assert_eq!(a.to_string(), "CN=client,O=Example");
    }

    #[test]
    fn escapes_are_read() {
        let dn = DistinguishedName::parse(r"CN=a\,b\+c\3D,O=x").expect("valid");
        assert_eq!(
            dn.rdns[0],
            vec![("2.5.4.3".to_owned(), "a,b+c=".to_owned())]
        );
    }

    #[test]
    fn malformed_names_are_refused() {
        for bad in ["", "client", "XX=1", "CN=a,", r"CN=a\"] {
            assert!(DistinguishedName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
