//! What a run found: per check, as text, JSON or JUnit XML.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The check's id.
    pub id: String,
    /// Its group.
    pub group: String,
    /// The promise it checks.
    pub promise: String,
    /// How long it took.
    pub seconds: f64,
    /// Why it failed; `None` when the promise was kept or the check was
    /// not run.
    pub failure: Option<String>,
    /// Why it was not run (the target lacks what it needs); `None` when it
    /// ran. A check not run proves nothing either way.
    pub not_run: Option<String>,
}

/// Every outcome of a run, in the kit's order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The outcomes.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// Whether no check failed (checks not run aside: see
    /// [`Report::not_run`]).
    pub fn passed(&self) -> bool {
        self.outcomes.iter().all(|o| o.failure.is_none())
    }

    /// The checks not run, each with why.
    pub fn not_run(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| o.not_run.is_some())
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| o.failure.is_some())
    }

    /// A line per check, then a summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for outcome in &self.outcomes {
            match (&outcome.failure, &outcome.not_run) {
                (Some(why), _) => out.push_str(&format!(
                    "FAILED {}\n       promise: {}\n       {why}\n",
                    outcome.id, outcome.promise
                )),
                (None, Some(why)) => {
                    out.push_str(&format!("NOTRUN {}\n       {why}\n", outcome.id))
                }
                (None, None) => out.push_str(&format!("ok     {}\n", outcome.id)),
            }
        }
        let failed = self.failures().count();
        let not_run = self.not_run().count();
        out.push_str(&format!(
            "{} checks: {} kept, {failed} broken, {not_run} not run\n",
            self.outcomes.len(),
            self.outcomes.len() - failed - not_run
        ));
        out
    }

    /// The report as JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serializes")
    }

    /// The report as JUnit XML: a suite per group, a case per check.
    pub fn junit(&self) -> anyhow::Result<String> {
        let mut report = quick_junit::Report::new("users-conformance");
        let mut groups: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
        for outcome in &self.outcomes {
            groups.entry(&outcome.group).or_default().push(outcome);
        }
        for (group, outcomes) in groups {
            let mut suite = quick_junit::TestSuite::new(group);
            for outcome in outcomes {
                let status = match (&outcome.failure, &outcome.not_run) {
                    (None, Some(why)) => {
                        let mut status = quick_junit::TestCaseStatus::skipped();
                        status.set_message(why.as_str());
                        status
                    }
                    (None, None) => quick_junit::TestCaseStatus::success(),
                    (Some(why), _) => {
                        let mut status = quick_junit::TestCaseStatus::non_success(
                            quick_junit::NonSuccessKind::Failure,
                        );
                        status.set_message(why.as_str());
                        status.set_description(outcome.promise.as_str());
                        status
                    }
                };
                let mut case = quick_junit::TestCase::new(outcome.id.as_str(), status);
                case.set_time(Duration::from_secs_f64(outcome.seconds));
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
        Ok(report.to_string()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            outcomes: vec![
                Outcome {
                    id: "conditional.a".into(),
                    group: "conditional requests".into(),
                    promise: "A kept promise.".into(),
                    seconds: 0.01,
                    failure: None,
                    not_run: None,
                },
                Outcome {
                    id: "tenancy.b".into(),
                    group: "tenancy".into(),
                    promise: "A broken promise.".into(),
                    seconds: 0.02,
                    failure: Some("saw <another> account's user".into()),
                    not_run: None,
                },
                Outcome {
                    id: "idempotency.c".into(),
                    group: "idempotency".into(),
                    promise: "A promise that takes a day.".into(),
                    seconds: 0.0,
                    failure: None,
                    not_run: Some("needs a clock".into()),
                },
            ],
        }
    }

    #[test]
    fn a_report_names_each_broken_promise_in_every_format() {
        let report = report();
        assert!(!report.passed());
        let text = report.text();
        assert!(text.contains("FAILED tenancy.b") && text.contains("A broken promise."));
        assert!(
            text.contains("3 checks: 1 kept, 1 broken, 1 not run"),
            "{text}"
        );
        assert!(text.contains("NOTRUN idempotency.c\n       needs a clock"));
        assert_eq!(report.not_run().count(), 1);
        let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
        assert_eq!(
            json["outcomes"][1]["failure"],
            "saw <another> account's user"
        );
        let junit = report.junit().unwrap();
        assert!(junit.contains("<testsuite name=\"tenancy\""), "{junit}");
        assert!(
            junit.contains("saw &lt;another&gt; account"),
            "escaped: {junit}"
        );
        assert!(junit.contains("failures=\"1\""), "{junit}");
        assert!(
            junit.contains("<skipped message=\"needs a clock\""),
            "{junit}"
        );
    }
}
