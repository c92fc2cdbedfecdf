//! A stored answer's representations, made once per answer rather than once per
//! request: its gzip and brotli variants and the `ETag` of each (the SHA-256 of the bytes
//! sent, as `conditional_get` would tag them). They live beside the answer in the response
//! cache (`executor::Derived`), so the requests a cached answer serves only pick one.
//! Answers the cache does not hold are left to the compression layer and
//! `conditional_get`, which skip a response that already carries an encoding or a tag.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

use super::MIN_COMPRESSED_BYTES;

/// The codings a client may be sent, besides none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Coding {
    Identity,
    Gzip,
    Brotli,
}

impl Coding {
    /// The coding `Accept-Encoding` prefers among br and gzip by quality, br on a tie
    /// (as the compression layer chooses; `*` stands for any not named), or none.
    pub(super) fn negotiate(headers: &HeaderMap) -> Coding {
        let Some(accepted) = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|value| value.to_str().ok())
        else {
            return Coding::Identity;
        };
        // The quality given to a coding: its own entry's, else `*`'s, else 0.
        let quality = |names: &[&str]| {
            let mut own = None;
            let mut any = None;
            for entry in accepted.split(',') {
                let mut parts = entry.split(';');
                let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
                let q = parts
                    .filter_map(|param| param.trim().strip_prefix("q="))
                    .find_map(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                if names.contains(&coding.as_str()) {
                    own = Some(own.map_or(q, |own: f32| own.max(q)));
                } else if coding == "*" {
                    any = Some(q);
                }
            }
            own.or(any).unwrap_or(0.0)
        };
        let (brotli, gzip) = (quality(&["br"]), quality(&["gzip", "x-gzip"]));
        if brotli > 0.0 && brotli >= gzip {
            Coding::Brotli
        } else if gzip > 0.0 {
            Coding::Gzip
        } else {
            Coding::Identity
        }
    }

    fn header(self) -> Option<HeaderValue> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some(HeaderValue::from_static("gzip")),
            Coding::Brotli => Some(HeaderValue::from_static("br")),
        }
    }
}

/// One representation: the bytes sent and their tag.
#[derive(Clone)]
pub(super) struct Variant {
    pub(super) body: Bytes,
    pub(super) tag: HeaderValue,
    pub(super) encoding: Option<HeaderValue>,
}

/// An answer's representations, each made the first time a client asks for it.
pub(super) struct Variants {
    identity: Variant,
    gzip: OnceLock<Variant>,
    brotli: OnceLock<Variant>,
}

impl Variants {
    pub(super) fn new(body: Bytes) -> Variants {
        Variants {
            identity: variant(body, Coding::Identity),
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
        }
    }

    /// The representation for `coding`; an answer too small to be worth compressing is
    /// sent as it is, as the compression layer would.
    pub(super) fn get(&self, coding: Coding) -> &Variant {
        if self.identity.body.len() < usize::from(MIN_COMPRESSED_BYTES) {
            return &self.identity;
        }
        let body = &self.identity.body;
        match coding {
            Coding::Identity => &self.identity,
            Coding::Gzip => self.gzip.get_or_init(|| variant(gzip(body), coding)),
            Coding::Brotli => self.brotli.get_or_init(|| variant(brotli(body), coding)),
        }
    }
}

fn variant(body: Bytes, coding: Coding) -> Variant {
    let tag = format!("\"{:x}\"", Sha256::digest(&body));
    Variant {
        body,
        tag: HeaderValue::from_str(&tag).expect("hexadecimal digits in quotes are a header value"),
        encoding: coding.header(),
    }
}

fn gzip(body: &[u8]) -> Bytes {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    Bytes::from(encoder.finish().unwrap_or_default())
}

/// Brotli at quality 9: made once per answer, so it can afford more than the quality 4
/// the compression layer uses per response.
fn brotli(body: &[u8]) -> Bytes {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 9,
        ..Default::default()
    };
    let mut input = body;
    // Reading a slice and writing a Vec cannot fail.
    let _ = brotli::BrotliCompress(&mut input, &mut out, &params);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn accepting(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).expect("a header value"),
        );
        headers
    }

    #[test]
    fn the_preferred_coding_is_picked_by_quality_then_br() {
        for (accepted, coding) in [
            ("gzip, deflate, br", Coding::Brotli),
            ("br;q=1, gzip;q=0.5", Coding::Brotli),
            ("br;q=0, gzip", Coding::Gzip),
            ("br;q=0.5, gzip", Coding::Gzip),
            ("gzip, *;q=0.1", Coding::Gzip),
            ("*", Coding::Brotli),
            ("gzip;q=0, identity", Coding::Identity),
            ("deflate", Coding::Identity),
        ] {
            assert_eq!(
                Coding::negotiate(&accepting(accepted)),
                coding,
                "{accepted}"
            );
        }
        assert_eq!(Coding::negotiate(&HeaderMap::new()), Coding::Identity);
    }

    #[test]
    fn each_variant_decodes_to_the_answer_and_is_tagged_by_its_own_bytes() {
        let answer = Bytes::from(format!("{{\"data\":{}}}", "[1,2,3],".repeat(400)));
        let variants = Variants::new(answer.clone());
        let gzip = variants.get(Coding::Gzip);
        let brotli = variants.get(Coding::Brotli);
        let identity = variants.get(Coding::Identity);
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&gzip.body[..])
            .read_to_end(&mut unzipped)
            .expect("gzip decodes");
        assert_eq!(unzipped, answer);
        let mut unbrotlied = Vec::new();
        brotli::BrotliDecompress(&mut &brotli.body[..], &mut unbrotlied).expect("br decodes");
        assert_eq!(unbrotlied, answer);
        assert_eq!(identity.body, answer);
        let tag = |bytes: &[u8]| format!("\"{:x}\"", Sha256::digest(bytes));
        for variant in [gzip, brotli, identity] {
            assert_eq!(variant.tag, tag(&variant.body));
        }
        assert_eq!(gzip.encoding, Some(HeaderValue::from_static("gzip")));
        assert_eq!(brotli.encoding, Some(HeaderValue::from_static("br")));
        assert!(identity.encoding.is_none());
        // Made once: the same bytes each time.
        assert_eq!(variants.get(Coding::Gzip).body.as_ptr(), gzip.body.as_ptr());
    }

    #[test]
    fn small_answers_are_sent_as_they_are() {
        let variants = Variants::new(Bytes::from_static(b"{\"data\":{}}"));
        assert!(variants.get(Coding::Brotli).encoding.is_none());
    }
}
