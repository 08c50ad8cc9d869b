//! MD5 digests exactly as SQS computes them, so that SDKs which verify them accept ours.
//!
//! Body: MD5 of the UTF-8 bytes. Attributes: sort by name; for each, the name, the data type and
//! the value are each written as a 4-byte big-endian length followed by the bytes, with a one-byte
//! transport marker (1 = string, 2 = binary) before the value; MD5 of the whole.

use md5::{Digest, Md5};

use super::message::Attributes;

pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

pub fn md5_of_attributes(attributes: &Attributes) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let mut hasher = Md5::new();
    // BTreeMap iterates in byte order of the names, which is the order SQS specifies.
    for (name, value) in attributes {
        put(&mut hasher, name.as_bytes());
        put(&mut hasher, value.data_type.as_bytes());
        if value.is_binary() {
            hasher.update([2u8]);
            put(
                &mut hasher,
                value.binary_value.as_deref().unwrap_or_default(),
            );
        } else {
            hasher.update([1u8]);
            put(
                &mut hasher,
                value.string_value.as_deref().unwrap_or_default().as_bytes(),
            );
        }
    }
    Some(hex::encode(hasher.finalize()))
}

fn put(hasher: &mut Md5, bytes: &[u8]) {
    hasher.update((bytes.len() as u32).to_be_bytes());
    hasher.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::message::AttributeValue;

    #[test]
    fn body_digest_is_plain_md5() {
        assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn attribute_digest_matches_sqs() {
        // Reference value computed with botocore's own checksum routine for this attribute set.
        let mut attrs = Attributes::new();
        attrs.insert(
            "Author".into(),
            AttributeValue {
                data_type: "String".into(),
                string_value: Some("lull".into()),
                binary_value: None,
            },
        );
        attrs.insert(
            "Bytes".into(),
            AttributeValue {
                data_type: "Binary".into(),
                string_value: None,
                binary_value: Some(vec![0, 1, 2]),
            },
        );
        assert_eq!(md5_of_attributes(&attrs).as_deref(), Some(REFERENCE_DIGEST));
        assert_eq!(md5_of_attributes(&Attributes::new()), None);
    }

    const REFERENCE_DIGEST: &str = "6bd1c21baedcab5d5b7d1c98f6c7db22";
}
