//! A map between dotted key paths (`client.concurrency`, `plan.1.sync_expiry.offset`) and their
//! positions in a YAML source, built from the parser's event stream.
//!
//! Errors found after deserialization (semantic validation) know a key path but no position;
//! errors from serde know a position but not the full key path. This index answers both ways.
//! It never expands aliases and stops after a bounded number of events, so it is cheap and safe on
//! any input.

use serde_saphyr::granit_parser::{Event, Parser};

/// The most events looked at (the scenario parser rejects much smaller documents anyway).
const MAX_EVENTS: usize = 200_000;

/// One node of the document: its key path and where its key and value are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Dotted path; sequence items are numbered from 0; the root is `""`.
    pub path: String,
    /// Position (1-based line, 1-based column) and width of the key, for mapping values.
    pub key: Option<(u64, u64, usize)>,
    /// Position of the value's start (1-based line and column).
    pub value: (u64, u64),
    /// Character offsets of the value `[start, end)`.
    pub span: (usize, usize),
}

/// All nodes of a document, in document order.
#[derive(Debug, Default, Clone)]
pub struct Index {
    nodes: Vec<Node>,
}

enum Frame {
    Map {
        path: String,
        key: Option<(String, (u64, u64, usize))>,
        node: usize,
    },
    Seq {
        path: String,
        next: usize,
        node: usize,
    },
}

fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

impl Index {
    /// Indexes `source`. Stops quietly at the first syntax error (the deserializer reports it).
    pub fn build(source: &str) -> Index {
        let mut nodes: Vec<Node> = Vec::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(source);
        let mut seen_document = false;
        for _ in 0..MAX_EVENTS {
            let Some(Ok((event, span))) = parser.next_event() else {
                break;
            };
            let start = (span.start.line() as u64, span.start.col() as u64 + 1);
            let offsets = (span.start.index(), span.end.index());
            match event {
                Event::DocumentStart(..) => {
                    if seen_document {
                        break;
                    }
                    seen_document = true;
                }
                Event::StreamEnd | Event::DocumentEnd => {}
                Event::MappingEnd | Event::SequenceEnd => {
                    let node = match stack.pop() {
                        Some(Frame::Map { node, .. } | Frame::Seq { node, .. }) => node,
                        None => break,
                    };
                    if let Some(n) = nodes.get_mut(node) {
                        n.span.1 = offsets.1.max(n.span.0);
                    }
                    Self::value_done(&mut stack);
                }
                Event::Scalar(..)
                | Event::Alias(..)
                | Event::MappingStart(..)
                | Event::SequenceStart(..) => {
                    // A scalar in key position is a key, not a node.
                    if let Some(Frame::Map { key: k @ None, .. }) = stack.last_mut() {
                        let name = match &event {
                            Event::Scalar(v, ..) => v.to_string(),
                            _ => "?".to_string(),
                        };
                        let width = offsets.1.saturating_sub(offsets.0).max(1);
                        *k = Some((name, (start.0, start.1, width)));
                        if matches!(event, Event::MappingStart(..) | Event::SequenceStart(..)) {
                            // Complex keys are not supported by our files; stop indexing.
                            break;
                        }
                        continue;
                    }
                    let (path, key) = match stack.last_mut() {
                        None => (String::new(), None),
                        Some(Frame::Map { path, key, .. }) => match key {
                            Some((name, pos)) => (join(path, name), Some(*pos)),
                            None => break,
                        },
                        Some(Frame::Seq { path, next, .. }) => {
                            let p = join(path, &next.to_string());
                            *next += 1;
                            (p, None)
                        }
                    };
                    let idx = nodes.len();
                    nodes.push(Node {
                        path: path.clone(),
                        key,
                        value: start,
                        span: offsets,
                    });
                    match event {
                        Event::MappingStart(..) => stack.push(Frame::Map {
                            path,
                            key: None,
                            node: idx,
                        }),
                        Event::SequenceStart(..) => stack.push(Frame::Seq {
                            path,
                            next: 0,
                            node: idx,
                        }),
                        _ => Self::value_done(&mut stack),
                    }
                }
                _ => {}
            }
        }
        Index { nodes }
    }

    /// After a value is complete, a mapping expects its next key.
    fn value_done(stack: &mut [Frame]) {
        if let Some(Frame::Map { key, .. }) = stack.last_mut() {
            *key = None;
        }
    }

    /// Every node in document order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The node at exactly `path`.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.path == path)
    }

    /// The node at `path` or, failing that, at its nearest ancestor that exists in the file
    /// (a default value has no position; its parent section does).
    pub fn nearest(&self, path: &str) -> Option<&Node> {
        let mut p = path;
        loop {
            if let Some(n) = self.get(p) {
                return Some(n);
            }
            match p.rfind('.') {
                Some(i) => p = &p[..i],
                None => return self.get(""),
            }
        }
    }

    /// Where to point for `path`: the key if there is one, else the value; with a caret width.
    pub fn position(&self, path: &str) -> Option<(u64, u64, usize)> {
        let n = self.nearest(path)?;
        let width = n.span.1.saturating_sub(n.span.0).clamp(1, 60);
        Some(n.key.unwrap_or((n.value.0, n.value.1, width)))
    }

    /// The deepest node whose key is at (line, column) or whose value starts there.
    pub fn path_at(&self, line: u64, column: u64) -> Option<&str> {
        self.nodes
            .iter()
            .rev()
            .find(|n| {
                n.key.is_some_and(|(l, c, _)| l == line && c == column) || n.value == (line, column)
            })
            .map(|n| n.path.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "name: storm\nclient:\n  strategy: naive\n  concurrency: 4\nplan:\n  - login: { ramp: 2s }\n  - traffic:\n      duration: 20s\n";

    #[test]
    fn paths_and_positions() {
        let idx = Index::build(SRC);
        let n = idx.get("client.concurrency").unwrap();
        assert_eq!(n.key, Some((4, 3, 11)));
        assert_eq!(n.value, (4, 16));
        assert_eq!(idx.get("plan.0.login.ramp").unwrap().value, (6, 20));
        assert_eq!(idx.get("plan.1.traffic.duration").unwrap().value, (8, 17));
        assert_eq!(idx.path_at(3, 3), Some("client.strategy"));
        assert_eq!(idx.path_at(8, 17), Some("plan.1.traffic.duration"));
    }

    #[test]
    fn nearest_falls_back_to_parent() {
        let idx = Index::build(SRC);
        assert_eq!(idx.nearest("client.think_time").unwrap().path, "client");
        assert_eq!(idx.position("plan.1.traffic.rate"), Some((7, 5, 7)));
        assert_eq!(idx.nearest("nothing").unwrap().path, "");
    }

    #[test]
    fn garbage_is_fine() {
        for src in ["", "{", "- a\n- b", "a: &x [*x]", ": : :", "\u{0}"] {
            let _ = Index::build(src);
        }
    }
}
