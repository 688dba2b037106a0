//! Backends run the function at a memory size and return what Lambda's REPORT line would say
//! about each invocation. The tuning loop ([`crate::tune`]) drives any backend the same way; the
//! local backend runs the function's own code under Lambda's limits, and the AWS backend
//! redeploys and invokes the real function.

pub mod aws;
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

    /// Invocations this backend can have in flight at once, across sizes. A backend that says
    /// more than 1 has every size prepared up front and is driven through [`Backend::invoke_all`].
    fn concurrency(&self) -> usize {
        1
    }

    /// Whether every size is prepared before any is invoked (and [`Backend::prepared`] called
    /// in between), whatever the concurrency. AWS does, so that $LATEST is restored early.
    fn prepares_all_first(&self) -> bool {
        self.concurrency() > 1
    }

    /// Called once every size is prepared (AWS: restores $LATEST as soon as the versions exist).
    fn prepared(&mut self) -> anyhow::Result<()> {
        Ok(())
    }

    /// Invokes every prepared size once per element of `payloads` (the i-th invocation of a
    /// size sends `payloads[i]`), in parallel up to [`Backend::concurrency`], handing each
    /// result to `done` with its size and index as it completes; returns early once the run is
    /// stopped. The default runs them one after another through [`Backend::invoke`].
    fn invoke_all(
        &mut self,
        sizes: &[Mb],
        payloads: &[&[u8]],
        done: &mut dyn FnMut(Mb, usize, anyhow::Result<InvocationRecord<'static>>),
    ) -> anyhow::Result<()> {
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        for &size in sizes {
            for (i, payload) in payloads.iter().enumerate() {
                let id = crate::tune::request_id(&mut seed);
                done(size, i, self.invoke(size, &id, payload));
            }
        }
        Ok(())
    }

    /// Releases what `prepare` made for `size`.
    fn release(&mut self, size: Mb) -> anyhow::Result<()>;

    /// Undoes everything the backend did; safe to call more than once.
    fn cleanup(&mut self) -> anyhow::Result<()>;

    /// How limits were enforced, for the report (`cgroup v1`, `cgroup v2`, `unenforced`, `aws`).
    fn limits(&self) -> String;

    /// Things the user should know (a size the host cannot give its CPU, …).
    fn warnings(&self) -> Vec<String>;
}
