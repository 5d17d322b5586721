//! Each asymmetric request as a job: checked here, on the module's thread,
//! against the module's state; its cryptography returned to run here or on
//! a worker.

use std::sync::Arc;

use strongroom_crypto::{
    AsymmetricKey, SecretKey256, SignInput, SigningAlgorithm, rsa_oaep_encrypt,
};
use strongroom_hsm_proto::{Ekt, HsmError, KeyRef, KeySpecCode, Request, Response};
use zeroize::Zeroizing;

use super::{check_message, oaep, signing_algorithm, usage};
use crate::module::Module;
use crate::scope::Requester;
use crate::workers::{Offload, Work};

/// What Sign and Verify sign or check: the message, or its digest.
fn sign_input(message: &[u8], digest: bool) -> SignInput<'_> {
    if digest {
        SignInput::Digest(message)
    } else {
        SignInput::Raw(message)
    }
}

impl Module {
    /// Checks an asymmetric request against the module's state and returns
    /// its cryptography, to run here or on a worker.
    pub(crate) fn asymmetric_job(
        &mut self,
        caller: &Requester,
        request: Request,
    ) -> Result<Offload, HsmError> {
        let (key, work) = match request {
            Request::Sign {
                key,
                ekt,
                message,
                digest,
                algorithm,
            } => (
                key,
                self.sign_job(caller, key, &ekt, message, digest, algorithm)?,
            ),
            r @ Request::Verify { .. } => self.verify_job(caller, r)?,
            Request::GetPublicKey { key, ekt } => {
                let public = self.key_pair(caller, key, &ekt)?.public_key().to_vec();
                let work: Work = Box::new(move || Ok(Response::PublicKey(public)));
                (key, work)
            }
            Request::AsymmetricDecrypt {
                key,
                ekt,
                ciphertext,
                algorithm,
            } => (
                key,
                self.decrypt_job(caller, key, &ekt, ciphertext, &algorithm)?,
            ),
            Request::AsymmetricEncrypt {
                key,
                ekt,
                plaintext,
                algorithm,
            } => (
                key,
                self.encrypt_job(caller, key, &ekt, plaintext, algorithm)?,
            ),
            Request::DeriveSharedSecret {
                key,
                ekt,
                peer_public_key,
            } => (key, self.ecdh_job(caller, key, &ekt, peer_public_key)?),
            r @ Request::GenerateDataKeyPair { .. } => self.data_key_pair_job(caller, r)?,
            _ => return Err(HsmError::InvalidRequest("not an asymmetric request".into())),
        };
        Ok(Offload {
            key_id: key.key_id,
            work,
        })
    }

    /// The key pair for Sign or Verify with `algorithm`, once the
    /// algorithm fits it and the message fits the algorithm.
    fn signing_pair(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        ekt: &Ekt,
        algorithm: &str,
        digest: bool,
        len: usize,
    ) -> Result<(Arc<AsymmetricKey>, SigningAlgorithm), HsmError> {
        let alg = signing_algorithm(algorithm)?;
        let pair = self.key_pair(caller, key, ekt)?;
        if !pair.spec().signing_algorithms().contains(&alg) {
            return Err(usage(format!(
                "{algorithm} does not fit a {:?} key",
                pair.spec()
            )));
        }
        check_message(alg, digest, len)?;
        Ok((pair, alg))
    }

    /// Sign: a signature over the message or digest.
    fn sign_job(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        ekt: &Ekt,
        message: Zeroizing<Vec<u8>>,
        digest: bool,
        algorithm: String,
    ) -> Result<Work, HsmError> {
        let (pair, alg) = self.signing_pair(caller, key, ekt, &algorithm, digest, message.len())?;
        Ok(Box::new(move || {
            pair.sign(alg, sign_input(&message, digest))
                .map(Response::Signature)
                .map_err(|_| HsmError::InvalidRequest(format!("{algorithm} failed")))
        }))
    }

    /// Verify: whether the signature is valid.
    fn verify_job(
        &mut self,
        caller: &Requester,
        request: Request,
    ) -> Result<(KeyRef, Work), HsmError> {
        let Request::Verify {
            key,
            ekt,
            message,
            digest,
            algorithm,
            signature,
        } = request
        else {
            return Err(HsmError::InvalidRequest("not a Verify request".into()));
        };
        let (pair, alg) =
            self.signing_pair(caller, key, &ekt, &algorithm, digest, message.len())?;
        let work: Work = Box::new(move || {
            let input = sign_input(&message, digest);
            Ok(Response::Valid(pair.verify(alg, input, &signature)))
        });
        Ok((key, work))
    }

    /// AsymmetricDecrypt: RSA-OAEP.
    fn decrypt_job(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        ekt: &Ekt,
        ciphertext: Vec<u8>,
        algorithm: &str,
    ) -> Result<Work, HsmError> {
        let hash = oaep(algorithm)?;
        let pair = self.key_pair(caller, key, ekt)?;
        Ok(Box::new(move || {
            let plaintext = pair.decrypt(hash, &ciphertext).map_err(|e| match e {
                strongroom_crypto::CryptoError::InvalidKey => {
                    usage("only RSA keys decrypt with RSA-OAEP")
                }
                _ => HsmError::InvalidCiphertext,
            })?;
            Ok(Response::Plaintext { key, plaintext })
        }))
    }

    /// AsymmetricEncrypt: RSA-OAEP under the public half.
    fn encrypt_job(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        ekt: &Ekt,
        plaintext: Zeroizing<Vec<u8>>,
        algorithm: String,
    ) -> Result<Work, HsmError> {
        let hash = oaep(&algorithm)?;
        let pair = self.key_pair(caller, key, ekt)?;
        if !pair.spec().is_rsa() {
            return Err(usage("only RSA keys encrypt with RSA-OAEP"));
        }
        Ok(Box::new(move || {
            rsa_oaep_encrypt(pair.public_key(), hash, &plaintext)
                .map(Response::Ciphertext)
                .map_err(|_| {
                    HsmError::InvalidRequest(format!(
                        "the plaintext is too long for {algorithm} with this key"
                    ))
                })
        }))
    }

    /// DeriveSharedSecret: ECDH with the peer's public key.
    fn ecdh_job(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        ekt: &Ekt,
        peer_public_key: Vec<u8>,
    ) -> Result<Work, HsmError> {
        let pair = self.key_pair(caller, key, ekt)?;
        Ok(Box::new(move || {
            let plaintext = pair.ecdh(&peer_public_key).map_err(|_| {
                HsmError::InvalidRequest("the public key is not a key on this key's curve".into())
            })?;
            Ok(Response::Plaintext { key, plaintext })
        }))
    }

    /// GenerateDataKeyPair: a new pair, its private half sealed under the
    /// symmetric key.
    fn data_key_pair_job(
        &mut self,
        caller: &Requester,
        request: Request,
    ) -> Result<(KeyRef, Work), HsmError> {
        let Request::GenerateDataKeyPair {
            key,
            ekt,
            context,
            pair_spec,
            with_plaintext,
        } = request
        else {
            return Err(HsmError::InvalidRequest(
                "not a GenerateDataKeyPair request".into(),
            ));
        };
        let spec = pair_spec_of(pair_spec)?;
        // The worker needs the backing key while it generates the pair
        // (RSA-4096 takes about a second): a zeroizing copy for this job
        // only, registered like a key pair handle.
        let backing = SecretKey256::from_slice(self.backing_key(caller, key, &ekt)?)
            .map_err(|e| HsmError::Internal(e.to_string()))?;
        let work: Work = Box::new(move || {
            let pair =
                AsymmetricKey::generate(spec).map_err(|e| HsmError::Internal(e.to_string()))?;
            let private_ciphertext =
                crate::symmetric::encrypt(backing.expose(), key, pair.expose_pkcs8(), &context)?;
            Ok(Response::DataKeyPair {
                private_plaintext: with_plaintext
                    .then(|| Zeroizing::new(pair.expose_pkcs8().to_vec())),
                private_ciphertext,
                public_key: pair.public_key().to_vec(),
            })
        });
        Ok((key, work))
    }
}

/// The asymmetric spec a GenerateDataKeyPair asks for.
fn pair_spec_of(pair_spec: KeySpecCode) -> Result<strongroom_crypto::AsymmetricSpec, HsmError> {
    pair_spec
        .asymmetric()
        .ok_or_else(|| HsmError::InvalidRequest(format!("{pair_spec:?} is not a key pair spec")))
}
