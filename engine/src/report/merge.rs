//! `vouch report merge`: the shard reports of one plan → one report.

use super::{PlanInfo, Report};

/// Why shard reports cannot be merged; nothing was judged by the merge (exit 2).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct MergeError(pub String);

impl Report {
    /// Merge shard reports into one (`vouch report merge`). Refused unless the reports are
    /// every shard 1..N of one plan exactly once, each holding a result for every subject
    /// it was assigned: a missing, repeated or foreign shard, or a lost subject, can never
    /// merge into a pass.
    pub fn merge(reports: Vec<Report>) -> Result<Report, MergeError> {
        let fail = |m: String| Err(MergeError(m));
        let Some(first) = reports.first() else {
            return fail("no reports to merge".into());
        };
        let (plan_id, total, time, version) =
            (first.plan.id.clone(), first.plan.shard_total, first.effective_time.clone(), first.tool.version.clone());
        // (Before anything is sized by N, which is read from a file.)
        if total == 0 || total > crate::plan::MAX_SHARDS {
            return fail(format!("report 1 names {total} shards: N must be 1..{}", crate::plan::MAX_SHARDS));
        }
        let mut seen: Vec<Option<usize>> = vec![None; usize::try_from(total).unwrap_or(0)];
        for (n, r) in reports.iter().enumerate() {
            if !r.plan.judges_signers {
                return fail(format!(
                    "report {} decided nobody's signature (written by `vouch claims`, which verifies with any identity): merge only a gate's shard reports",
                    n + 1
                ));
            }
            // (Same subjects and N, other settings: say which.)
            if r.plan.setup_sha256 != first.plan.setup_sha256 && r.plan.subjects == first.plan.subjects && r.plan.shard_total == total {
                return fail(format!(
                    "report {} was run with another setup than report 1 (manifest, identities, trusted root, policies, --fail-on-warn or bundles differ): merge only the shards of one run",
                    n + 1
                ));
            }
            if r.plan.id != plan_id || r.plan.shard_total != total {
                return fail(format!(
                    "report {} is of another plan (plan {} with {} shards, not {} with {}): merge only the shards of one run",
                    n + 1,
                    short(&r.plan.id),
                    r.plan.shard_total,
                    short(&plan_id),
                    total
                ));
            }
            if r.effective_time != time {
                return fail(format!(
                    "report {} has effective time {}, report 1 {}: the shards of one gate must share one effective time (e.g. --effective-time \"$CI_PIPELINE_CREATED_AT\")",
                    n + 1,
                    r.effective_time,
                    time
                ));
            }
            if r.tool.version != version {
                return fail(format!("report {} was written by vouch {}, report 1 by {}", n + 1, r.tool.version, version));
            }
            for shard in &r.shards {
                let index = Self::shard_index(shard, total)
                    .ok_or_else(|| MergeError(format!("report {} names shard {shard:?}, not one of 1..{total}", n + 1)))?;
                if let Some(Some(other)) = seen.get(index) {
                    return fail(format!(
                        "shard {shard} is given twice (reports {} and {}): each shard must be merged exactly once",
                        other + 1,
                        n + 1
                    ));
                }
                if let Some(slot) = seen.get_mut(index) {
                    *slot = Some(n);
                }
            }
            // Each assigned subject is one of this report's shards' (a subject cannot be
            // counted in two shards), ...
            let shards: Vec<crate::plan::Shard> = r.shards.iter().filter_map(|s| crate::plan::Shard::parse(s)).collect();
            if let Some(stray) = r.plan.assigned.iter().find(|id| !shards.iter().any(|s| s.contains(id))) {
                return fail(format!(
                    "report {} lists {stray} as assigned, but that subject is not in its shard {}: it is altered",
                    n + 1,
                    r.shards.join(", ")
                ));
            }
            // ... has its result, and nothing else is there.
            let mut assigned = r.plan.assigned.clone();
            let mut judged: Vec<String> = r.subjects.iter().map(|s| s.id.clone()).collect();
            assigned.sort();
            judged.sort();
            if assigned != judged {
                let missing: Vec<&String> = assigned.iter().filter(|a| !judged.contains(a)).take(3).collect();
                return fail(format!(
                    "report {} holds {} results for {} assigned subjects{}: it is incomplete or altered",
                    n + 1,
                    judged.len(),
                    assigned.len(),
                    if missing.is_empty() {
                        String::new()
                    } else {
                        format!(" (missing: {})", missing.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", "))
                    }
                ));
            }
        }
        let missing: Vec<String> =
            seen.iter().enumerate().filter(|(_, s)| s.is_none()).map(|(i, _)| format!("{}/{total}", i + 1)).collect();
        if !missing.is_empty() {
            return fail(format!(
                "shard{} {} of the plan {} missing: a merge needs every shard 1..{total}",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", "),
                if missing.len() == 1 { "is" } else { "are" }
            ));
        }
        // The shards' subjects together are the plan's: its id is recomputed from them.
        let all: Vec<String> = reports.iter().flat_map(|r| r.plan.assigned.iter().cloned()).collect();
        if PlanInfo::id_of(&first.plan.setup_sha256, all) != plan_id {
            return fail(
                "the shards' assigned subjects are not the plan's (its id does not match them): a subject was lost, repeated or changed"
                    .into(),
            );
        }
        let mut iter = reports.into_iter();
        let Some(mut merged) = iter.next() else {
            return fail("no reports to merge".into());
        };
        for r in iter {
            merged.shards.extend(r.shards);
            merged.plan.assigned.extend(r.plan.assigned);
            if let (Some(all), Some(theirs)) = (merged.plan.trust.as_mut(), r.plan.trust) {
                for w in theirs.warnings {
                    if !all.warnings.contains(&w) {
                        all.warnings.push(w);
                    }
                }
            }
            merged.subjects.extend(r.subjects);
            // One set of waivers (the setup says so): what each matched, in all shards.
            let ids = |w: &[crate::decide::waivers::WaiverStatus]| w.iter().map(|x| (x.id.clone(), x.state)).collect::<Vec<_>>();
            if ids(&merged.waivers) != ids(&r.waivers) {
                return fail("the shards' waivers differ: run every shard with the same waiver files and effective time".into());
            }
            for (all, theirs) in merged.waivers.iter_mut().zip(&r.waivers) {
                all.matched += theirs.matched;
            }
        }
        if merged.subjects.len() != merged.plan.subjects {
            return fail(format!(
                "the shards hold {} subjects, the plan {}: a subject was lost or added between shard jobs",
                merged.subjects.len(),
                merged.plan.subjects
            ));
        }
        if merged.plan.subjects == 0 {
            return fail("the plan has no subjects: a gate that judged nothing cannot pass".into());
        }
        merged.shards.sort_by_key(|s| Self::shard_index(s, total));
        merged.summarize();
        Ok(merged)
    }

    /// `I/N` → I-1, for N = `total`.
    fn shard_index(shard: &str, total: u64) -> Option<usize> {
        let (i, n) = shard.split_once('/')?;
        let (i, n): (u64, u64) = (i.parse().ok()?, n.parse().ok()?);
        (n == total && i >= 1 && i <= n).then(|| usize::try_from(i - 1).ok()).flatten()
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
