//! `Module::serve`: one request, once its domain is checked, handed to the
//! function of its command family.

use strongroom_crypto::fill_random;
use strongroom_hsm_proto::{HsmError, Request, Response};

use super::Module;
use crate::scope::Requester;
use crate::{credential, symmetric};

/// The command families a request belongs to, each answered by one function.
enum Family {
    /// Encrypt, Decrypt, ReEncrypt, GenerateDataKey and the XKS pair.
    Symmetric,
    /// Derived keys and HMAC.
    DerivedAndMac,
    /// Sign, Verify, public keys, asymmetric encryption, key agreement.
    Asymmetric,
    /// Making, rotating, rewrapping, forgetting and shredding backing keys.
    KeyLifecycle,
    /// Imported material, suspension and reinstatement.
    ImportAndSuspension,
    /// Random bytes, credentials and the audit seal.
    DomainServices,
    /// Status, attestation, domains, logs and operator commands.
    Admin,
}

/// The family `request` belongs to.
fn family(request: &Request) -> Family {
    use Request as R;
    match request {
        R::Encrypt { .. }
        | R::Decrypt { .. }
        | R::ReEncrypt { .. }
        | R::GenerateDataKey { .. }
        | R::XksEncrypt { .. }
        | R::XksDecrypt { .. } => Family::Symmetric,
        R::DeriveKey { .. }
        | R::RevealDerivedKey { .. }
        | R::GenerateMac { .. }
        | R::VerifyMac { .. } => Family::DerivedAndMac,
        R::Sign { .. }
        | R::Verify { .. }
        | R::GetPublicKey { .. }
        | R::AsymmetricDecrypt { .. }
        | R::AsymmetricEncrypt { .. }
        | R::GenerateDataKeyPair { .. }
        | R::DeriveSharedSecret { .. } => Family::Asymmetric,
        R::GenerateBackingKey { .. }
        | R::GenerateExposedKey { .. }
        | R::GenerateVolatileKey { .. }
        | R::InstallVolatileKey { .. }
        | R::GenerateOwnedBackingKey { .. }
        | R::RotateBackingKey { .. }
        | R::RewrapKeys { .. }
        | R::ForgetKey { .. }
        | R::ShredKey { .. } => Family::KeyLifecycle,
        R::PrepareImport { .. }
        | R::ImportKeyMaterial { .. }
        | R::SuspendKey { .. }
        | R::ReinstateKey { .. }
        | R::UpdateSuspensionOwner { .. } => Family::ImportAndSuspension,
        R::GenerateRandom { .. }
        | R::SealCredential { .. }
        | R::DeriveSigV4Key { .. }
        | R::RewrapCredentials { .. }
        | R::SignAuditSeal { .. }
        | R::AuditSealKeys => Family::DomainServices,
        R::Status
        | R::Attest { .. }
        | R::ListDomains
        | R::GetDomainToken { .. }
        | R::ListLogs
        | R::DescribeLog { .. }
        | R::GetLog { .. }
        | R::Command(_)
        | R::InDomain { .. } => Family::Admin,
    }
}

/// The answer of a family function handed a request of another family (a
/// bug in `family`, never the caller's doing).
fn misrouted(family: &str) -> HsmError {
    HsmError::Internal(format!(
        "a request routed to the {family} family is not one"
    ))
}

impl Module {
    /// Answers one request, once its domain (if it acts in one) is checked.
    pub(crate) fn serve(
        &mut self,
        caller: &Requester,
        request: Request,
    ) -> Result<Response, HsmError> {
        match family(&request) {
            Family::Symmetric => self.serve_symmetric(caller, request),
            Family::DerivedAndMac => self.serve_derived_and_mac(caller, request),
            Family::Asymmetric => self.handle_asymmetric(caller, request),
            Family::KeyLifecycle => self.serve_key_lifecycle(caller, request),
            Family::ImportAndSuspension => self.serve_import_and_suspension(caller, request),
            Family::DomainServices => self.serve_domain_services(caller, request),
            Family::Admin => self.serve_admin(caller, request),
        }
    }

    /// Encrypt, Decrypt, ReEncrypt, GenerateDataKey, XksEncrypt, XksDecrypt.
    fn serve_symmetric(
        &mut self,
        caller: &Requester,
        request: Request,
    ) -> Result<Response, HsmError> {
        match request {
            Request::Encrypt {
                key,
                ekt,
                plaintext,
                context,
            } => {
                let backing = self.backing_key(caller, key, &ekt)?;
                symmetric::encrypt(backing, key, &plaintext, &context).map(Response::Ciphertext)
            }
            Request::Decrypt {
                ekt,
                ciphertext,
                context,
            } => {
                let (key, plaintext) = self.decrypt(caller, &ekt, &ciphertext, &context)?;
                Ok(Response::Plaintext { key, plaintext })
            }
            r @ Request::ReEncrypt { .. } => self.re_encrypt(caller, r),
            Request::GenerateDataKey {
                key,
                ekt,
                context,
                length,
                with_plaintext,
            } => self
                .generate_data_key(caller, key, &ekt, &context, length, with_plaintext)
                .map(Response::DataKey),
            r @ (Request::XksEncrypt { .. } | Request::XksDecrypt { .. }) => {
                self.serve_xks(caller, r)
            }
            _ => Err(misrouted("symmetric")),
        }
    }

    /// ReEncrypt: opens under the source EKT, seals under the destination's.
    fn re_encrypt(&mut self, caller: &Requester, request: Request) -> Result<Response, HsmError> {
        let Request::ReEncrypt {
            source_ekt,
            ciphertext,
            source_context,
            destination,
            destination_ekt,
            destination_context,
        } = request
        else {
            return Err(misrouted("symmetric"));
        };
        let (_, plain) = self.decrypt(caller, &source_ekt, &ciphertext, &source_context)?;
        let backing = self.backing_key(caller, destination, &destination_ekt)?;
        symmetric::encrypt(backing, destination, &plain, &destination_context)
            .map(Response::Ciphertext)
    }

    /// XksEncrypt, XksDecrypt: an external key store proxy's AES-GCM.
    fn serve_xks(&mut self, caller: &Requester, request: Request) -> Result<Response, HsmError> {
        match request {
            Request::XksEncrypt {
                key,
                ekt,
                plaintext,
                aad,
                with_cdiv,
            } => {
                let backing = self.backing_key(caller, key, &ekt)?;
                let (sealed, cdiv) = crate::xks::seal(backing, key, &plaintext, &aad, with_cdiv)?;
                Ok(Response::XksSealed { sealed, cdiv })
            }
            Request::XksDecrypt {
                key,
                ekt,
                sealed,
                aad,
            } => {
                let backing = self.backing_key(caller, key, &ekt)?;
                let plaintext = crate::xks::open(backing, key, &sealed, &aad)?;
                Ok(Response::Plaintext { key, plaintext })
            }
            _ => Err(misrouted("symmetric")),
        }
    }

    /// DeriveKey, RevealDerivedKey, GenerateMac, VerifyMac.
    fn serve_derived_and_mac(
        &mut self,
        caller: &Requester,
        request: Request,
    ) -> Result<Response, HsmError> {
        match request {
            Request::DeriveKey {
                key,
                ekt,
                context,
                length,
            } => self.derive_key(caller, key, &ekt, &context, length),
            Request::RevealDerivedKey {
                key,
                ekt,
                token,
                context,
            } => self.reveal_derived_key(caller, key, &ekt, &token, &context),
            Request::GenerateMac { key, ekt, message } => {
                let k = self.hmac_key(caller, key, &ekt)?;
                Ok(Response::Mac(k.sign(&message)))
            }
            Request::VerifyMac {
                key,
                ekt,
                message,
                mac,
            } => {
                let k = self.hmac_key(caller, key, &ekt)?;
                Ok(Response::Valid(k.verify(&message, &mac)))
            }
            _ => Err(misrouted("derived key and MAC")),
        }
    }

    /// Making, rotating, rewrapping, forgetting and shredding backing keys.
    fn serve_key_lifecycle(
        &mut self,
        caller: &Requester,
        request: Request,
    ) -> Result<Response, HsmError> {
        match request {
            Request::GenerateBackingKey { key, spec } => self
                .generate_backing_key(caller, key, spec)
                .map(Response::Ekt),
            Request::GenerateExposedKey { key, spec } => {
                self.generate_exposed_key(caller, key, spec)
            }
            Request::GenerateVolatileKey { key, spec } => {
                self.generate_volatile_key(caller, key, spec)
            }
            Request::InstallVolatileKey { key, ekt } => {
                self.install_volatile_key(caller, key, &ekt)
            }
            Request::GenerateOwnedBackingKey {
                key,
                spec,
                suspension_owner,
            } => self.generate_owned_backing_key(caller, key, spec, &suspension_owner),
            Request::RotateBackingKey { key, previous } => {
                self.rotate_backing_key(caller, key, &previous)
            }
            Request::RewrapKeys { ekts } => self.rewrap(caller, ekts).map(Response::Ekts),
            Request::ForgetKey { key_id } => {
                self.require_use()?;
                self.forget_key(caller, key_id);
                Ok(Response::Done)
            }
            Request::ShredKey { key_id } => self.shred(caller, key_id),
            _ => Err(misrouted("key lifecycle")),
        }
    }

    /// PrepareImport, ImportKeyMaterial, SuspendKey, ReinstateKey,
    /// UpdateSuspensionOwner.
    fn serve_import_and_suspension(
        &mut self,
        caller: &Requester,
        request: Request,
    ) -> Result<Response, HsmError> {
        match request {
            Request::PrepareImport {
                key_id,
                wrapping_spec,
                algorithm,
                valid_to,
            } => self.prepare_import(caller, key_id, wrapping_spec, algorithm, valid_to),
            Request::ImportKeyMaterial {
                key,
                import_token,
                encrypted_material,
            } => self.import_key_material(caller, key, &import_token, &encrypted_material),
            Request::SuspendKey {
                key_id,
                versions,
                owner_public_key,
            } => self.suspend_key(caller, key_id, versions, &owner_public_key),
            Request::ReinstateKey {
                key_id,
                import_token,
                encrypted_bundle,
                expected_fingerprint,
            } => self.reinstate_key(
                caller,
                key_id,
                &import_token,
                &encrypted_bundle,
                &expected_fingerprint,
            ),
            r @ Request::UpdateSuspensionOwner { .. } => self.serve_owner_update(caller, r),
            _ => Err(misrouted("import and suspension")),
        }
    }

    /// UpdateSuspensionOwner, unpacked.
    fn serve_owner_update(
        &mut self,
        caller: &Requester,
        request: Request,
    ) -> Result<Response, HsmError> {
        let Request::UpdateSuspensionOwner {
            key_id,
            versions,
            current_owner,
            new_owner,
            valid_to,
            signature,
        } = request
        else {
            return Err(misrouted("import and suspension"));
        };
        self.update_suspension_owner(
            caller,
            key_id,
            versions,
            &current_owner,
            &new_owner,
            valid_to,
            &signature,
        )
    }

    /// GenerateRandom, SealCredential, DeriveSigV4Key, RewrapCredentials,
    /// SignAuditSeal, AuditSealKeys.
    fn serve_domain_services(
        &mut self,
        caller: &Requester,
        request: Request,
    ) -> Result<Response, HsmError> {
        match request {
            Request::GenerateRandom { length } => self.generate_random(length),
            Request::SealCredential {
                access_key_id,
                secret,
            } => {
                let dk = self.current_domain(caller)?;
                credential::seal(dk, &access_key_id, &secret).map(Response::SealedCredential)
            }
            Request::DeriveSigV4Key {
                access_key_id,
                sealed,
                scope,
            } => {
                let generation = credential::generation_of(&sealed)?;
                let domain = self.current_domain(caller)?.id();
                let dk = self.domain_key(caller, domain, generation)?;
                credential::derive_sigv4(dk, &access_key_id, &sealed, &scope)
                    .map(Response::SigningKey)
            }
            Request::RewrapCredentials { credentials } => self
                .rewrap_credentials(caller, credentials)
                .map(Response::SealedCredentials),
            Request::SignAuditSeal { message } => self.sign_audit_seal(caller, &message),
            Request::AuditSealKeys => self.audit_seal_keys(caller),
            _ => Err(misrouted("domain services")),
        }
    }

    /// GenerateRandom: 1-1024 bytes from the CSPRNG, in use mode only.
    fn generate_random(&self, length: u16) -> Result<Response, HsmError> {
        self.require_use()?;
        if !(1..=1024).contains(&length) {
            return Err(HsmError::InvalidRequest(
                "NumberOfBytes must be 1-1024".into(),
            ));
        }
        let mut b = vec![0u8; usize::from(length)];
        fill_random(&mut b).map_err(|e| HsmError::Internal(e.to_string()))?;
        Ok(Response::Random(b))
    }

    /// Status, Attest, ListDomains, GetDomainToken, the logs, operator
    /// commands (and an InDomain nested in another, refused).
    fn serve_admin(&mut self, _caller: &Requester, request: Request) -> Result<Response, HsmError> {
        match request {
            Request::Status => Ok(Response::Status(Box::new(self.status()))),
            Request::Attest { nonce } => self.attest(nonce).map(Response::Attestation),
            Request::ListDomains => Ok(Response::Domains(self.domain_summaries())),
            Request::GetDomainToken { domain_id } => self
                .domains
                .get(&domain_id)
                .and_then(|d| d.token.clone())
                .map(Response::DomainToken)
                .ok_or_else(|| HsmError::NoDomainKey(format!("domain {domain_id}"))),
            r @ (Request::ListLogs | Request::DescribeLog { .. } | Request::GetLog { .. }) => {
                self.log_request(r)
            }
            Request::Command(cmd) => self.execute(cmd),
            Request::InDomain { .. } => Err(HsmError::InvalidRequest(
                "an InDomain request cannot contain another".into(),
            )),
            _ => Err(misrouted("admin")),
        }
    }
}
