//! Requests a host sends on behalf of one of a module's domains: which
//! requests act in a domain, and how their envelope is decoded safely.

use serde::Deserialize;

use crate::Request;

thread_local! {
    static DECODING_IN_DOMAIN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Decodes the inner request of an `InDomain`, refusing another `InDomain`
/// inside before descending into it: nesting would let a hostile frame
/// recurse the decoder once per few bytes until the stack overflows.
pub(crate) fn unscoped<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Box<Request>, D::Error> {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            DECODING_IN_DOMAIN.set(false);
        }
    }
    if DECODING_IN_DOMAIN.replace(true) {
        return Err(serde::de::Error::custom(
            "an InDomain request cannot contain another",
        ));
    }
    let _leave = Leave;
    Request::deserialize(d).map(Box::new)
}

impl Request {
    /// Whether the request acts in a domain (uses or makes key material,
    /// credentials or randomness, or drops cached keys), so a host must
    /// send it as [`Request::InDomain`]. The others administer the module
    /// itself and are governed by operator signatures or reveal nothing
    /// secret.
    pub fn acts_in_domain(&self) -> bool {
        !matches!(
            self,
            Request::Status
                | Request::Command(_)
                | Request::GetDomainToken { .. }
                | Request::ListDomains
                | Request::Attest { .. }
                | Request::ListLogs
                | Request::DescribeLog { .. }
                | Request::GetLog { .. }
                | Request::InDomain { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn nested_in_domain_requests_are_refused_by_the_decoder() {
        let domain = Uuid::new_v4();
        let once = Request::InDomain {
            domain,
            request: Box::new(Request::GenerateRandom { length: 8 }),
        };
        let bytes = crate::admin::encode(&once);
        assert!(matches!(
            crate::admin::decode::<Request>(&bytes),
            Ok(Request::InDomain { .. })
        ));
        // A hostile frame nesting InDomain many times over is refused at
        // the second level, without recursing further.
        let mut nested = Request::GenerateRandom { length: 8 };
        for _ in 0..3 {
            nested = Request::InDomain {
                domain,
                request: Box::new(nested),
            };
        }
        let bytes = crate::admin::encode(&nested);
        assert!(crate::admin::decode::<Request>(&bytes).is_err());
        // 200,000 levels, built from the bytes one level adds: the encoded
        // InDomain is (format header ‖ level ‖ inner request), the encoded
        // inner request is (format header ‖ inner request).
        let inner = crate::admin::encode(&Request::GenerateRandom { length: 8 });
        let one = crate::admin::encode(&once);
        let header = one.iter().zip(&inner).take_while(|(a, b)| a == b).count();
        let level = &one[header..one.len() - (inner.len() - header)];
        let nest = |levels: usize| {
            let mut v = inner[..header].to_vec();
            v.extend(level.repeat(levels));
            v.extend_from_slice(&inner[header..]);
            v
        };
        assert!(matches!(
            crate::admin::decode::<Request>(&nest(1)),
            Ok(Request::InDomain { .. })
        ));
        assert!(crate::admin::decode::<Request>(&nest(2)).is_err());
        assert!(crate::admin::decode::<Request>(&nest(200_000)).is_err());
        // The flag is reset: a well-formed request decodes afterwards.
        assert!(crate::admin::decode::<Request>(&crate::admin::encode(&once)).is_ok());
    }
}
