//! Backends run the function at a memory size and return what Lambda's REPORT line would say
//! about each invocation. The tuning loop ([`crate::tune`]) drives any backend the same way; the
//! local backend runs the function's own code under Lambda's limits, and the AWS backend (to come)
//! redeploys and invokes the real function.

pub mod local;

use crate::record::InvocationRecord;
use crate::report::Source;
use crate::units::Mb;

/// Something that can run a function at a memory size.
pub trait Backend {
    /// Where its measurements come from (`local`, `aws`).
    fn source(&self) -> Source;

    /// Makes `size` ready to invoke (for AWS: a published version behind an alias).
    fn prepare(&mut self, size: Mb) -> anyhow::Result<()>;

    /// Invokes once at a prepared size. A failed invocation is data: it comes back as a record
    /// with its status and error type; only a failure of the backend itself is an `Err`.
    fn invoke(
        &mut self,
        size: Mb,
        request_id: &str,
        payload: &[u8],
    ) -> anyhow::Result<InvocationRecord<'static>>;

    /// Releases what `prepare` made for `size`.
    fn release(&mut self, size: Mb) -> anyhow::Result<()>;

    /// Undoes everything the backend did; safe to call more than once.
    fn cleanup(&mut self) -> anyhow::Result<()>;

    /// How limits were enforced, for the report (`cgroup v1`, `cgroup v2`, `unenforced`, `aws`).
    fn limits(&self) -> String;

    /// Things the user should know (a size the host cannot give its CPU, …).
    fn warnings(&self) -> Vec<String>;
}
