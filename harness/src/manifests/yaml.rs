//! The little YAML that Kubernetes manifests need, written out: ordered maps (a manifest reads
//! `apiVersion`, `kind`, `metadata`, `spec` in that order), lists, strings, integers and
//! booleans. No YAML crate: the image's dependency layer would be rebuilt for it, and writing
//! this subset is a few lines. Strings that could be read as anything but a string (`7070`,
//! `yes`, `a: b`) are double-quoted with JSON's escapes, which YAML reads the same; text of
//! several lines is a literal block, as a person would write it.

/// A YAML node, in the order it is written.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
    Str(String),
    Int(i64),
    Bool(bool),
}

/// A map from its pairs, in order: `map([("kind", "Job".into()), ...])`.
pub fn map<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Node)>) -> Node {
    Node::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

/// A list of nodes.
pub fn list(items: impl IntoIterator<Item = Node>) -> Node {
    Node::List(items.into_iter().collect())
}

impl From<&str> for Node {
    fn from(s: &str) -> Node {
        Node::Str(s.to_string())
    }
}

impl From<String> for Node {
    fn from(s: String) -> Node {
        Node::Str(s)
    }
}

impl From<&String> for Node {
    fn from(s: &String) -> Node {
        Node::Str(s.clone())
    }
}

impl From<i64> for Node {
    fn from(i: i64) -> Node {
        Node::Int(i)
    }
}

impl From<u32> for Node {
    fn from(i: u32) -> Node {
        Node::Int(i.into())
    }
}

impl From<u16> for Node {
    fn from(i: u16) -> Node {
        Node::Int(i.into())
    }
}

impl From<bool> for Node {
    fn from(b: bool) -> Node {
        Node::Bool(b)
    }
}

impl Node {
    /// The node at `path` (map keys, or list indices as numbers): `get(&["spec", "template"])`.
    pub fn get(&self, path: &[&str]) -> Option<&Node> {
        let Some((first, rest)) = path.split_first() else {
            return Some(self);
        };
        let next = match self {
            Node::Map(pairs) => pairs.iter().find(|(k, _)| k == first).map(|(_, v)| v),
            Node::List(items) => first.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }?;
        next.get(rest)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Node::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_list(&self) -> &[Node] {
        match self {
            Node::List(items) => items,
            _ => &[],
        }
    }
}

/// One YAML document (no `---`), ending in a newline.
pub fn to_yaml(node: &Node) -> String {
    let mut out = String::new();
    match node {
        Node::Map(pairs) if !pairs.is_empty() => write_map(&mut out, pairs, 0),
        Node::List(items) if !items.is_empty() => write_list(&mut out, items, 0),
        scalar => {
            out.push_str(&inline(scalar).unwrap_or_default());
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, pairs: &[(String, Node)], indent: usize) {
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&scalar(k));
        out.push(':');
        write_value(out, v, indent);
    }
}

fn write_list(out: &mut String, items: &[Node], indent: usize) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str("- ");
        match v {
            Node::Map(pairs) if !pairs.is_empty() => write_map(out, pairs, indent + 2),
            Node::List(inner) if !inner.is_empty() => write_list(out, inner, indent + 2),
            Node::Str(s) if block(s) => {
                out.push_str(&literal(s, indent + 2));
            }
            other => {
                out.push_str(&inline(other).unwrap_or_default());
                out.push('\n');
            }
        }
    }
}

/// After `key:` (the cursor is on the key's line): an inline scalar, a literal block, or a
/// nested map or list on the following lines.
fn write_value(out: &mut String, v: &Node, indent: usize) {
    match v {
        Node::Map(pairs) if !pairs.is_empty() => {
            out.push('\n');
            out.push_str(&" ".repeat(indent + 2));
            write_map(out, pairs, indent + 2);
        }
        Node::List(items) if !items.is_empty() => {
            out.push('\n');
            out.push_str(&" ".repeat(indent + 2));
            write_list(out, items, indent + 2);
        }
        Node::Str(s) if block(s) => {
            out.push(' ');
            out.push_str(&literal(s, indent + 2));
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other).unwrap_or_default());
            out.push('\n');
        }
    }
}

/// Scalars and empty collections on one line.
fn inline(v: &Node) -> Option<String> {
    Some(match v {
        Node::Str(s) => scalar(s),
        Node::Int(i) => i.to_string(),
        Node::Bool(b) => b.to_string(),
        Node::Map(p) if p.is_empty() => "{}".to_string(),
        Node::List(l) if l.is_empty() => "[]".to_string(),
        _ => return None,
    })
}

/// Text of several lines that a literal block keeps byte for byte: no carriage returns or
/// other control characters but tabs, and no leading space or blank first line (which would
/// need an indentation indicator).
fn block(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\n'])
        && !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// `|`, `|-` or `|+` (by how the text ends) and the text's lines, indented.
fn literal(s: &str, indent: usize) -> String {
    let trailing = s.len() - s.trim_end_matches('\n').len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let mut out = format!("|{chomp}\n");
    let body = if trailing == 0 { s } else { &s[..s.len() - 1] };
    for line in body.split('\n') {
        if !line.is_empty() {
            out.push_str(&" ".repeat(indent));
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// A string as a plain scalar where YAML reads it back as that same string, else
/// double-quoted.
fn scalar(s: &str) -> String {
    if plain(s) {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("a string serializes")
    }
}

fn plain(s: &str) -> bool {
    // YAML 1.1's booleans and nulls, which some readers still apply to plain scalars.
    const WORDS: [&str; 11] = [
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "",
    ];
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    // `-` starts a plain scalar when a letter or another `-` follows (`--index=3`), not a
    // number (`-1`) nor a list item (`- x`).
    let dash = first == '-'
        && chars
            .next()
            .is_some_and(|c| c == '-' || c.is_ascii_alphabetic());
    (first.is_ascii_alphabetic() || first == '/' || first == '$' || dash)
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./=@$()-".contains(c) || c == ':')
        && !s.ends_with(':')
        && !WORDS.contains(&s.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lists_and_scalars_in_block_style() {
        let doc = map([
            ("apiVersion", "batch/v1".into()),
            (
                "metadata",
                map([("name", "w".into()), ("labels", map::<&str>([]))]),
            ),
            (
                "spec",
                map([
                    ("completions", 3u32.into()),
                    ("suspend", false.into()),
                    (
                        "containers",
                        list([map([
                            ("name", "c".into()),
                            ("args", list(["--index=$(JOB_COMPLETION_INDEX)".into()])),
                            ("ports", list([map([("containerPort", 7070u16.into())])])),
                        ])]),
                    ),
                ]),
            ),
        ]);
        assert_eq!(
            to_yaml(&doc),
            "apiVersion: batch/v1
metadata:
  name: w
  labels: {}
spec:
  completions: 3
  suspend: false
  containers:
    - name: c
      args:
        - --index=$(JOB_COMPLETION_INDEX)
      ports:
        - containerPort: 7070
"
        );
    }

    /// Strings YAML would read as numbers, booleans or mappings stay strings.
    #[test]
    fn strings_that_look_like_something_else_are_quoted() {
        for (s, want) in [
            ("7070", "\"7070\""),
            ("yes", "\"yes\""),
            ("Off", "\"Off\""),
            ("", "\"\""),
            ("a: b", "\"a: b\""),
            ("-1", "\"-1\""),
            ("1h", "\"1h\""),
            ("# no", "\"# no\""),
            ("x #y", "\"x #y\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("allocstorm:bookworm", "allocstorm:bookworm"),
            ("app.kubernetes.io/name", "app.kubernetes.io/name"),
            ("--wait=140s", "--wait=140s"),
            ("- x", "\"- x\""),
            ("-", "\"-\""),
            ("x-coordinator:7070", "x-coordinator:7070"),
            ("key:", "\"key:\""),
        ] {
            assert_eq!(scalar(s), want, "{s:?}");
        }
    }

    #[test]
    fn text_of_several_lines_is_a_literal_block_with_its_ending_kept() {
        let doc = map([
            ("one", "a = 1\n\nb = 2\n".into()),
            ("none", "a\nb".into()),
            ("two", "a\n\n".into()),
            ("spaced", " a\nb\n".into()),
            ("cr", "a\r\nb\n".into()),
        ]);
        assert_eq!(
            to_yaml(&doc),
            "one: |
  a = 1

  b = 2
none: |-
  a
  b
two: |+
  a

spaced: \" a\\nb\\n\"
cr: \"a\\r\\nb\\n\"
"
        );
    }

    #[test]
    fn get_follows_keys_and_indices() {
        let doc = map([("a", list([map([("b", 7i64.into())])]))]);
        assert_eq!(doc.get(&["a", "0", "b"]).and_then(Node::as_int), Some(7));
        assert_eq!(doc.get(&["a", "1"]), None);
        assert_eq!(doc.get(&["x"]), None);
    }
}
