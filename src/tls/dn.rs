//! Distinguished names for `tls_client_auth` (RFC 8705 §2.1.2): the registered
//! `tls_client_auth_subject_dn` is an RFC 4514 string, compared with the certificate's subject
//! by value, not by spelling: attribute types by OID (`CN`, `cn` and `2.5.4.3` are one),
//! values case-insensitively with insignificant spaces dropped (RFC 4518 §2.6.1), escapes
//! (`\,`, `\2C`) decoded, multi-valued RDNs as sets, spaces around `,` `+` `=` ignored. The
//! RDNs must come in RFC 4514 order, most specific first (the reverse of the certificate's
//! ASN.1 order): `CN=orders,O=Acme,C=US` names a certificate whose subject is `C=US`, `O=Acme`,
//! `CN=orders` in that order, and the same RDNs in the certificate's order (as
//! `openssl x509 -subject` prints them by default) are another name, refused. A DN and its
//! reverse are different names, and RFC 8705 §2.1.2 names the RFC 4514 string form.

use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::x509::X509Name;

/// One attribute of an RDN.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Attribute {
    /// The attribute type as a dotted OID.
    oid: String,
    /// The value as compared: trimmed, inner space runs as one space, lower case.
    folded: String,
    /// The value as written (for display).
    value: String,
    /// True when `value` is the `#`-hex form of a non-string value (shown unescaped).
    hex: bool,
}

/// A distinguished name: RDNs in certificate order (most general first), the attributes of
/// each RDN sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Name {
    rdns: Vec<Vec<Attribute>>,
}

/// Short names of RFC 4514 §3 and those `openssl` prints, with their OIDs.
const NAMES: &[(&str, &str)] = &[
    ("CN", "2.5.4.3"),
    ("SN", "2.5.4.4"),
    ("SERIALNUMBER", "2.5.4.5"),
    ("C", "2.5.4.6"),
    ("L", "2.5.4.7"),
    ("ST", "2.5.4.8"),
    ("S", "2.5.4.8"),
    ("STREET", "2.5.4.9"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("T", "2.5.4.12"),
    ("TITLE", "2.5.4.12"),
    ("GN", "2.5.4.42"),
    ("GIVENNAME", "2.5.4.42"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
    ("E", "1.2.840.113549.1.9.1"),
    ("EMAILADDRESS", "1.2.840.113549.1.9.1"),
];

/// The OID of an attribute type written as a short name, `OID.1.2.3` or `1.2.3`.
fn type_oid(name: &str) -> Option<String> {
    let upper = name.trim().to_ascii_uppercase();
    if let Some((_, oid)) = NAMES.iter().find(|(n, _)| *n == upper) {
        return Some((*oid).to_string());
    }
    let dotted = upper.strip_prefix("OID.").unwrap_or(&upper);
    let numeric = !dotted.is_empty()
        && dotted
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()));
    numeric.then(|| dotted.to_string())
}

/// The short name of an OID for display, else the OID itself.
fn type_name(oid: &str) -> &str {
    // The first spelling of each OID in NAMES is its display name.
    NAMES
        .iter()
        .find(|(_, o)| *o == oid)
        .map_or(oid, |(n, _)| *n)
}

fn fold(value: &str) -> String {
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn attribute(oid: String, value: String, hex: bool) -> Attribute {
    Attribute {
        oid,
        folded: fold(&value),
        value,
        hex,
    }
}

/// A value written as `#` + the hex of its BER encoding (RFC 4514 §2.4): a valid string is
/// its text (as the certificate's value is read by [`value_text`]), anything else stays in
/// the exact `#` form that [`value_text`] gives such values. `None` unless it is hex of one
/// tag-length-value.
fn ber_attribute(oid: String, hex: &str) -> Option<Attribute> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let der: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    let (&tag, rest) = der.split_first()?;
    let (&len, rest) = rest.split_first()?;
    // Short-form lengths only for strings (values of a certificate name are short).
    let content = (len < 0x80 && usize::from(len) == rest.len()).then_some(rest);
    let text = content.and_then(|c| string_value(Tag(u32::from(tag)), c));
    Some(match text {
        Some(t) => attribute(oid, t, false),
        None => attribute(oid, format!("#{}", hex.to_ascii_lowercase()), true),
    })
}

/// A certificate attribute value as text: the string types by their encodings; any other
/// type as RFC 4514 `#` + hex of its DER (then `true`).
fn value_text(any: &x509_parser::der_parser::asn1_rs::Any<'_>) -> (String, bool) {
    let data = any.data;
    if let Some(text) = string_value(any.tag(), data) {
        return (text, false);
    }
    let mut der = vec![u8::try_from(any.tag().0).unwrap_or(0)];
    match u8::try_from(data.len()) {
        Ok(n) if n < 0x80 => der.push(n),
        _ => {
            let len = data.len().to_be_bytes();
            let len = super::strip_zeros(&len);
            der.push(0x80 | u8::try_from(len.len()).unwrap_or(0));
            der.extend_from_slice(len);
        }
    }
    der.extend_from_slice(data);
    let hex = der.iter().map(|b| format!("{b:02x}")).collect::<String>();
    (format!("#{hex}"), true)
}

/// The text of a value of one of the string types, decoded strictly; `None` for other types
/// and for bytes that are no valid string of their type (such a value is compared as its
/// exact `#` hex form instead, so two different encodings never read as one text).
fn string_value(tag: Tag, data: &[u8]) -> Option<String> {
    match tag {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::NumericString => {
            std::str::from_utf8(data).ok().map(str::to_string)
        }
        // BMPString: UTF-16 big-endian.
        Tag::BmpString => {
            if !data.len().is_multiple_of(2) {
                return None;
            }
            let units: Option<Vec<u16>> = data
                .chunks_exact(2)
                .map(|c| c.try_into().ok().map(u16::from_be_bytes))
                .collect();
            String::from_utf16(&units?).ok()
        }
        // UniversalString: UCS-4 big-endian.
        Tag::UniversalString => {
            if !data.len().is_multiple_of(4) {
                return None;
            }
            data.chunks_exact(4)
                .map(|c| {
                    c.try_into()
                        .ok()
                        .and_then(|b| char::from_u32(u32::from_be_bytes(b)))
                })
                .collect()
        }
        // T61String in practice holds Latin-1.
        Tag::TeletexString => Some(data.iter().map(|b| char::from(*b)).collect()),
        _ => None,
    }
}

impl Name {
    /// The subject (or issuer) of a certificate.
    pub fn from_x509(name: &X509Name<'_>) -> Name {
        let rdns = name
            .iter_rdn()
            .map(|rdn| {
                let mut attrs: Vec<Attribute> = rdn
                    .iter()
                    .map(|a| {
                        let (value, hex) = value_text(a.attr_value());
                        attribute(a.attr_type().to_id_string(), value, hex)
                    })
                    .collect();
                attrs.sort();
                attrs
            })
            .collect();
        Name { rdns }
    }

    /// Parses an RFC 4514 string (`CN=orders,O=Acme\, Inc.`); `None` if it is not one. Spaces
    /// around `,` `+` `=` are allowed; so are double-quoted values (RFC 1779).
    pub fn parse(text: &str) -> Option<Name> {
        let mut rdns: Vec<Vec<Attribute>> = Vec::new();
        let mut rdn: Vec<Attribute> = Vec::new();
        let mut chars = text.chars().peekable();
        loop {
            // attributeType "="
            let mut ty = String::new();
            let mut equals = false;
            for c in chars.by_ref() {
                if c == '=' {
                    equals = true;
                    break;
                }
                ty.push(c);
            }
            if !equals {
                return None;
            }
            let oid = type_oid(&ty)?;
            // attributeValue, up to an unescaped `,` or `+` (or the end): an RFC 4514 string,
            // `#` + the hex of its BER encoding, or (RFC 1779) a whole value in double quotes.
            let mut bytes: Vec<u8> = Vec::new();
            let mut quoted = false;
            // Whether the value began with `"` or an unescaped `#`, and the quote was closed.
            let (mut was_quoted, mut hash, mut closed) = (false, false, false);
            // Whether anything but unescaped leading spaces was read (an escaped space counts).
            let mut started = false;
            let mut end = None;
            while let Some(c) = chars.next() {
                let blank = !started && !was_quoted;
                if closed && !matches!(c, ',' | '+' | ' ') {
                    return None;
                }
                match c {
                    '"' if blank && !hash => {
                        bytes.clear();
                        quoted = true;
                        was_quoted = true;
                    }
                    '"' if quoted => {
                        quoted = false;
                        closed = true;
                    }
                    // An unescaped quote inside a value is no RFC 4514 string.
                    '"' => return None,
                    '#' if blank && !hash => {
                        bytes.clear();
                        hash = true;
                    }
                    '\\' => {
                        started = true;
                        let first = chars.next()?;
                        match first.to_digit(16) {
                            Some(hi) if chars.peek().is_some_and(char::is_ascii_hexdigit) => {
                                let lo = chars.next()?.to_digit(16)?;
                                bytes.push(u8::try_from(hi * 16 + lo).ok()?);
                            }
                            _ => {
                                let mut buf = [0u8; 4];
                                bytes.extend_from_slice(first.encode_utf8(&mut buf).as_bytes());
                            }
                        }
                    }
                    ',' | '+' if !quoted => {
                        end = Some(c);
                        break;
                    }
                    _ => {
                        started |= c != ' ';
                        let mut buf = [0u8; 4];
                        bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
            if quoted {
                return None;
            }
            let value = String::from_utf8(bytes).ok()?.trim().to_string();
            rdn.push(if hash {
                ber_attribute(oid, &value)?
            } else {
                attribute(oid, value, false)
            });
            if end != Some('+') {
                rdn.sort();
                rdns.push(std::mem::take(&mut rdn));
            }
            if end.is_none() {
                break;
            }
        }
        // Written most specific first: stored in certificate order.
        rdns.reverse();
        Some(Name { rdns })
    }

    /// True if `registered` (as [`Name::parse`] read it, from RFC 4514 order) names this
    /// subject: the same RDNs in the same order, each the same set of attributes by value.
    pub fn matches(&self, registered: &Name) -> bool {
        let same = |a: &Vec<Attribute>, b: &Vec<Attribute>| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| x.oid == y.oid && x.hex == y.hex && x.folded == y.folded)
        };
        !self.rdns.is_empty()
            && self.rdns.len() == registered.rdns.len()
            && self
                .rdns
                .iter()
                .zip(&registered.rdns)
                .all(|(a, b)| same(a, b))
    }
}

/// RFC 4514 §2.4 escaping of one value.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\')
            || (i == 0 && matches!(c, ' ' | '#'))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        if c == '\0' {
            out.push_str("\\00");
        } else {
            out.push(c);
        }
    }
    out
}

/// RFC 4514 string, most specific RDN first.
impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, rdn) in self.rdns.iter().rev().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            for (j, a) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                let value = if a.hex {
                    a.value.clone()
                } else {
                    escape(&a.value)
                };
                write!(f, "{}={}", type_name(&a.oid), value)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_name(pairs: &[(rcgen::DnType, &str)]) -> Name {
        let mut p = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        for (t, v) in pairs {
            dn.push(t.clone(), *v);
        }
        p.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        super::super::ClientCertificate::parse(cert.der(), false)
            .unwrap()
            .subject
    }

    #[test]
    fn a_registered_dn_matches_by_value_not_by_spelling() {
        use rcgen::DnType::*;
        let subject = cert_name(&[
            (CountryName, "US"),
            (OrganizationName, "Acme, Inc."),
            (CommonName, "orders  client"),
        ]);
        for registered in [
            "CN=orders client,O=Acme\\, Inc.,C=US",
            "cn = Orders Client , o=ACME\\2C INC. ,c=us",
            "2.5.4.3=orders client,OID.2.5.4.10=\"Acme, Inc.\",C=US",
            "  CN =orders client,  O= Acme\\, Inc.  ,   C =  US  ",
        ] {
            let r = Name::parse(registered).unwrap();
            assert!(subject.matches(&r), "{registered}");
        }
        for other in [
            "CN=orders client,O=Acme\\, Inc.",
            "CN=orders,O=Acme\\, Inc.,C=US",
            "CN=orders client,O=Acme,C=US",
            "CN=orders client,O=Acme\\, Inc.,C=US,DC=example",
            "OU=orders client,O=Acme\\, Inc.,C=US",
            // The certificate's ASN.1 order (openssl's default print) is another name.
            "C = US, O = Acme\\, Inc., CN = orders client",
            "C=US,O=Acme\\, Inc.,CN=orders client",
            // Any other order too.
            "O=Acme\\, Inc.,CN=orders client,C=US",
        ] {
            let r = Name::parse(other).unwrap();
            assert!(!subject.matches(&r), "{other}");
        }
        assert_eq!(subject.to_string(), "CN=orders  client,O=Acme\\, Inc.,C=US");
    }

    #[test]
    fn rdns_of_one_type_match_only_in_rfc_4514_order() {
        // rcgen cannot repeat an attribute type, so the subject is read from its RFC 4514
        // string (a certificate with DC=com, DC=example, CN=app in ASN.1 order).
        let subject = Name::parse("CN=app,DC=example,DC=com").unwrap();
        assert_eq!(subject.to_string(), "CN=app,DC=example,DC=com");
        assert!(subject.matches(&Name::parse("CN=app,DC=example,DC=com").unwrap()));
        for other in ["DC=com,DC=example,CN=app", "CN=app,DC=com,DC=example"] {
            assert!(!subject.matches(&Name::parse(other).unwrap()), "{other}");
        }
    }

    #[test]
    fn a_hex_value_is_its_ber_string_and_a_stray_quote_is_refused() {
        use rcgen::DnType::*;
        let billing = cert_name(&[(CountryName, "US"), (CommonName, "billing")]);
        let literal = cert_name(&[(CountryName, "US"), (CommonName, "#0c0762696c6c696e67")]);
        // RFC 4514 §2.4: `#` + hex is the BER encoding (here a UTF8String "billing").
        let hex = Name::parse("CN=#0c0762696c6c696e67,C=US").unwrap();
        assert!(billing.matches(&hex));
        assert!(!literal.matches(&hex));
        // Escaped, `#` is a character: only the literal name matches.
        let escaped = Name::parse("CN=\\#0c0762696c6c696e67,C=US").unwrap();
        assert!(literal.matches(&escaped) && !billing.matches(&escaped));
        // A whole value may be quoted (RFC 1779); a quote anywhere else makes no DN.
        let quoted = Name::parse("CN= \"billing\" ,C=US").unwrap();
        assert!(billing.matches(&quoted));
        // An escaped leading character starts the value: neither `#` nor `"` is special then.
        let spaced = Name::parse("CN=\\20#0c0762696c6c696e67,C=US").unwrap();
        assert!(!billing.matches(&spaced));
        // Other string types in `#` form are read by their encodings (BMPString: UTF-16).
        let bmp = Name::parse("CN=#1e0e00620069006c006c0069006e0067,C=US").unwrap();
        assert!(billing.matches(&bmp));
        // Bytes that are no valid string are compared exactly, never as U+FFFD.
        let lossy = cert_name(&[(CountryName, "US"), (CommonName, "\u{FFFD}ab")]);
        for invalid in ["CN=#0c03ff6162,C=US", "CN=#1e04d8000062,C=US"] {
            assert!(!lossy.matches(&Name::parse(invalid).unwrap()), "{invalid}");
        }
        for bad in [
            "CN=\\20\"billing\",C=US",
            "CN=#0c\\+762696c6c696e67,C=US",
            "CN=bil\"\"ling,C=US",
            "CN=bill\"ing\",C=US",
            "CN=\"billing\"x,C=US",
            "CN=#0c07626,C=US",
            "CN=#zz,C=US",
        ] {
            assert!(Name::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn multi_valued_rdns_are_sets_and_bad_strings_are_refused() {
        let a = Name::parse("CN=x+OU=y,O=z").unwrap();
        let b = Name::parse("OU=y+CN=x,O=z").unwrap();
        assert_eq!(a, b);
        for bad in ["", "CN", "FOO=bar", "CN=\"open", "CN=x\\", "=x", "1..2=x"] {
            assert!(Name::parse(bad).is_none(), "{bad:?}");
        }
        assert!(
            !Name::default().matches(&Name::default()),
            "an empty DN matches nothing"
        );
    }
}
