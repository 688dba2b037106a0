//! The journal of what a `run` on AWS changes, written and synced *before* each mutation, so that
//! the run itself, or `powertune cleanup` after a crash or kill -9, undoes exactly what this run
//! did: the aliases and versions it made (never guessed from names) and $LATEST's memory and
//! description. One JSON Lines file per function and region under the user's state directory;
//! it is removed once everything is undone.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// One step, recorded before the call it announces (or after it, for the `…ed` confirmations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Entry {
    /// The run starts: how to reach the function, and $LATEST as it was.
    Begin {
        /// Unique per run; part of every marker this run writes.
        run_id: String,
        /// Function name.
        function: String,
        /// Region.
        region: String,
        /// `--endpoint-url`, if one was used.
        endpoint_url: Option<String>,
        /// `--profile`, if one was used.
        profile: Option<String>,
        /// $LATEST's memory before the run.
        memory_mb: u32,
        /// $LATEST's description before the run.
        description: String,
        /// The process, so that `cleanup` can tell a live run from a dead one.
        pid: u32,
    },
    /// About to change $LATEST's memory and description (to `description`, the marker).
    UpdateLatest {
        /// The memory being set.
        memory_mb: u32,
        /// The description being set.
        description: String,
    },
    /// About to publish a version whose description is `marker`.
    Publish {
        /// Memory of the version.
        memory_mb: u32,
        /// Its description, unique to this run and size.
        marker: String,
    },
    /// A version was published by this run.
    Published {
        /// Memory of the version.
        memory_mb: u32,
        /// Its number.
        version: String,
    },
    /// About to create an alias.
    CreateAlias {
        /// The alias.
        name: String,
        /// The version it points at.
        version: String,
    },
    /// The alias exists and is this run's.
    AliasCreated {
        /// The alias.
        name: String,
    },
    /// $LATEST has its original memory and description again.
    LatestRestored,
    /// An alias of this run is gone.
    AliasDeleted {
        /// The alias.
        name: String,
    },
    /// A version of this run is gone.
    VersionDeleted {
        /// Its number.
        version: String,
    },
    /// `cleanup` looked for the version a `Publish` without answer may have made, by its marker.
    Found {
        /// The marker.
        marker: String,
        /// The version found, or none: the publish never happened.
        version: Option<String>,
    },
    /// A version this run published is meant to stay (`--apply-alias`).
    Kept {
        /// Its number.
        version: String,
    },
}

/// A version this run published (or may have: the call was made but its answer never recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionRef {
    /// Its number is known.
    Number(String),
    /// Only the marker it was published with is known.
    Marker(String),
}

/// What is left to undo, from a journal's entries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pending {
    /// $LATEST's original memory and description, when it must be restored, and the marker
    /// descriptions it may carry now (restored only while it still carries one of them).
    pub restore: Option<(u32, String)>,
    /// Descriptions this run gave $LATEST.
    pub markers: Vec<String>,
    /// Aliases to delete: name, the version it should point at, and whether its creation was
    /// confirmed (if not, it is deleted only when it points at one of this run's versions).
    pub aliases: Vec<(String, String, bool)>,
    /// Versions to delete.
    pub versions: Vec<VersionRef>,
}

impl Pending {
    /// Reads what is left to undo from the entries of a journal.
    pub fn from_entries(entries: &[Entry]) -> Pending {
        let mut p = Pending::default();
        let mut original = None;
        for e in entries {
            match e {
                Entry::Begin {
                    memory_mb,
                    description,
                    ..
                } => original = Some((*memory_mb, description.clone())),
                Entry::UpdateLatest { description, .. } => {
                    p.restore = original.clone();
                    p.markers.push(description.clone());
                }
                Entry::LatestRestored => p.restore = None,
                Entry::Publish { marker, .. } => {
                    p.versions.push(VersionRef::Marker(marker.clone()))
                }
                Entry::Published { version, .. } => {
                    // The publish announced last is the one answered.
                    if let Some(i) = p
                        .versions
                        .iter()
                        .rposition(|v| matches!(v, VersionRef::Marker(_)))
                    {
                        p.versions[i] = VersionRef::Number(version.clone());
                    } else {
                        p.versions.push(VersionRef::Number(version.clone()));
                    }
                }
                Entry::Found { marker, version } => {
                    let at = p
                        .versions
                        .iter()
                        .position(|v| matches!(v, VersionRef::Marker(m) if m == marker));
                    if let Some(i) = at {
                        match version {
                            Some(n) => p.versions[i] = VersionRef::Number(n.clone()),
                            None => {
                                p.versions.remove(i);
                            }
                        }
                    }
                }
                Entry::CreateAlias { name, version } => {
                    p.aliases.push((name.clone(), version.clone(), false))
                }
                Entry::AliasCreated { name } => {
                    for a in p.aliases.iter_mut().filter(|a| &a.0 == name) {
                        a.2 = true;
                    }
                }
                Entry::AliasDeleted { name } => p.aliases.retain(|a| &a.0 != name),
                Entry::VersionDeleted { version } | Entry::Kept { version } => p
                    .versions
                    .retain(|v| !matches!(v, VersionRef::Number(n) if n == version)),
            }
        }
        p
    }

    /// Nothing left to undo.
    pub fn is_empty(&self) -> bool {
        self.restore.is_none() && self.aliases.is_empty() && self.versions.is_empty()
    }

    /// One line per thing left, for messages.
    pub fn describe(&self, function: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let Some((mb, d)) = &self.restore {
            out.push(format!(
                "restore {function} $LATEST to {mb} MB and description {d:?}"
            ));
        }
        for (name, _, _) in &self.aliases {
            out.push(format!("delete alias {function}:{name}"));
        }
        for v in &self.versions {
            match v {
                VersionRef::Number(n) => out.push(format!("delete version {function}:{n}")),
                VersionRef::Marker(m) => out.push(format!(
                    "delete the version described {m:?}, if it was published"
                )),
            }
        }
        out
    }
}

/// An open journal.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    entries: Vec<Entry>,
}

/// Where journals live: $POWERTUNE_STATE_DIR, else $XDG_STATE_HOME/powertune, else
/// ~/.local/state/powertune.
pub fn state_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("POWERTUNE_STATE_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("powertune"));
    }
    let home = std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .context("cannot find a state directory for the journal: set HOME, XDG_STATE_HOME or POWERTUNE_STATE_DIR")?;
    Ok(PathBuf::from(home).join(".local/state/powertune"))
}

/// The journal file of a function in a region.
pub fn path_for(dir: &Path, region: &str, function: &str) -> PathBuf {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    dir.join(format!("{}--{}.journal", clean(region), clean(function)))
}

/// Reads a journal's entries. A torn last line (the process died while writing it) is ignored.
pub fn read(path: &Path) -> Result<Vec<Entry>> {
    let f = File::open(path).with_context(|| format!("opening journal {}", path.display()))?;
    let mut out = Vec::new();
    for line in BufReader::new(f).lines() {
        let line = line.with_context(|| format!("reading journal {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(e) => out.push(e),
            Err(_) => break,
        }
    }
    Ok(out)
}

impl Journal {
    /// Creates the journal for a new run. Fails if one exists: an earlier run did not finish.
    pub fn create(path: PathBuf, begin: Entry) -> Result<Journal> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the state directory {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("creating journal {}", path.display()))?;
        let mut j = Journal {
            path,
            file,
            entries: Vec::new(),
        };
        j.record(begin)?;
        if let Some(dir) = j.path.parent() {
            // The new file's name is durable too.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(j)
    }

    /// Opens an existing journal to finish it (`powertune cleanup`).
    pub fn open(path: PathBuf) -> Result<Journal> {
        let entries = read(&path)?;
        // Drop a torn last line, so that what is appended next starts a line of its own.
        let bytes =
            std::fs::read(&path).with_context(|| format!("reading journal {}", path.display()))?;
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("opening journal {}", path.display()))?;
        file.set_len(keep as u64)
            .with_context(|| format!("repairing journal {}", path.display()))?;
        Ok(Journal {
            path,
            file,
            entries,
        })
    }

    /// Appends an entry and syncs it to disk before returning.
    pub fn record(&mut self, e: Entry) -> Result<()> {
        let mut line = serde_json::to_string(&e)?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("writing journal {}", self.path.display()))?;
        self.entries.push(e);
        Ok(())
    }

    /// Everything recorded so far.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// What is left to undo.
    pub fn pending(&self) -> Pending {
        Pending::from_entries(&self.entries)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the journal: everything is undone.
    pub fn finish(self) -> Result<()> {
        std::fs::remove_file(&self.path)
            .with_context(|| format!("removing journal {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn begin() -> Entry {
        Entry::Begin {
            run_id: "r1".into(),
            function: "f".into(),
            region: "us-east-1".into(),
            endpoint_url: None,
            profile: None,
            memory_mb: 1024,
            description: "orig".into(),
            pid: 1,
        }
    }

    #[test]
    fn pending_follows_the_entries() {
        let mut es = vec![begin()];
        assert!(Pending::from_entries(&es).is_empty());
        es.push(Entry::UpdateLatest {
            memory_mb: 128,
            description: "m128".into(),
        });
        es.push(Entry::Publish {
            memory_mb: 128,
            marker: "m128".into(),
        });
        let p = Pending::from_entries(&es);
        assert_eq!(p.restore, Some((1024, "orig".into())));
        assert_eq!(p.versions, vec![VersionRef::Marker("m128".into())]);
        es.push(Entry::Published {
            memory_mb: 128,
            version: "7".into(),
        });
        es.push(Entry::CreateAlias {
            name: "powertune-128".into(),
            version: "7".into(),
        });
        let p = Pending::from_entries(&es);
        assert_eq!(p.versions, vec![VersionRef::Number("7".into())]);
        assert_eq!(p.aliases, vec![("powertune-128".into(), "7".into(), false)]);
        es.push(Entry::AliasCreated {
            name: "powertune-128".into(),
        });
        es.push(Entry::LatestRestored);
        let p = Pending::from_entries(&es);
        assert!(p.restore.is_none());
        assert!(p.aliases[0].2);
        assert_eq!(p.describe("f").len(), 2);
        es.push(Entry::AliasDeleted {
            name: "powertune-128".into(),
        });
        es.push(Entry::VersionDeleted {
            version: "7".into(),
        });
        assert!(Pending::from_entries(&es).is_empty());
    }

    #[test]
    fn journal_survives_a_torn_line_and_refuses_a_second_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(dir.path(), "us-east-1", "arn:aws:lambda:x:fn");
        let mut j = Journal::create(path.clone(), begin()).unwrap();
        j.record(Entry::UpdateLatest {
            memory_mb: 256,
            description: "m".into(),
        })
        .unwrap();
        assert!(Journal::create(path.clone(), begin()).is_err());
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"op\":\"publ").unwrap();
        let j = Journal::open(path.clone()).unwrap();
        assert_eq!(j.entries().len(), 2);
        assert!(j.pending().restore.is_some());
        j.finish().unwrap();
        assert!(!path.exists());
    }
}
