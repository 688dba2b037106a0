//! A YAML (and JSON, which YAML reads too) document as a tree that remembers the line of every
//! node and keeps CloudFormation's short-form tags (`!Ref`, `!Sub`, `!If`, …) instead of rejecting
//! them. Built from yaml-rust2's marked events, so that `powertune check` can point at the line to
//! change.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::Marker;

/// One node of a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A scalar, with its short-form tag (`Ref` for `!Ref`) if any.
    Scalar {
        /// The text.
        value: String,
        /// The tag's suffix (`Ref`, `Sub`, …), without the `!`.
        tag: Option<String>,
        /// 1-based line.
        line: usize,
    },
    /// A sequence.
    Seq {
        /// Items.
        items: Vec<Node>,
        /// Tag suffix.
        tag: Option<String>,
        /// 1-based line.
        line: usize,
    },
    /// A mapping; keys are scalars.
    Map {
        /// (key, key's line, value), in document order.
        entries: Vec<(String, usize, Node)>,
        /// Tag suffix.
        tag: Option<String>,
        /// 1-based line.
        line: usize,
    },
}

impl Node {
    /// The node's 1-based line.
    pub fn line(&self) -> usize {
        match self {
            Node::Scalar { line, .. } | Node::Seq { line, .. } | Node::Map { line, .. } => *line,
        }
    }

    /// The tag suffix, if any.
    pub fn tag(&self) -> Option<&str> {
        match self {
            Node::Scalar { tag, .. } | Node::Seq { tag, .. } | Node::Map { tag, .. } => {
                tag.as_deref()
            }
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, n)| n)
    }

    /// The value of `key` in a mapping, with the key's line.
    pub fn entry(&self, key: &str) -> Option<(usize, &Node)> {
        match self {
            Node::Map { entries, .. } => entries
                .iter()
                .find(|(k, _, _)| k == key)
                .map(|(_, l, n)| (*l, n)),
            _ => None,
        }
    }

    /// A scalar's text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// A mapping's entries.
    pub fn entries(&self) -> &[(String, usize, Node)] {
        match self {
            Node::Map { entries, .. } => entries,
            _ => &[],
        }
    }
}

/// A document that could not be read, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What the parser said.
    pub message: String,
}

enum Open {
    Seq(Vec<Node>, Option<String>, usize, usize),
    Map(
        Vec<(String, usize, Node)>,
        Option<String>,
        usize,
        usize,
        Option<(String, usize)>,
    ),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    root: Option<Node>,
    anchors: HashMap<usize, Node>,
    error: Option<String>,
}

fn tag_suffix(t: Option<Tag>) -> Option<String> {
    // Core-schema tags (`!!str`, `!!int`) say nothing CloudFormation cares about.
    t.filter(|t| t.handle == "!").map(|t| t.suffix)
}

impl Builder {
    fn push(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq(items, ..)) => items.push(node),
            Some(Open::Map(entries, _, _, _, key)) => match key.take() {
                None => match node {
                    Node::Scalar { value, line, .. } => *key = Some((value, line)),
                    other => {
                        // Complex keys do not occur in templates; keep the document readable.
                        *key = Some((format!("{other:?}"), other.line()));
                    }
                },
                Some((k, l)) => entries.push((k, l, node)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        match ev {
            Event::Scalar(value, _, anchor, tag) => self.push(
                Node::Scalar {
                    value,
                    tag: tag_suffix(tag),
                    line,
                },
                anchor,
            ),
            Event::SequenceStart(anchor, tag) => {
                self.stack
                    .push(Open::Seq(Vec::new(), tag_suffix(tag), line, anchor))
            }
            Event::MappingStart(anchor, tag) => {
                self.stack
                    .push(Open::Map(Vec::new(), tag_suffix(tag), line, anchor, None))
            }
            Event::SequenceEnd => {
                if let Some(Open::Seq(items, tag, line, anchor)) = self.stack.pop() {
                    self.push(Node::Seq { items, tag, line }, anchor);
                }
            }
            Event::MappingEnd => {
                if let Some(Open::Map(entries, tag, line, anchor, _)) = self.stack.pop() {
                    self.push(Node::Map { entries, tag, line }, anchor);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(n) => self.push(n, 0),
                None => self.error = Some(format!("line {line}: alias to an unknown anchor")),
            },
            _ => {}
        }
    }
}

/// Parses the first document of `text`.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let mut b = Builder::default();
    let mut p = Parser::new_from_str(text);
    p.load(&mut b, false).map_err(|e| {
        let m = e.marker();
        YamlError {
            line: m.line(),
            col: m.col() + 1,
            message: e.info().to_owned(),
        }
    })?;
    if let Some(message) = b.error {
        return Err(YamlError {
            line: 0,
            col: 0,
            message,
        });
    }
    b.root.ok_or(YamlError {
        line: 1,
        col: 1,
        message: "the document is empty".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_short_form_tags() {
        let doc = parse(
            "Parameters:\n  Mem:\n    Type: Number\n    Default: 512\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      MemorySize: !Ref Mem\n      Timeout: !If [IsProd, 30, 10]\n",
        )
        .unwrap();
        let props = doc
            .get("Resources")
            .unwrap()
            .get("Fn")
            .unwrap()
            .get("Properties")
            .unwrap();
        let (line, mem) = props.entry("MemorySize").unwrap();
        assert_eq!(line, 9);
        assert_eq!(mem.tag(), Some("Ref"));
        assert_eq!(mem.as_str(), Some("Mem"));
        assert_eq!(props.get("Timeout").unwrap().tag(), Some("If"));
        let default = doc
            .get("Parameters")
            .unwrap()
            .get("Mem")
            .unwrap()
            .entry("Default")
            .unwrap();
        assert_eq!(default.0, 4);
    }

    #[test]
    fn json_is_read_too_with_lines() {
        let doc = parse("{\n  \"Resources\": {\n    \"Fn\": {\n      \"Properties\": {\"MemorySize\": 1024}\n    }\n  }\n}\n").unwrap();
        let (line, v) = doc
            .get("Resources")
            .unwrap()
            .get("Fn")
            .unwrap()
            .get("Properties")
            .unwrap()
            .entry("MemorySize")
            .unwrap();
        assert_eq!(line, 4);
        assert_eq!(v.as_str(), Some("1024"));
    }

    #[test]
    fn errors_say_where() {
        let e = parse("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(e.line >= 2, "{e:?}");
        assert!(!e.message.is_empty());
    }
}
