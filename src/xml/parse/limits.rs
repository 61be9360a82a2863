//! The limits (`ParseOptions`) and how they bound the work: the size check before reading, and
//! the diagnostics cap (the first `max_diagnostics` by position in a max-heap, the rest counted).

use super::{Parsed, Parser};
use crate::diagnostic::{Code, Diagnostic, LineIndex, Span};
use crate::xml::ast::Document;

/// Limits the parser enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// Largest accepted document in bytes. Plivo's limit is 100 KB; the default is 102 400.
    pub max_bytes: usize,
    /// Deepest accepted element nesting (`<Response>` is depth 1). Default 32.
    pub max_depth: usize,
    /// Most diagnostics kept per document (the first ones in source order). Default 100;
    /// the rest are only counted in [`Parsed::suppressed`].
    pub max_diagnostics: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions { max_bytes: 100 * 1024, max_depth: 32, max_diagnostics: 100 }
    }
}

pub(super) fn too_large(len: usize, opts: &ParseOptions) -> Parsed {
    // Nothing past the size is read: no decoding, no line index, no scan.
    let code = Code::TooLarge;
    let message = format!("the document is {len} bytes; the limit is {} bytes", opts.max_bytes);
    let d = Diagnostic { code, severity: code.severity(), message, span: Span::at(0), line: 1, column: 1 };
    Parsed { document: Document::default(), diagnostics: vec![d], suppressed: 0, suppressed_errors: 0 }
}

/// A kept diagnostic, ordered by (position, discovery order).
pub(super) struct Kept {
    start: usize,
    seq: usize,
    diag: Diagnostic,
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        (self.start, self.seq) == (other.start, other.seq)
    }
}
impl Eq for Kept {}
impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Kept {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.start, self.seq).cmp(&(other.start, other.seq))
    }
}

impl Parser<'_> {
    pub(super) fn report(&mut self, code: Code, span: Span, message: String) {
        self.report_with(code, span, || message);
    }

    /// Records a diagnostic; `message` is only called when the diagnostic is kept (within
    /// the cap), so past the cap a diagnostic costs a comparison and a count.
    pub(super) fn report_with(&mut self, code: Code, span: Span, message: impl FnOnce() -> String) {
        let seq = self.seq;
        self.seq += 1;
        let full = self.diags.len() >= self.opts.max_diagnostics;
        if full && self.diags.peek().is_none_or(|last| span.start >= last.start) {
            self.count_suppressed(code);
            return;
        }
        // Lines and columns are filled in by `finish`, so a valid document never pays for a
        // line index.
        let diag = Diagnostic { code, severity: code.severity(), message: message(), span, line: 0, column: 0 };
        self.diags.push(Kept { start: span.start, seq, diag });
        if self.diags.len() > self.opts.max_diagnostics
            && let Some(dropped) = self.diags.pop()
        {
            self.count_suppressed(dropped.diag.code);
        }
    }

    fn count_suppressed(&mut self, code: Code) {
        self.suppressed += 1;
        if code.severity() == crate::diagnostic::Severity::Error {
            self.suppressed_errors += 1;
        }
    }

    /// The result: the kept diagnostics in source order, with lines and columns computed in
    /// one pass over the source.
    pub(super) fn into_parsed(self, document: Document) -> Parsed {
        let kept = self.diags.into_sorted_vec();
        let mut diagnostics: Vec<Diagnostic> = kept.into_iter().map(|k| k.diag).collect();
        if !diagnostics.is_empty() {
            let idx = LineIndex::new(self.src);
            let offsets: Vec<usize> = diagnostics.iter().map(|d| d.span.start).collect();
            for (d, (line, column)) in diagnostics.iter_mut().zip(idx.line_cols_sorted(&offsets)) {
                (d.line, d.column) = (line, column);
            }
        }
        Parsed { document, diagnostics, suppressed: self.suppressed, suppressed_errors: self.suppressed_errors }
    }
}
