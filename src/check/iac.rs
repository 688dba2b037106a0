//! Declared configuration from infrastructure code: the memory size and timeout each Lambda
//! function is given, and the file and line where each is set (or where to set it). Reads AWS SAM
//! and CloudFormation templates (YAML with short-form intrinsics, or JSON; `Globals.Function`
//! and per-function overrides), serverless.yml (`provider` and `functions.<name>`), and a small
//! powertune.toml. A value given by an intrinsic or a variable is resolved from the template's
//! parameter defaults or `--parameter K=V`, or reported as unknown — never guessed.

use super::yaml::{self, Node};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Lambda's defaults when a template says nothing: 128 MB and 3 s (LAMBDA_FACTS §5; CreateFunction
/// and SAM use the same defaults).
pub const LAMBDA_DEFAULT_MEMORY: u32 = 128;
/// See [`LAMBDA_DEFAULT_MEMORY`].
pub const LAMBDA_DEFAULT_TIMEOUT: u32 = 3;
/// The Serverless Framework's defaults: memorySize 1024 MB and timeout 6 s (serverless.com docs,
/// "AWS Lambda Functions": "Default is 1024" / "Default is 6 seconds").
pub const SERVERLESS_DEFAULT_MEMORY: u32 = 1024;
/// See [`SERVERLESS_DEFAULT_MEMORY`].
pub const SERVERLESS_DEFAULT_TIMEOUT: u32 = 6;

/// A place in a file, 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
}

/// A setting's value, or why it is not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Known.
    Value(u32),
    /// Cannot be known from the file (an intrinsic, a variable, a parameter without default).
    Unknown(String),
}

/// Where a setting's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Set on the function itself.
    Function,
    /// Inherited from `Globals.Function` (SAM) or `provider` (serverless).
    Shared,
    /// From a template parameter (its Default or --parameter).
    Parameter(String),
    /// Not set: the platform's default applies.
    Default,
}

/// One setting (memory or timeout) of one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The value.
    pub value: Resolved,
    /// Where to change it: the property, the shared default, the parameter's Default, or the
    /// function's own line when nothing is set.
    pub loc: Loc,
    /// Where the value comes from.
    pub origin: Origin,
    /// The property name to write in a suggestion (`MemorySize`, `memorySize`, `memory_mb`).
    pub key: &'static str,
}

/// A Lambda function declared in infrastructure code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// Logical id (CloudFormation), function key (serverless) or table name (powertune.toml).
    pub id: String,
    /// The deployed function name when it can be known.
    pub function_name: Option<String>,
    /// A log group named in the file (powertune.toml), for matching evidence.
    pub log_group: Option<String>,
    /// `SAM`, `CloudFormation`, `serverless` or `powertune.toml`.
    pub kind: &'static str,
    /// Where the function is declared.
    pub at: Loc,
    /// Memory, MB.
    pub memory: Setting,
    /// Timeout, seconds.
    pub timeout: Setting,
    /// `arm64` when the function says so.
    pub arm64: bool,
}

/// Why a file could not be read as infrastructure code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IacError {
    /// Unreadable.
    #[error("cannot read {0}: {1}")]
    Io(String, String),
    /// Not valid YAML/JSON/TOML.
    #[error("{file}:{line}:{col}: {message}")]
    Syntax {
        /// File.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// The parser's message.
        message: String,
    },
    /// No Lambda functions found.
    #[error(
        "{0}: no Lambda functions found (looked for AWS::Serverless::Function and AWS::Lambda::Function resources, serverless.yml `functions`, or powertune.toml [functions.NAME] tables)"
    )]
    NoFunctions(String),
    /// Not a format powertune knows.
    #[error(
        "{0}: not a SAM/CloudFormation template (no Resources), a serverless.yml (no functions) or a powertune.toml"
    )]
    Unknown(String),
}

/// Reads one file of infrastructure code; `params` are `--parameter K=V` overrides.
pub fn read(path: &Path, params: &BTreeMap<String, String>) -> Result<Vec<Declared>, IacError> {
    let name = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| IacError::Io(name.clone(), e.to_string()))?;
    if path.extension().is_some_and(|e| e == "toml") {
        return read_toml(path, &text);
    }
    let doc = yaml::parse(&text).map_err(|e| IacError::Syntax {
        file: name.clone(),
        line: e.line,
        col: e.col,
        message: e.message,
    })?;
    let found = if doc.get("Resources").is_some() {
        read_cloudformation(path, &doc, params)
    } else if doc.get("functions").is_some() || doc.get("provider").is_some() {
        read_serverless(path, &doc)
    } else {
        return Err(IacError::Unknown(name));
    };
    if found.is_empty() {
        return Err(IacError::NoFunctions(name));
    }
    Ok(found)
}

fn loc(path: &Path, line: usize) -> Loc {
    Loc {
        file: path.to_owned(),
        line,
    }
}

/// A whole-number setting from a node: a literal, or a parameter reference resolved from
/// overrides or the parameter's Default.
fn resolve(
    path: &Path,
    doc: &Node,
    node: &Node,
    prop_line: usize,
    params: &BTreeMap<String, String>,
    origin: Origin,
    key: &'static str,
) -> Setting {
    let here = loc(path, prop_line);
    let setting = |value, loc, origin| Setting {
        value,
        loc,
        origin,
        key,
    };
    // The parameter a node refers to: `!Ref P`, `{"Ref": "P"}`, or `!Sub "${P}"`.
    let reference = match (node.tag(), node) {
        (Some("Ref"), Node::Scalar { value, .. }) => Some(value.clone()),
        (Some("Sub"), Node::Scalar { value, .. }) => value
            .strip_prefix("${")
            .and_then(|v| v.strip_suffix('}'))
            .filter(|v| !v.contains(['$', '{', '}']))
            .map(str::to_owned),
        (None, Node::Map { entries, .. }) if entries.len() == 1 && entries[0].0 == "Ref" => {
            entries[0].2.as_str().map(str::to_owned)
        }
        _ => None,
    };
    if let Some(p) = reference {
        if let Some(v) = params.get(&p) {
            return match v.trim().parse() {
                Ok(n) => setting(Resolved::Value(n), here, Origin::Parameter(p)),
                Err(_) => setting(
                    Resolved::Unknown(format!("--parameter {p}={v} is not a whole number")),
                    here,
                    Origin::Parameter(p),
                ),
            };
        }
        if p.starts_with("AWS::") {
            return setting(
                Resolved::Unknown(format!("given by the pseudo parameter {p}")),
                here,
                origin,
            );
        }
        let param = doc.get("Parameters").and_then(|ps| ps.get(&p));
        return match param.and_then(|n| n.entry("Default")) {
            Some((line, d)) => match d.as_str().and_then(|s| s.trim().parse().ok()) {
                Some(n) => setting(Resolved::Value(n), loc(path, line), Origin::Parameter(p)),
                None => setting(
                    Resolved::Unknown(format!("parameter {p}'s Default is not a whole number")),
                    loc(path, line),
                    Origin::Parameter(p),
                ),
            },
            None => setting(
                Resolved::Unknown(format!(
                    "parameter {p} has no Default; pass --parameter {p}=VALUE"
                )),
                here,
                Origin::Parameter(p),
            ),
        };
    }
    if let Some(t) = node.tag() {
        return setting(
            Resolved::Unknown(format!("given by !{t}, which powertune does not evaluate")),
            here,
            origin,
        );
    }
    match node {
        Node::Scalar { value, .. } => match value.trim().parse() {
            Ok(n) => setting(Resolved::Value(n), here, origin),
            Err(_) => setting(
                Resolved::Unknown(format!("{value:?} is not a whole number")),
                here,
                origin,
            ),
        },
        Node::Map { entries, .. } if entries.len() == 1 && entries[0].0.starts_with("Fn::") => {
            setting(
                Resolved::Unknown(format!(
                    "given by {}, which powertune does not evaluate",
                    entries[0].0
                )),
                here,
                origin,
            )
        }
        _ => setting(Resolved::Unknown("not a number".into()), here, origin),
    }
}

fn read_cloudformation(
    path: &Path,
    doc: &Node,
    params: &BTreeMap<String, String>,
) -> Vec<Declared> {
    let globals = doc.get("Globals").and_then(|g| g.get("Function"));
    let sam = doc.get("Transform").is_some() || globals.is_some();
    let mut out = Vec::new();
    let Some(resources) = doc.get("Resources") else {
        return out;
    };
    for (id, line, res) in resources.entries() {
        let ty = res.get("Type").and_then(Node::as_str).unwrap_or("");
        let serverless = ty == "AWS::Serverless::Function";
        if !serverless && ty != "AWS::Lambda::Function" {
            continue;
        }
        let props = res.get("Properties");
        let setting = |key: &'static str| -> Setting {
            if let Some((pl, n)) = props.and_then(|p| p.entry(key)) {
                return resolve(path, doc, n, pl, params, Origin::Function, key);
            }
            if serverless && let Some((gl, n)) = globals.and_then(|g| g.entry(key)) {
                return resolve(path, doc, n, gl, params, Origin::Shared, key);
            }
            let default = if key == "MemorySize" {
                LAMBDA_DEFAULT_MEMORY
            } else {
                LAMBDA_DEFAULT_TIMEOUT
            };
            Setting {
                value: Resolved::Value(default),
                loc: loc(path, *line),
                origin: Origin::Default,
                key,
            }
        };
        let function_name = props
            .and_then(|p| p.get("FunctionName"))
            .filter(|n| n.tag().is_none())
            .and_then(Node::as_str)
            .map(str::to_owned);
        let arch = props.and_then(|p| p.get("Architectures")).or_else(|| {
            globals
                .filter(|_| serverless)
                .and_then(|g| g.get("Architectures"))
        });
        let arm64 = matches!(arch, Some(Node::Seq { items, .. }) if items.iter().any(|i| i.as_str() == Some("arm64")));
        out.push(Declared {
            id: id.clone(),
            function_name,
            log_group: None,
            kind: if serverless || sam {
                "SAM"
            } else {
                "CloudFormation"
            },
            at: loc(path, *line),
            memory: setting("MemorySize"),
            timeout: setting("Timeout"),
            arm64,
        });
    }
    out
}

/// Resolves `${self:a.b}` references to literal values elsewhere in the same file; anything else
/// (`${opt:…}`, `${env:…}`, `${ssm:…}`) is unknown.
fn serverless_value(doc: &Node, node: &Node, depth: usize) -> Result<String, String> {
    let s = node.as_str().ok_or("not a scalar")?;
    let Some(inner) = s.strip_prefix("${").and_then(|v| v.strip_suffix('}')) else {
        return Ok(s.to_owned());
    };
    let Some(path) = inner.strip_prefix("self:") else {
        return Err(format!(
            "given by the variable {s}, which powertune does not resolve"
        ));
    };
    if depth > 5 {
        return Err(format!("{s} refers to itself"));
    }
    let mut cur = doc;
    for part in path.split('.') {
        cur = cur
            .get(part)
            .ok_or_else(|| format!("{s} refers to nothing in the file"))?;
    }
    serverless_value(doc, cur, depth + 1)
}

fn read_serverless(path: &Path, doc: &Node) -> Vec<Declared> {
    let provider = doc.get("provider");
    let service = doc.get("service").and_then(|s| {
        s.as_str()
            .map(str::to_owned)
            .or_else(|| s.get("name").and_then(Node::as_str).map(str::to_owned))
    });
    let stage = provider
        .and_then(|p| p.get("stage"))
        .and_then(|s| serverless_value(doc, s, 0).ok())
        .unwrap_or_else(|| "dev".to_owned());
    let provider_arm = provider
        .and_then(|p| p.get("architecture"))
        .and_then(Node::as_str)
        == Some("arm64");
    let mut out = Vec::new();
    let Some(functions) = doc.get("functions") else {
        return out;
    };
    for (name, line, f) in functions.entries() {
        let setting = |key: &'static str| -> Setting {
            let (found, origin) = match f.entry(key) {
                Some(e) => (Some(e), Origin::Function),
                None => (provider.and_then(|p| p.entry(key)), Origin::Shared),
            };
            match found {
                Some((l, n)) => {
                    let value = match serverless_value(doc, n, 0) {
                        Ok(v) => match v.trim().parse() {
                            Ok(x) => Resolved::Value(x),
                            Err(_) => Resolved::Unknown(format!("{v:?} is not a whole number")),
                        },
                        Err(why) => Resolved::Unknown(why),
                    };
                    Setting {
                        value,
                        loc: loc(path, l),
                        origin,
                        key,
                    }
                }
                None => {
                    let d = if key == "memorySize" {
                        SERVERLESS_DEFAULT_MEMORY
                    } else {
                        SERVERLESS_DEFAULT_TIMEOUT
                    };
                    Setting {
                        value: Resolved::Value(d),
                        loc: loc(path, *line),
                        origin: Origin::Default,
                        key,
                    }
                }
            }
        };
        // Deployed as SERVICE-STAGE-FUNCTION unless `name:` says otherwise.
        let function_name = match f.get("name") {
            Some(n) => serverless_value(doc, n, 0).ok(),
            None => service.as_ref().map(|s| format!("{s}-{stage}-{name}")),
        };
        let arm64 = f
            .get("architecture")
            .and_then(Node::as_str)
            .map_or(provider_arm, |a| a == "arm64");
        out.push(Declared {
            id: name.clone(),
            function_name,
            log_group: None,
            kind: "serverless",
            at: loc(path, *line),
            memory: setting("memorySize"),
            timeout: setting("timeout"),
            arm64,
        });
    }
    out
}

#[derive(Deserialize)]
struct TomlFile {
    #[serde(default)]
    functions: BTreeMap<String, toml::Spanned<TomlFunction>>,
}

#[derive(Deserialize)]
struct TomlFunction {
    memory_mb: Option<toml::Spanned<u32>>,
    timeout_s: Option<toml::Spanned<u32>>,
    function_name: Option<String>,
    log_group: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
}

fn read_toml(path: &Path, text: &str) -> Result<Vec<Declared>, IacError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let file: TomlFile = toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map_or((0, 0), |s| {
            let l = line_of(s.start);
            let col = s.start - text[..s.start].rfind('\n').map_or(0, |i| i + 1) + 1;
            (l, col)
        });
        IacError::Syntax {
            file: path.display().to_string(),
            line,
            col,
            message: e.message().to_owned(),
        }
    })?;
    let mut out = Vec::new();
    for (name, f) in &file.functions {
        let at = loc(path, line_of(f.span().start));
        let f = f.get_ref();
        let setting = |v: &Option<toml::Spanned<u32>>, key: &'static str, default: u32| match v {
            Some(s) => Setting {
                value: Resolved::Value(*s.get_ref()),
                loc: loc(path, line_of(s.span().start)),
                origin: Origin::Function,
                key,
            },
            None => Setting {
                value: Resolved::Value(default),
                loc: at.clone(),
                origin: Origin::Default,
                key,
            },
        };
        out.push(Declared {
            id: name.clone(),
            function_name: f.function_name.clone().or_else(|| Some(name.clone())),
            log_group: f.log_group.clone(),
            kind: "powertune.toml",
            at: at.clone(),
            memory: setting(&f.memory_mb, "memory_mb", LAMBDA_DEFAULT_MEMORY),
            timeout: setting(&f.timeout_s, "timeout_s", LAMBDA_DEFAULT_TIMEOUT),
            arm64: f.architecture.as_deref() == Some("arm64"),
        });
    }
    if out.is_empty() {
        return Err(IacError::NoFunctions(path.display().to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(
        name: &str,
        text: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<Declared>, IacError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        read(&p, &params)
    }

    const SAM: &str = "Transform: AWS::Serverless-2016-10-31
Parameters:
  ApiMemory:
    Type: Number
    Default: 512
Globals:
  Function:
    MemorySize: 256
    Timeout: 10
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties:
      MemorySize: !Ref ApiMemory
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Architectures: [arm64]
      Timeout: !If [IsProd, 60, 30]
  Raw:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: raw-fn
  Bucket:
    Type: AWS::S3::Bucket
";

    #[test]
    fn sam_globals_overrides_parameters_and_intrinsics() {
        let fs = read_str("template.yaml", SAM, &[]).unwrap();
        assert_eq!(fs.len(), 3);
        let api = &fs[0];
        assert_eq!(api.memory.value, Resolved::Value(512));
        assert_eq!(api.memory.loc.line, 5, "points at the parameter's Default");
        assert_eq!(api.memory.origin, Origin::Parameter("ApiMemory".into()));
        assert_eq!(api.timeout.value, Resolved::Value(10));
        assert_eq!(api.timeout.loc.line, 9);
        let worker = &fs[1];
        assert_eq!(worker.memory.value, Resolved::Value(256));
        assert_eq!(worker.memory.origin, Origin::Shared);
        assert!(matches!(&worker.timeout.value, Resolved::Unknown(w) if w.contains("!If")));
        assert!(worker.arm64);
        let raw = &fs[2];
        assert_eq!(raw.kind, "SAM");
        assert_eq!(raw.function_name.as_deref(), Some("raw-fn"));
        // Globals do not apply to AWS::Lambda::Function: Lambda's default.
        assert_eq!(raw.memory.value, Resolved::Value(128));
        assert_eq!(raw.memory.origin, Origin::Default);
        assert_eq!(raw.memory.loc.line, 20);
        // --parameter wins over the Default.
        let fs = read_str("template.yaml", SAM, &[("ApiMemory", "2048")]).unwrap();
        assert_eq!(fs[0].memory.value, Resolved::Value(2048));
    }

    #[test]
    fn serverless_provider_functions_and_self_variables() {
        let fs = read_str(
            "serverless.yml",
            "service: shop\ncustom:\n  big: 2048\nprovider:\n  name: aws\n  memorySize: 512\n  stage: prod\nfunctions:\n  list:\n    handler: h.list\n  resize:\n    handler: h.resize\n    memorySize: ${self:custom.big}\n    timeout: ${opt:timeout}\n",
            &[],
        )
        .unwrap();
        assert_eq!(fs[0].function_name.as_deref(), Some("shop-prod-list"));
        assert_eq!(fs[0].memory.value, Resolved::Value(512));
        assert_eq!(fs[0].memory.loc.line, 6);
        assert_eq!(fs[0].timeout.value, Resolved::Value(6));
        assert_eq!(fs[1].memory.value, Resolved::Value(2048));
        assert_eq!(fs[1].memory.loc.line, 13);
        assert!(matches!(&fs[1].timeout.value, Resolved::Unknown(w) if w.contains("opt:timeout")));
    }

    #[test]
    fn toml_and_errors() {
        let fs = read_str("powertune.toml", "[functions.brand-api]\nmemory_mb = 1024\ntimeout_s = 10\nlog_group = \"/aws/lambda/brand-api\"\n", &[]).unwrap();
        assert_eq!(fs[0].memory.value, Resolved::Value(1024));
        assert_eq!(fs[0].memory.loc.line, 2);
        assert_eq!(fs[0].timeout.loc.line, 3);
        let e = read_str("t.yaml", "Resources:\n  A: [1, 2\n  B: 3\n", &[]).unwrap_err();
        assert!(
            matches!(e, IacError::Syntax { line, .. } if line >= 2),
            "{e}"
        );
        let e = read_str(
            "t.yaml",
            "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n",
            &[],
        )
        .unwrap_err();
        assert!(matches!(e, IacError::NoFunctions(_)));
        let e = read_str("t.yaml", "hello: world\n", &[]).unwrap_err();
        assert!(matches!(e, IacError::Unknown(_)));
        let e = read_str(
            "powertune.toml",
            "[functions.x]\nmemory_mb = \"big\"\n",
            &[],
        )
        .unwrap_err();
        assert!(matches!(e, IacError::Syntax { line: 2, .. }), "{e}");
    }
}
