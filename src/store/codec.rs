//! The value codec: the only file that names bincode.
//!
//! Every stored value is one version byte followed by a bincode 2 (serde API) body, so the
//! format can be replaced by bumping `VALUE_VERSION` and teaching `decode` the old one.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The first byte of every stored value.
pub const VALUE_VERSION: u8 = 1;

/// No stored record comes near this; a corrupted length prefix claiming more is an error
/// instead of an allocation of whatever size it claims.
const MAX_VALUE_BYTES: usize = 1 << 20;

type Config = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_VALUE_BYTES>,
>;

fn config() -> Config {
    bincode::config::standard().with_limit::<MAX_VALUE_BYTES>()
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum CodecError {
    #[error("empty value")]
    Empty,
    #[error("value version {found} is not the supported version {VALUE_VERSION}")]
    Version { found: u8 },
    #[error("cannot encode value: {0}")]
    Encode(String),
    #[error("cannot decode value: {0}")]
    Decode(String),
    #[error("{0} trailing byte(s) after the value")]
    Trailing(usize),
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    // Room for most records at once: grown from nothing, a record's bytes were copied
    // six or seven times over as the vector doubled.
    let mut bytes = Vec::with_capacity(512);
    bytes.push(VALUE_VERSION);
    bincode::serde::encode_into_std_write(value, &mut bytes, config())
        .map_err(|error| CodecError::Encode(error.to_string()))?;
    Ok(bytes)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (&version, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if version != VALUE_VERSION {
        return Err(CodecError::Version { found: version });
    }
    let (value, read) = bincode::serde::decode_from_slice(body, config())
        .map_err(|error| CodecError::Decode(error.to_string()))?;
    if read != body.len() {
        return Err(CodecError::Trailing(body.len() - read));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Certainty, PartialDate, Quantity};

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Sample {
        name: String,
        when: Option<PartialDate>,
        count: Option<Quantity>,
        certainty: Certainty,
        tags: Vec<String>,
    }

    fn sample() -> Sample {
        Sample {
            name: "Kant air base".to_owned(),
            when: Some(PartialDate::parse("2012-37").expect("valid")),
            count: Some(Quantity {
                low: 3,
                high: Some(3),
                approximate: false,
                certainty: Certainty::Reported,
            }),
            certainty: Certainty::Reported,
            tags: vec!["a".to_owned(); 3],
        }
    }

    #[test]
    fn round_trips_with_a_version_byte() {
        let bytes = encode(&sample()).expect("encodes");
        assert_eq!(bytes[0], VALUE_VERSION);
        assert_eq!(decode::<Sample>(&bytes).expect("decodes"), sample());
    }

    #[test]
    fn rejects_unknown_versions_truncation_and_trailing_bytes() {
        let bytes = encode(&sample()).expect("encodes");
        assert!(matches!(decode::<Sample>(&[]), Err(CodecError::Empty)));
        let mut other = bytes.clone();
        other[0] = 9;
        assert!(matches!(
            decode::<Sample>(&other),
            Err(CodecError::Version { found: 9 })
        ));
        assert!(matches!(
            decode::<Sample>(&bytes[..bytes.len() - 2]),
            Err(CodecError::Decode(_))
        ));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            decode::<Sample>(&longer),
            Err(CodecError::Trailing(1))
        ));
    }

    #[test]
    fn a_corrupted_length_is_an_error_not_an_allocation() {
        // Version byte, then a varint length prefix claiming 2^40 bytes of string.
        let mut bytes = vec![VALUE_VERSION, 253];
        bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
        bytes.extend_from_slice(b"short");
        assert!(matches!(
            decode::<Sample>(&bytes),
            Err(CodecError::Decode(_))
        ));
    }

    #[test]
    fn an_invalid_date_in_a_value_is_a_decode_error() {
        #[derive(serde::Serialize)]
        struct Raw {
            name: String,
            when: Option<String>,
        }
        #[derive(Debug, serde::Deserialize)]
        struct Typed {
            #[allow(dead_code)]
            name: String,
            #[allow(dead_code)]
            when: Option<PartialDate>,
        }
        let bytes = encode(&Raw {
            name: "x".to_owned(),
            when: Some("2012-13".to_owned()),
        })
        .expect("encodes");
        let error = decode::<Typed>(&bytes).expect_err("invalid month");
        assert!(error.to_string().contains("2012-13"), "{error}");
    }
}
