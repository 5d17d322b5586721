use tokio::sync::{mpsc, oneshot};

use crate::{
    DataKey, Ekt, HsmError, KeyRef, KeySpecCode, Request, Response, SigV4Scope, SigningKey,
};
use zeroize::Zeroizing;

type Envelope = (Request, oneshot::Sender<Result<Response, HsmError>>);

/// Something that serves module requests one at a time (the module itself).
pub trait ModuleHandler: Send + 'static {
    /// Answers one request.
    fn handle(&mut self, request: Request) -> Result<Response, HsmError>;
}

/// Runs `module` as a task on the current tokio runtime, behind a channel,
/// and returns a client. Requests are answered one at a time, in order. The
/// task ends when every client is dropped, dropping (and so zeroizing) the
/// module. A task rather than a thread: waking a sleeping thread for every
/// request cost more CPU than the cryptography itself.
pub fn spawn_module_task<M: ModuleHandler>(mut module: M, queue: usize) -> HsmClient {
    let (tx, mut rx) = mpsc::channel::<Envelope>(queue);
    tokio::spawn(async move {
        while let Some((req, reply)) = rx.recv().await {
            let _ = reply.send(module.handle(req));
        }
    });
    HsmClient { tx }
}

/// The frontend's handle on one security module. Cheap to clone.
#[derive(Clone, Debug)]
pub struct HsmClient {
    tx: mpsc::Sender<Envelope>,
}

fn unexpected(r: Response) -> HsmError {
    HsmError::Internal(format!("unexpected module response {}", variant(&r)))
}

fn variant(r: &Response) -> &'static str {
    match r {
        Response::Ekt(_) => "Ekt",
        Response::Ciphertext(_) => "Ciphertext",
        Response::Plaintext { .. } => "Plaintext",
        Response::DataKey(_) => "DataKey",
        Response::Random(_) => "Random",
        Response::SealedCredential(_) => "SealedCredential",
        Response::SigningKey(_) => "SigningKey",
        Response::Done => "Done",
        Response::Status { .. } => "Status",
    }
}

impl HsmClient {
    /// Sends one request and waits for its answer.
    pub async fn call(&self, request: Request) -> Result<Response, HsmError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send((request, tx))
            .await
            .map_err(|_| HsmError::Unavailable("module stopped".into()))?;
        rx.await
            .map_err(|_| HsmError::Unavailable("module dropped the request".into()))?
    }

    /// Generates a backing key for `key`, returning its EKT.
    pub async fn generate_backing_key(
        &self,
        key: KeyRef,
        spec: KeySpecCode,
    ) -> Result<Ekt, HsmError> {
        match self.call(Request::GenerateBackingKey { key, spec }).await? {
            Response::Ekt(e) => Ok(e),
            r => Err(unexpected(r)),
        }
    }

    /// Encrypts `plaintext` under `key`.
    pub async fn encrypt(
        &self,
        key: KeyRef,
        ekt: Ekt,
        plaintext: Zeroizing<Vec<u8>>,
        context: Vec<u8>,
    ) -> Result<Vec<u8>, HsmError> {
        match self
            .call(Request::Encrypt {
                key,
                ekt,
                plaintext,
                context,
            })
            .await?
        {
            Response::Ciphertext(c) => Ok(c),
            r => Err(unexpected(r)),
        }
    }

    /// Decrypts `ciphertext` with the version `ekt` holds.
    pub async fn decrypt(
        &self,
        ekt: Ekt,
        ciphertext: Vec<u8>,
        context: Vec<u8>,
    ) -> Result<(KeyRef, Zeroizing<Vec<u8>>), HsmError> {
        match self
            .call(Request::Decrypt {
                ekt,
                ciphertext,
                context,
            })
            .await?
        {
            Response::Plaintext { key, plaintext } => Ok((key, plaintext)),
            r => Err(unexpected(r)),
        }
    }

    /// Re-encrypts inside the module.
    pub async fn re_encrypt(&self, request: Request) -> Result<Vec<u8>, HsmError> {
        match self.call(request).await? {
            Response::Ciphertext(c) => Ok(c),
            r => Err(unexpected(r)),
        }
    }

    /// Generates a data key of `length` bytes under `key`.
    pub async fn generate_data_key(
        &self,
        key: KeyRef,
        ekt: Ekt,
        context: Vec<u8>,
        length: u16,
        with_plaintext: bool,
    ) -> Result<DataKey, HsmError> {
        let req = Request::GenerateDataKey {
            key,
            ekt,
            context,
            length,
            with_plaintext,
        };
        match self.call(req).await? {
            Response::DataKey(d) => Ok(d),
            r => Err(unexpected(r)),
        }
    }

    /// `length` random bytes.
    pub async fn generate_random(&self, length: u16) -> Result<Vec<u8>, HsmError> {
        match self.call(Request::GenerateRandom { length }).await? {
            Response::Random(b) => Ok(b),
            r => Err(unexpected(r)),
        }
    }

    /// Seals a secret access key.
    pub async fn seal_credential(
        &self,
        access_key_id: String,
        secret: Zeroizing<String>,
    ) -> Result<Vec<u8>, HsmError> {
        match self
            .call(Request::SealCredential {
                access_key_id,
                secret,
            })
            .await?
        {
            Response::SealedCredential(s) => Ok(s),
            r => Err(unexpected(r)),
        }
    }

    /// Derives the SigV4 signing key for a sealed credential and scope.
    pub async fn derive_sigv4_key(
        &self,
        access_key_id: String,
        sealed: Vec<u8>,
        scope: SigV4Scope,
    ) -> Result<SigningKey, HsmError> {
        match self
            .call(Request::DeriveSigV4Key {
                access_key_id,
                sealed,
                scope,
            })
            .await?
        {
            Response::SigningKey(k) => Ok(k),
            r => Err(unexpected(r)),
        }
    }

    /// Drops a key's cached backing keys from the module.
    pub async fn forget_key(&self, key_id: uuid::Uuid) -> Result<(), HsmError> {
        match self.call(Request::ForgetKey { key_id }).await? {
            Response::Done => Ok(()),
            r => Err(unexpected(r)),
        }
    }
}
