//! The module's worker pool: private-key work (signing, RSA-OAEP
//! decryption, ECDH, data key pairs) runs on these threads, so one module
//! uses every core, while every request that reads or changes the module's
//! state (modes, domains, caches, commands, erasure) stays on the module's
//! own thread, one at a time.
//!
//! The module's thread does all the checking (mode, domain, scope, the
//! token, the key's spec) and hands a worker only a finished job: a shared
//! handle on a key pair from the module's cache (or, for a data key pair, a
//! zeroizing copy of the backing key) and the crypto to run with it. A job
//! holds that material for its own run only, and each is registered here
//! under its key. Forgetting a key waits until no job holds material of it;
//! erasure (and every other wipe of the caches) refuses the jobs still
//! queued and waits for the running ones. So once ForgetKey or an erasure
//! has answered, no worker holds the material any more, and every answer
//! computed with it was sent before that one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex};

use strongroom_hsm_proto::{Answer, Caller, HsmError, Request, Response};
use uuid::Uuid;

use crate::module::Module;

/// The cryptography of one job, run on a worker.
pub(crate) type Work = Box<dyn FnOnce() -> Result<Response, HsmError> + Send>;

/// A checked request ready for a worker: the key whose material `work`
/// holds, and the work.
pub(crate) struct Offload {
    pub(crate) key_id: Uuid,
    pub(crate) work: Work,
}

/// Jobs queued per worker before the module's own thread runs one itself
/// (it never blocks on a full queue).
const QUEUE_PER_WORKER: usize = 256;

/// The jobs that hold key material now, by key, and the erasure epoch.
#[derive(Default)]
pub(crate) struct InFlight {
    jobs: Mutex<Jobs>,
    released: Condvar,
    /// Moves at every wipe of the caches; a job queued before it is refused.
    epoch: AtomicU64,
}

#[derive(Default)]
struct Jobs {
    next: u64,
    holding: HashMap<u64, Uuid>,
}

impl InFlight {
    fn register(&self, key_id: Uuid) -> (u64, u64) {
        let mut jobs = self.jobs.lock().expect("in-flight lock");
        jobs.next += 1;
        let id = jobs.next;
        jobs.holding.insert(id, key_id);
        (id, self.epoch.load(Ordering::SeqCst))
    }

    fn release(&self, id: u64) {
        self.jobs
            .lock()
            .expect("in-flight lock")
            .holding
            .remove(&id);
        self.released.notify_all();
    }

    /// Refuses every job queued so far (they have not started).
    pub(crate) fn refuse_queued(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Waits until no job holds material of `key_id` (of any key if none).
    /// Called on the module's thread, which hands out no job meanwhile, so
    /// the wait ends once the jobs already handed out have run.
    pub(crate) fn wait_released(&self, key_id: Option<Uuid>) {
        let mut jobs = self.jobs.lock().expect("in-flight lock");
        while jobs
            .holding
            .values()
            .any(|k| key_id.is_none_or(|only| only == *k))
        {
            jobs = self.released.wait(jobs).expect("in-flight lock");
        }
    }

    /// Jobs holding material now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.jobs.lock().expect("in-flight lock").holding.len()
    }
}

struct Job {
    id: u64,
    epoch: u64,
    work: Work,
    answer: Answer,
}

impl Job {
    /// Runs the job (or refuses it, if the caches were wiped since it was
    /// queued), answers, and only then releases its place: the answer goes
    /// out before a waiting ForgetKey or erasure answers.
    fn run(self, in_flight: &InFlight) {
        let Job {
            id,
            epoch,
            work,
            answer,
        } = self;
        let result = if in_flight.epoch.load(Ordering::SeqCst) == epoch {
            // The material is dropped when `work` returns (or unwinds).
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|_| {
                Err(HsmError::Internal(
                    "a module worker failed during the operation".into(),
                ))
            })
        } else {
            drop(work);
            Err(HsmError::WrongMode(
                "the module's keys were erased while this request waited".into(),
            ))
        };
        answer(result);
        in_flight.release(id);
    }
}

/// A fixed number of worker threads behind a bounded queue, started on the
/// first job (a module that only answers `handle` never starts them).
pub(crate) struct WorkerPool {
    size: usize,
    queue: Option<SyncSender<Job>>,
    in_flight: Arc<InFlight>,
}

/// Worker threads by default: one per core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl WorkerPool {
    /// A pool of `size` workers (0: every job runs on the module's thread).
    pub(crate) fn new(size: usize, in_flight: Arc<InFlight>) -> Self {
        Self {
            size,
            queue: None,
            in_flight,
        }
    }

    /// The registry of jobs holding material.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }

    fn start(&mut self) -> Option<&SyncSender<Job>> {
        if self.queue.is_none() && self.size > 0 {
            let (tx, rx) = sync_channel::<Job>(self.size * QUEUE_PER_WORKER);
            let rx = Arc::new(Mutex::new(rx));
            for i in 0..self.size {
                let (rx, in_flight) = (rx.clone(), self.in_flight.clone());
                let spawned = std::thread::Builder::new()
                    .name(format!("hsm-worker-{i}"))
                    .spawn(move || work_loop(&rx, &in_flight));
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "cannot start a module worker");
                    if i == 0 {
                        self.size = 0;
                        return None;
                    }
                }
            }
            self.queue = Some(tx);
        }
        self.queue.as_ref()
    }

    /// Hands `job` to a worker, or runs it here when there are no workers
    /// or the queue is full.
    pub(crate) fn submit(&mut self, job: Offload, answer: Answer) {
        let (id, epoch) = self.in_flight.register(job.key_id);
        let job = Job {
            id,
            epoch,
            work: job.work,
            answer,
        };
        let in_flight = self.in_flight.clone();
        let job = match self.start() {
            Some(queue) => match queue.try_send(job) {
                Ok(()) => return,
                Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => job,
            },
            None => job,
        };
        job.run(&in_flight);
    }
}

impl Drop for WorkerPool {
    /// The module is going: jobs still queued are refused, not run.
    fn drop(&mut self) {
        self.in_flight.refuse_queued();
    }
}

fn work_loop(queue: &Mutex<Receiver<Job>>, in_flight: &InFlight) {
    loop {
        let next = queue.lock().expect("worker queue lock").recv();
        match next {
            Ok(job) => job.run(in_flight),
            // The module was dropped.
            Err(_) => return,
        }
    }
}

/// Whether a request's work goes to the pool: private-key operations and
/// the asymmetric public-key ones that share their checks. Symmetric work
/// (about 1.5 µs) stays on the module's thread, where the backing key is
/// used in place in the locked vault: a hop to a worker would cost more
/// than the work, and would need a copy of the key outside the vault.
fn offloaded(request: &Request) -> bool {
    matches!(
        request,
        Request::Sign { .. }
            | Request::Verify { .. }
            | Request::AsymmetricDecrypt { .. }
            | Request::AsymmetricEncrypt { .. }
            | Request::DeriveSharedSecret { .. }
            | Request::GenerateDataKeyPair { .. }
    )
}

impl Module {
    /// Worker jobs holding key material now.
    #[cfg(test)]
    pub(crate) fn workers_in_flight(&self) -> usize {
        self.workers.in_flight().len()
    }

    /// Takes one request: checks it on this thread, then either answers it
    /// here or hands its private-key work to a worker.
    pub(crate) fn dispatch_request(&mut self, caller: &Caller, request: Request, answer: Answer) {
        let (requester, request) = match self.admit(caller, request) {
            Ok(admitted) => admitted,
            Err(e) => return answer(Err(e)),
        };
        if !offloaded(&request) {
            return answer(self.serve(&requester, request));
        }
        match self.asymmetric_job(&requester, request) {
            Ok(job) => self.workers.submit(job, answer),
            Err(e) => answer(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_queued_before_a_wipe_is_refused_without_running() {
        let in_flight = InFlight::default();
        let key = Uuid::new_v4();
        let (id, epoch) = in_flight.register(key);
        in_flight.refuse_queued();
        let (tx, rx) = std::sync::mpsc::channel();
        Job {
            id,
            epoch,
            work: Box::new(|| panic!("a refused job ran")),
            answer: Box::new(move |r| tx.send(r).unwrap()),
        }
        .run(&in_flight);
        assert!(matches!(rx.recv().unwrap(), Err(HsmError::WrongMode(_))));
        assert_eq!(in_flight.len(), 0);
        // Nothing is held, so a forget or an erasure does not wait.
        in_flight.wait_released(Some(key));
        in_flight.wait_released(None);
    }

    #[test]
    fn a_job_that_panics_answers_and_releases_its_material() {
        let in_flight = Arc::new(InFlight::default());
        let mut pool = WorkerPool::new(1, in_flight.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        pool.submit(
            Offload {
                key_id: Uuid::new_v4(),
                work: Box::new(|| panic!("deliberate")),
            },
            Box::new(move |r| tx.send(r).unwrap()),
        );
        assert!(matches!(rx.recv().unwrap(), Err(HsmError::Internal(_))));
        in_flight.wait_released(None);
        assert_eq!(in_flight.len(), 0);
    }
}
