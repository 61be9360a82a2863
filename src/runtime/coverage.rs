//! [`Coverage`]: which elements of which document ran, and which branches they took.
//!
//! Fed from [`Runtime`](super::Runtime)'s outputs: a call's document fetches
//! (`Reply::Execute` requests) say which URL its next document comes from,
//! `CallEvent::DocumentLoaded` makes it current, `VerbStarted` marks an element,
//! `VerbFinished` marks the branch its outcome stands for ([`VerbOutcome::branch`](crate::engine::VerbOutcome::branch)), and the
//! `invalidDigitsSound` played by a gather marks its `invalid` branch.
//!
//! Bounded: the keys are (document URL, element, branch) of finite documents, at most
//! [`MAX_URLS`] URLs (further ones are only counted, [`Coverage::dropped`]); per-call state
//! is dropped when the call ends.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::engine::{CallEvent, CallId, Command, HttpRequest, Reply};
use crate::graph::{Covered, Graph, Pos, all_branches, positions};
use crate::xml::Document;

/// Most document URLs a [`Coverage`] records.
pub const MAX_URLS: usize = 1024;

#[derive(Debug, Default)]
struct CallCov {
    /// The URL of the latest document fetch.
    fetching: Option<String>,
    /// The URL of the running document.
    url: Option<String>,
    /// The running element.
    pos: Option<Pos>,
}

/// What ran, by document URL (fragments stripped).
#[derive(Debug, Default)]
pub struct Coverage {
    docs: BTreeMap<String, Covered>,
    /// URLs only ever requested as sound documents.
    sounds: BTreeMap<String, ()>,
    calls: HashMap<CallId, CallCov>,
    dropped: u64,
}

impl Coverage {
    /// Records a request of `call`.
    pub fn request(&mut self, call: &CallId, req: &HttpRequest) {
        let url = super::strip_fragment(&req.url);
        match req.reply {
            Reply::Execute => self.calls.entry(call.clone()).or_default().fetching = Some(url.to_owned()),
            Reply::Sounds if self.sounds.len() < MAX_URLS => {
                self.sounds.insert(url.to_owned(), ());
            }
            _ => {}
        }
    }

    /// Files the document `call` is fetching under `key` instead of its URL: a live
    /// application may answer one URL with different documents (a menu level kept per call),
    /// and each is covered on its own. Call it after the request was recorded and before its
    /// reply is delivered.
    pub fn fetching_as(&mut self, call: &CallId, key: String) {
        if let Some(c) = self.calls.get_mut(call) {
            c.fetching = Some(key);
        }
    }

    /// Records a command of `call` (an `invalidDigitsSound` marks the `invalid` branch).
    pub fn command(&mut self, call: &CallId, cmd: &Command) {
        if let Command::PlaySounds { what: "invalidDigitsSound", .. } = cmd {
            self.branch(call, "invalid");
        }
    }

    /// Records an event of `call`.
    pub fn event(&mut self, call: &CallId, e: &CallEvent) {
        match e {
            CallEvent::DocumentLoaded { .. } => {
                let c = self.calls.entry(call.clone()).or_default();
                c.url = c.fetching.take();
                c.pos = None;
                if let Some(url) = c.url.clone() {
                    self.doc(&url);
                }
            }
            CallEvent::VerbStarted { index, sub, .. } => {
                let Some(c) = self.calls.get_mut(call) else { return };
                c.pos = Some((*index, *sub));
                if let Some(url) = c.url.clone()
                    && let Some(d) = self.doc(&url)
                {
                    d.elements.insert((*index, *sub));
                }
            }
            CallEvent::VerbFinished { index, sub, outcome, .. } => {
                if let Some(c) = self.calls.get_mut(call) {
                    c.pos = Some((*index, *sub));
                }
                if let Some(b) = outcome.branch() {
                    self.branch(call, b);
                }
            }
            CallEvent::Ended { .. } => {
                self.calls.remove(call);
            }
            _ => {}
        }
    }

    fn doc(&mut self, url: &str) -> Option<&mut Covered> {
        if !self.docs.contains_key(url) {
            if self.docs.len() >= MAX_URLS {
                self.dropped += 1;
                return None;
            }
            self.docs.insert(url.to_owned(), Covered::default());
        }
        self.docs.get_mut(url)
    }

    fn branch(&mut self, call: &CallId, b: &'static str) {
        let Some(c) = self.calls.get(call) else { return };
        let (Some(url), Some(pos)) = (c.url.clone(), c.pos) else { return };
        if let Some(d) = self.doc(&url) {
            d.branches.insert((pos, b));
        }
    }

    /// What ran of the document at `url`.
    pub fn covered(&self, url: &str) -> Option<&Covered> {
        self.docs.get(url)
    }

    /// The URLs of the documents that ran, in order.
    pub fn urls(&self) -> impl Iterator<Item = &str> {
        self.docs.keys().map(String::as_str)
    }

    /// Happenings not recorded because [`MAX_URLS`] URLs were already recorded.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The report over `documents` (URL and parsed document: the ones served, whether they
    /// ran or not). Documents that ran but are not given are left out; the ones only
    /// requested as sound documents are kept but not counted (see [`CoverageReport::counted`]).
    pub fn report<'a>(&self, documents: impl IntoIterator<Item = (&'a str, &'a Document)>) -> CoverageReport {
        let mut docs = Vec::new();
        for (url, doc) in documents {
            let covered = self.docs.get(url).cloned().unwrap_or_default();
            let mut d = DocCoverage::new(url, doc, covered);
            d.sound = self.sounds.contains_key(url);
            docs.push(d);
        }
        docs.sort_by(|a, b| a.url.cmp(&b.url));
        CoverageReport { documents: docs }
    }
}

/// One document's coverage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocCoverage {
    /// Its URL.
    pub url: String,
    /// Elements that ran.
    pub elements_covered: usize,
    /// Elements in the document.
    pub elements_total: usize,
    /// Branches taken.
    pub branches_covered: usize,
    /// Branches in the document.
    pub branches_total: usize,
    /// Elements that never ran, e.g. `"3 Speak"`.
    pub uncovered_elements: Vec<String>,
    /// Branches never taken, e.g. `"1 GetDigits: no input"`.
    pub uncovered_branches: Vec<String>,
    /// What ran, for drawing.
    #[serde(skip)]
    pub covered: Covered,
    /// The document's graph.
    #[serde(skip)]
    pub graph: Graph,
    /// The document.
    #[serde(skip)]
    pub document: Document,
    /// Requested as a sound document (`waitSound`, `dialMusic`, …).
    #[serde(skip)]
    pub sound: bool,
}

fn at(p: Pos) -> String {
    match p.1 {
        Some(j) => format!("{}.{}", p.0, j),
        None => p.0.to_string(),
    }
}

impl DocCoverage {
    /// Counts `covered` against `doc`.
    pub fn new(url: &str, doc: &Document, covered: Covered) -> DocCoverage {
        let elements = positions(doc);
        let branches = all_branches(doc);
        let name = |p: Pos| crate::graph::element(doc, p).map_or("?", |v| v.name());
        DocCoverage {
            url: url.to_owned(),
            elements_covered: elements.iter().filter(|p| covered.elements.contains(p)).count(),
            elements_total: elements.len(),
            branches_covered: branches.iter().filter(|b| covered.branches.contains(b)).count(),
            branches_total: branches.len(),
            uncovered_elements: elements
                .iter()
                .filter(|p| !covered.elements.contains(p))
                .map(|&p| format!("{} {}", at(p), name(p)))
                .collect(),
            uncovered_branches: branches
                .iter()
                .filter(|b| !covered.branches.contains(b))
                .map(|&(p, b)| format!("{} {}: {b}", at(p), name(p)))
                .collect(),
            graph: Graph::new(doc),
            document: doc.clone(),
            sound: false,
            covered,
        }
    }
}

/// Coverage over several documents.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct CoverageReport {
    /// By URL, every document given (see [`CoverageReport::counted`]).
    pub documents: Vec<DocCoverage>,
}

impl CoverageReport {
    /// Adds `other`'s documents (the same URL twice: what ran is merged).
    pub fn merge(&mut self, other: CoverageReport) {
        for d in other.documents {
            match self.documents.iter_mut().find(|x| x.url == d.url && x.document == d.document) {
                Some(x) => {
                    let mut c = x.covered.clone();
                    c.merge(&d.covered);
                    let sound = x.sound || d.sound;
                    *x = DocCoverage::new(&x.url, &x.document, c);
                    x.sound = sound;
                }
                None => self.documents.push(d),
            }
        }
        self.documents.sort_by(|a, b| a.url.cmp(&b.url));
    }

    /// The documents counted: all but sound documents that never ran as documents.
    pub fn counted(&self) -> impl Iterator<Item = &DocCoverage> {
        self.documents.iter().filter(|d| !(d.sound && d.covered.elements.is_empty()))
    }

    /// (covered, total) elements and branches over the [counted](Self::counted) documents.
    pub fn totals(&self) -> ((usize, usize), (usize, usize)) {
        let mut t = ((0, 0), (0, 0));
        for d in self.counted() {
            t.0.0 += d.elements_covered;
            t.0.1 += d.elements_total;
            t.1.0 += d.branches_covered;
            t.1.1 += d.branches_total;
        }
        t
    }

    /// Elements and branches covered, as a percentage of both (100 when there are none).
    pub fn percent(&self) -> f64 {
        let ((ec, et), (bc, bt)) = self.totals();
        if et + bt == 0 { 100.0 } else { 100.0 * (ec + bc) as f64 / (et + bt) as f64 }
    }
}
