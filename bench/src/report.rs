//! The results of a run: one row per figure, with both servers' values, their ratio and the target
//! the ratio is held to; printed as a table and written as JSON and Markdown. A figure that could
//! not be measured says why instead of carrying a number.

use std::fmt::Write as _;

use serde::Serialize;

/// One server's value for one figure.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Figure {
    Measured {
        value: f64,
    },
    /// The workload has no meaning for this server.
    NotApplicable {
        reason: String,
    },
    Skipped {
        reason: String,
    },
    Failed {
        error: String,
    },
}

impl Figure {
    pub fn from_result<T>(result: &anyhow::Result<T>, value: impl FnOnce(&T) -> f64) -> Self {
        match result {
            Ok(outcome) => Figure::Measured {
                value: value(outcome),
            },
            Err(error) => Figure::Failed {
                error: format!("{error:#}"),
            },
        }
    }

    fn value(&self) -> Option<f64> {
        match self {
            Figure::Measured { value } => Some(*value),
            _ => None,
        }
    }

    fn cell(&self, unit: Unit) -> String {
        match self {
            Figure::Measured { value } => unit.format(*value),
            Figure::NotApplicable { .. } => "n/a".into(),
            Figure::Skipped { .. } => "skipped".into(),
            Figure::Failed { .. } => "FAILED".into(),
        }
    }

    fn explanation(&self) -> Option<&str> {
        match self {
            Figure::Measured { .. } => None,
            Figure::NotApplicable { reason } | Figure::Skipped { reason } => Some(reason),
            Figure::Failed { error } => Some(error),
        }
    }
}

/// How a figure is written.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    ChangesPerSecond,
    Seconds,
    Milliseconds,
    Bytes,
    Ratio,
}

impl Unit {
    fn format(self, value: f64) -> String {
        match self {
            Unit::ChangesPerSecond => format!("{value:.0}/s"),
            Unit::Seconds => format!("{value:.2} s"),
            Unit::Milliseconds => format!("{value:.1} ms"),
            Unit::Bytes => format_bytes(value),
            Unit::Ratio => format!("{value:.2}"),
        }
    }
}

fn format_bytes(value: f64) -> String {
    const KIB: f64 = 1024.0;
    const MIB: f64 = 1024.0 * 1024.0;
    if value.abs() >= MIB {
        format!("{:.2} MiB", value / MIB)
    } else if value.abs() >= KIB {
        format!("{:.1} KiB", value / KIB)
    } else {
        format!("{value:.0} B")
    }
}

/// What a figure is held to.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// veldwerk ÷ reference at least `bound`.
    RatioAtLeast { bound: f64 },
    /// veldwerk ÷ reference at most `bound`.
    RatioAtMost { bound: f64 },
    /// veldwerk's own figure at most `bound`.
    VeldwerkAtMost { bound: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Holds,
    Misses,
    /// A figure the target needs is missing.
    Unknown,
    NoTarget,
}

impl Verdict {
    fn cell(self) -> &'static str {
        match self {
            Verdict::Holds => "yes",
            Verdict::Misses => "no",
            Verdict::Unknown => "?",
            Verdict::NoTarget => "",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub workload: String,
    pub unit: Unit,
    pub veldwerk: Figure,
    pub reference: Figure,
    /// veldwerk ÷ reference.
    pub ratio: Option<f64>,
    pub target: Option<Target>,
    pub target_text: String,
    pub verdict: Verdict,
}

impl Row {
    pub fn new(
        workload: &str,
        unit: Unit,
        veldwerk: Figure,
        reference: Figure,
        target: Option<(Target, &str)>,
    ) -> Self {
        let ratio = match (veldwerk.value(), reference.value()) {
            (Some(ours), Some(theirs)) if theirs != 0.0 => Some(ours / theirs),
            _ => None,
        };
        let verdict = match target.map(|(target, _)| target) {
            None => Verdict::NoTarget,
            Some(Target::RatioAtLeast { bound }) => check(ratio.map(|r| r >= bound)),
            Some(Target::RatioAtMost { bound }) => check(ratio.map(|r| r <= bound)),
            Some(Target::VeldwerkAtMost { bound }) => check(veldwerk.value().map(|v| v <= bound)),
        };
        Self {
            workload: workload.to_owned(),
            unit,
            veldwerk,
            reference,
            ratio,
            target: target.map(|(target, _)| target),
            target_text: target.map_or(String::new(), |(_, text)| text.to_owned()),
            verdict,
        }
    }

    pub fn failed(&self) -> bool {
        matches!(self.veldwerk, Figure::Failed { .. })
            || matches!(self.reference, Figure::Failed { .. })
    }

    fn cells(&self) -> [String; 6] {
        [
            self.workload.clone(),
            self.veldwerk.cell(self.unit),
            self.reference.cell(self.unit),
            self.ratio.map_or("—".into(), |r| format!("{r:.2}")),
            self.target_text.clone(),
            self.verdict.cell().to_owned(),
        ]
    }
}

fn check(holds: Option<bool>) -> Verdict {
    match holds {
        Some(true) => Verdict::Holds,
        Some(false) => Verdict::Misses,
        None => Verdict::Unknown,
    }
}

const HEADER: [&str; 6] = [
    "workload",
    "veldwerk",
    "reference",
    "ratio (veldwerk ÷ reference)",
    "target",
    "holds",
];

/// The rows as an aligned plain-text table, followed by the notes.
pub fn text_table(rows: &[Row], notes: &[String]) -> String {
    let lines: Vec<[String; 6]> = std::iter::once(HEADER.map(str::to_owned))
        .chain(rows.iter().map(Row::cells))
        .collect();
    let mut widths = [0; 6];
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for (index, line) in lines.iter().enumerate() {
        let cells: Vec<String> = line
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
        if index == 0 {
            let total = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            let _ = writeln!(out, "{}", "-".repeat(total));
        }
    }
    for note in all_notes(rows, notes) {
        let _ = writeln!(out, "  * {note}");
    }
    out
}

/// The rows as a Markdown table, followed by the notes.
pub fn markdown_table(rows: &[Row], notes: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| {} |", HEADER.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(HEADER.len()));
    for row in rows {
        let cells = row.cells().map(|cell| cell.replace('|', "\\|"));
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    let notes = all_notes(rows, notes);
    if !notes.is_empty() {
        out.push('\n');
        for note in notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    out
}

/// The workloads' own notes, then why any figure is missing.
fn all_notes(rows: &[Row], notes: &[String]) -> Vec<String> {
    let mut all = notes.to_vec();
    // A workload that failed or was skipped leaves the same reason in each of its rows: say it once.
    let mut explained: Vec<(&str, &str)> = Vec::new();
    for row in rows {
        for (server, figure) in [("veldwerk", &row.veldwerk), ("reference", &row.reference)] {
            if let Some(why) = figure.explanation()
                && !explained.contains(&(server, why))
            {
                explained.push((server, why));
                all.push(format!("{}, {server}: {why}", row.workload));
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(value: f64) -> Figure {
        Figure::Measured { value }
    }

    #[test]
    fn ratios_and_verdicts() {
        let row = Row::new(
            "throughput",
            Unit::ChangesPerSecond,
            measured(600.0),
            measured(100.0),
            Some((Target::RatioAtLeast { bound: 5.0 }, "≥ 5×")),
        );
        assert_eq!(row.ratio, Some(6.0));
        assert_eq!(row.verdict, Verdict::Holds);

        let row = Row::new(
            "storm",
            Unit::Seconds,
            measured(2.0),
            measured(3.0),
            Some((Target::RatioAtMost { bound: 1.0 / 3.0 }, "≤ 1/3")),
        );
        assert_eq!(row.verdict, Verdict::Misses);

        let row = Row::new(
            "fan-out",
            Unit::Milliseconds,
            Figure::Skipped {
                reason: "no PostgreSQL".into(),
            },
            Figure::NotApplicable {
                reason: "no database".into(),
            },
            None,
        );
        assert_eq!(row.ratio, None);
        assert_eq!(row.verdict, Verdict::NoTarget);
        assert!(text_table(&[row], &[]).contains("skipped"));
    }

    #[test]
    fn formats_bytes_readably() {
        assert_eq!(format_bytes(512.0), "512 B");
        assert_eq!(format_bytes(20_480.0), "20.0 KiB");
        assert_eq!(format_bytes(3.5 * 1024.0 * 1024.0), "3.50 MiB");
    }
}
