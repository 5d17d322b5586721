//! Asymmetric customer keys in the module: generation (sealed as v2 EKTs),
//! a bounded cache of opened key pairs, Sign, Verify, GetPublicKey and
//! RSA-OAEP. Private keys leave the module only sealed.

use std::collections::HashMap;

use crate::scope::Requester;
use strongroom_crypto::{AsymmetricKey, OaepHash, SignInput, SigningAlgorithm, rsa_oaep_encrypt};
use strongroom_hsm_proto::{Ekt, HsmError, KeyRef, KeySpecCode, Request, Response};
use uuid::Uuid;

use crate::ekt;
use crate::module::Module;

/// Opened key pairs, most recently used kept. Their private halves live in
/// the crypto library's memory (locked when the daemon could mlockall) and
/// are freed (cleansed) on eviction.
pub(crate) struct AsymmetricCache {
    /// Each pair with the SHA-256 of the token it came from (a hit needs
    /// the same token, as in the vault) and its last use.
    keys: HashMap<(Uuid, KeyRef), (AsymmetricKey, [u8; 32], u64)>,
    capacity: usize,
    tick: u64,
}

impl AsymmetricCache {
    /// A cache of at most `capacity` key pairs.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            keys: HashMap::new(),
            capacity: capacity.max(1),
            tick: 0,
        }
    }

    fn get(&mut self, domain: Uuid, key: KeyRef, token: &[u8; 32]) -> Option<&AsymmetricKey> {
        self.tick += 1;
        let tick = self.tick;
        self.keys
            .get_mut(&(domain, key))
            .filter(|(_, from, _)| from == token)
            .map(|(k, _, used)| {
                *used = tick;
                &*k
            })
    }

    fn insert(&mut self, domain: Uuid, key: KeyRef, pair: AsymmetricKey, token: [u8; 32]) {
        if self.keys.len() >= self.capacity
            && let Some(oldest) = self
                .keys
                .iter()
                .min_by_key(|(_, (_, _, used))| *used)
                .map(|(k, _)| *k)
        {
            self.keys.remove(&oldest);
        }
        self.tick += 1;
        self.keys.insert((domain, key), (pair, token, self.tick));
    }

    /// Drops every key pair; returns how many.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.keys.len();
        self.keys.clear();
        n
    }

    /// Drops every version of `key_id` of `domain` (of any when none).
    pub(crate) fn forget(&mut self, key_id: Uuid, domain: Option<Uuid>) -> usize {
        let before = self.keys.len();
        self.keys
            .retain(|(d, k), _| k.key_id != key_id || domain.is_some_and(|only| only != *d));
        before - self.keys.len()
    }

    /// Key pairs held.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

fn usage(msg: impl Into<String>) -> HsmError {
    HsmError::WrongKeyUsage(msg.into())
}

fn signing_algorithm(name: &str) -> Result<SigningAlgorithm, HsmError> {
    SigningAlgorithm::from_aws(name)
        .ok_or_else(|| HsmError::InvalidRequest(format!("unknown signing algorithm {name}")))
}

fn oaep(name: &str) -> Result<OaepHash, HsmError> {
    OaepHash::from_aws(name).ok_or_else(|| usage(format!("{name} is not an RSA-OAEP algorithm")))
}

impl Module {
    /// Generates an asymmetric key pair and seals it as a v2 EKT.
    pub(crate) fn generate_key_pair(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        spec: KeySpecCode,
    ) -> Result<Ekt, HsmError> {
        let asym = spec
            .asymmetric()
            .ok_or_else(|| usage(format!("{spec:?} is not asymmetric")))?;
        let pair = AsymmetricKey::generate(asym).map_err(|e| HsmError::Internal(e.to_string()))?;
        let dk = self.current_domain(caller)?;
        let domain = dk.id();
        let token = ekt::seal_material(dk, key, spec, pair.expose_pkcs8())?;
        let digest = strongroom_crypto::sha256(&token.0);
        self.asymmetric.insert(domain, key, pair, digest);
        Ok(token)
    }

    /// The opened key pair for `key`, from the cache or by opening `token`.
    fn key_pair(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        token: &Ekt,
    ) -> Result<&AsymmetricKey, HsmError> {
        let (domain, generation) = ekt::domain_of(token)?;
        let claimed = ekt::spec_of(token)?;
        let asym = claimed
            .asymmetric()
            .ok_or_else(|| usage(format!("a {claimed:?} key is not asymmetric")))?;
        self.domain_key(caller, domain, generation)?;
        let digest = strongroom_crypto::sha256(&token.0);
        let cached = self
            .asymmetric
            .get(domain, key, &digest)
            .is_some_and(|k| k.spec() == asym);
        if !cached {
            let dk = Module::lookup(&self.domains, caller, domain, generation)?;
            let (opened, spec, pkcs8) = ekt::open_material(dk, token)?;
            if opened != key || spec != claimed {
                return Err(HsmError::InvalidKeyToken);
            }
            let pair =
                AsymmetricKey::from_pkcs8(asym, &pkcs8).map_err(|_| HsmError::InvalidKeyToken)?;
            self.asymmetric.insert(domain, key, pair, digest);
        }
        Ok(self
            .asymmetric
            .get(domain, key, &digest)
            .expect("just inserted"))
    }

    /// Sign, Verify, GetPublicKey, AsymmetricDecrypt, AsymmetricEncrypt.
    pub(crate) fn handle_asymmetric(
        &mut self,
        caller: &Requester,
        request: Request,
    ) -> Result<Response, HsmError> {
        match request {
            Request::Sign {
                key,
                ekt,
                message,
                digest,
                algorithm,
            } => {
                let alg = signing_algorithm(&algorithm)?;
                let pair = self.key_pair(caller, key, &ekt)?;
                if !pair.spec().signing_algorithms().contains(&alg) {
                    return Err(usage(format!(
                        "{algorithm} does not fit a {:?} key",
                        pair.spec()
                    )));
                }
                let input = if digest {
                    SignInput::Digest(&message)
                } else {
                    SignInput::Raw(&message)
                };
                pair.sign(alg, input).map(Response::Signature).map_err(|_| {
                    HsmError::InvalidRequest(format!(
                        "the digest must be {} bytes for {algorithm}",
                        alg.digest_len()
                    ))
                })
            }
            Request::Verify {
                key,
                ekt,
                message,
                digest,
                algorithm,
                signature,
            } => {
                let alg = signing_algorithm(&algorithm)?;
                let pair = self.key_pair(caller, key, &ekt)?;
                if !pair.spec().signing_algorithms().contains(&alg) {
                    return Err(usage(format!(
                        "{algorithm} does not fit a {:?} key",
                        pair.spec()
                    )));
                }
                if digest && message.len() != alg.digest_len() {
                    return Err(HsmError::InvalidRequest(format!(
                        "the digest must be {} bytes for {algorithm}",
                        alg.digest_len()
                    )));
                }
                let input = if digest {
                    SignInput::Digest(&message)
                } else {
                    SignInput::Raw(&message)
                };
                Ok(Response::Valid(pair.verify(alg, input, &signature)))
            }
            Request::GetPublicKey { key, ekt } => {
                let pair = self.key_pair(caller, key, &ekt)?;
                Ok(Response::PublicKey(pair.public_key().to_vec()))
            }
            Request::AsymmetricDecrypt {
                key,
                ekt,
                ciphertext,
                algorithm,
            } => {
                let hash = oaep(&algorithm)?;
                let pair = self.key_pair(caller, key, &ekt)?;
                let plaintext = pair.decrypt(hash, &ciphertext).map_err(|e| match e {
                    strongroom_crypto::CryptoError::InvalidKey => {
                        usage("only RSA keys decrypt with RSA-OAEP")
                    }
                    _ => HsmError::InvalidCiphertext,
                })?;
                Ok(Response::Plaintext { key, plaintext })
            }
            Request::AsymmetricEncrypt {
                key,
                ekt,
                plaintext,
                algorithm,
            } => {
                let hash = oaep(&algorithm)?;
                let pair = self.key_pair(caller, key, &ekt)?;
                if !pair.spec().is_rsa() {
                    return Err(usage("only RSA keys encrypt with RSA-OAEP"));
                }
                rsa_oaep_encrypt(pair.public_key(), hash, &plaintext)
                    .map(Response::Ciphertext)
                    .map_err(|_| {
                        HsmError::InvalidRequest(format!(
                            "the plaintext is too long for {algorithm} with this key"
                        ))
                    })
            }
            Request::DeriveSharedSecret {
                key,
                ekt,
                peer_public_key,
            } => {
                let pair = self.key_pair(caller, key, &ekt)?;
                let plaintext = pair.ecdh(&peer_public_key).map_err(|_| {
                    HsmError::InvalidRequest(
                        "the public key is not a key on this key's curve".into(),
                    )
                })?;
                Ok(Response::Plaintext { key, plaintext })
            }
            Request::GenerateDataKeyPair {
                key,
                ekt,
                context,
                pair_spec,
                with_plaintext,
            } => {
                let spec = pair_spec.asymmetric().ok_or_else(|| {
                    HsmError::InvalidRequest(format!("{pair_spec:?} is not a key pair spec"))
                })?;
                let pair =
                    AsymmetricKey::generate(spec).map_err(|e| HsmError::Internal(e.to_string()))?;
                let backing = self.backing_key(caller, key, &ekt)?;
                let private_ciphertext =
                    crate::symmetric::encrypt(backing, key, pair.expose_pkcs8(), &context)?;
                Ok(Response::DataKeyPair {
                    private_plaintext: with_plaintext
                        .then(|| zeroize::Zeroizing::new(pair.expose_pkcs8().to_vec())),
                    private_ciphertext,
                    public_key: pair.public_key().to_vec(),
                })
            }
            _ => Err(HsmError::InvalidRequest("not an asymmetric request".into())),
        }
    }
}
