//! A step that checks every host (steps 3, 4 and 5 on RAC nodes and standbys): the host tdekey
//! reaches is read directly; for every other one the step shows the command once per host and
//! waits until each host's output is pasted and checked. Outputs are told apart by their
//! `HOST` line (what `hostname` printed there), so several may be pasted at once, in any order;
//! an output from a host that is not one of the database's, cut short, or from another command
//! is refused naming the host. What each host's check found is recorded in the step.

use super::{Check, Context, Need, StepResult, Wizard};
use crate::migration::StepId;
use crate::migration::host_output::{self, PasteError};
use crate::migration::hosts::Target;
use crate::migration::state::{HostResult, StepStatus};
use crate::model::{now_ms, same_host};

/// A host's output read into checks; an output that is not the command's is an error.
pub(super) type HostCheck<'a> = &'a dyn Fn(&Target, &str) -> Result<Vec<Check>, PasteError>;

/// How the step checks a host tdekey does not reach.
pub(super) struct Remote<'a> {
    /// Why the step waits when nothing was pasted yet (one host).
    pub why: &'a str,
    /// The to-do for one host: what to run there (and how to fix what it may find).
    pub command: &'a dyn Fn(&Target) -> Vec<String>,
    pub check: HostCheck<'a>,
}

/// `check` prefixed with the host it was made on, when there are several.
fn on(prefix: &str, mut c: Check) -> Check {
    if !prefix.is_empty() {
        c.what = format!("{prefix}{}", c.what);
    }
    c
}

/// Runs a host check on every target. `local` is what the check found on the host tdekey
/// reaches (when one of `targets` is); `common` are checks of the database as a whole, shown
/// first.
pub(super) fn each_host(
    w: &mut Wizard,
    ctx: &mut Context<'_>,
    step: StepId,
    targets: &[Target],
    local: Option<StepResult>,
    common: Vec<Check>,
    remote: &Remote<'_>,
) -> StepResult {
    let several = targets.len() > 1;
    let prefix = |t: &Target| {
        if several {
            format!("{}: ", t.describe())
        } else {
            String::new()
        }
    };
    let mut checks = common;
    let mut notes = Vec::new();
    if let (Some(t), Some(r)) = (targets.iter().find(|t| !t.is_remote()), local) {
        if !r.status.settled() {
            let mut r = r;
            if several {
                r = r.note(format!(
                    "This is {}; the other hosts ({}) are checked once it passes.",
                    t.describe(),
                    others(targets, t)
                ));
            }
            return r;
        }
        record(w, step, t, r.checks.clone(), None);
        notes = r.notes;
        checks.extend(r.checks.into_iter().map(|c| on(&prefix(t), c)));
    }
    let remotes: Vec<&Target> = targets.iter().filter(|t| t.is_remote()).collect();
    let mut problem = None;
    if let Some(text) = ctx.inputs.host_output.take() {
        for block in host_output::blocks(&text) {
            let printed_on = host_output::host_of(&block);
            let Some(t) = route(&remotes, printed_on.as_deref()) else {
                problem = Some(match &printed_on {
                    Some(h) => format!(
                        "This output was printed on {h}, which is none of {}'s hosts: {}. Run the command on each of them and paste what each printed (if {h} is one of them under another name, list it in the database profile as `hostname` prints it).",
                        w.db.name,
                        names(&remotes)
                    ),
                    None => format!(
                        "This output has no HOST line, so tdekey cannot tell which of {}'s hosts printed it ({}). Paste everything the command printed, from its HOST line down to END.",
                        w.db.name,
                        names(&remotes)
                    ),
                });
                continue;
            };
            match (remote.check)(t, &block) {
                Ok(found) => record(w, step, t, found, printed_on),
                Err(e) => problem = Some(format!("{}{e}", prefix(t))),
            }
        }
    }
    let results = w.record(step).hosts.clone();
    let result_of = |t: &Target| results.iter().find(|r| r.host == t.key());
    let mut waiting = Vec::new();
    let mut failed = None;
    for t in &remotes {
        match result_of(t) {
            Some(r) => {
                if !r.passed && failed.is_none() {
                    failed = r
                        .checks
                        .iter()
                        .find(|c| !c.ok)
                        .map(|c| format!("{}{}: {}", prefix(t), c.what, c.detail));
                }
                if !r.passed {
                    waiting.push(*t);
                }
                checks.extend(r.checks.iter().cloned().map(|c| on(&prefix(t), c)));
            }
            None => {
                waiting.push(*t);
                checks.push(on(
                    &prefix(t),
                    Check::new(
                        "Its output was pasted and checked",
                        false,
                        "not yet: run the command there and paste everything it printed",
                    ),
                ));
            }
        }
    }
    if waiting.is_empty() {
        let mut r = StepResult::from_checks(checks);
        r.notes = notes;
        return r;
    }
    let mut todo = Vec::new();
    for t in &waiting {
        if several {
            todo.push(format!("On {}:", t.describe()));
        }
        todo.extend((remote.command)(t));
    }
    let reason = problem.or(failed.clone()).unwrap_or_else(|| {
        if several {
            format!(
                "tdekey cannot reach {} of {}'s hosts: run the command on each one still waiting ({}) and paste what each printed (one at a time or all at once: tdekey tells them apart by their HOST line).",
                remotes.len(),
                w.db.name,
                names(&waiting)
            )
        } else {
            remote.why.to_owned()
        }
    });
    let mut r = StepResult::attention(reason, todo, vec![Need::HostOutput]);
    if failed.is_some() {
        // A host's output was read and a check failed: a failure a person may accept with a
        // reason, as on one host.
        r.status = StepStatus::Failed;
    }
    r.checks = checks;
    r.notes = notes;
    r
}

/// The target a pasted output belongs to: the one whose name its HOST line prints; with one
/// host only, the one (a profile without hosts listed does not name it).
fn route<'t>(remotes: &[&'t Target], printed_on: Option<&str>) -> Option<&'t Target> {
    if let [only] = remotes
        && only.host.is_none()
    {
        return Some(only);
    }
    let h = printed_on?;
    remotes
        .iter()
        .find(|t| t.host.as_deref().is_some_and(|n| same_host(n, h)))
        .copied()
}

fn record(
    w: &mut Wizard,
    step: StepId,
    t: &Target,
    checks: Vec<Check>,
    printed_on: Option<String>,
) {
    let result = HostResult {
        host: t.key(),
        role: t.role_text(),
        passed: checks.iter().all(|c| c.ok),
        checks,
        printed_on,
        at_ms: now_ms(),
    };
    let hosts = &mut w.record(step).hosts;
    match hosts.iter_mut().find(|r| r.host == result.host) {
        Some(r) => *r = result,
        None => hosts.push(result),
    }
}

fn names(targets: &[&Target]) -> String {
    targets
        .iter()
        .map(|t| t.host.clone().unwrap_or_else(|| "the database host".into()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn others(targets: &[Target], but: &Target) -> String {
    let rest: Vec<&Target> = targets.iter().filter(|t| *t != but).collect();
    names(&rest)
}
