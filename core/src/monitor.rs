//! Statistical disclosure control for the monitor: counts about families are
//! published only where no small group can be singled out.
//!
//! Primary suppression hides every count from 1 to [`THRESHOLD`] − 1 (a zero
//! discloses nothing about anyone). Secondary suppression then makes sure no
//! hidden count can be worked out from what is shown: in every line of the
//! table that is published with its total (a row with its row total, a column
//! with its column total), either nothing is hidden or at least two entries
//! are. Where a line has exactly one hidden entry, the smallest other count in
//! it is hidden as well (or, when all the others are zero, the total), and the
//! lines are checked again until nothing changes.

/// The smallest count that is published.
pub const THRESHOLD: u64 = 5;

/// A published count: `None` where it is suppressed.
pub type Shown = Option<u64>;

/// Which totals a table is published with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// A total per row (the sum of its cells).
    pub rows: bool,
    /// A total per column (the sum of its cells).
    pub columns: bool,
}

/// A table as it may be published (JSON: `null` where suppressed).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    pub cells: Vec<Vec<Shown>>,
    pub row_totals: Option<Vec<Shown>>,
    pub column_totals: Option<Vec<Shown>>,
    /// Published when both row and column totals are.
    pub grand_total: Option<Shown>,
}

/// Where an entry of the table (cells and totals alike) lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Cell(usize, usize),
    RowTotal(usize),
    ColumnTotal(usize),
    Grand,
}

/// Suppresses `cells` (rows × columns, all rows the same length) for publication.
pub fn suppress(cells: &[Vec<u64>], totals: Totals) -> Published {
    let rows = cells.len();
    let columns = cells.first().map_or(0, Vec::len);
    let row_sum: Vec<u64> = cells.iter().map(|r| r.iter().sum()).collect();
    let column_sum: Vec<u64> = (0..columns)
        .map(|j| cells.iter().map(|r| r[j]).sum())
        .collect();
    let grand: u64 = row_sum.iter().sum();

    let value = |at: At| match at {
        At::Cell(i, j) => cells[i][j],
        At::RowTotal(i) => row_sum[i],
        At::ColumnTotal(j) => column_sum[j],
        At::Grand => grand,
    };
    // The lines whose sum is published: entries that add up, and the total they add up to.
    let mut lines: Vec<(Vec<At>, At)> = Vec::new();
    if totals.rows {
        for i in 0..rows {
            lines.push((
                (0..columns).map(|j| At::Cell(i, j)).collect(),
                At::RowTotal(i),
            ));
        }
    }
    if totals.columns {
        for j in 0..columns {
            lines.push((
                (0..rows).map(|i| At::Cell(i, j)).collect(),
                At::ColumnTotal(j),
            ));
        }
    }
    if totals.rows && totals.columns {
        lines.push(((0..rows).map(At::RowTotal).collect(), At::Grand));
        lines.push(((0..columns).map(At::ColumnTotal).collect(), At::Grand));
    }

    let mut hidden: Vec<At> = Vec::new();
    let mut entries: Vec<At> = (0..rows)
        .flat_map(|i| (0..columns).map(move |j| At::Cell(i, j)))
        .collect();
    if totals.rows {
        entries.extend((0..rows).map(At::RowTotal));
    }
    if totals.columns {
        entries.extend((0..columns).map(At::ColumnTotal));
    }
    if totals.rows && totals.columns {
        entries.push(At::Grand);
    }
    for at in entries {
        let v = value(at);
        if v > 0 && v < THRESHOLD {
            hidden.push(at);
        }
    }

    loop {
        let mut changed = false;
        for (parts, total) in &lines {
            let line: Vec<At> = parts.iter().copied().chain([*total]).collect();
            let count = line.iter().filter(|at| hidden.contains(at)).count();
            if count != 1 {
                continue;
            }
            // Hide the smallest non-zero part still shown; if none, the total.
            let extra = parts
                .iter()
                .copied()
                .filter(|at| !hidden.contains(at) && value(*at) > 0)
                .min_by_key(|at| value(*at))
                .or_else(|| (!hidden.contains(total)).then_some(*total));
            if let Some(extra) = extra {
                hidden.push(extra);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }

    let shown = |at: At| (!hidden.contains(&at)).then(|| value(at));
    Published {
        cells: (0..rows)
            .map(|i| (0..columns).map(|j| shown(At::Cell(i, j))).collect())
            .collect(),
        row_totals: totals
            .rows
            .then(|| (0..rows).map(|i| shown(At::RowTotal(i))).collect()),
        column_totals: totals
            .columns
            .then(|| (0..columns).map(|j| shown(At::ColumnTotal(j))).collect()),
        grand_total: (totals.rows && totals.columns).then(|| shown(At::Grand)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BOTH: Totals = Totals {
        rows: true,
        columns: true,
    };

    #[test]
    fn small_counts_are_hidden_and_zero_and_large_ones_shown() {
        let published = suppress(
            &[vec![0, 4, 5, 1]],
            Totals {
                rows: false,
                columns: false,
            },
        );
        assert_eq!(published.cells, vec![vec![Some(0), None, Some(5), None]]);
        assert_eq!(published.row_totals, None);
    }

    #[test]
    fn a_lone_small_count_next_to_its_total_takes_a_second_one_with_it() {
        // Without secondary suppression, 3 = 25 − 10 − 12.
        let published = suppress(
            &[vec![3, 10, 12]],
            Totals {
                rows: true,
                columns: false,
            },
        );
        assert_eq!(published.cells, vec![vec![None, None, Some(12)]]);
        assert_eq!(published.row_totals, Some(vec![Some(25)]));
    }

    #[test]
    fn when_the_other_counts_are_zero_the_total_is_hidden() {
        let published = suppress(
            &[vec![3, 0, 0]],
            Totals {
                rows: true,
                columns: false,
            },
        );
        assert_eq!(published.cells, vec![vec![None, Some(0), Some(0)]]);
        assert_eq!(published.row_totals, Some(vec![None]));
    }

    #[test]
    fn a_two_way_table_cannot_be_recomputed_from_its_margins() {
        // quarters × themes
        let cells = vec![vec![2, 9, 14], vec![8, 11, 6], vec![7, 12, 20]];
        let published = suppress(&cells, BOTH);
        // 2 is hidden; its row and its column must each hide another entry.
        assert_eq!(published.cells[0][0], None);
        let row0 = published.cells[0].iter().filter(|c| c.is_none()).count();
        let col0 = published.cells.iter().filter(|r| r[0].is_none()).count();
        assert!(row0 >= 2 && col0 >= 2, "{published:?}");
        assert_no_line_with_one_hidden(&cells, &published);
    }

    fn assert_no_line_with_one_hidden(cells: &[Vec<u64>], p: &Published) {
        let columns = cells[0].len();
        let rt = p.row_totals.as_ref().unwrap();
        let ct = p.column_totals.as_ref().unwrap();
        for (i, (row, total)) in p.cells.iter().zip(rt).enumerate() {
            let n = row.iter().filter(|c| c.is_none()).count() + usize::from(total.is_none());
            assert_ne!(n, 1, "row {i} of {p:?}");
        }
        for j in 0..columns {
            let n =
                p.cells.iter().filter(|r| r[j].is_none()).count() + usize::from(ct[j].is_none());
            assert_ne!(n, 1, "column {j} of {p:?}");
        }
        let n = rt.iter().filter(|c| c.is_none()).count()
            + usize::from(p.grand_total.unwrap().is_none());
        assert_ne!(n, 1, "row totals of {p:?}");
        let n = ct.iter().filter(|c| c.is_none()).count()
            + usize::from(p.grand_total.unwrap().is_none());
        assert_ne!(n, 1, "column totals of {p:?}");
    }

    proptest! {
        #[test]
        fn no_published_line_ever_has_exactly_one_hidden_entry(
            cells in proptest::collection::vec(proptest::collection::vec(0u64..12, 4), 1..5)
        ) {
            let published = suppress(&cells, BOTH);
            assert_no_line_with_one_hidden(&cells, &published);
            // Every small count is hidden; every shown count is the true one.
            for (i, row) in cells.iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    match published.cells[i][j] {
                        Some(shown) => prop_assert!(shown == *v && (*v == 0 || *v >= THRESHOLD)),
                        None => prop_assert!(*v > 0),
                    }
                }
            }
        }
    }
}
