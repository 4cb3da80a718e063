//! Responsive table columns: each column has a width and a priority; columns are dropped,
//! least important first, until the fixed ones leave the last (flexible) column at least its
//! minimum. Text is clipped to the final width with an ellipsis.

use ratatui::layout::Constraint;

#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub title: &'static str,
    pub width: u16,
    /// Lower is dropped first; `u8::MAX` is never dropped.
    pub priority: u8,
}

/// The columns that fit in `total` cells (inside borders), and the width left for the
/// flexible last column (`flex_min` at least, when possible).
pub fn fit(cols: &[Col], total: u16, flex_min: u16) -> (Vec<usize>, u16) {
    let mut keep: Vec<usize> = (0..cols.len()).collect();
    loop {
        let used: u16 = keep.iter().map(|&i| cols[i].width + 1).sum();
        let left = total.saturating_sub(used);
        if left >= flex_min {
            return (keep, left);
        }
        let drop = keep
            .iter()
            .enumerate()
            .filter(|(_, &i)| cols[i].priority < u8::MAX)
            .min_by_key(|(pos, &i)| (cols[i].priority, std::cmp::Reverse(*pos)))
            .map(|(pos, _)| pos);
        match drop {
            Some(pos) => {
                keep.remove(pos);
            }
            None => return (keep, left),
        }
    }
}

pub fn constraints(cols: &[Col], keep: &[usize]) -> Vec<Constraint> {
    let mut c: Vec<Constraint> = keep.iter().map(|&i| Constraint::Length(cols[i].width)).collect();
    c.push(Constraint::Fill(1));
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_lowest_priority_first() {
        let cols = [
            Col { title: "A", width: 10, priority: u8::MAX },
            Col { title: "B", width: 10, priority: 1 },
            Col { title: "C", width: 10, priority: 2 },
        ];
        assert_eq!(fit(&cols, 60, 20), (vec![0, 1, 2], 27));
        assert_eq!(fit(&cols, 45, 20), (vec![0, 2], 23));
        assert_eq!(fit(&cols, 20, 20), (vec![0], 9));
    }
}
