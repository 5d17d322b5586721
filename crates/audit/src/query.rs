//! Reading every chain of a directory merged by time, with filters.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::path::PathBuf;

use crate::chain::ChainId;
use crate::error::AuditError;
use crate::footer::SealedFooter;
use crate::record::AuditRecord;
use crate::segment::{list_chains, parse_segment};

/// Which records a query returns (every field that is set must match).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// At or after this time (epoch ms).
    pub since_ms: Option<i64>,
    /// Before this time (epoch ms).
    pub until_ms: Option<i64>,
    /// Operation name.
    pub operation: Option<String>,
    /// A key the request used: its ARN or its key id.
    pub key: Option<String>,
    /// The caller's principal ARN.
    pub principal: Option<String>,
    /// `Some(true)`: failed requests only; `Some(false)`: successful only.
    pub failed: Option<bool>,
    /// Only this chain.
    pub chain: Option<ChainId>,
}

impl Filter {
    /// Whether `r` passes.
    pub fn matches(&self, r: &AuditRecord) -> bool {
        self.since_ms.is_none_or(|t| r.time_ms >= t)
            && self.until_ms.is_none_or(|t| r.time_ms < t)
            && self.operation.as_ref().is_none_or(|o| *o == r.operation)
            && self
                .principal
                .as_ref()
                .is_none_or(|p| r.identity.arn.as_ref() == Some(p))
            && self.failed.is_none_or(|f| f == r.failed())
            && self.key.as_ref().is_none_or(|k| {
                r.key_arns
                    .iter()
                    .any(|a| a == k || a.rsplit_once('/').is_some_and(|(_, id)| id == k))
            })
    }

    /// Whether a segment whose records span these times can hold a match.
    fn may_hold(&self, first_ms: i64, last_ms: i64) -> bool {
        self.since_ms.is_none_or(|t| last_ms >= t) && self.until_ms.is_none_or(|t| first_ms < t)
    }
}

/// A record found by a query.
#[derive(Debug, Clone)]
pub struct QueriedRecord {
    /// Its chain.
    pub chain: ChainId,
    /// Its sequence number there.
    pub seq: u64,
    /// The chain hash before it.
    pub prev_hash: [u8; 32],
    /// The chain hash after it.
    pub hash: [u8; 32],
    /// The record.
    pub record: AuditRecord,
}

/// One chain's matching records, a segment at a time.
struct ChainStream {
    chain: ChainId,
    segments: VecDeque<PathBuf>,
    buffered: VecDeque<QueriedRecord>,
}

impl ChainStream {
    fn next(&mut self, filter: &Filter) -> Option<Result<QueriedRecord, AuditError>> {
        loop {
            if let Some(r) = self.buffered.pop_front() {
                return Some(Ok(r));
            }
            let path = self.segments.pop_front()?;
            let bytes = match crate::read::read_bounded(&path, crate::read::ANY_SEGMENT_FILE) {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            };
            let parsed = match parse_segment(&bytes) {
                Ok(p) => p,
                Err(e) => {
                    return Some(Err(AuditError::Malformed(format!(
                        "{}: {e:?}",
                        path.display()
                    ))));
                }
            };
            let mut prev = parsed.header.prev_head;
            for r in parsed.records {
                let this_prev = prev;
                prev = r.hash;
                if filter.matches(&r.record) {
                    self.buffered.push_back(QueriedRecord {
                        chain: self.chain.clone(),
                        seq: r.seq,
                        prev_hash: this_prev,
                        hash: r.hash,
                        record: r.record,
                    });
                }
            }
        }
    }
}

/// Matching records of every chain in `dir`, merged by time (records of
/// one chain keep their chain order). Reads one segment per chain at a
/// time; a sealed segment whose footer shows no record in the time window
/// is not read.
pub fn query(
    dir: &std::path::Path,
    filter: Filter,
) -> Result<impl Iterator<Item = Result<QueriedRecord, AuditError>>, AuditError> {
    let mut streams = Vec::new();
    for (chain, segments) in list_chains(dir)? {
        if filter.chain.as_ref().is_some_and(|c| *c != chain) {
            continue;
        }
        let mut paths = VecDeque::new();
        for files in segments {
            let Some(seg) = files.segment else { continue };
            let skip = files
                .footer
                .and_then(|f| SealedFooter::read(&f).ok())
                .is_some_and(|f| {
                    f.body.count > 0 && !filter.may_hold(f.body.first_time_ms, f.body.last_time_ms)
                });
            if !skip {
                paths.push_back(seg);
            }
        }
        streams.push(ChainStream {
            chain,
            segments: paths,
            buffered: VecDeque::new(),
        });
    }
    Ok(Merge::new(streams, filter))
}

struct Merge {
    streams: Vec<ChainStream>,
    heads: Vec<Option<QueriedRecord>>,
    heap: BinaryHeap<Reverse<(i64, usize)>>,
    errors: VecDeque<AuditError>,
    filter: Filter,
}

impl Merge {
    fn new(streams: Vec<ChainStream>, filter: Filter) -> Self {
        let mut m = Self {
            heads: vec![None; streams.len()],
            streams,
            heap: BinaryHeap::new(),
            errors: VecDeque::new(),
            filter,
        };
        for i in 0..m.streams.len() {
            m.refill(i);
        }
        m
    }

    fn refill(&mut self, i: usize) {
        loop {
            match self.streams[i].next(&self.filter) {
                Some(Ok(r)) => {
                    self.heap.push(Reverse((r.record.time_ms, i)));
                    self.heads[i] = Some(r);
                    return;
                }
                Some(Err(e)) => self.errors.push_back(e),
                None => return,
            }
        }
    }
}

impl Iterator for Merge {
    type Item = Result<QueriedRecord, AuditError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.errors.pop_front() {
            return Some(Err(e));
        }
        let Reverse((_, i)) = self.heap.pop()?;
        let out = self.heads[i].take();
        self.refill(i);
        out.map(Ok)
    }
}
